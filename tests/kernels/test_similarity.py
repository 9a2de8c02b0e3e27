"""The sparse similarity kernels against their dense brute-force twin (tests/reference/knn.py)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.kernels.similarity import (
    _FULL_POSITIVE,
    COMMON,
    FULL,
    JACCARD,
    MSD,
    PEARSON,
    QueryRows,
    _effective_mode,
    all_positive,
    dense_similarities,
    topk_similarities,
)
from tests.reference import knn as ref

HYPO = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (reference measure, norms) -> kernel mode
MODES = {
    ("cosine", "common"): COMMON,
    ("cosine", "full"): FULL,
    ("pearson", "common"): PEARSON,
    ("pearson", "full"): FULL,  # values centred on the row mean beforehand
    ("msd", "common"): MSD,
    ("jaccard", "common"): JACCARD,
    ("dot", "full"): FULL,
    ("pearson_baseline", "common"): COMMON,
}


@st.composite
def rating_tables(draw: st.DrawFn, max_rows: int = 7, max_cols: int = 7) -> np.ndarray:
    """A dense table with NaN holes: integer or half-star ratings, empty rows/columns allowed,
    sometimes constant rows."""
    n_rows = draw(st.integers(1, max_rows))
    n_cols = draw(st.integers(1, max_cols))
    density = draw(st.sampled_from([0.3, 0.6, 0.9]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    step = draw(st.sampled_from([1.0, 0.5]))
    values = (
        rng.integers(2, 11, size=(n_rows, n_cols)) * step / 2 if step == 0.5 else rng.integers(1, 6, (n_rows, n_cols))
    )
    table = np.where(rng.random((n_rows, n_cols)) < density, values.astype(np.float64), np.nan)
    if draw(st.booleans()) and n_rows > 1:
        table[0] = np.where(np.isnan(table[0]), np.nan, 3.0)  # zero variance row
    return table


def kernel_inputs(X: np.ndarray, *, dot: bool = False) -> tuple[QueryRows, tuple[np.ndarray, ...]]:
    """CSR inputs of the kernels from a dense prepared table (rows compared)."""
    mask = ~np.isnan(X)
    x_major = sp.csr_matrix((X[mask], np.nonzero(mask)), shape=X.shape)
    x_major.sort_indices()
    y_major = x_major.T.tocsr()
    y_major.sort_indices()
    norm = np.ones(X.shape[0]) if dot else np.sqrt(np.nansum(X * X, axis=1))
    count = mask.sum(axis=1)
    query = QueryRows(x_major.indptr, x_major.indices, x_major.data, np.arange(X.shape[0]), norm, count)
    return query, (y_major.indptr, y_major.indices, y_major.data, norm, count)


def to_dense(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((indptr.size - 1, n), dtype=np.float32)
    for row in range(indptr.size - 1):
        out[row, indices[indptr[row] : indptr[row + 1]]] = data[indptr[row] : indptr[row + 1]]
    return out


def prepared_for_kernel(table: np.ndarray, measure: str, norms: str) -> np.ndarray:
    if measure == "pearson" and norms == "full":
        counts = (~np.isnan(table)).sum(axis=1, keepdims=True)
        means = np.nansum(table, axis=1, keepdims=True) / np.maximum(counts, 1)
        return table - means
    if measure == "jaccard":
        return np.where(np.isnan(table), np.nan, 1.0)
    return table


# ------------------------------------------------------------------------------ known answers


def test_cosine_by_hand():
    # rows: a = (5, 1, .), b = (4, 2, 5); co-support columns 0 and 1
    X = np.array([[5.0, 1.0, np.nan], [4.0, 2.0, 5.0]])
    query, cols = kernel_inputs(X)
    indptr, indices, data = topk_similarities(query, *cols, mode=COMMON, n_keep=5)
    # common norms: (20 + 2) / sqrt(26 * 20) = 0.964764...
    assert indptr.tolist() == [0, 1, 2] and indices.tolist() == [1, 0]
    np.testing.assert_allclose(data, [22 / np.sqrt(26 * 20)] * 2, rtol=1e-6)
    # full norms: (20 + 2) / (sqrt(26) * sqrt(45)) = 0.643...
    _indptr, indices, data = topk_similarities(query, *cols, mode=FULL, n_keep=5)
    np.testing.assert_allclose(data, [22 / np.sqrt(26 * 45)] * 2, rtol=1e-6)


def test_msd_jaccard_pearson_by_hand():
    X = np.array([[5.0, 1.0, np.nan, 2.0], [4.0, 2.0, 5.0, np.nan], [1.0, 5.0, np.nan, np.nan]])
    query, cols = kernel_inputs(X)
    _, _, msd = topk_similarities(query, *cols, mode=MSD, n_keep=1)
    # row 0 vs 1: diffs (1, -1) -> msd 1 -> 1/2; row 0 vs 2: (4, -4) -> 16 -> 1/17: best is row 1.
    # row 2 vs 1: diffs (-3, 3) -> 9 -> 1/10, better than row 0's 1/17.
    np.testing.assert_allclose(msd, [0.5, 0.5, 0.1], rtol=1e-6)
    _, idx, jac = topk_similarities(query, *cols, mode=JACCARD, n_keep=2)
    # |0 & 1| = 2, |0 | 1| = 4 -> 0.5; |0 & 2| = 2, union 3 -> 2/3
    assert idx[:2].tolist() == [2, 1]
    np.testing.assert_allclose(jac[:2], [2 / 3, 0.5], rtol=1e-6)
    _, idx, pear = topk_similarities(query, *cols, mode=PEARSON, n_keep=2)
    # Over 2 common points a Pearson correlation is +-1: row 0 vs 1 -> +1, vs 2 -> -1 (dropped)
    assert idx[:1].tolist() == [1]
    np.testing.assert_allclose(pear[0], 1.0, rtol=1e-6)


def test_min_support_and_shrinkage():
    X = np.array([[5.0, 1.0, 3.0], [4.0, 2.0, np.nan], [4.0, np.nan, np.nan]])
    query, cols = kernel_inputs(X)
    _, _idx, _sims = topk_similarities(query, *cols, mode=COMMON, n_keep=3, min_support=2)
    dense = to_dense(*topk_similarities(query, *cols, mode=COMMON, n_keep=3, min_support=2), 3)
    assert dense[0, 2] == 0 and dense[0, 1] > 0  # rows 0 and 2 share one column only
    shrunk = to_dense(*topk_similarities(query, *cols, mode=COMMON, n_keep=3, shrinkage=2.0), 3)
    plain = to_dense(*topk_similarities(query, *cols, mode=COMMON, n_keep=3), 3)
    np.testing.assert_allclose(shrunk[0, 1], plain[0, 1] * 2 / (2 + 2), rtol=1e-6)
    offset = to_dense(*topk_similarities(query, *cols, mode=COMMON, n_keep=3, shrinkage=2.0, shrink_offset=1), 3)
    np.testing.assert_allclose(offset[0, 1], plain[0, 1] * 1 / (1 + 2), rtol=1e-6)


def test_ties_go_to_the_lower_index_and_rows_are_ordered():
    # rows 1, 2, 3 are identical to row 0 on its support -> cosine 1 each; keep 2 -> rows 1, 2
    X = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [2.0, 1.0]])
    query, cols = kernel_inputs(X)
    indptr, idx, _sims = topk_similarities(query, *cols, mode=COMMON, n_keep=2)
    assert idx[indptr[0] : indptr[1]].tolist() == [1, 2]
    assert idx[indptr[4] : indptr[5]].tolist() == [0, 1]  # ties at 0.8 among rows 0..3


def test_zero_norm_rows_and_empty_rows_have_no_neighbours():
    X = np.array([[0.0, 0.0, np.nan], [np.nan, np.nan, np.nan], [1.0, 2.0, 3.0]])
    query, cols = kernel_inputs(X)
    for mode in (FULL, COMMON, PEARSON):
        indptr, _, _ = topk_similarities(query, *cols, mode=mode, n_keep=3)
        assert np.diff(indptr).tolist()[:2] == [0, 0]


def test_n_keep_zero_and_blocks(monkeypatch: pytest.MonkeyPatch):
    import likewise.kernels.similarity as module

    rng = np.random.default_rng(3)
    X = np.where(rng.random((30, 12)) < 0.5, rng.integers(1, 6, (30, 12)).astype(float), np.nan)
    query, cols = kernel_inputs(X)
    whole = topk_similarities(query, *cols, mode=COMMON, n_keep=4)
    monkeypatch.setattr(module, "_BLOCK_CELLS", 8)  # 2 rows per block
    blocked = topk_similarities(query, *cols, mode=COMMON, n_keep=4)
    for a, b in zip(whole, blocked, strict=True):
        np.testing.assert_array_equal(a, b)
    indptr, indices, _ = topk_similarities(query, *cols, mode=COMMON, n_keep=0)
    assert indices.size == 0 and indptr[-1] == 0


# ------------------------------------------------------------------------------ against the twin


@pytest.mark.parametrize(("measure", "norms"), sorted(MODES))
@pytest.mark.parametrize("parallel", [True])  # the serial build: test_large_rows..., and fold-in in the model tests
@HYPO
@given(
    table=rating_tables(),
    n_keep=st.integers(1, 8),
    min_support=st.integers(0, 3),
    shrinkage=st.sampled_from([None, 0.0, 2.5]),
)
def test_topk_matches_reference(measure, norms, parallel, table, n_keep, min_support, shrinkage):
    X = prepared_for_kernel(table, measure, norms)
    if measure == "pearson_baseline":  # any centred values do; the kernel only sees numbers
        X = X - np.nanmean(X) if np.isfinite(X).any() else X
    expected = ref.similarity_matrix(X, measure=measure, norms=norms, min_support=min_support, shrinkage=shrinkage)
    query, cols = kernel_inputs(X, dot=measure == "dot")
    effective_support = max(2, min_support) if measure == "pearson_baseline" else min_support
    if shrinkage is None:
        shrinkage = 100.0 if measure == "pearson_baseline" else 0.0
    indptr, indices, data = topk_similarities(
        query,
        *cols,
        mode=MODES[(measure, norms)],
        n_keep=n_keep,
        min_support=effective_support,
        shrinkage=shrinkage,
        shrink_offset=1 if measure == "pearson_baseline" else 0,
        positive=all_positive(cols[2]),  # raw ratings are: FULL takes its count-free path
        parallel=parallel,
    )
    lists = ref.neighbour_lists(expected, n_keep)
    for row in range(X.shape[0]):
        got = indices[indptr[row] : indptr[row + 1]]
        assert got.tolist() == lists[row].tolist()
        np.testing.assert_allclose(data[indptr[row] : indptr[row + 1]], expected[row, got], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("measure", "norms"), [("cosine", "common"), ("pearson", "common"), ("msd", "common")])
@HYPO
@given(table=rating_tables(), rows=st.lists(st.integers(0, 6), min_size=1, max_size=4))
def test_dense_matches_reference(measure, norms, table, rows):
    rows = [r for r in rows if r < table.shape[0]] or [0]
    X = prepared_for_kernel(table, measure, norms)
    expected = ref.similarity_matrix(X, measure=measure, norms=norms)
    query, cols = kernel_inputs(X)
    x_major = sp.csr_matrix((X[~np.isnan(X)], np.nonzero(~np.isnan(X))), shape=X.shape)
    x_major.sort_indices()
    sub = x_major[np.array(rows)]
    q = QueryRows(sub.indptr, sub.indices, sub.data, np.array(rows), query.norm[rows], query.count[rows])
    got = dense_similarities(q, *cols, mode=MODES[(measure, norms)])
    np.testing.assert_allclose(np.nan_to_num(got, nan=0.0), expected[rows], rtol=1e-5, atol=1e-7)
    assert np.isnan(got[np.arange(len(rows)), rows]).all()


def test_count_free_path_only_where_the_count_is_not_needed():
    query, _ = kernel_inputs(np.array([[1.0, 2.0], [np.nan, 3.0]]))
    assert _effective_mode(FULL, 1, 0.0, True, query) == _FULL_POSITIVE
    assert _effective_mode(FULL, 0, 0.0, True, query) == _FULL_POSITIVE
    assert _effective_mode(FULL, 1, 0.0, False, query) == FULL  # the caller did not vouch for y
    assert _effective_mode(FULL, 2, 0.0, True, query) == FULL  # min_support needs the count
    assert _effective_mode(FULL, 1, 2.5, True, query) == FULL  # so does shrinkage
    assert _effective_mode(COMMON, 1, 0.0, True, query) == COMMON
    negative, _ = kernel_inputs(np.array([[1.0, -2.0], [np.nan, 3.0]]))
    assert _effective_mode(FULL, 1, 0.0, True, negative) == FULL  # a non-positive query value


def test_all_positive_floor():
    assert all_positive(np.array([], dtype=np.float64))
    assert all_positive(np.array([1e-40], dtype=np.float32))  # float32 products stay normal
    assert all_positive(np.array([3.0, 1e-150]))
    assert not all_positive(np.array([3.0, 1e-200]))  # 1e-200 * 1e-200 underflows to 0
    assert not all_positive(np.array([3.0, 0.0]))
    assert not all_positive(np.array([3.0, -1.0]))


@pytest.mark.parametrize("parallel", [False, True])
@HYPO
@given(table=rating_tables(max_rows=9, max_cols=9), n_keep=st.integers(1, 8))
def test_count_free_path_equals_the_counting_one(parallel, table, n_keep):
    """Bit for bit: the same dot products summed in the same order, only the count is gone."""
    query, cols = kernel_inputs(table)
    counting = topk_similarities(query, *cols, mode=FULL, n_keep=n_keep, positive=False, parallel=parallel)
    count_free = topk_similarities(query, *cols, mode=FULL, n_keep=n_keep, positive=True, parallel=parallel)
    for a, b in zip(counting, count_free, strict=True):
        np.testing.assert_array_equal(a, b)
    dense = dense_similarities(query, *cols, mode=FULL, positive=False, parallel=parallel)
    np.testing.assert_array_equal(dense, dense_similarities(query, *cols, mode=FULL, positive=True, parallel=parallel))


def test_query_rows_validate_shapes():
    with pytest.raises(ValueError, match="norm must have one entry per query row"):
        QueryRows(np.array([0, 1]), np.array([0]), np.array([1.0]), np.array([0]), np.array([1.0, 2.0]), [1])


@settings(max_examples=30, deadline=None)
@given(size=st.integers(0, 3000), seed=st.integers(0, 2**31 - 1), spread=st.sampled_from([10, 2**20, 2**63]))
def test_sort_keys_matches_numpy(size, seed, spread):
    from likewise.kernels.similarity import _sort_keys

    rng = np.random.default_rng(seed)
    keys = rng.integers(0, spread, size=size, dtype=np.uint64)
    expected = np.sort(keys)
    _sort_keys(keys, size)
    np.testing.assert_array_equal(keys, expected)


@pytest.mark.parametrize("parallel", [False, True])
def test_large_rows_take_the_sort_path_and_stay_ordered(parallel):
    # 150 rows sharing columns: every row has ~149 candidates, kept in full (quicksort path)
    rng = np.random.default_rng(5)
    X = np.where(rng.random((150, 30)) < 0.7, rng.integers(1, 6, (150, 30)).astype(float), np.nan)
    query, cols = kernel_inputs(X)
    indptr, indices, data = topk_similarities(query, *cols, mode=COMMON, n_keep=149, parallel=parallel)
    for row in range(0, 150, 37):
        sims = np.zeros((1, 150), dtype=np.float32)
        for other in range(150):
            sim = ref.pair_similarity(X[row], X[other], measure="cosine", norms="common")
            if other != row and sim > ref.MIN_SIMILARITY:
                sims[0, other] = sim
        expected = ref.neighbour_lists(sims, 149)[0]
        assert indices[indptr[row] : indptr[row + 1]].tolist() == expected.tolist()
        np.testing.assert_allclose(data[indptr[row] : indptr[row + 1]], sims[0, expected], rtol=1e-6)
