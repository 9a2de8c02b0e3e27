"""Top-k selection over dense score rows, with per-row "seen" filters and a global item mask.

Selection uses a bounded min-heap per row: O(n_items log k) time, O(k) extra memory, and
rows are independent so the outer loop runs in parallel. Once a row's heap is full, blocks of
64 scores none of which beats the worst kept one are skipped after one vectorised pass, so
most of a long row costs a comparison per item rather than the item-by-item walk. Order is
by score descending, ties broken by the lower item index, so results are deterministic and
match a full stable sort (see tests/reference/topk.py). NaN scores and masked items are never selected; rows with
fewer than k eligible items are padded with index -1 and score -inf.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from likewise.kernels._jit import serial_and_parallel
from likewise.kernels._threads import parallel_allowed

__all__ = [
    "filter_arrays",
    "ranked_topk",
    "sorted_contains",
    "topk_row_numpy",
    "topk_rows",
]


@numba.njit(inline="always")
def _better(score_a, idx_a, score_b, idx_b):
    """True when (score_a, idx_a) ranks before (score_b, idx_b)."""
    return score_a > score_b or (score_a == score_b and idx_a < idx_b)


@numba.njit(inline="always")
def _sift_down(heap_s, heap_i, size, pos):
    # Min-heap by rank: the root is the worst of the kept candidates.
    while True:
        left = 2 * pos + 1
        if left >= size:
            return
        worst = left
        right = left + 1
        if right < size and _better(heap_s[worst], heap_i[worst], heap_s[right], heap_i[right]):
            worst = right
        if _better(heap_s[pos], heap_i[pos], heap_s[worst], heap_i[worst]):
            heap_s[pos], heap_s[worst] = heap_s[worst], heap_s[pos]
            heap_i[pos], heap_i[worst] = heap_i[worst], heap_i[pos]
            pos = worst
        else:
            return


@numba.njit(inline="always")
def _sift_up(heap_s, heap_i, pos):
    while pos > 0:
        parent = (pos - 1) // 2
        if _better(heap_s[parent], heap_i[parent], heap_s[pos], heap_i[pos]):
            heap_s[pos], heap_s[parent] = heap_s[parent], heap_s[pos]
            heap_i[pos], heap_i[parent] = heap_i[parent], heap_i[pos]
            pos = parent
        else:
            return


_BLOCK = 64  # items per block in the skip test


@numba.njit(inline="always")
def _any_above(row, start, threshold):
    """True when some score in row[start:start + _BLOCK] is > threshold (NaN never is).

    Counting instead of branching lets LLVM vectorise the loop without fastmath."""
    hits = 0
    for t in range(_BLOCK):
        hits += row[start + t] > threshold
    return hits > 0


def _topk_rows_impl(scores, k, seen_indptr, seen_indices, seen_rows, allowed, out_idx, out_scores):
    n_rows, n_items = scores.shape
    for r in prange(n_rows):
        row = scores[r]
        heap_s = np.empty(k, dtype=np.float32)
        heap_i = np.empty(k, dtype=np.int32)
        # Seen items of this row are sorted (CSR with sorted indices), so one pointer walks
        # them in step with the item scan: O(n_items + n_seen) per row, no mask copy.
        src = seen_rows[r]
        next_seen = 0
        end_seen = 0
        if src >= 0:
            next_seen = seen_indptr[src]
            end_seen = seen_indptr[src + 1]
        size = 0
        item = 0
        while item < n_items:
            # Once the heap is full, a block whose scores are all <= the worst kept one cannot
            # change it (a later item never wins a tie), so it is skipped after one vectorised
            # comparison pass: most of a long row is never looked at item by item.
            if size == k and item % _BLOCK == 0 and item + _BLOCK <= n_items:
                if not _any_above(row, item, heap_s[0]):
                    item += _BLOCK
                    continue
            while next_seen < end_seen and seen_indices[next_seen] < item:
                next_seen += 1
            if next_seen < end_seen and seen_indices[next_seen] == item:
                item += 1
                continue
            s = row[item]
            if s != s or not allowed[item]:  # NaN or masked
                item += 1
                continue
            if size < k:
                heap_s[size] = s
                heap_i[size] = item
                _sift_up(heap_s, heap_i, size)
                size += 1
            elif _better(s, item, heap_s[0], heap_i[0]):
                heap_s[0] = s
                heap_i[0] = item
                _sift_down(heap_s, heap_i, size, 0)
            item += 1
        for j in range(k):
            out_idx[r, j] = -1
            out_scores[r, j] = -np.inf
        # Pop the heap (worst first) into the output row from the back.
        while size > 0:
            size -= 1
            out_idx[r, size] = heap_i[0]
            out_scores[r, size] = heap_s[0]
            heap_s[0] = heap_s[size]
            heap_i[0] = heap_i[size]
            _sift_down(heap_s, heap_i, size, 0)


# separate cache files for the two builds (see likewise.kernels._jit)
_topk_parallel, _topk_serial = serial_and_parallel(_topk_rows_impl)


def topk_row_numpy(row, k, seen, allowed, out_idx, out_scores):
    """The kernel's selection for one row, in numpy: the same items, order and padding.

    A single-user request (a CLI call, a server's request) in a fresh process would otherwise
    pay numba's one-time start-up (~0.15 s) for a selection numpy does in microseconds. Only
    comparisons are involved, so the result is exactly the kernel's (tests/kernels/test_topk.py).
    `seen` holds the item indices the row must not get.
    """
    eligible = allowed & ~np.isnan(row)
    eligible[seen] = False
    items = _candidates(row, eligible, k)
    values = row[items]
    if items.size > k:
        kth = np.partition(values, items.size - k)[items.size - k]  # the k-th largest score
        above = np.flatnonzero(values > kth)
        ties = np.flatnonzero(values == kth)[: k - above.size]  # lower indices win ties
        keep = np.concatenate([above, ties])
        items, values = items[keep], values[keep]
    order = np.lexsort((items, -values))  # score descending, then index ascending
    out_idx[:] = -1
    out_scores[:] = -np.inf
    out_idx[: order.size] = items[order]
    out_scores[: order.size] = values[order]


_BLOCK = 1024
"""Block length of `_candidates`' prefilter: its maxima are a pass over the row; a million
items give ~1000 of them, whose k-th largest bounds the answer from below."""


def _candidates(row: np.ndarray, eligible: np.ndarray, k: int) -> np.ndarray:
    """Ascending indices of eligible items that include every item of the top `k` (and every
    item tied with the k-th): all eligible items, or for a long row only those scoring at least
    the k-th largest of its block maxima.

    Why that is safe: each of the k best block maxima is a distinct eligible item scoring at
    least that bound `t`, so the k-th best eligible score is >= t and nothing below t can be in
    the top k. It saves the gather and the partition of a million scores (about 15 of 20 ms on
    1M items) for the pass over the row that finds the maxima. Rows with fewer than 8k blocks
    or an infinite bound (fewer than k eligible finite scores among the blocks) take every item.
    """
    n_blocks = row.size // _BLOCK
    if n_blocks < 8 * k:
        return np.flatnonzero(eligible)
    masked = np.where(eligible, row, np.float32(-np.inf))
    maxima = masked[: n_blocks * _BLOCK].reshape(n_blocks, _BLOCK).max(axis=1)
    bound = np.partition(maxima, n_blocks - k)[n_blocks - k]
    if not np.isfinite(bound):
        return np.flatnonzero(eligible)
    return np.flatnonzero(masked >= bound)  # the tail after the last whole block is included


def filter_arrays(
    n_rows: int,
    n_items: int,
    seen_indptr: np.ndarray | None,
    seen_indices: np.ndarray | None,
    seen_rows: np.ndarray | None,
    allowed: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The top-k kernels' filter arguments in the dtypes they are compiled for.

    No seen CSR (any of the three missing) means no row has seen items; no `allowed` mask means
    every item is allowed.
    """
    if seen_indptr is None or seen_indices is None or seen_rows is None:
        seen_indptr = np.zeros(1, dtype=np.int64)
        seen_indices = np.zeros(0, dtype=np.int32)
        seen_rows = np.full(n_rows, -1, dtype=np.int64)
    seen_indptr = np.ascontiguousarray(seen_indptr, dtype=np.int64)
    seen_indices = np.ascontiguousarray(seen_indices, dtype=np.int32)
    seen_rows = np.ascontiguousarray(seen_rows, dtype=np.int64)
    if seen_rows.shape != (n_rows,):
        raise ValueError("seen_rows must have one entry per score row")
    allowed = np.ones(n_items, dtype=np.bool_) if allowed is None else np.ascontiguousarray(allowed, np.bool_)
    return seen_indptr, seen_indices, seen_rows, allowed


def topk_rows(
    scores: np.ndarray,
    k: int,
    *,
    seen_indptr: np.ndarray | None = None,
    seen_indices: np.ndarray | None = None,
    seen_rows: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    parallel: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Best `k` items of each row of `scores` (n_rows, n_items) float32.

    `seen_rows[r]` is the CSR row (of seen_indptr/seen_indices) whose items row r must not
    get, or -1 (indices sorted within each CSR row); `allowed` is a bool mask over items (False = never recommend).
    Returns (indices int32, scores float32), each (n_rows, k), padded with -1 / -inf.
    """
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D, got shape {scores.shape}")
    n_rows, n_items = scores.shape
    k = int(k)
    seen_indptr, seen_indices, seen_rows, allowed = filter_arrays(
        n_rows, n_items, seen_indptr, seen_indices, seen_rows, allowed
    )
    out_idx = np.empty((n_rows, k), dtype=np.int32)
    out_scores = np.empty((n_rows, k), dtype=np.float32)
    if k == 0 or n_rows == 0:
        return out_idx, out_scores
    if n_rows == 1:
        src = seen_rows[0]
        seen = seen_indices[seen_indptr[src] : seen_indptr[src + 1]] if src >= 0 else seen_indices[:0]
        topk_row_numpy(scores[0], k, seen, allowed, out_idx[0], out_scores[0])
        return out_idx, out_scores
    kernel = _topk_parallel if parallel and parallel_allowed() else _topk_serial
    kernel(scores, k, seen_indptr, seen_indices, seen_rows, allowed, out_idx, out_scores)
    return out_idx, out_scores


@numba.njit(cache=True, nogil=True)
def sorted_contains(sorted_values, lo, hi, value):
    """Is `value` in sorted_values[lo:hi]? Branch-free binary search (fixed step count, no
    mispredicted branches: BPR's sampler calls this for every negative)."""
    n = hi - lo
    if n <= 0:
        return False
    while n > 1:
        half = n >> 1
        if sorted_values[lo + half] <= value:  # compiles to a conditional move
            lo += half
        n -= half
    return sorted_values[lo] == value


def _ranked_impl(order, scores, rows, k, seen_indptr, seen_indices, allowed, out_idx, out_scores):
    for r in prange(rows.shape[0]):
        src = rows[r]
        lo = seen_indptr[src] if src >= 0 else 0
        hi = seen_indptr[src + 1] if src >= 0 else 0
        size = 0
        for item in order:
            if size == k:
                break
            if not allowed[item] or sorted_contains(seen_indices, lo, hi, item):
                continue
            out_idx[r, size] = item
            out_scores[r, size] = scores[item]
            size += 1
        for j in range(size, k):
            out_idx[r, j] = -1
            out_scores[r, j] = -np.inf


_ranked_parallel, _ranked_serial = serial_and_parallel(_ranked_impl)


def ranked_topk(
    scores: np.ndarray,
    k: int,
    *,
    n_rows: int,
    seen_indptr: np.ndarray | None = None,
    seen_indices: np.ndarray | None = None,
    seen_rows: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    parallel: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """`topk_rows` for `n_rows` rows that all have the same scores (n_items,): popularity.

    The items are ranked once (score descending, lower index first, NaN never), then each row
    walks that ranking and keeps the first `k` items it may get: O(k + seen items passed) per
    row instead of a pass over the catalogue. Same arguments, order, ties and padding as
    `topk_rows` (tested against it).
    """
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {scores.shape}")
    n_items = scores.size
    k = int(k)
    valid = np.flatnonzero(~np.isnan(scores))
    order = valid[np.lexsort((valid, -scores[valid]))].astype(np.int64)
    seen_indptr, seen_indices, seen_rows, allowed = filter_arrays(
        n_rows, n_items, seen_indptr, seen_indices, seen_rows, allowed
    )
    out_idx = np.empty((n_rows, k), dtype=np.int32)
    out_scores = np.empty((n_rows, k), dtype=np.float32)
    if k == 0 or n_rows == 0:
        return out_idx, out_scores
    kernel = _ranked_parallel if parallel and n_rows > 1 and parallel_allowed() else _ranked_serial
    kernel(order, scores, seen_rows, k, seen_indptr, seen_indices, allowed, out_idx, out_scores)
    return out_idx, out_scores


def _warm() -> None:
    """Compile every variant on tiny float32 inputs (called by `likewise.kernels.warmup`)."""
    scores = np.arange(12, dtype=np.float32).reshape(3, 4)
    seen_indptr = np.array([0, 1, 1, 2])
    seen_indices = np.array([0, 3], dtype=np.int32)
    for parallel in (False, True):
        topk_rows(
            scores, 2, seen_indptr=seen_indptr, seen_indices=seen_indices, seen_rows=np.arange(3), parallel=parallel
        )
        ranked_topk(
            scores[0], 2, n_rows=3, seen_indptr=seen_indptr, seen_indices=seen_indices, seen_rows=np.arange(3),
            parallel=parallel,
        )  # fmt: skip
