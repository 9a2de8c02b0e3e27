"""Tests for likewise.evaluation.split: partition, no leakage, reproducibility, known answers."""

from __future__ import annotations

import datetime as dt
import importlib

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.data import IdMap, Interactions
from likewise.evaluation import (
    Split,
    cold_item_split,
    cold_user_split,
    kfold,
    last_k_split,
    make_split,
    random_split,
    temporal_split,
    user_split,
)
from likewise.exceptions import DataError, InvalidParameterError
from tests._paths import SHARED_DATA

# The package re-exports the function `split`, which shadows the submodule attribute.
split_module = importlib.import_module("likewise.evaluation.split")
ML100K = SHARED_DATA / "ml-100k" / "u.data"
HYPO = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- helpers


@st.composite
def interactions(draw: st.DrawFn, *, min_nnz: int = 1) -> Interactions:
    """Small explicit data with tied timestamps, string user ids and some empty users."""
    n_users = draw(st.integers(1, 7))
    n_items = draw(st.integers(1, 7))
    cells = sorted(
        draw(
            st.sets(
                st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)),
                min_size=min(min_nnz, n_users * n_items),
                max_size=n_users * n_items,
            )
        )
    )
    n = len(cells)
    values = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
    stamps = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    n_empty = draw(st.integers(0, 2))
    users = IdMap([f"u{u}" for u in range(n_users + n_empty)], name="user")
    return Interactions.from_arrays(
        [f"u{u}" for u, _ in cells],
        [10 * i for _, i in cells],
        values,
        stamps,
        kind="explicit",
        users=users,
    )


seeds = st.integers(0, 2**32 - 1)
fractions = st.floats(0.05, 0.95)


def records(data: Interactions) -> list[tuple[int, int, float, int]]:
    """Sorted (user index, item index, value, timestamp) tuples."""
    ts = data.timestamps if data.timestamps is not None else np.zeros(data.nnz, np.int64)
    return sorted(
        zip(
            data.user_indices.tolist(),
            data.item_indices.tolist(),
            data.values.tolist(),
            ts.tolist(),
            strict=True,
        )
    )


def assert_partition(data: Interactions, result: Split) -> None:
    train, test = result
    assert train.users is data.users and test.users is data.users
    assert train.items is data.items and test.items is data.items
    assert train.matrix.shape == test.matrix.shape == data.matrix.shape
    assert train.kind == test.kind == data.kind
    train_pairs = set(zip(train.user_indices.tolist(), train.item_indices.tolist(), strict=True))
    test_pairs = set(zip(test.user_indices.tolist(), test.item_indices.tolist(), strict=True))
    assert not train_pairs & test_pairs
    assert sorted(records(train) + records(test)) == records(data)
    assert train.nnz > 0 and test.nnz > 0


def by_user(data: Interactions) -> dict[int, list[tuple[int, int]]]:
    """user index -> list of (timestamp, item index)."""
    out: dict[int, list[tuple[int, int]]] = {}
    assert data.timestamps is not None
    for u, i, t in zip(
        data.user_indices.tolist(),
        data.item_indices.tolist(),
        data.timestamps.tolist(),
        strict=True,
    ):
        out.setdefault(u, []).append((t, i))
    return out


def expected_holdout(n: int, fraction: float | None, count: int | None, min_train: int) -> int:
    """Reference per-user holdout size, written straight from the documented rule."""
    if n == 0:
        return 0
    wanted = max(1, int(np.floor(fraction * n + 0.5))) if fraction is not None else count
    assert wanted is not None
    return wanted if n - wanted >= min_train else 0


def pair_keys(data: Interactions) -> np.ndarray:
    return data.user_indices.astype(np.int64) * data.n_items + data.item_indices


@pytest.fixture
def table() -> Interactions:
    """4 users: a has 7 ratings, b 8, c 3, d 1; timestamps increasing with the item."""
    rows = []
    for user, n in (("a", 7), ("b", 8), ("c", 3), ("d", 1)):
        rows += [(user, item, 1 + item % 5, 100 + 10 * item) for item in range(n)]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "ts"])
    return Interactions.from_frame(frame, rating="rating", timestamp="ts")


@pytest.fixture
def medium() -> Interactions:
    rng = np.random.default_rng(7)
    dense = rng.random((40, 30)) < 0.4
    users, items = np.nonzero(dense)
    return Interactions.from_arrays(users, items, rng.integers(1, 6, users.size), rng.integers(0, 1000, users.size))


# --------------------------------------------------------------------------- properties


@HYPO
@given(interactions(), fractions, seeds)
def test_random_split_properties(data: Interactions, fraction: float, seed: int) -> None:
    n_test = max(1, int(np.floor(fraction * data.nnz + 0.5)))
    if n_test >= data.nnz:
        with pytest.raises(DataError, match="training set empty"):
            random_split(data, fraction, random_state=seed)
        return
    result = random_split(data, fraction, random_state=seed)
    assert_partition(data, result)
    assert result.test.nnz == n_test
    again = random_split(data, fraction, random_state=seed)
    assert again.train == result.train and again.test == result.test


@HYPO
@given(
    interactions(),
    st.one_of(fractions, st.none()),
    st.integers(1, 3),
    st.integers(0, 3),
    seeds,
    st.booleans(),
)
def test_user_split_properties(
    data: Interactions,
    fraction: float | None,
    count: int,
    min_train: int,
    seed: int,
    use_count: bool,
) -> None:
    kwargs = {"test_count": count} if use_count else {"test_fraction": fraction}
    frac = None if use_count else (0.2 if fraction is None else fraction)
    counts = data.user_counts().tolist()
    sizes = [expected_holdout(n, frac, count if use_count else None, min_train) for n in counts]
    if sum(sizes) == 0:
        with pytest.raises(DataError, match="no user has enough"):
            user_split(data, min_train=min_train, random_state=seed, **kwargs)
        return
    if sum(sizes) == data.nnz:
        with pytest.raises(DataError, match="training set empty"):
            user_split(data, min_train=min_train, random_state=seed, **kwargs)
        return
    result = user_split(data, min_train=min_train, random_state=seed, **kwargs)
    assert_partition(data, result)
    test_counts = result.test.user_counts().tolist()
    train_counts = result.train.user_counts().tolist()
    assert test_counts == sizes
    for n_test, n_train, n in zip(test_counts, train_counts, counts, strict=True):
        if n_test:
            assert n_train >= min_train
        else:
            assert n_train == n
    assert result.info["n_test_users"] == sum(1 for s in sizes if s)
    assert result.info["n_skipped_users"] == sum(1 for s, n in zip(sizes, counts, strict=True) if n and not s)
    again = user_split(data, min_train=min_train, random_state=seed, **kwargs)
    assert again.test == result.test


@HYPO
@given(interactions(), st.integers(1, 3), st.integers(0, 2))
def test_last_k_split_properties(data: Interactions, k: int, min_train: int) -> None:
    counts = data.user_counts().tolist()
    sizes = [expected_holdout(n, None, k, min_train) for n in counts]
    if sum(sizes) == 0 or sum(sizes) == data.nnz:
        with pytest.raises(DataError, match=r"no user has enough|training set empty"):
            last_k_split(data, k, min_train=min_train)
        return
    result = last_k_split(data, k, min_train=min_train)
    assert_partition(data, result)
    assert result.test.user_counts().tolist() == sizes
    train_rows, test_rows = by_user(result.train), by_user(result.test)
    for user, held in test_rows.items():
        kept = train_rows.get(user, [])
        assert len(kept) >= min_train
        # Later by timestamp, ties by item index: the documented order.
        assert min(held) > max(kept, default=(-1, -1))
        assert min(t for t, _ in held) >= max((t for t, _ in kept), default=-1)
    # Brute-force reference: the k largest (timestamp, item) of each eligible user.
    full = by_user(data)
    expected = {u: sorted(rows)[-sizes[u] :] for u, rows in full.items() if sizes[u]}
    assert {u: sorted(rows) for u, rows in test_rows.items()} == expected


@HYPO
@given(interactions(), st.integers(-1, 14))
def test_temporal_split_with_cutoff(data: Interactions, cutoff: int) -> None:
    assert data.timestamps is not None
    expected_test = int((data.timestamps >= cutoff).sum())
    if expected_test in (0, data.nnz):
        with pytest.raises(DataError, match="set empty"):
            temporal_split(data, cutoff)
        return
    result = temporal_split(data, cutoff)
    assert_partition(data, result)
    assert result.test.nnz == expected_test
    assert result.train.timestamps.max() < cutoff <= result.test.timestamps.min()
    assert result.info["cutoff"] == cutoff


@HYPO
@given(interactions(), fractions)
def test_temporal_split_with_fraction(data: Interactions, fraction: float) -> None:
    assert data.timestamps is not None
    ordered = sorted(data.timestamps.tolist())
    n_test = max(1, int(np.floor(fraction * data.nnz + 0.5)))
    cutoff = ordered[data.nnz - n_test] if n_test <= data.nnz else ordered[0]
    if cutoff == ordered[0]:
        with pytest.raises(DataError, match="training set empty"):
            temporal_split(data, test_fraction=fraction)
        return
    result = temporal_split(data, test_fraction=fraction)
    assert_partition(data, result)
    assert result.info["cutoff"] == cutoff
    assert result.train.timestamps.max() < result.test.timestamps.min()
    assert result.test.nnz >= n_test  # ties at the cut-off go to test


@HYPO
@given(interactions(), st.integers(2, 5), seeds)
def test_kfold_by_interaction_properties(data: Interactions, n_splits: int, seed: int) -> None:
    if data.nnz < n_splits:
        with pytest.raises(DataError, match="cannot make"):
            kfold(data, n_splits, random_state=seed)
        return
    folds = list(kfold(data, n_splits, random_state=seed))
    assert len(folds) == n_splits
    tested = []
    for number, fold in enumerate(folds):
        assert_partition(data, fold)
        assert fold.info["fold"] == number
        tested.append(pair_keys(fold.test))
    sizes = [t.size for t in tested]
    assert max(sizes) - min(sizes) <= 1
    assert np.array_equal(np.sort(np.concatenate(tested)), np.sort(pair_keys(data)))
    again = [f.test for f in kfold(data, n_splits, random_state=seed)]
    assert all(a == f.test for a, f in zip(again, folds, strict=True))


@HYPO
@given(interactions(), st.integers(2, 4), st.one_of(fractions, st.none()), seeds)
def test_kfold_by_user_properties(data: Interactions, n_splits: int, fraction: float | None, seed: int) -> None:
    frac = 0.2 if fraction is None else fraction
    counts = data.user_counts().tolist()
    sizes = [expected_holdout(n, frac, None, 1) for n in counts]
    eligible = sum(1 for s in sizes if s)
    if eligible < n_splits:
        with pytest.raises(DataError, match="cannot make"):
            kfold(data, n_splits, by="user", test_fraction=fraction, random_state=seed)
        return
    folds = list(kfold(data, n_splits, by="user", test_fraction=fraction, random_state=seed))
    tested = np.zeros(data.n_users, dtype=np.int64)
    times_tested = np.zeros(data.n_users, dtype=np.int64)
    keys = []
    for fold in folds:
        assert_partition(data, fold)
        per_user = fold.test.user_counts()
        tested += per_user
        times_tested += per_user > 0
        keys.append(pair_keys(fold.test))
        assert fold.info["n_test_users"] == int((per_user > 0).sum())
        assert (fold.train.user_counts()[per_user > 0] >= 1).all()
    assert tested.tolist() == sizes
    assert times_tested.tolist() == [1 if s else 0 for s in sizes]
    all_keys = np.concatenate(keys)
    assert np.unique(all_keys).size == all_keys.size  # test sets disjoint


@HYPO
@given(interactions(), fractions, seeds, st.sampled_from(["user", "item"]))
def test_cold_split_properties(data: Interactions, fraction: float, seed: int, entity: str) -> None:
    func = cold_user_split if entity == "user" else cold_item_split
    counts = data.user_counts() if entity == "user" else data.item_counts()
    active = int((counts > 0).sum())
    n_test = max(1, int(np.floor(fraction * active + 0.5)))
    if n_test >= active:
        with pytest.raises(DataError, match=f"cold-{entity} split"):
            func(data, fraction, random_state=seed)
        return
    result = func(data, fraction, random_state=seed)
    assert_partition(data, result)
    if entity == "user":
        test_side, train_side = result.test.user_counts(), result.train.user_counts()
    else:
        test_side, train_side = result.test.item_counts(), result.train.item_counts()
    held = test_side > 0
    assert held.sum() == n_test == result.info[f"n_test_{entity}s"]
    assert (train_side[held] == 0).all()  # no leakage of a held-out user/item
    assert np.array_equal(test_side[held], counts[held])  # held out whole


# --------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize(
    "make",
    [
        lambda d, s: random_split(d, 0.3, random_state=s),
        lambda d, s: user_split(d, 0.3, random_state=s),
        lambda d, s: next(kfold(d, 3, random_state=s)),
        lambda d, s: next(kfold(d, 3, by="user", random_state=s)),
        lambda d, s: cold_user_split(d, 0.3, random_state=s),
        lambda d, s: cold_item_split(d, 0.3, random_state=s),
    ],
    ids=["random", "user", "kfold", "kfold-user", "cold-user", "cold-item"],
)
def test_seeds_reproduce_and_differ(medium: Interactions, make) -> None:
    first, again, other = make(medium, 0), make(medium, 0), make(medium, 1)
    assert first.test == again.test and first.train == again.train
    assert not first.test == other.test
    # A Generator is accepted and advanced: two draws from one generator differ.
    rng = np.random.default_rng(3)
    assert not make(medium, rng).test == make(medium, rng).test
    assert make(medium, np.random.default_rng(3)).test == make(medium, np.random.default_rng(3)).test


def test_lexsort_fallback_gives_the_same_splits(medium: Interactions, monkeypatch: pytest.MonkeyPatch) -> None:
    fast_user = user_split(medium, 0.3, random_state=9)
    fast_last = last_k_split(medium, 3)
    monkeypatch.setattr(split_module, "_COMBINED_KEY_LIMIT", 0)
    assert user_split(medium, 0.3, random_state=9).test == fast_user.test
    assert last_k_split(medium, 3).test == fast_last.test


# --------------------------------------------------------------------------- known answers


def test_split_unpacks_and_reports(table: Interactions) -> None:
    result = user_split(table, random_state=0)
    train, test = result
    assert train is result.train and test is result.test
    assert "user" in repr(result) and f"test {test.nnz:,}" in repr(result)
    with pytest.raises(AttributeError):
        result.train = test  # type: ignore[misc]


def test_user_split_fraction_rounding(table: Interactions) -> None:
    # a: 7 -> round(1.4) = 1; b: 8 -> round(1.6) = 2; c: 3 -> round(0.6) = 1;
    # d: 1 -> at least 1 would leave 0 < min_train in train -> skipped.
    result = user_split(table, 0.2, random_state=5)
    assert dict(
        zip(
            table.users.to_ids(np.arange(4)).tolist(),
            result.test.user_counts().tolist(),
            strict=True,
        )
    ) == {"a": 1, "b": 2, "c": 1, "d": 0}
    assert result.info["n_test_users"] == 3 and result.info["n_skipped_users"] == 1
    assert result.train.user_counts().tolist() == [6, 6, 2, 1]


def test_user_split_count_and_min_train(table: Interactions) -> None:
    result = user_split(table, test_count=2, min_train=3, random_state=0)
    assert result.test.user_counts().tolist() == [2, 2, 0, 0]  # c has 3 < 2 + 3
    assert result.info == {
        "method": "user",
        "test_fraction": None,
        "test_count": 2,
        "n_test_users": 2,
        "n_skipped_users": 2,
    }
    # min_train=0: a single-rating user may go wholly to test.
    zero = user_split(table, test_count=1, min_train=0, random_state=0)
    assert zero.test.user_counts().tolist() == [1, 1, 1, 1]
    assert zero.info["n_skipped_users"] == 0


def test_user_split_half_rounds_up() -> None:
    data = Interactions.from_arrays(["u"] * 10, list(range(10)), [3.0] * 10)
    assert user_split(data, 0.25, random_state=0).test.nnz == 3  # 2.5 -> 3
    assert user_split(data, 0.05, random_state=0).test.nnz == 1  # 0.5 -> 1
    assert random_split(data, 0.25, random_state=0).test.nnz == 3


def test_empty_user_rows_are_kept() -> None:
    users = IdMap(["ghost", "x", "y"], name="user")
    data = Interactions.from_arrays(["x", "x", "y", "y"], [1, 2, 1, 2], users=users)
    train, test = user_split(data, test_count=1, random_state=0)
    assert train.n_users == test.n_users == 3
    assert train.user_counts().tolist() == [0, 1, 1]
    assert test.user_counts().tolist() == [0, 1, 1]
    assert train.users.to_index(["ghost"]).tolist() == [0]


def test_last_k_known_answer_and_ties() -> None:
    frame = pd.DataFrame(
        {
            "user": ["a", "a", "a", "a", "b", "b", "b", "c"],
            "item": [5, 3, 9, 1, 2, 7, 4, 1],
            "rating": [1, 2, 3, 4, 5, 1, 2, 3],
            # a: item 9 is latest; items 3 and 5 tie at 20 -> item 5 counts as later.
            # b: all three tie -> the larger item indices (7, then 4) are the latest.
            "ts": [20, 20, 30, 10, 50, 50, 50, 99],
        }
    )
    data = Interactions.from_frame(frame, rating="rating", timestamp="ts")
    result = last_k_split(data, k=2)
    test = result.test.to_frame()
    assert sorted(zip(test.user, test.item, strict=True)) == [
        ("a", 5),
        ("a", 9),
        ("b", 4),
        ("b", 7),
    ]
    assert result.info == {"method": "last_k", "k": 2, "n_test_users": 2, "n_skipped_users": 1}
    one = last_k_split(data).test.to_frame()
    assert sorted(zip(one.user, one.item, strict=True)) == [("a", 9), ("b", 7)]
    # Deterministic: no random_state at all, same answer every time.
    assert last_k_split(data, k=2).test == result.test


def test_temporal_cutoff_forms(table: Interactions) -> None:
    # Timestamps are 100..170 (item 0..7 at 100 + 10 * item).
    as_int = temporal_split(table, 140)
    assert as_int.test.timestamps.tolist() and min(as_int.test.timestamps) == 140
    assert as_int.test.nnz == 3 + 4  # a: items 4..6, b: items 4..7
    assert as_int.info["cutoff_utc"] == "1970-01-01T00:02:20+00:00"
    assert temporal_split(table, 139.5).test == as_int.test  # 139.5 -> ts >= 140
    for form in (
        "1970-01-01 00:02:20",
        "1970-01-01T01:02:20+01:00",
        dt.datetime(1970, 1, 1, 0, 2, 20),
        dt.datetime(1970, 1, 1, 0, 2, 20, tzinfo=dt.UTC),
        np.datetime64("1970-01-01T00:02:20"),
        pd.Timestamp("1970-01-01 00:02:19.5"),
    ):
        result = temporal_split(table, form)
        assert result.info["cutoff"] == 140, form
        assert result.test == as_int.test, form


def test_temporal_fraction_known_answer(table: Interactions) -> None:
    # 19 timestamps; 0.25 * 19 = 4.75 -> 5 latest: 170 (b), 160 (a, b), 150 (a, b) -> cutoff 150,
    # then ties: no extra. Test holds 5.
    result = temporal_split(table, test_fraction=0.25)
    assert result.info["cutoff"] == 150
    assert result.test.nnz == 5


def test_temporal_fraction_ties_go_to_test() -> None:
    data = Interactions.from_arrays(["a", "a", "b", "b", "c"], [1, 2, 1, 2, 1], None, [1, 5, 5, 5, 9])
    result = temporal_split(data, test_fraction=0.2)  # 1 latest -> cutoff 9
    assert result.test.nnz == 1
    result = temporal_split(data, test_fraction=0.4)  # 2 latest -> cutoff 5, 3 ties -> 4 in test
    assert result.info["cutoff"] == 5 and result.test.nnz == 4


def test_kfold_known_sizes_and_laziness(medium: Interactions) -> None:
    folds = kfold(medium, 4, random_state=0)
    assert not isinstance(folds, list)
    sizes = [f.test.nnz for f in folds]
    base = medium.nnz // 4
    assert sorted(sizes)[0] >= base and sum(sizes) == medium.nnz
    # Errors surface at the call, before iterating.
    with pytest.raises(InvalidParameterError, match="n_splits"):
        kfold(medium, 1)


def test_kfold_by_user_fixed_count(table: Interactions) -> None:
    folds = list(kfold(table, 3, by="user", test_count=1, random_state=2))
    per_fold = np.array([f.test.user_counts() for f in folds])
    # a, b, c eligible (d keeps its single rating): one user per fold, one rating each.
    assert per_fold.sum(axis=0).tolist() == [1, 1, 1, 0]
    assert per_fold.sum(axis=1).tolist() == [1, 1, 1]
    assert all(f.info["n_skipped_users"] == 1 for f in folds)


def test_cold_user_known_answer(table: Interactions) -> None:
    result = cold_user_split(table, 0.5, random_state=1)  # 2 of 4 users
    held = result.test.user_counts() > 0
    assert held.sum() == 2
    assert (result.train.user_counts()[held] == 0).all()
    assert result.test.user_counts()[held].tolist() == table.user_counts()[held].tolist()


def test_dispatch_by_name(table: Interactions) -> None:
    assert make_split(table, "last-k", k=1).test == last_k_split(table, 1).test
    assert (
        make_split(table, "random", test_fraction=0.3, random_state=4).test
        == random_split(table, 0.3, random_state=4).test
    )
    assert make_split(table, random_state=4).info["method"] == "user"
    assert make_split(table, "cold_item", random_state=0).info["method"] == "cold_item"
    assert make_split(table, "temporal", cutoff=150).info["cutoff"] == 150
    with pytest.raises(InvalidParameterError, match=r"method must be one of .*'kfold2'"):
        make_split(table, "kfold2")
    with pytest.raises(InvalidParameterError, match=r"split method 'random'.*'k'"):
        make_split(table, "random", k=3)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.1, 1.5, float("nan"), True, "0.2", None])
def test_bad_fractions(table: Interactions, bad: object) -> None:
    pattern = rf"test_fraction must be a number strictly between 0 and 1, got {bad!r}"
    with pytest.raises(InvalidParameterError, match=pattern.replace("(", r"\(")):
        random_split(table, bad, random_state=0)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="test_fraction"):
        cold_item_split(table, bad, random_state=0)  # type: ignore[arg-type]
    if bad is not None:
        with pytest.raises(InvalidParameterError, match="test_fraction"):
            user_split(table, bad, random_state=0)  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match="test_fraction"):
            temporal_split(table, test_fraction=bad)  # type: ignore[arg-type]


def test_bad_counts_and_options(table: Interactions) -> None:
    with pytest.raises(InvalidParameterError, match=r"test_count must be an integer >= 1, got 0"):
        user_split(table, test_count=0)
    with pytest.raises(InvalidParameterError, match=r"test_count must be an integer >= 1, got 1.5"):
        user_split(table, test_count=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="not both"):
        user_split(table, 0.2, test_count=1)
    with pytest.raises(InvalidParameterError, match=r"min_train must be an integer >= 0, got -1"):
        user_split(table, min_train=-1)
    with pytest.raises(InvalidParameterError, match=r"k must be an integer >= 1, got 0"):
        last_k_split(table, 0)
    with pytest.raises(InvalidParameterError, match=r"n_splits must be an integer >= 2, got 1"):
        kfold(table, 1)
    with pytest.raises(InvalidParameterError, match=r"by must be 'interaction' or 'user', got 'item'"):
        kfold(table, by="item")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"by='user'\) only, got test_fraction=0.3"):
        kfold(table, test_fraction=0.3)
    with pytest.raises(InvalidParameterError, match=r"random_state must be .*got 'seed'"):
        random_split(table, random_state="seed")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"random_state must be a non-negative int, got -1"):
        random_split(table, random_state=-1)
    with pytest.raises(InvalidParameterError, match="data must be an Interactions, got DataFrame"):
        random_split(table.to_frame())  # type: ignore[arg-type]


def test_bad_temporal_arguments(table: Interactions) -> None:
    with pytest.raises(InvalidParameterError, match="exactly one of cutoff or test_fraction"):
        temporal_split(table)
    with pytest.raises(InvalidParameterError, match="exactly one of cutoff or test_fraction"):
        temporal_split(table, 150, test_fraction=0.2)
    with pytest.raises(InvalidParameterError, match="could not parse 'next tuesday'"):
        temporal_split(table, "next tuesday")
    with pytest.raises(InvalidParameterError, match="cutoff must be"):
        temporal_split(table, True)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="cutoff must be finite"):
        temporal_split(table, float("inf"))


def test_data_errors(table: Interactions) -> None:
    no_time = Interactions.from_arrays(["a", "a", "b"], [1, 2, 1], [1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="last_k_split needs timestamps"):
        last_k_split(no_time)
    with pytest.raises(DataError, match="temporal_split needs timestamps"):
        temporal_split(no_time, 5)
    with pytest.raises(DataError, match=r"cutoff 999 .* test set empty .* latest interaction is at 170"):
        temporal_split(table, 999)
    with pytest.raises(DataError, match=r"cutoff 0 .* training set empty"):
        temporal_split(table, 0)
    with pytest.raises(DataError, match="no user has enough interactions to hold out test_count=9"):
        user_split(table, test_count=9)
    with pytest.raises(DataError, match=r"no user has enough .*test_count=8 and keep min_train=1"):
        last_k_split(table, 8)
    single = Interactions.from_arrays(["a"], [1], [4.0], [1])
    with pytest.raises(DataError, match="random split would leave the training set empty"):
        random_split(single, random_state=0)
    with pytest.raises(DataError, match="cold-user split: holding out 1 of the 1 users"):
        cold_user_split(single, random_state=0)
    with pytest.raises(DataError, match="cannot make n_splits=5 folds from 1 interactions"):
        kfold(single, 5)
    with pytest.raises(DataError, match="only 3 users"):
        kfold(table, 4, by="user")
    empty = Interactions.from_scipy(sp.csr_matrix((2, 3), dtype=np.float32))
    with pytest.raises(DataError, match="no interactions"):
        user_split(empty)


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def ml100k() -> Interactions:
    if not ML100K.exists():
        pytest.skip(f"{ML100K} is not available")
    frame = pd.read_csv(ML100K, sep="\t", header=None, names=["user", "item", "rating", "ts"])
    return Interactions.from_frame(frame, rating="rating", timestamp="ts")


def test_ml100k_five_fold_covers_every_rating_once(ml100k: Interactions) -> None:
    assert ml100k.nnz == 100_000
    keys = []
    for fold in kfold(ml100k, 5, random_state=42):
        assert fold.test.nnz == 20_000 and fold.train.nnz == 80_000
        assert fold.train.users is ml100k.users
        keys.append(pair_keys(fold.test))
    everything = np.concatenate(keys)
    assert everything.size == 100_000
    assert np.array_equal(np.sort(everything), np.sort(pair_keys(ml100k)))


def test_ml100k_per_user_splits(ml100k: Interactions) -> None:
    result = user_split(ml100k, 0.2, random_state=0)
    assert result.info["n_skipped_users"] == 0  # every user has >= 20 ratings
    assert result.info["n_test_users"] == 943
    last = last_k_split(ml100k, 5)
    assert last.test.nnz == 943 * 5
    assert (last.train.user_counts() >= 15).all()
