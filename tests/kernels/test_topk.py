"""topk_rows against its brute-force twin (tests/reference/topk.py), jitted and as plain Python."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.kernels.topk import ranked_topk, topk_rows
from tests.reference.topk import topk_rows_reference

HYPO = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROOT = Path(__file__).resolve().parents[2]

SPECIAL = [np.nan, -np.inf, np.inf, -1.0, -0.0, 0.0, 0.5, 1.0, 2.0]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


def csr_from_sets(sets: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    indptr = np.zeros(len(sets) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(s) for s in sets])
    indices = np.array([i for s in sets for i in sorted(s)], dtype=np.int32)
    return indptr, indices


# --------------------------------------------------------------------------- known answers


def test_order_by_score_then_lower_index():
    scores = np.array([[1.0, 3.0, 2.0, 3.0, 0.5]], dtype=np.float32)
    idx, top = topk_rows(scores, 3)
    assert idx.tolist() == [[1, 3, 2]]
    assert top.tolist() == [[3.0, 3.0, 2.0]]
    assert idx.dtype == np.int32 and top.dtype == np.float32


def test_nan_is_never_selected_and_rows_are_padded():
    scores = np.array([[1.0, np.nan, 3.0, -np.inf], [np.nan, np.nan, np.nan, np.nan]], dtype=np.float32)
    idx, top = topk_rows(scores, 6)
    assert idx.tolist() == [[2, 0, 3, -1, -1, -1], [-1] * 6]
    assert top[0, :3].tolist() == [3.0, 1.0, -np.inf]
    assert np.isneginf(top[0, 3:]).all() and np.isneginf(top[1]).all()


def test_seen_rows_and_allowed_mask():
    scores = np.tile(np.arange(5, dtype=np.float32), (3, 1))  # item 4 best, then 3, ...
    indptr, indices = csr_from_sets([[4], [1, 3]])
    seen_rows = np.array([1, -1, 0])  # row 0 uses CSR row 1, row 1 nothing, row 2 CSR row 0
    allowed = np.array([True, True, False, True, True])
    idx, _ = topk_rows(scores, 2, seen_indptr=indptr, seen_indices=indices, seen_rows=seen_rows, allowed=allowed)
    assert idx.tolist() == [[4, 0], [4, 3], [3, 1]]


def test_input_is_cast_and_made_contiguous():
    scores64 = np.asfortranarray(np.array([[0.1, 0.9, 0.5], [0.3, 0.2, 0.1]]))
    view = scores64[:, ::-1]  # a strided float64 view: [[0.5, 0.9, 0.1], [0.1, 0.2, 0.3]]
    idx, top = topk_rows(view, 2, parallel=False)
    assert idx.tolist() == [[1, 0], [2, 1]]
    assert top.dtype == np.float32
    np.testing.assert_allclose(top, [[0.9, 0.5], [0.3, 0.2]], rtol=1e-6)


def test_k_zero_and_no_rows():
    idx, top = topk_rows(np.ones((2, 3), np.float32), 0)
    assert idx.shape == (2, 0) and top.shape == (2, 0)
    idx, top = topk_rows(np.ones((0, 3), np.float32), 4)
    assert idx.shape == (0, 4) and top.shape == (0, 4)


def test_wrapper_checks_shapes():
    with pytest.raises(ValueError, match="scores must be 2-D"):
        topk_rows(np.ones(3, np.float32), 1)
    with pytest.raises(ValueError, match="seen_rows must have one entry per score row"):
        topk_rows(np.ones((2, 3), np.float32), 1, seen_indptr=[0, 0], seen_indices=[], seen_rows=[0])


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("k", [1, 10, 300, 1000])
def test_large_rows_match_a_full_sort(rng, parallel, k):
    scores = rng.standard_normal((7, 1000)).astype(np.float32)
    scores[:, ::7] = np.round(scores[:, ::7])  # plenty of ties
    idx, top = topk_rows(scores, k, parallel=parallel)
    order = np.lexsort((np.broadcast_to(np.arange(1000), scores.shape), -scores), axis=1)[:, :k]
    np.testing.assert_array_equal(idx, order)
    np.testing.assert_array_equal(top, np.take_along_axis(scores, order, axis=1))


# --------------------------------------------------------------------------- hypothesis


@st.composite
def topk_cases(draw):
    n_rows = draw(st.integers(1, 6))
    n_items = draw(st.integers(1, 12))
    value = st.one_of(st.sampled_from(SPECIAL), st.floats(-3, 3, width=32))
    scores = np.array(
        draw(st.lists(st.lists(value, min_size=n_items, max_size=n_items), min_size=n_rows, max_size=n_rows)),
        dtype=np.float32,
    )
    if draw(st.booleans()):
        n_csr = draw(st.integers(1, 4))
        sets = [sorted(draw(st.sets(st.integers(0, n_items - 1)))) for _ in range(n_csr)]
        seen_rows = draw(st.lists(st.integers(-1, n_csr - 1), min_size=n_rows, max_size=n_rows))
        seen = (sets, seen_rows)
    else:
        seen = None
    allowed = draw(st.none() | st.lists(st.booleans(), min_size=n_items, max_size=n_items))
    k = draw(st.integers(1, n_items + 3))
    return scores, k, seen, allowed


def run_both(scores, k, seen, allowed, parallel):
    kwargs = {}
    seen_sets = None
    if seen is not None:
        sets, seen_rows = seen
        indptr, indices = csr_from_sets(sets)
        kwargs = {"seen_indptr": indptr, "seen_indices": indices, "seen_rows": np.array(seen_rows)}
        seen_sets = [set(sets[r]) if r >= 0 else set() for r in seen_rows]
    mask = None if allowed is None else np.array(allowed, dtype=bool)
    got = topk_rows(scores, k, allowed=mask, parallel=parallel, **kwargs)
    want = topk_rows_reference(scores, k, seen_sets, mask)
    return got, want


@HYPO
@given(topk_cases(), st.booleans())
def test_matches_reference(case, parallel):
    scores, k, seen, allowed = case
    (idx, top), (ref_idx, ref_top) = run_both(scores, k, seen, allowed, parallel)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(top, ref_top)
    assert idx.shape == top.shape == (scores.shape[0], k)
    # invariants: distinct real items, scores non-increasing, padding only at the end
    for row in range(scores.shape[0]):
        real = idx[row][idx[row] >= 0]
        assert len(set(real.tolist())) == real.size
        assert (idx[row][: real.size] >= 0).all() and (idx[row][real.size :] == -1).all()
        kept = top[row][: real.size]
        assert (kept[1:] <= kept[:-1]).all()
        assert not np.isnan(top[row]).any()


@HYPO
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 5),
    st.integers(1, 700),
    st.integers(1, 40),
    st.floats(0, 0.5),
    st.floats(0, 0.2),
    st.booleans(),
)
def test_long_rows_with_ties_match_reference(seed, n_rows, n_items, k, seen_share, nan_share, parallel):
    """Rows longer than the kernel's skip block (64 items), few distinct values: skipped blocks
    must never hide an item that would win, including ties with the worst kept item."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(-4, 5, (n_rows, n_items)).astype(np.float32)
    scores[:, rng.random(n_items) < 0.1] += 10  # a few standouts anywhere in the row
    scores[rng.random(scores.shape) < nan_share] = np.nan
    sets = [sorted(np.flatnonzero(rng.random(n_items) < seen_share).tolist()) for _ in range(n_rows)]
    seen_rows = rng.integers(-1, n_rows, n_rows)
    allowed = rng.random(n_items) < 0.9
    indptr, indices = csr_from_sets(sets)
    idx, top = topk_rows(
        scores, k, seen_indptr=indptr, seen_indices=indices, seen_rows=seen_rows, allowed=allowed, parallel=parallel
    )
    want_idx, want_top = topk_rows_reference(scores, k, [set(sets[r]) if r >= 0 else set() for r in seen_rows], allowed)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(top, want_top)


@HYPO
@given(topk_cases())
def test_serial_and_parallel_agree(case):
    scores, k, seen, allowed = case
    (serial, _), _ = run_both(scores, k, seen, allowed, parallel=False)
    (parallel, _), _ = run_both(scores, k, seen, allowed, parallel=True)
    np.testing.assert_array_equal(serial, parallel)


# --------------------------------------------------------------------------- kernel body as Python

_PURE_PYTHON_SCRIPT = textwrap.dedent(
    """
    import numba
    import numpy as np

    from likewise.kernels import topk
    from tests.reference.topk import topk_rows_reference

    assert numba.config.DISABLE_JIT, "NUMBA_DISABLE_JIT was not honoured"
    assert not hasattr(topk._topk_serial, "signatures"), "kernel is still jitted"
    rng = np.random.default_rng(7)
    cases = 0
    for n_rows, n_items in [(1, 1), (3, 5), (5, 12), (4, 30), (3, 300)]:  # 300: the block-skip path
        for k in (1, 2, n_items, n_items + 3):
            scores = rng.integers(-3, 4, size=(n_rows, n_items)).astype(np.float32)
            scores[rng.random(scores.shape) < 0.15] = np.nan
            sets = [sorted(rng.choice(n_items, size=rng.integers(0, n_items + 1), replace=False).tolist())
                    for _ in range(3)]
            seen_rows = rng.integers(-1, 3, size=n_rows)
            indptr = np.concatenate([[0], np.cumsum([len(s) for s in sets])])
            indices = np.array([i for s in sets for i in s], dtype=np.int32)
            allowed = rng.random(n_items) < 0.8
            for parallel in (False, True):
                idx, top = topk.topk_rows(scores, k, seen_indptr=indptr, seen_indices=indices,
                                          seen_rows=seen_rows, allowed=allowed, parallel=parallel)
                seen_sets = [set(sets[r]) if r >= 0 else set() for r in seen_rows]
                ref_idx, ref_top = topk_rows_reference(scores, k, seen_sets, allowed)
                np.testing.assert_array_equal(idx, ref_idx)
                np.testing.assert_array_equal(top, ref_top)
                cases += 1
    print(f"ok {cases}")
    """
)


def test_kernel_body_as_plain_python():
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", _PURE_PYTHON_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok 40"


# --------------------------------------------------------------------------- one shared ranking


@HYPO
@given(topk_cases(), st.booleans())
def test_ranked_topk_equals_topk_rows_on_repeated_scores(case, parallel):
    scores, k, seen, allowed = case
    shared = scores[0]
    n_rows = scores.shape[0]
    kwargs = {}
    if seen is not None:
        sets, seen_rows = seen
        indptr, indices = csr_from_sets(sets)
        kwargs = {"seen_indptr": indptr, "seen_indices": indices, "seen_rows": np.array(seen_rows)}
    mask = None if allowed is None else np.array(allowed, dtype=bool)
    idx, top = ranked_topk(shared, k, n_rows=n_rows, allowed=mask, parallel=parallel, **kwargs)
    want_idx, want_top = topk_rows(np.tile(shared, (n_rows, 1)), k, allowed=mask, parallel=False, **kwargs)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(top, want_top)


def test_ranked_topk_walks_past_seen_items(rng):
    scores = rng.permutation(500).astype(np.float32)  # item i has score scores[i]
    order = np.argsort(-scores)
    seen = [sorted(order[:300].tolist()), []]  # the first user has seen the 300 best
    indptr, indices = csr_from_sets(seen)
    idx, top = ranked_topk(scores, 4, n_rows=2, seen_indptr=indptr, seen_indices=indices, seen_rows=np.array([0, 1]))
    np.testing.assert_array_equal(idx[0], order[300:304])
    np.testing.assert_array_equal(idx[1], order[:4])
    np.testing.assert_array_equal(top[0], scores[order[300:304]])


@HYPO
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 700),
    st.integers(1, 40),
    st.floats(0, 0.5),
    st.floats(0, 0.2),
)
def test_single_row_numpy_path_equals_the_kernel(seed, n_items, k, seen_share, nan_share):
    """One row goes through numpy (no numba start-up); it must select exactly what the kernel does."""
    from likewise.kernels.topk import _topk_serial, topk_row_numpy

    rng = np.random.default_rng(seed)
    row = rng.integers(-4, 5, n_items).astype(np.float32)
    row[rng.random(n_items) < 0.1] = np.inf
    row[rng.random(n_items) < 0.05] = -np.inf
    row[rng.random(n_items) < nan_share] = np.nan
    seen = np.flatnonzero(rng.random(n_items) < seen_share).astype(np.int32)
    allowed = rng.random(n_items) < 0.9
    got_idx, got_top = np.empty(k, np.int32), np.empty(k, np.float32)
    topk_row_numpy(row, k, seen, allowed, got_idx, got_top)
    want_idx, want_top = np.empty((1, k), np.int32), np.empty((1, k), np.float32)
    indptr = np.array([0, seen.size], dtype=np.int64)
    _topk_serial(row[None, :], k, indptr, seen, np.zeros(1, np.int64), allowed, want_idx, want_top)
    np.testing.assert_array_equal(got_idx, want_idx[0])
    np.testing.assert_array_equal(got_top, want_top[0])


@HYPO
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 3000),
    st.integers(1, 12),
    st.sampled_from([1, 2, 4, 16]),
    st.floats(0, 0.6),
    st.floats(0, 0.3),
    st.floats(0, 1),
)
def test_block_maxima_prefilter_keeps_the_kernels_answer(seed, n_items, k, block, seen_share, nan_share, allowed_share):
    """`_candidates`' bound (the k-th largest block maximum) with tiny blocks, so short rows take
    the prefilter: few distinct values (ties at the bound), infinities, NaN, most items filtered
    out (an infinite bound falls back), and the tail after the last whole block."""
    from likewise.kernels import topk
    from likewise.kernels.topk import _topk_serial, topk_row_numpy

    rng = np.random.default_rng(seed)
    row = rng.integers(-3, 4, n_items).astype(np.float32)
    row[rng.random(n_items) < 0.02] = np.inf
    row[rng.random(n_items) < 0.05] = -np.inf
    row[rng.random(n_items) < nan_share] = np.nan
    seen = np.flatnonzero(rng.random(n_items) < seen_share).astype(np.int32)
    allowed = rng.random(n_items) < allowed_share
    got_idx, got_top = np.empty(k, np.int32), np.empty(k, np.float32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(topk, "_BLOCK", block)
        topk_row_numpy(row, k, seen, allowed, got_idx, got_top)
    want_idx, want_top = np.empty((1, k), np.int32), np.empty((1, k), np.float32)
    indptr = np.array([0, seen.size], dtype=np.int64)
    _topk_serial(row[None, :], k, indptr, seen, np.zeros(1, np.int64), allowed, want_idx, want_top)
    np.testing.assert_array_equal(got_idx, want_idx[0])
    np.testing.assert_array_equal(got_top, want_top[0])


def test_block_maxima_prefilter_on_a_million_scores(rng):
    """The real block length on a catalogue-sized row: the same answer as the kernel, and only
    a handful of candidates survive the bound."""
    from likewise.kernels.topk import _candidates, _topk_serial, topk_row_numpy

    n_items, k = 1_000_000, 10
    row = rng.standard_normal(n_items).astype(np.float32)
    row[[17, 999_999]] = row.max() + 1  # a tie at the top, one of them in the tail
    seen = np.sort(rng.choice(n_items, 500, replace=False)).astype(np.int32)
    allowed = rng.random(n_items) < 0.95
    allowed[[17, 999_999]] = True
    seen = seen[(seen != 17) & (seen != 999_999)]
    eligible = allowed.copy()
    eligible[seen] = False
    assert _candidates(row, eligible, k).size < 2_000
    got_idx, got_top = np.empty(k, np.int32), np.empty(k, np.float32)
    topk_row_numpy(row, k, seen, allowed, got_idx, got_top)
    want_idx, want_top = np.empty((1, k), np.int32), np.empty((1, k), np.float32)
    _topk_serial(
        row[None, :], k, np.array([0, seen.size], np.int64), seen, np.zeros(1, np.int64), allowed, want_idx, want_top
    )
    np.testing.assert_array_equal(got_idx, want_idx[0])
    np.testing.assert_array_equal(got_top, want_top[0])
    assert got_idx[:2].tolist() == [17, 999_999]


def test_one_user_factor_topk_equals_the_kernel(rng):
    """factor_topk serves one user without numba (ctypes sgemv + numpy selection): the kernel's
    items in the kernel's order for that one user and the batch's ranking, scores to an ulp (sgemv
    rounds differently from the kernel's sgemm)."""
    from likewise.kernels.als import _factor_topk_serial, factor_topk
    from likewise.kernels.topk import filter_arrays

    U = rng.standard_normal((30, 8)).astype(np.float32)
    V = rng.standard_normal((200, 8)).astype(np.float32)
    V[5] = V[6]  # an exact tie
    bias = rng.standard_normal(200).astype(np.float32)
    indptr, indices = csr_from_sets([sorted(rng.choice(200, 20, replace=False).tolist()) for _ in range(30)])
    allowed = rng.random(200) < 0.8
    args = {"bias": bias, "seen_indptr": indptr, "seen_indices": indices, "allowed": allowed}
    batch_idx, batch_top = factor_topk(U, V, np.arange(30), 15, **args)
    for user in range(30):
        idx, top = factor_topk(U, V, np.array([user]), 15, **args)
        rows = np.array([user], dtype=np.int64)
        filters = filter_arrays(1, 200, indptr, indices, rows, allowed)
        want_idx, want_top = np.empty((1, 15), np.int32), np.empty((1, 15), np.float32)
        _factor_topk_serial(U, V, bias, rows, 15, *filters, 1, 1, want_idx, want_top)
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_allclose(top, want_top, rtol=1e-6)
        np.testing.assert_array_equal(idx[0], batch_idx[user])
        np.testing.assert_allclose(top[0], batch_top[user], rtol=1e-6)


@pytest.mark.parametrize("share", [0.0, 0.003, 0.1, 0.45])
def test_one_user_factor_topk_on_a_selective_filter_scores_only_the_allowed_items(rng, share):
    """Under half the items allowed, one user is scored on the allowed rows of V only: the
    kernel's items in the kernel's order (exact ties included), its scores to an ulp."""
    from likewise.kernels.als import _factor_topk_serial, factor_topk
    from likewise.kernels.topk import filter_arrays

    n_items, k = 1000, 12
    U = rng.standard_normal((5, 8)).astype(np.float32)
    V = rng.standard_normal((n_items, 8)).astype(np.float32)
    allowed = rng.random(n_items) < share
    allowed[[10, 11]] = share > 0
    V[11] = V[10]  # an exact tie between two allowed items: the lower index first
    bias = rng.standard_normal(n_items).astype(np.float32)
    indptr, indices = csr_from_sets([sorted(rng.choice(n_items, 300, replace=False).tolist()) for _ in range(5)])
    for user in range(5):
        rows = np.array([user], dtype=np.int64)
        idx, top = factor_topk(U, V, rows, k, bias=bias, seen_indptr=indptr, seen_indices=indices, allowed=allowed)
        filters = filter_arrays(1, n_items, indptr, indices, rows, allowed)
        want_idx, want_top = np.empty((1, k), np.int32), np.empty((1, k), np.float32)
        _factor_topk_serial(U, V, bias, rows, k, *filters, 1, 1, want_idx, want_top)
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_allclose(top, want_top, rtol=1e-6)
        eligible = allowed.copy()
        eligible[indices[indptr[user] : indptr[user + 1]]] = False
        got = idx[0][idx[0] >= 0]
        assert eligible[got].all()
        assert got.size == min(k, int(np.count_nonzero(eligible)))
