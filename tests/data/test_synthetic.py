"""Tests for the synthetic generator and the built-in `sample` data set."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import svds

from likewise.data import synthetic as synth
from likewise.data.interactions import Interactions
from likewise.data.synthetic import GENRES, SyntheticTruth, sample, sample_truth, synthetic
from likewise.exceptions import InvalidParameterError

START = int(datetime(2015, 1, 1, tzinfo=UTC).timestamp())
END = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def small() -> tuple[Interactions, SyntheticTruth]:
    return synthetic(300, 200, 9000, random_state=3, return_truth=True)


def _rows_strictly_increasing(matrix: sp.csr_matrix) -> bool:
    """No duplicate (user, item) pair: column indices strictly increase inside every row."""
    diffs = np.diff(matrix.indices.astype(np.int64))
    row_starts = matrix.indptr[1:-1]
    inside = np.ones(diffs.size, dtype=bool)
    inside[row_starts[(row_starts > 0) & (row_starts <= diffs.size)] - 1] = False
    return bool((diffs[inside] > 0).all())


# ------------------------------------------------------------------------------- basics
def test_exact_size_ids_and_scale(small: tuple[Interactions, SyntheticTruth]) -> None:
    data, _ = small
    assert (data.n_users, data.n_items, data.nnz) == (300, 200, 9000)
    assert data.kind == "explicit"
    assert data.rating_scale == (1.0, 5.0)
    np.testing.assert_array_equal(data.users.ids, np.arange(1, 301))
    np.testing.assert_array_equal(data.items.ids, np.arange(1, 201))
    assert data.matrix.dtype == np.float32
    assert data.matrix.has_sorted_indices
    assert _rows_strictly_increasing(data.matrix)
    assert data.report.n_interactions == 9000


def test_ratings_are_integers_one_to_five_with_a_realistic_spread(
    small: tuple[Interactions, SyntheticTruth],
) -> None:
    values = small[0].values
    assert set(np.unique(values).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    shares = np.bincount(values.astype(int), minlength=6)[1:] / values.size
    assert 3.2 < values.mean() < 3.9
    assert shares[3] > shares[0] and shares[2] > shares[0]  # 3s and 4s outnumber 1s
    assert shares.min() > 0.01


def test_every_user_has_at_least_five_and_at_most_half_the_catalogue(
    small: tuple[Interactions, SyntheticTruth],
) -> None:
    counts = small[0].user_counts()
    assert counts.min() >= 5
    assert counts.max() <= 100
    assert counts.sum() == 9000


def test_activity_is_heavy_tailed_and_popularity_skewed() -> None:
    data = synthetic(2000, 1000, 60000, random_state=0)
    users = data.user_counts()
    assert users.max() >= 4 * np.median(users)
    items = np.sort(data.item_counts())[::-1]
    top_tenth = items[: items.size // 10].sum() / items.sum()
    assert top_tenth > 0.3  # a uniform catalogue would give 0.1
    assert items[0] < data.n_users  # the head is flattened: nobody is seen by everyone


def test_popularity_exponent_zero_flattens_popularity() -> None:
    flat = synthetic(1000, 500, 20000, popularity_exponent=0.0, taste_strength=0.0, random_state=1)
    skewed = synthetic(1000, 500, 20000, popularity_exponent=1.2, taste_strength=0.0, random_state=1)

    def gini(counts: np.ndarray) -> float:
        c = np.sort(counts).astype(float)
        n = c.size
        return float((2 * np.arange(1, n + 1) - n - 1) @ c / (n * c.sum()))

    assert gini(flat.item_counts()) < 0.2 < gini(skewed.item_counts())


def test_timestamps_are_int_seconds_inside_the_range(small: tuple[Interactions, SyntheticTruth]) -> None:
    data, _ = small
    ts = data.timestamps
    assert ts is not None and ts.dtype == np.int64 and ts.shape == (data.nnz,)
    assert ts.min() >= START and ts.max() < END
    # Users join at different times: the log covers most of the range.
    assert ts.max() - ts.min() > 0.8 * (END - START)
    first = np.minimum.reduceat(ts, data.matrix.indptr[:-1])
    assert np.ptp(first) > 0.5 * (END - START)


def test_start_and_end_accept_dates_strings_and_seconds() -> None:
    a = synthetic(20, 10, 100, start="2001-01-01", end="2001-02-01", random_state=0)
    b = synthetic(20, 10, 100, start=datetime(2001, 1, 1), end=np.datetime64("2001-02-01"), random_state=0)
    c = synthetic(20, 10, 100, start=978307200, end=980985600, random_state=0)
    assert a == b == c
    np.testing.assert_array_equal(a.timestamps, c.timestamps)
    assert a.timestamps.min() >= 978307200 and a.timestamps.max() < 980985600


def test_implicit_counts_are_positive_integers() -> None:
    data = synthetic(200, 100, 4000, kind="implicit", random_state=5)
    assert data.kind == "implicit" and data.rating_scale is None
    v = data.values
    assert v.min() >= 1 and np.array_equal(v, np.round(v))
    assert v.max() > 10 * np.median(v)  # heavy-tailed play counts


def test_item_features_and_info_describe_the_same_genres(small: tuple[Interactions, SyntheticTruth]) -> None:
    data, truth = small
    feats = data.item_features
    assert feats is not None
    expected = sorted(f"genre={g}" for g in GENRES[:8])
    assert feats.names.tolist() == expected
    per_item = np.diff(feats.matrix.indptr)
    assert per_item.min() >= 1 and per_item.max() <= 3
    assert set(np.unique(feats.matrix.data).tolist()) == {1.0}
    info = data.item_info
    assert info is not None and list(info.columns) == ["title", "genres", "year"]
    assert info.index.tolist() == data.items.ids.tolist()
    for row in (0, 17, 199):
        from_info = sorted(f"genre={g}" for g in info["genres"].iloc[row].split("|"))
        assert from_info == sorted(feats.row_names(row))
    titles = data.item_titles()
    assert titles is not None and len(set(titles.tolist())) == data.n_items
    assert all(t.endswith(f"({y})") for t, y in zip(titles, info["year"], strict=True))
    assert truth.genres == GENRES[:8]


def test_more_genres_than_named_ones_get_numbered_names() -> None:
    data = synthetic(50, 40, 500, n_genres=20, random_state=0)
    assert data.item_features is not None
    assert "genre=Genre 20" in data.item_features.names.tolist()
    assert len(data.item_features.names) == 20


def test_same_seed_same_data_and_other_seed_other_data() -> None:
    a = synthetic(100, 80, 2000, random_state=11)
    b = synthetic(100, 80, 2000, random_state=11)
    c = synthetic(100, 80, 2000, random_state=12)
    assert a == b
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    assert a.item_info.equals(b.item_info)
    assert a != c


def test_generator_instance_is_accepted() -> None:
    a = synthetic(30, 20, 300, random_state=np.random.default_rng(4))
    b = synthetic(30, 20, 300, random_state=4)
    assert a == b


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_users": 0}, "n_users must be an integer >= 1"),
        ({"n_items": 2.5}, "n_items must be an integer"),
        ({"n_interactions": 5, "n_users": 10}, "at least n_users"),
        ({"n_users": 10, "n_items": 10, "n_interactions": 60}, "too dense"),
        ({"kind": "ratings"}, "kind must be 'explicit' or 'implicit'"),
        ({"noise": -1.0}, "noise must be a finite number >= 0"),
        ({"activity_exponent": 0}, "activity_exponent must be a number > 0"),
        ({"start": "2020-01-01", "end": "2019-01-01"}, "end must be after start"),
        ({"start": "not a date"}, "start is not a time"),
        ({"n_genres": True}, "n_genres must be an integer"),
    ],
)
def test_invalid_parameters_are_refused(kwargs: dict, match: str) -> None:
    params = {"n_users": 20, "n_items": 20, "n_interactions": 100, **kwargs}
    with pytest.raises(InvalidParameterError, match=match):
        synthetic(**params)


@settings(max_examples=50, deadline=None)
@given(
    n_users=st.integers(1, 25),
    n_items=st.integers(1, 30),
    density=st.floats(0.0, 1.0),
    kind=st.sampled_from(["explicit", "implicit"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_invariants_hold_for_any_feasible_size(
    n_users: int, n_items: int, density: float, kind: str, seed: int
) -> None:
    total = n_users + int(density * n_users * (max(1, n_items // 2) - 1))  # always feasible
    data = synthetic(n_users, n_items, total, kind=kind, random_state=seed)  # type: ignore[arg-type]
    assert data.nnz == total
    assert data.n_users == n_users and data.n_items == n_items
    assert _rows_strictly_increasing(data.matrix)
    counts = data.user_counts()
    assert counts.min() >= min(5, total // n_users)
    assert counts.max() <= max(min(5, total // n_users), n_items // 2)
    assert data.values.min() >= 1
    assert data.timestamps is not None and data.timestamps.shape == (total,)


def test_a_full_matrix_is_possible_when_the_catalogue_is_tiny() -> None:
    data = synthetic(4, 3, 12, random_state=0)
    assert data.nnz == 12 and data.density == 1.0
    with pytest.raises(InvalidParameterError, match="too dense for 1 users x 2 items: at most 2"):
        synthetic(1, 2, 5)


# ------------------------------------------------------------------------------- planted truth
def test_truth_is_aligned_and_affinity_is_standardised(small: tuple[Interactions, SyntheticTruth]) -> None:
    data, truth = small
    d = 8 + 4
    assert truth.user_factors.shape == (300, d) and truth.item_factors.shape == (200, d)
    assert truth.user_groups.shape == (300,) and truth.user_groups.max() < 6
    assert np.isclose(truth.item_popularity.sum(), 1.0)
    aff = truth.affinity(data.user_indices, data.item_indices)
    assert abs(float(aff.mean())) < 1e-3 and abs(float(aff.std()) - 1.0) < 1e-3
    dense = truth.scores(np.arange(5))
    np.testing.assert_allclose(
        dense[2, data.item_indices[data.user_indices == 2]],
        truth.affinity(
            data.user_indices[data.user_indices == 2], data.item_indices[data.user_indices == 2], standardize=False
        ),
        rtol=1e-5,
        atol=1e-5,
    )


def test_ratings_correlate_with_planted_affinity(small: tuple[Interactions, SyntheticTruth]) -> None:
    data, truth = small
    aff = truth.affinity(data.user_indices, data.item_indices)
    assert np.corrcoef(aff, data.values)[0, 1] > 0.45


def test_implicit_counts_correlate_with_planted_affinity() -> None:
    data, truth = synthetic(300, 200, 9000, kind="implicit", random_state=3, return_truth=True)
    aff = truth.affinity(data.user_indices, data.item_indices)
    ranks = np.argsort(np.argsort(data.values))  # Spearman: counts are heavy tailed
    assert np.corrcoef(aff, ranks)[0, 1] > 0.35


def test_taste_groups_prefer_their_favourite_genre() -> None:
    data, truth = synthetic(1200, 400, 36000, random_state=8, return_truth=True)
    genre_cols = truth.group_factors[:, : len(truth.genres)]
    item_genres = sp.csr_matrix(data.item_features.matrix)  # columns sorted by name
    name_to_col = {n: k for k, n in enumerate(data.item_features.names.tolist())}
    catalogue_share = np.asarray(item_genres.sum(axis=0)).ravel() / data.n_items
    for group in range(genre_cols.shape[0]):
        members = np.flatnonzero(truth.user_groups == group)
        if members.size < 30:
            continue
        favourite = truth.genres[int(genre_cols[group].argmax())]
        col = name_to_col[f"genre={favourite}"]
        rows = data.matrix[members]
        hits = item_genres[rows.indices][:, col].toarray().ravel()
        assert hits.mean() > 1.3 * catalogue_share[col], (group, favourite)


# ------------------------------------------------------------------------------- sample
def test_sample_size_ids_and_catalogue() -> None:
    data = sample()
    assert (data.n_users, data.n_items, data.nnz) == (600, 400, 30000)
    assert data.users.is_str and data.users.ids[0] == "u0001" and data.users.ids[-1] == "u0600"
    items = data.items.ids
    assert items.dtype == np.int64 and not data.items.is_str
    assert not np.array_equal(items, np.arange(items[0], items[0] + items.size))  # gaps on purpose
    titles = data.item_titles()
    assert titles is not None and len(set(titles.tolist())) == 400
    assert all(t[-5:-1].isdigit() and t[-7:-5] == " (" for t in titles)
    assert data.user_counts().min() >= 5
    assert data.rating_scale == (1.0, 5.0)


def test_sample_is_fast_deterministic_and_cached() -> None:
    synth._sample_with_truth.cache_clear()
    began = time.perf_counter()
    first = sample()
    elapsed = time.perf_counter() - began
    assert elapsed < 1.0  # about 0.05 s on a laptop; generous for a loaded CI machine
    synth._sample_with_truth.cache_clear()
    again = sample()
    assert first == again
    np.testing.assert_array_equal(first.values, again.values)
    assert first.item_info.equals(again.item_info)
    began = time.perf_counter()
    sample()
    assert time.perf_counter() - began < 0.05


def test_sample_copies_cannot_corrupt_the_cache() -> None:
    first = sample()
    reference = first.values.copy()
    first.matrix.data[:] = 0.0
    first.timestamps[:] = 0
    first.item_info.loc[first.items.ids[0], "title"] = "Vandalised"
    first.item_features.matrix.data[:] = 7.0
    second = sample()
    np.testing.assert_array_equal(second.values, reference)
    assert second.timestamps.min() > 0
    assert second.item_info["title"].iloc[0] != "Vandalised"
    assert set(np.unique(second.item_features.matrix.data).tolist()) == {1.0}
    cached = synth._sample_cached("explicit")
    assert not cached.matrix.data.flags.writeable


def test_sample_kinds_share_pairs_and_times() -> None:
    explicit, implicit = sample("explicit"), sample("implicit")
    assert implicit.kind == "implicit"
    assert explicit.users == implicit.users and explicit.items == implicit.items
    np.testing.assert_array_equal(explicit.matrix.indptr, implicit.matrix.indptr)
    np.testing.assert_array_equal(explicit.matrix.indices, implicit.matrix.indices)
    np.testing.assert_array_equal(explicit.timestamps, implicit.timestamps)
    assert not np.array_equal(explicit.values, implicit.values)
    with pytest.raises(InvalidParameterError, match="kind must be"):
        sample("binary")  # type: ignore[arg-type]


def _recall_at_10(scores: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    scores = np.where(train, -np.inf, scores)
    top = np.argsort(-scores, axis=1)[:, :10]
    hits = np.take_along_axis(test, top, axis=1).sum(axis=1)
    n_test = test.sum(axis=1)
    has = n_test > 0
    return float((hits[has] / np.minimum(n_test[has], 10)).mean())


def test_sample_structure_is_recoverable_by_a_low_rank_model() -> None:
    """A rank-5 truncated SVD of the training matrix beats popularity on held-out items."""
    data = sample()
    rng = np.random.default_rng(0)
    held_out = rng.random(data.nnz) < 0.2
    binary = sp.csr_matrix((np.ones(data.nnz), data.matrix.indices, data.matrix.indptr), shape=data.matrix.shape)
    train = binary.copy()
    train.data = (~held_out).astype(float)
    train.eliminate_zeros()
    test = binary.copy()
    test.data = held_out.astype(float)
    test.eliminate_zeros()
    train_dense, test_dense = train.toarray() > 0, test.toarray() > 0

    popularity = np.asarray(train.sum(axis=0)).ravel()
    pop_recall = _recall_at_10(np.tile(popularity, (data.n_users, 1)), train_dense, test_dense)
    u, s, vt = svds(train, k=5, random_state=0)
    svd_recall = _recall_at_10((u * s) @ vt, train_dense, test_dense)
    assert svd_recall > 1.25 * pop_recall
    assert svd_recall - pop_recall > 0.06


def test_sample_ratings_follow_sample_truth() -> None:
    data, truth = sample(), sample_truth()
    aff = truth.affinity(data.user_indices, data.item_indices)
    assert np.corrcoef(aff, data.values)[0, 1] > 0.5


@pytest.mark.slow
def test_one_million_interactions_in_a_few_seconds() -> None:
    began = time.perf_counter()
    data = synthetic(20000, 5000, 1_000_000, random_state=0)
    assert data.nnz == 1_000_000
    assert time.perf_counter() - began < 10.0
