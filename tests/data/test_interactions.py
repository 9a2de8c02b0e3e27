"""Interactions and build_arrays: validation messages, duplicate policies, skipping, CSR layout."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.data import IdMap, Interactions, LoadReport
from likewise.data._build import build_arrays
from likewise.exceptions import DataError, InvalidParameterError
from likewise.testing import corner_cases, tiny_ratings

HYPO = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dense(data: Interactions) -> list[list[float]]:
    return data.matrix.toarray().tolist()


def assert_canonical(data: Interactions) -> None:
    matrix = data.matrix
    assert isinstance(matrix, sp.csr_matrix)
    assert matrix.dtype == np.float32
    assert matrix.indices.dtype == np.int32
    assert matrix.indptr.dtype in (np.int32, np.int64)
    assert matrix.has_sorted_indices
    matrix.check_format(full_check=True)
    for row in range(matrix.shape[0]):
        cols = matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]]
        assert (np.diff(cols) > 0).all()  # sorted and no duplicate cells
    if data.timestamps is not None:
        assert data.timestamps.dtype == np.int64 and data.timestamps.shape == (matrix.nnz,)


# --------------------------------------------------------------------------- duplicates

# user 1 rated item "a" three times (rows 0, 1, 3); row 2 is unique.
DUP_USERS = [1, 1, 2, 1]
DUP_ITEMS = ["a", "a", "b", "a"]
DUP_VALUES = [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("last", 4.0), ("first", 1.0), ("sum", 7.0), ("mean", 7.0 / 3.0)],
)
def test_duplicate_policies_follow_input_order_without_timestamps(policy, expected):
    data = Interactions.from_arrays(DUP_USERS, DUP_ITEMS, DUP_VALUES, duplicates=policy)
    assert data.users.ids.tolist() == [1, 2] and data.items.ids.tolist() == ["a", "b"]
    np.testing.assert_allclose(dense(data), [[expected, 0.0], [0.0, 3.0]], rtol=1e-6)
    assert data.timestamps is None
    assert data.report.duplicates_merged == 2
    assert data.report.duplicate_policy == policy
    assert data.report.rows_read == 4 and data.report.n_interactions == 2
    assert_canonical(data)


@pytest.mark.parametrize(
    ("policy", "expected", "expected_ts"),
    [
        ("last", 1.0, 30),  # row 0 has the latest timestamp
        ("first", 2.0, 10),  # row 1 has the earliest
        ("sum", 7.0, 30),  # aggregates keep the latest timestamp of the group
        ("mean", 7.0 / 3.0, 30),
    ],
)
def test_duplicate_policies_follow_timestamps(policy, expected, expected_ts):
    data = Interactions.from_arrays(DUP_USERS, DUP_ITEMS, DUP_VALUES, [30, 10, 5, 20], duplicates=policy)
    np.testing.assert_allclose(dense(data), [[expected, 0.0], [0.0, 3.0]], rtol=1e-6)
    assert data.timestamps.tolist() == [expected_ts, 5]
    assert_canonical(data)


@pytest.mark.parametrize(("policy", "expected"), [("first", 1.0), ("last", 4.0)])
def test_equal_timestamps_fall_back_to_input_order(policy, expected):
    data = Interactions.from_arrays(DUP_USERS, DUP_ITEMS, DUP_VALUES, [10, 10, 5, 10], duplicates=policy)
    assert dense(data)[0][0] == expected
    assert data.timestamps.tolist() == [10, 5]


def test_duplicates_error_is_the_explicit_default():
    with pytest.raises(DataError, match=r"^arrays, rows 0 and 1: duplicate \(user, item\) pair; choose"):
        Interactions.from_arrays(DUP_USERS, DUP_ITEMS, DUP_VALUES)
    with pytest.raises(DataError, match=r"ratings\.csv, lines 3 and 5: duplicate"):
        Interactions.from_arrays(
            [1, 2, 1], ["a", "b", "a"], [1, 2, 3], source="ratings.csv", row_labels=[3, 4, 5], label_kind="line"
        )


def test_implicit_duplicates_are_summed_by_default():
    data = Interactions.from_arrays(["u", "u", "v"], [7, 7, 7])
    assert data.kind == "implicit" and data.rating_scale is None
    assert dense(data) == [[2.0], [1.0]]
    assert data.report.duplicate_policy == "sum" and data.report.duplicates_merged == 1


def test_no_duplicates_keeps_values_and_timestamps():
    data = Interactions.from_arrays([2, 1, 1], [5, 9, 4], [3, 4, 5], [300, 100, 200], duplicates="error")
    assert dense(data) == [[5.0, 0.0, 4.0], [0.0, 3.0, 0.0]]
    assert data.timestamps.tolist() == [200, 100, 300]  # CSR order: (1,4), (1,9), (2,5)
    assert data.report.duplicates_merged == 0


# --------------------------------------------------------------------------- row errors


def frame(**overrides):
    base = {"user": ["a", "b", "c"], "item": [1, 2, 3], "rating": [1.0, 2.0, 3.0]}
    base.update(overrides)
    return pd.DataFrame(base)


@pytest.mark.parametrize(
    ("df", "match"),
    [
        (frame(user=["a", None, "c"]), r"^ratings, row 1: user: id is missing$"),
        (frame(item=[1.0, np.nan, 3.0]), r"^ratings, row 1: item: id is missing"),
        (frame(user=["a", "b", "  "]), r"^ratings, row 2: user: id is empty$"),
        (frame(item=["x", "", "z"]), r"^ratings, row 1: item: id is empty$"),
        (frame(item=[1.0, 2.5, 3.0]), r"^ratings, row 1: item: id is not an integer or string \(got 2\.5\)$"),
        (frame(user=["a", 2, "c"]), r"^ratings, row 1: user: ids mix integers and strings \(got 2\)$"),
        (frame(rating=[1.0, np.nan, 3.0]), r"^ratings, row 1: rating: is missing \(NaN\)$"),
        (frame(rating=[1.0, 2.0, np.inf]), r"^ratings, row 2: rating: is infinite \(got inf\)$"),
        (frame(rating=[1.0, -np.inf, 2.0]), r"^ratings, row 1: rating: is infinite \(got -inf\)$"),
        (frame(rating=["1", "two", "3"]), r"^ratings, row 1: rating: is not a number \(got 'two'\)$"),
        (frame(rating=[1.0, 2.0, 6.0]), r"^ratings, row 2: rating: is outside the rating scale \[1, 5\] \(got 6\.0\)$"),
        (frame(rating=[0.5, 2.0, 3.0]), r"^ratings, row 0: rating: is outside the rating scale \[1, 5\]"),
    ],
)
def test_row_errors_name_source_row_field_and_reason(df, match):
    with pytest.raises(DataError, match=match):
        Interactions.from_frame(df, rating="rating", rating_scale=(1, 5), source="ratings")


def test_the_earliest_bad_row_is_reported():
    df = frame(user=["a", "b", None], rating=[1.0, "x", 3.0])
    with pytest.raises(DataError, match=r"^ratings, row 1: rating: is not a number"):
        Interactions.from_frame(df, rating="rating", source="ratings")


def test_line_labels_from_a_reader():
    with pytest.raises(DataError, match=r"^u\.data, line 12: rating: is not a number \(got 'x'\)$"):
        Interactions.from_arrays(
            [1, 2], [3, 4], ["4", "x"], source="u.data", row_labels=np.array([11, 12]), label_kind="line"
        )


@pytest.mark.parametrize("weight", [0.0, -2.0])
def test_implicit_weights_must_be_positive(weight):
    df = pd.DataFrame({"user": [1, 2], "item": [1, 2], "plays": [3.0, weight]})
    with pytest.raises(
        DataError, match=rf"^plays\.tsv, row 1: weight: must be positive for implicit feedback \(got {weight}\)"
    ):
        Interactions.from_frame(df, weight="plays", source="plays.tsv")


def test_timestamp_errors():
    with pytest.raises(DataError, match=r"^arrays, row 1: timestamp: is missing$"):
        Interactions.from_arrays([1, 2], [1, 2], timestamps=np.array(["2020-01-01", "NaT"], dtype="datetime64[s]"))
    with pytest.raises(DataError, match=r"^arrays, row 0: timestamp: is not a number \(got 'soon'\)$"):
        Interactions.from_arrays([1, 2], [1, 2], timestamps=["soon", "1"])


def test_missing_columns_in_from_frame():
    with pytest.raises(
        DataError, match=r"^ratings: missing column 'score' \(rating\); columns are \['user', 'item', 'rating'\]$"
    ):
        Interactions.from_frame(frame(), rating="score", source="ratings")
    with pytest.raises(DataError, match=r"missing columns 'uid' \(user\), 'ts' \(timestamp\)"):
        Interactions.from_frame(frame(), user="uid", rating="rating", timestamp="ts")


def test_columns_of_different_lengths():
    with pytest.raises(
        DataError, match=r"^arrays: columns have different lengths: \{'user': 2, 'item': 1, 'rating': 2\}$"
    ):
        Interactions.from_arrays(["x", "y"], ["a"], [1, 2])
    with pytest.raises(DataError, match=r"'timestamp': 3"):
        Interactions.from_arrays(["x", "y"], ["a", "b"], [1, 2], [1, 2, 3])


def test_empty_input():
    with pytest.raises(DataError, match=r"^arrays: no interactions$"):
        Interactions.from_arrays([], [], [])
    with pytest.raises(DataError, match=r"^DataFrame: no interactions$"):
        Interactions.from_frame(pd.DataFrame({"user": [], "item": []}))


def test_everything_skipped():
    with pytest.raises(DataError, match=r"^arrays: no interactions left after skipping 2 bad rows$"):
        Interactions.from_arrays(["a", "b"], [1, 2], [np.nan, "x"], on_error="skip")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"on_error": "ignore"}, "on_error must be 'raise' or 'skip', got 'ignore'"),
        ({"kind": "ratings"}, "kind must be 'explicit' or 'implicit', got 'ratings'"),
        ({"duplicates": "max"}, "duplicates must be one of last, first, sum, mean, error; got 'max'"),
        ({"rating_scale": (5, 1)}, r"rating_scale must be \(low, high\) with low < high"),
        ({"rating_scale": (1, np.inf)}, "rating_scale must be"),
    ],
)
def test_invalid_parameters(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        Interactions.from_arrays(["a"], [1], [3.0], **kwargs)


def test_explicit_needs_values_and_rating_excludes_weight():
    with pytest.raises(InvalidParameterError, match="explicit interactions need a rating column"):
        Interactions.from_arrays(["a"], [1], kind="explicit")
    with pytest.raises(InvalidParameterError, match=r"either rating= \(explicit\) or weight= \(implicit\), not both"):
        Interactions.from_frame(frame(), rating="rating", weight="rating")
    with pytest.raises(InvalidParameterError, match="expected a pandas or polars DataFrame, got dict"):
        Interactions.from_frame({"user": [1], "item": [2]})


# --------------------------------------------------------------------------- skipping


def test_skip_counts_each_reason():
    df = pd.DataFrame(
        {
            "user": ["a", None, "b", "  ", "c", "d", "e", "f"],
            "item": [1, 2, 3, 4, 5, 6, 7, 8],
            "rating": [1.0, 2.0, "x", 4.0, np.nan, 9.0, 5.0, np.inf],
        }
    )
    data = Interactions.from_frame(df, rating="rating", rating_scale=(1, 5), on_error="skip", source="ratings")
    report = data.report
    assert report.rows_read == 8
    assert report.skipped == {
        "user: id is missing": 1,
        "user: id is empty": 1,
        "rating: is not a number": 1,
        "rating: is missing (NaN)": 1,
        "rating: is outside the rating scale [1, 5]": 1,
        "rating: is infinite": 1,
    }
    assert report.rows_skipped == 6
    assert data.users.ids.tolist() == ["a", "e"] and data.items.ids.tolist() == [1, 7]
    assert dense(data) == [[1.0, 0.0], [0.0, 5.0]]
    assert "ratings, row 2: rating: is not a number (got 'x')" in report.examples
    assert "ratings, row 1: user: id is missing" in report.examples
    assert len(report.examples) == LoadReport.MAX_EXAMPLES


def test_a_row_with_two_problems_is_counted_once():
    data = Interactions.from_arrays(["a", None], [1, 2], [1.0, "x"], on_error="skip")
    assert data.report.skipped == {"user: id is missing": 1}


BAD_ROWS = {
    "user: id is missing": (None, 1, 3.0),
    "user: id is empty": (" ", 1, 3.0),
    "rating: is missing (NaN)": ("u0", 1, np.nan),
    "rating: is infinite": ("u0", 1, np.inf),
    "rating: is not a number": ("u0", 1, "three"),
    "rating: is outside the rating scale [1, 5]": ("u0", 1, 5.5),
}


@st.composite
def frames_with_bad_rows(draw):
    cells = draw(
        st.dictionaries(
            st.tuples(st.sampled_from([f"u{k}" for k in range(5)]), st.integers(0, 6)),
            st.integers(1, 5).map(float),
            min_size=1,
            max_size=15,
        )
    )
    good = [(u, i, r) for (u, i), r in cells.items()]
    bad = draw(st.lists(st.sampled_from(sorted(BAD_ROWS)), max_size=10))
    rows = [(*row, None) for row in good] + [(*BAD_ROWS[reason], reason) for reason in bad]
    order = draw(st.permutations(range(len(rows))))
    return good, bad, [rows[k] for k in order]


@HYPO
@given(frames_with_bad_rows())
def test_skip_keeps_exactly_the_good_rows(case):
    good, bad, rows = case
    df = pd.DataFrame(
        {
            "user": pd.Series([r[0] for r in rows], dtype=object),
            "item": [r[1] for r in rows],
            "rating": pd.Series([r[2] for r in rows], dtype=object),
        }
    )
    data = Interactions.from_frame(df, rating="rating", rating_scale=(1, 5), on_error="skip", source="log")
    kept = sorted(map(tuple, data.to_frame()[["user", "item", "rating"]].itertuples(index=False)))
    assert kept == sorted(good)
    expected = {reason: bad.count(reason) for reason in set(bad)}
    assert data.report.skipped == expected
    assert data.report.rows_read == len(rows) and data.report.rows_skipped == len(bad)
    assert data.report.n_interactions == len(good)
    bad_positions = [k for k, row in enumerate(rows) if row[3] is not None]
    for example in data.report.examples:
        assert any(example.startswith(f"log, row {k}: ") for k in bad_positions)
    assert_canonical(data)
    if bad:  # raising names the first bad row and its reason
        first = bad_positions[0]
        with pytest.raises(DataError, match=rf"^log, row {first}: {re.escape(rows[first][3])}"):
            Interactions.from_frame(df, rating="rating", rating_scale=(1, 5), source="log")


# --------------------------------------------------------------------------- fixed universe


def test_fixed_universe_keeps_unrated_items_and_idle_users():
    users = IdMap(["a", "b", "c"], name="user")
    items = IdMap([10, 20, 30, 40], name="item")
    data = Interactions.from_arrays(["b", "a"], [30, 10], [2.0, 4.0], users=users, items=items)
    assert data.users is users and data.items is items
    assert data.matrix.shape == (3, 4)
    assert dense(data) == [[4.0, 0, 0, 0], [0, 0, 2.0, 0], [0, 0, 0, 0]]
    assert data.item_counts().tolist() == [1, 0, 1, 0]
    assert data.user_counts().tolist() == [1, 1, 0]
    assert data.report.n_users == 3 and data.report.n_items == 4
    assert_canonical(data)


def test_fixed_universe_refuses_outside_ids():
    items = IdMap([1, 2, 3], name="item")
    with pytest.raises(DataError, match=r"^arrays, row 1: item: id is not in the given item list \(got 5\)$"):
        Interactions.from_arrays(["x", "y"], [1, 5], [1, 2], items=items)
    users = IdMap(["x"], name="user")
    with pytest.raises(DataError, match=r"^cat, row 1: user: id is not in the given user list \(got 'y'\)$"):
        Interactions.from_arrays(["x", "y"], [1, 2], [1, 2], users=users, source="cat")
    with pytest.raises(DataError, match=r"^arrays: item ids do not match the given item list: .*integers"):
        Interactions.from_arrays(["x"], ["a"], [1], items=items)


def test_fixed_universe_skip_counts_each_row_once():
    report = LoadReport(source="s")
    data = Interactions.from_arrays(
        ["x", "y", "z", "x"],
        [1, 5, 7, 2],
        [1, 2, 3, 4],
        users=IdMap(["x", "y"], name="user"),
        items=IdMap([1, 2, 3], name="item"),
        on_error="skip",
        report=report,
    )
    assert data.report is report
    # row 1 has an unknown item; row 2 has an unknown user and an unknown item: one row each.
    assert report.skipped == {"user: id is not in the given user list": 1, "item: id is not in the given item list": 1}
    assert report.rows_skipped == 2 and report.n_interactions == 2
    assert dense(data) == [[1.0, 4.0, 0.0], [0.0, 0.0, 0.0]]
    assert "arrays, row 2: user: id is not in the given user list (got 'z')" in report.examples


def test_corner_cases_fixture():
    data = corner_cases()
    assert data.matrix.shape == (6, 6)
    assert data.user_counts()[5] == 0 and data.item_counts()[4:].tolist() == [0, 0]
    assert data.rating_scale == (1.0, 5.0)
    assert_canonical(data)


# --------------------------------------------------------------------------- timestamps


def test_timestamps_from_datetime64():
    stamps = np.array(["2020-01-01T00:00:00", "1970-01-01T00:01:40"], dtype="datetime64[ms]")
    data = Interactions.from_arrays(["a", "b"], [1, 1], timestamps=stamps)
    assert data.timestamps.dtype == np.int64
    assert data.timestamps.tolist() == [1577836800, 100]


def test_timestamps_from_pandas_datetimes_and_timezones():
    df = pd.DataFrame(
        {
            "user": [1, 2],
            "item": [1, 1],
            "when": pd.to_datetime(["2020-01-01 00:00:00", "2020-01-02 00:00:00"]),
        }
    )
    data = Interactions.from_frame(df, timestamp="when")
    assert data.timestamps.tolist() == [1577836800, 1577923200]
    df["when"] = df["when"].dt.tz_localize("Europe/Paris")  # one hour ahead of UTC in winter
    data = Interactions.from_frame(df, timestamp="when")
    assert data.timestamps.tolist() == [1577836800 - 3600, 1577923200 - 3600]


def test_timestamps_from_ints_and_floats():
    data = Interactions.from_arrays(["a", "b", "c"], [1, 1, 1], timestamps=np.array([5, 7, 9], dtype=np.int32))
    assert data.timestamps.tolist() == [5, 7, 9]
    data = Interactions.from_arrays(["a", "b"], [1, 1], timestamps=[1.75, 2.0])
    assert data.timestamps.tolist() == [1, 2]  # fractional seconds are floored
    data = Interactions.from_arrays(["a", "b"], [1, 1], timestamps=["100", "200"])
    assert data.timestamps.tolist() == [100, 200]


# --------------------------------------------------------------------------- CSR layout


def test_csr_is_canonical_from_unsorted_input():
    data = Interactions.from_arrays(["c", "a", "c", "b", "a"], [3, 2, 1, 2, 1], [1, 2, 3, 4, 5], [10, 20, 30, 40, 50])
    assert_canonical(data)
    assert data.matrix.indptr.tolist() == [0, 2, 3, 5]
    assert data.matrix.indices.tolist() == [0, 1, 1, 0, 2]
    assert data.values.tolist() == [5.0, 2.0, 4.0, 3.0, 1.0]
    assert data.timestamps.tolist() == [50, 20, 40, 30, 10]
    assert data.user_indices.tolist() == [0, 0, 1, 2, 2]
    assert data.item_indices.tolist() == [0, 1, 1, 0, 2]
    assert data.rating_scale == (1.0, 5.0)  # inferred from the data
    assert data.nnz == len(data) == 5 and data.density == pytest.approx(5 / 9)


def test_explicit_zero_is_stored():
    data = Interactions.from_arrays([1, 2], [1, 2], [0, 2], rating_scale=(0, 2))
    assert data.nnz == 2 and data.values.tolist() == [0.0, 2.0]
    assert data.matrix.indices.tolist() == [0, 1]
    assert data.to_frame()["rating"].tolist() == [0.0, 2.0]
    assert Interactions.from_scipy(sp.csr_matrix(([0.0], ([0], [0])), shape=(1, 1))).nnz == 1


def test_constructor_checks_shapes():
    users, items = IdMap([1, 2]), IdMap([1])
    with pytest.raises(DataError, match=r"matrix shape \(3, 1\) does not match 2 users x 1 items"):
        Interactions(users, items, sp.csr_matrix((3, 1)))
    with pytest.raises(DataError, match="timestamps must have one entry per interaction"):
        Interactions(users, items, sp.csr_matrix(np.ones((2, 1))), timestamps=np.array([1]))


# --------------------------------------------------------------------------- subset / to_frame


@pytest.fixture
def stamped() -> Interactions:
    return Interactions.from_arrays(
        ["u1", "u1", "u2", "u3", "u3", "u3"],
        ["a", "b", "a", "a", "b", "c"],
        [5, 4, 3, 2, 1, 5],
        [100, 200, 300, 400, 500, 600],
        rating_scale=(1, 5),
    )


def test_subset_with_mask(stamped):
    part = stamped.subset(stamped.values >= 4)
    assert part.users is stamped.users and part.items is stamped.items
    assert part.matrix.shape == stamped.matrix.shape
    assert dense(part) == [[5.0, 4.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 5.0]]
    assert part.timestamps.tolist() == [100, 200, 600]
    assert part.rating_scale == (1.0, 5.0) and part.kind == "explicit"
    assert part.report.rows_read == 3 and part.report.source.startswith("subset of")
    assert_canonical(part)


def test_subset_with_positions(stamped):
    part = stamped.subset(np.array([5, 2, 2, 0]))  # order and repeats do not matter
    assert dense(part) == [[5.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0]]
    assert part.timestamps.tolist() == [100, 300, 600]
    empty = stamped.subset(np.array([], dtype=np.int64))
    assert empty.nnz == 0 and empty.matrix.shape == (3, 3) and empty.timestamps.size == 0


def test_subset_pieces_partition_the_data(stamped):
    mask = np.array([True, False, True, False, False, True])
    left, right = stamped.subset(mask), stamped.subset(~mask)
    assert left.nnz + right.nnz == stamped.nnz
    np.testing.assert_array_equal((left.matrix + right.matrix).toarray(), stamped.matrix.toarray())
    both = pd.concat([left.to_frame(), right.to_frame()]).sort_values(["user", "item"], ignore_index=True)
    pd.testing.assert_frame_equal(both, stamped.to_frame())


def test_subset_refuses_bad_selections(stamped):
    with pytest.raises(InvalidParameterError, match=r"mask must have shape \(6,\), got \(2,\)"):
        stamped.subset(np.array([True, False]))
    with pytest.raises(InvalidParameterError, match="positions out of range"):
        stamped.subset(np.array([6]))
    with pytest.raises(InvalidParameterError, match="positions out of range"):
        stamped.subset(np.array([-1]))


def test_to_frame_content(stamped):
    df = stamped.to_frame()
    assert list(df.columns) == ["user", "item", "rating", "timestamp"]
    assert df["user"].tolist() == ["u1", "u1", "u2", "u3", "u3", "u3"]
    assert df["item"].tolist() == ["a", "b", "a", "a", "b", "c"]
    assert df["timestamp"].tolist() == [100, 200, 300, 400, 500, 600]
    implicit = Interactions.from_arrays([3, 4], [1, 1], [2.0, 5.0], kind="implicit").to_frame()
    assert list(implicit.columns) == ["user", "item", "weight"]
    assert implicit["user"].tolist() == [3, 4]


def test_to_frame_round_trip(stamped):
    again = Interactions.from_frame(stamped.to_frame(), rating="rating", timestamp="timestamp")
    assert again == stamped and again.rating_scale == stamped.rating_scale
    tiny = tiny_ratings()
    assert Interactions.from_frame(tiny.to_frame(), rating="rating") == tiny
    implicit = Interactions.from_arrays([3, 4, 3], [1, 1, 2], [2.0, 5.0, 1.0], kind="implicit")
    assert Interactions.from_frame(implicit.to_frame(), weight="weight") == implicit
    corner = corner_cases()  # an idle user and unrated items survive with the id maps
    assert Interactions.from_frame(corner.to_frame(), rating="rating", users=corner.users, items=corner.items) == corner


def test_equality_notices_differences(stamped):
    assert stamped != stamped.subset(np.arange(5))
    other = Interactions.from_arrays(["u1"], ["a"], [5], [999])
    same_cells = Interactions.from_arrays(["u1"], ["a"], [5], [100])
    assert other != same_cells  # timestamps differ
    assert (stamped == "data") is False


@HYPO
@given(
    st.dictionaries(
        st.tuples(st.integers(0, 6), st.text("xyz", min_size=1, max_size=2)),
        st.tuples(st.integers(1, 10).map(float), st.integers(0, 10**9)),
        min_size=1,
        max_size=20,
    )
)
def test_to_frame_round_trip_random(cells):
    rows = [(u, i, r, t) for (u, i), (r, t) in cells.items()]
    users, items, ratings, stamps = (list(col) for col in zip(*rows, strict=True))
    data = Interactions.from_arrays(users, items, ratings, stamps)
    assert_canonical(data)
    assert Interactions.from_frame(data.to_frame(), rating="rating", timestamp="timestamp") == data
    expected = {(u, i): (r, t) for u, i, r, t in rows}
    got = {(u, i): (r, t) for u, i, r, t in data.to_frame().itertuples(index=False)}
    assert got == expected


# --------------------------------------------------------------------------- from_scipy


def test_from_scipy():
    coo = sp.coo_matrix(([1, 2, 3], ([0, 0, 2], [1, 1, 0])), shape=(3, 3))
    data = Interactions.from_scipy(coo)
    assert dense(data) == [[0, 3.0, 0], [0, 0, 0], [3.0, 0, 0]]  # duplicates summed
    assert data.users.ids.tolist() == [0, 1, 2] and data.items.ids.tolist() == [0, 1, 2]
    assert data.users.name == "user" and data.items.name == "item"
    assert data.kind == "implicit" and data.timestamps is None
    assert_canonical(data)
    named = Interactions.from_scipy(coo, users=["c", "a", "b"], items=IdMap([10, 20, 30], name="item"), kind="explicit")
    assert named.users.ids.tolist() == ["a", "b", "c"]
    assert named.rating_scale == (3.0, 3.0)
    assert Interactions.from_scipy(sp.csr_array(np.eye(2)), kind="explicit", rating_scale=(0, 5)).rating_scale == (0, 5)


def test_from_scipy_errors():
    with pytest.raises(DataError, match="matrix holds NaN or infinite values"):
        Interactions.from_scipy(sp.csr_matrix(np.array([[np.nan, 1.0]])))
    with pytest.raises(DataError, match=r"matrix shape \(3, 3\) does not match 2 users x 3 items"):
        Interactions.from_scipy(sp.eye(3), users=["a", "b"])


# --------------------------------------------------------------------------- LoadReport


def test_load_report_text_and_dict():
    report = LoadReport(source="u.data", rows_read=1000, duplicates_merged=3, duplicate_policy="last")
    report.add_skipped("rating: is not a number", 2, ["u.data, line 5: rating: is not a number (got 'x')"])
    report.add_skipped("user: id is missing", 7)
    report.add_skipped("user: id is missing", 1)
    report.add_skipped("never", 0, ["not recorded"])
    report.n_users, report.n_items, report.n_interactions = 10, 20, 50
    assert report.rows_skipped == 10
    assert report.density == pytest.approx(0.25)
    assert str(report).splitlines() == [
        "u.data: 1,000 rows read, 10 skipped, 3 duplicates merged (last)",
        "  10 users x 20 items, 50 interactions, density 25.0000%",
        "  skipped 8: user: id is missing",
        "  skipped 2: rating: is not a number",
        "    e.g. u.data, line 5: rating: is not a number (got 'x')",
    ]
    assert report.to_dict() == {
        "source": "u.data",
        "rows_read": 1000,
        "rows_skipped": 10,
        "skipped": {"rating: is not a number": 2, "user: id is missing": 8},
        "examples": ["u.data, line 5: rating: is not a number (got 'x')"],
        "duplicates_merged": 3,
        "duplicate_policy": "last",
        "n_users": 10,
        "n_items": 20,
        "n_interactions": 50,
        "density": 0.25,
    }
    assert LoadReport(source="empty").density == 0.0
    assert "duplicates merged\n" in str(LoadReport(source="x")) + "\n"  # no policy shown without merges


def test_load_report_keeps_few_examples():
    report = LoadReport(source="s")
    report.add_skipped("bad", 100, [f"line {k}" for k in range(100)])
    assert report.examples == [f"line {k}" for k in range(LoadReport.MAX_EXAMPLES)]


def test_report_of_a_build():
    built = build_arrays(["a", "a", "b"], [1, 1, 2], [1.0, 3.0, 2.0], duplicates="mean", source="f.csv")
    report = built.report
    assert (report.rows_read, report.duplicates_merged, report.n_users, report.n_items, report.n_interactions) == (
        3,
        1,
        2,
        2,
        2,
    )
    assert str(report).startswith("f.csv: 3 rows read, 0 skipped, 1 duplicates merged (mean)")
    assert built.data.tolist() == [2.0, 2.0] and built.indices.dtype == np.int32


# --------------------------------------------------------------------------- polars


def test_from_polars_frame():
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"user": ["a", "b"], "item": [1, 2], "rating": [4.0, 5.0]})
    data = Interactions.from_frame(df, rating="rating")
    assert dense(data) == [[4.0, 0.0], [0.0, 5.0]]
