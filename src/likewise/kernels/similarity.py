"""Sparse all-pairs similarity between the rows of a matrix, pruned to the best neighbours per row.

The rows being compared ("x": items for item-based models, users for user-based ones) are read
from a query CSR (``q_*``); the co-occurrences come from the transposed matrix (``y_*``: for
each column y, the rows x' that have an entry in it, with their values). For one query row the
kernel walks its entries y, and for each y every x' of that column, accumulating into dense
per-thread arrays indexed by x' (co-support count, dot product, and per measure the co-support
sums of squares and sums). Only the x' actually touched are visited afterwards, so a row costs
``sum over its columns of the column length`` and memory is ``O(n_x)`` per thread; nothing of
size n_x * n_x is ever materialised.

Measures (``mode``), for a pair with co-support n (columns where both rows have an entry) and
prepared values a (query row) and b (other row):

- ``FULL``: sum_n a*b / (norm_q * norm_x'), norms over whole rows (0 when a norm is 0);
  plain dot product when the norms are ones.
- ``COMMON``: sum_n a*b / sqrt(sum_n a^2 * sum_n b^2) (norms over the co-support only, as
  Surprise's cosine and pearson_baseline); 0 when the denominator is 0.
- ``PEARSON``: (n sum ab - sum a sum b) / sqrt((n sum a^2 - (sum a)^2)(n sum b^2 - (sum b)^2)),
  the Pearson correlation over the co-support (Surprise's pearson); 0 when undefined.
- ``MSD``: 1 / (sum_n (a - b)^2 / n + 1) (Surprise's msd).
- ``JACCARD``: n / (count_q + count_x' - n).

Then a pair with ``n < min_support`` is dropped, the similarity is shrunk by
``m / (m + shrinkage)`` with ``m = n - shrink_offset`` (offset 1 reproduces Surprise's
pearson_baseline shrinkage), and only similarities above ``1e-10`` are kept (smaller ones are
rounding noise of centred measures; negative ones never act as neighbours). Neighbours are
selected by float32 similarity, descending, ties broken by the lower index, and written in
that order. The brute-force twin is ``tests/reference/knn.py``.

(Longer than 600 lines because the five measures share one accumulation kernel and its two
selection passes: split across modules, the kernel and the measure constants it dispatches on
would have to be kept in step by hand.)
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from likewise.kernels._jit import serial_and_parallel
from likewise.kernels._threads import parallel_allowed
from likewise.kernels.topk import _better, _sift_down, _sift_up

__all__ = [
    "COMMON",
    "FULL",
    "JACCARD",
    "MIN_SIMILARITY",
    "MSD",
    "PEARSON",
    "POSITIVE_FLOOR",
    "QueryRows",
    "all_positive",
    "dense_similarities",
    "topk_similarities",
]

FULL = 0
COMMON = 1
PEARSON = 2
MSD = 3
JACCARD = 4

MIN_SIMILARITY = 1e-10
"""Similarities at or below this are not neighbours (zero, negative, or rounding noise)."""

POSITIVE_FLOOR = 1e-150
"""Values at or above this multiply to a normal (non-zero) float64: see `all_positive`."""

# FULL over values that are all >= POSITIVE_FLOOR (internal): a pair's dot product is then
# non-zero as soon as it has one common column, so "dot == 0" marks an untouched row and the
# co-support count (a second random-access array in the innermost loop) is not kept. Chosen
# by `_effective_mode` only where the count is not needed (min_support <= 1, no shrinkage).
_FULL_POSITIVE = 5


@numba.njit
def _accumulate(q, q_indptr, q_indices, q_data, y_indptr, y_indices, y_data, mode, cnt, dot, sqa, sqb, sa, sb, touched):
    """Accumulate the co-support statistics of query row q against every row; return #touched.

    One loop nest per measure: a branch on the mode inside the innermost loop costs 2-3x.
    """
    n_touched = 0
    for p in range(q_indptr[q], q_indptr[q + 1]):
        y = q_indices[p]
        a = np.float64(q_data[p])
        start, stop = y_indptr[y], y_indptr[y + 1]
        if mode == 5:  # FULL over positive values: dot == 0 until a row is touched
            for t in range(start, stop):
                x2 = y_indices[t]
                d = dot[x2]
                if d == 0.0:
                    touched[n_touched] = x2
                    n_touched += 1
                dot[x2] = d + a * y_data[t]
        elif mode == 0:  # FULL: dot products (norms come later)
            for t in range(start, stop):
                x2 = y_indices[t]
                c = cnt[x2]
                if c == 0:
                    touched[n_touched] = x2
                    n_touched += 1
                cnt[x2] = c + 1
                dot[x2] += a * y_data[t]
        elif mode == 4:  # JACCARD: counts only
            for t in range(start, stop):
                x2 = y_indices[t]
                c = cnt[x2]
                if c == 0:
                    touched[n_touched] = x2
                    n_touched += 1
                cnt[x2] = c + 1
        elif mode == 3:  # MSD: squared differences
            for t in range(start, stop):
                x2 = y_indices[t]
                c = cnt[x2]
                if c == 0:
                    touched[n_touched] = x2
                    n_touched += 1
                cnt[x2] = c + 1
                d = a - y_data[t]
                dot[x2] += d * d
        elif mode == 1:  # COMMON: dot and co-support sums of squares
            aa = a * a
            for t in range(start, stop):
                x2 = y_indices[t]
                c = cnt[x2]
                if c == 0:
                    touched[n_touched] = x2
                    n_touched += 1
                cnt[x2] = c + 1
                b = np.float64(y_data[t])
                dot[x2] += a * b
                sqa[x2] += aa
                sqb[x2] += b * b
        else:  # PEARSON: also the co-support sums
            aa = a * a
            for t in range(start, stop):
                x2 = y_indices[t]
                c = cnt[x2]
                if c == 0:
                    touched[n_touched] = x2
                    n_touched += 1
                cnt[x2] = c + 1
                b = np.float64(y_data[t])
                dot[x2] += a * b
                sqa[x2] += aa
                sqb[x2] += b * b
                sa[x2] += a
                sb[x2] += b
    return n_touched


@numba.njit
def _finish_row(
    n_touched,
    touched,
    self_index,
    mode,
    cnt,
    dot,
    sqa,
    sqb,
    sa,
    sb,
    q_norm,
    x_norm,
    q_count,
    x_count,
    min_support,
    shrinkage,
    shrink_offset,
    cand_s,
    cand_i,
):
    """Turn the accumulators of one query row into candidate (similarity, index) pairs, resetting
    the accumulators as it goes; returns the number of candidates (similarity > 1e-10)."""
    n_cand = 0
    for t in range(n_touched):
        x2 = touched[t]
        n = cnt[x2] if mode != 5 else 1  # _FULL_POSITIVE keeps no count (and needs none)
        acc = dot[x2]
        cnt[x2] = 0
        dot[x2] = 0.0
        sim = 0.0
        if mode == 0 or mode == 5:
            den = q_norm * x_norm[x2]
            if den > 0.0:
                sim = acc / den
        elif mode == 1:
            den = np.sqrt(sqa[x2] * sqb[x2])
            sqa[x2] = 0.0
            sqb[x2] = 0.0
            if den > 0.0:
                sim = acc / den
        elif mode == 2:
            va = n * sqa[x2] - sa[x2] * sa[x2]
            vb = n * sqb[x2] - sb[x2] * sb[x2]
            if va > 0.0 and vb > 0.0:
                sim = (n * acc - sa[x2] * sb[x2]) / np.sqrt(va * vb)
            sqa[x2] = 0.0
            sqb[x2] = 0.0
            sa[x2] = 0.0
            sb[x2] = 0.0
        elif mode == 3:
            sim = 1.0 / (acc / n + 1.0)
        else:
            union = q_count + x_count[x2] - n
            if union > 0:
                sim = n / union
        if n < min_support or x2 == self_index:
            continue
        if shrinkage > 0.0:
            m = n - shrink_offset
            sim *= m / (m + shrinkage)
        if sim > 1e-10:
            cand_s[n_cand] = np.float32(sim)
            cand_i[n_cand] = x2
            n_cand += 1
    return n_cand


@numba.njit
def _buffers(n_x, mode):
    cnt = np.zeros(n_x, dtype=np.int32)
    dot = np.zeros(n_x, dtype=np.float64)
    n_sq = n_x if (mode == 1 or mode == 2) else 1
    n_s = n_x if mode == 2 else 1
    sqa = np.zeros(n_sq, dtype=np.float64)
    sqb = np.zeros(n_sq, dtype=np.float64)
    sa = np.zeros(n_s, dtype=np.float64)
    sb = np.zeros(n_s, dtype=np.float64)
    touched = np.empty(n_x, dtype=np.uint32)
    return cnt, dot, sqa, sqb, sa, sb, touched


@numba.njit
def _sort_keys(keys, n):
    """Sort keys[:n] ascending in place: quicksort (median of three) with insertion sort for
    short ranges. numba's np.sort takes seconds to compile; this does not."""
    stack = np.empty(128, dtype=np.int64)
    top = 0
    stack[0] = 0
    stack[1] = n - 1
    top = 2
    while top > 0:
        top -= 2
        lo = stack[top]
        hi = stack[top + 1]
        while hi - lo > 16:
            mid = (lo + hi) >> 1
            if keys[mid] < keys[lo]:
                keys[mid], keys[lo] = keys[lo], keys[mid]
            if keys[hi] < keys[lo]:
                keys[hi], keys[lo] = keys[lo], keys[hi]
            if keys[hi] < keys[mid]:
                keys[hi], keys[mid] = keys[mid], keys[hi]
            pivot = keys[mid]
            i = lo
            j = hi
            while i <= j:
                while keys[i] < pivot:
                    i += 1
                while keys[j] > pivot:
                    j -= 1
                if i <= j:
                    keys[i], keys[j] = keys[j], keys[i]
                    i += 1
                    j -= 1
            # recurse into the smaller side later, loop on the larger: the stack stays O(log n)
            if j - lo < hi - i:
                if i < hi:
                    stack[top] = i
                    stack[top + 1] = hi
                    top += 2
                hi = j
            else:
                if lo < j:
                    stack[top] = lo
                    stack[top + 1] = j
                    top += 2
                lo = i
        for a in range(lo + 1, hi + 1):
            key = keys[a]
            b = a - 1
            while b >= lo and keys[b] > key:
                keys[b + 1] = keys[b]
                b -= 1
            keys[b + 1] = key


@numba.njit
def _select(cand_s, cand_i, n_cand, n_keep, keys, out_idx, out_sim):
    """Write the best min(n_keep, n_cand) candidates (similarity desc, index asc); return the count."""
    if n_keep <= 0 or n_cand == 0:
        return 0
    if n_cand <= 2 * n_keep:
        # Few candidates: one sort. Positive float32 bit patterns order like the floats, so
        # (~bits << 32 | index) sorts ascending into (similarity desc, index asc).
        bits = cand_s[:n_cand].view(np.uint32)
        for c in range(n_cand):
            keys[c] = (np.uint64(0xFFFFFFFF - bits[c]) << np.uint64(32)) | np.uint64(cand_i[c])
        _sort_keys(keys, n_cand)
        ordered = keys
        size = min(n_keep, n_cand)
        out_bits = out_sim.view(np.uint32)
        for c in range(size):
            out_idx[c] = np.int32(ordered[c] & np.uint64(0xFFFFFFFF))
            out_bits[c] = np.uint32(0xFFFFFFFF) - np.uint32(ordered[c] >> np.uint64(32))
        return size
    # Many candidates: a bounded min-heap keeps the best n_keep.
    size = 0
    heap_s = out_sim
    heap_i = out_idx
    for c in range(n_cand):
        s = cand_s[c]
        x2 = cand_i[c]
        if size < n_keep:
            heap_s[size] = s
            heap_i[size] = x2
            _sift_up(heap_s, heap_i, size)
            size += 1
        elif _better(s, x2, heap_s[0], heap_i[0]):
            heap_s[0] = s
            heap_i[0] = x2
            _sift_down(heap_s, heap_i, size, 0)
    # Pop worst-first into a scratch copy, then lay out best-first.
    total = size
    tmp_s = cand_s
    tmp_i = cand_i
    while size > 0:
        size -= 1
        tmp_s[size] = heap_s[0]
        tmp_i[size] = heap_i[0]
        heap_s[0] = heap_s[size]
        heap_i[0] = heap_i[size]
        _sift_down(heap_s, heap_i, size, 0)
    for c in range(total):
        out_sim[c] = tmp_s[c]
        out_idx[c] = tmp_i[c]
    return total


def _topk_impl(
    q_indptr,
    q_indices,
    q_data,
    q_self,
    q_norm,
    q_count,
    q_start,
    q_stop,
    y_indptr,
    y_indices,
    y_data,
    x_norm,
    x_count,
    n_x,
    mode,
    min_support,
    shrinkage,
    shrink_offset,
    n_keep,
    n_chunks,
    out_idx,
    out_sim,
    out_len,
):
    for chunk in prange(n_chunks):
        cnt, dot, sqa, sqb, sa, sb, touched = _buffers(n_x, mode)
        cand_s = np.empty(n_x, dtype=np.float32)
        cand_i = np.empty(n_x, dtype=np.int32)
        keys = np.empty(n_x, dtype=np.uint64)
        # Rows are dealt round-robin so that costly (popular) rows spread over the chunks.
        for q in range(q_start + chunk, q_stop, n_chunks):
            row = q - q_start
            n_touched = _accumulate(
                q, q_indptr, q_indices, q_data, y_indptr, y_indices, y_data, mode, cnt, dot, sqa, sqb, sa, sb, touched
            )
            n_cand = _finish_row(
                n_touched,
                touched,
                q_self[q],
                mode,
                cnt,
                dot,
                sqa,
                sqb,
                sa,
                sb,
                q_norm[q],
                x_norm,
                q_count[q],
                x_count,
                min_support,
                shrinkage,
                shrink_offset,
                cand_s,
                cand_i,
            )
            out_len[row] = _select(cand_s, cand_i, n_cand, n_keep, keys, out_idx[row], out_sim[row])


def _dense_impl(
    q_indptr,
    q_indices,
    q_data,
    q_self,
    q_norm,
    q_count,
    y_indptr,
    y_indices,
    y_data,
    x_norm,
    x_count,
    n_x,
    mode,
    min_support,
    shrinkage,
    shrink_offset,
    n_chunks,
    out,
):
    n_q = q_indptr.size - 1
    for chunk in prange(n_chunks):
        cnt, dot, sqa, sqb, sa, sb, touched = _buffers(n_x, mode)
        cand_s = np.empty(n_x, dtype=np.float32)
        cand_i = np.empty(n_x, dtype=np.int32)
        for q in range(chunk, n_q, n_chunks):
            n_touched = _accumulate(
                q, q_indptr, q_indices, q_data, y_indptr, y_indices, y_data, mode, cnt, dot, sqa, sqb, sa, sb, touched
            )
            n_cand = _finish_row(
                n_touched,
                touched,
                q_self[q],
                mode,
                cnt,
                dot,
                sqa,
                sqb,
                sa,
                sb,
                q_norm[q],
                x_norm,
                q_count[q],
                x_count,
                min_support,
                shrinkage,
                shrink_offset,
                cand_s,
                cand_i,
            )
            for c in range(n_cand):
                out[q, cand_i[c]] = cand_s[c]


_topk_parallel, _topk_serial = serial_and_parallel(_topk_impl)
_dense_parallel, _dense_serial = serial_and_parallel(_dense_impl)

# Output buffers of one block of query rows hold at most this many (index, similarity) cells.
_BLOCK_CELLS = 1 << 23


class QueryRows:
    """Typed query rows: CSR parts, the row's own index among the compared rows (or -1),
    its norm and entry count. Values may be float32 (exact for raw ratings, half the memory
    traffic) or float64 (centred values); the kernel always sums in float64."""

    def __init__(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        data: np.ndarray,
        self_index: np.ndarray,
        norm: np.ndarray,
        count: np.ndarray,
    ) -> None:
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(indices, dtype=np.int32)
        self.data = _values(data)
        n = self.indptr.size - 1
        self.self_index = np.ascontiguousarray(self_index, dtype=np.int64)
        self.norm = np.ascontiguousarray(norm, dtype=np.float64)
        self.count = np.ascontiguousarray(count, dtype=np.int64)
        for name in ("self_index", "norm", "count"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"query {name} must have one entry per query row ({n})")


def _values(data: np.ndarray) -> np.ndarray:
    """float32 stays float32 (half the memory traffic; exact for ratings), anything else float64."""
    data = np.asarray(data)
    return np.ascontiguousarray(data, dtype=np.float32 if data.dtype == np.float32 else np.float64)


def _unsigned(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR index arrays as unsigned views (no copy once int64/int32): numba indexes with
    unsigned integers without the negative-index wrap-around check, which is 1.5-2x faster
    in the innermost loops."""
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int32)
    return indptr.view(np.uint64), indices.view(np.uint32)


def all_positive(data: np.ndarray) -> bool:
    """True when every value is at least POSITIVE_FLOOR (vacuously for none): any product of
    two such values is a normal float64, so sums of them are never 0 (float32 values always
    qualify once positive: their smallest product is ~2e-90)."""
    data = np.asarray(data)
    return bool(data.size == 0 or data.min() >= POSITIVE_FLOOR)


def _effective_mode(mode: int, min_support: int, shrinkage: float, positive: bool, query: QueryRows) -> int:
    """The kernel's mode: FULL over positive values, when no co-support count is needed, runs
    without the count (about 1.13x faster on a 10M synthetic log, 2 threads;
    see _FULL_POSITIVE)."""
    if mode == FULL and positive and min_support <= 1 and shrinkage == 0.0 and all_positive(query.data):
        return _FULL_POSITIVE
    return int(mode)


def _columns(
    y_indptr: np.ndarray, y_indices: np.ndarray, y_data: np.ndarray, x_norm: np.ndarray, x_count: np.ndarray
) -> tuple[np.ndarray, ...]:
    return (
        *_unsigned(y_indptr, y_indices),
        _values(y_data),
        np.ascontiguousarray(x_norm, dtype=np.float64),
        np.ascontiguousarray(x_count, dtype=np.int64),
    )


def topk_similarities(
    query: QueryRows,
    y_indptr: np.ndarray,
    y_indices: np.ndarray,
    y_data: np.ndarray,
    x_norm: np.ndarray,
    x_count: np.ndarray,
    *,
    mode: int,
    n_keep: int,
    min_support: int = 1,
    shrinkage: float = 0.0,
    shrink_offset: int = 0,
    positive: bool = False,
    parallel: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best `n_keep` neighbours of each query row, as CSR parts (indptr, indices, data).

    Parameters
    ----------
    query : QueryRows
        Rows to find neighbours for (prepared values, their own index to skip, norms, counts).
    y_indptr, y_indices, y_data : ndarray
        The compared matrix by columns: for column y, the rows that have an entry and its value.
    x_norm, x_count : ndarray
        Norm (``FULL`` mode) and number of entries (``JACCARD``) of each compared row.
    mode : int
        One of FULL, COMMON, PEARSON, MSD, JACCARD.
    n_keep : int
        Neighbours kept per row (the best by similarity, ties to the lower index).
    min_support, shrinkage, shrink_offset
        Drop pairs with fewer common columns; shrink by (n - offset) / (n - offset + shrinkage).
    positive : bool
        The caller checked with `all_positive` that every compared value (`y_data`) is
        positive; FULL mode then skips the co-support count when it is not needed. Same result.
    parallel : bool
        Use the numba-parallel build (rows are independent).

    Returns
    -------
    indptr (int64), indices (int32), data (float32)
        Row r lists its neighbours by similarity, descending (not by index).
    """
    y = _columns(y_indptr, y_indices, y_data, x_norm, x_count)
    mode = _effective_mode(mode, min_support, shrinkage, positive, query)
    n_x = y[3].size
    n_q = query.indptr.size - 1
    n_keep = int(max(0, min(n_keep, n_x)))
    kernel = _topk_parallel if parallel and n_q > 1 and parallel_allowed() else _topk_serial
    n_chunks = max(1, numba.get_num_threads()) if kernel is _topk_parallel else 1
    block = max(n_chunks, _BLOCK_CELLS // max(n_keep, 1))
    lengths = np.zeros(n_q, dtype=np.int64)
    parts_idx: list[np.ndarray] = []
    parts_sim: list[np.ndarray] = []
    for start in range(0, n_q, block):
        stop = min(start + block, n_q)
        out_idx = np.empty((stop - start, max(n_keep, 1)), dtype=np.int32)
        out_sim = np.empty((stop - start, max(n_keep, 1)), dtype=np.float32)
        out_len = np.zeros(stop - start, dtype=np.int64)
        kernel(
            *_unsigned(query.indptr, query.indices),
            query.data,
            query.self_index,
            query.norm,
            query.count,
            start,
            stop,
            *y,
            n_x,
            mode,
            int(min_support),
            float(shrinkage),
            int(shrink_offset),
            n_keep,
            n_chunks,
            out_idx,
            out_sim,
            out_len,
        )
        keep = np.arange(out_idx.shape[1])[None, :] < out_len[:, None]
        parts_idx.append(out_idx[keep])
        parts_sim.append(out_sim[keep])
        lengths[start:stop] = out_len
    indptr = np.zeros(n_q + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.concatenate(parts_idx) if parts_idx else np.zeros(0, np.int32)
    data = np.concatenate(parts_sim) if parts_sim else np.zeros(0, np.float32)
    return indptr, indices.astype(np.int32, copy=False), data.astype(np.float32, copy=False)


def dense_similarities(
    query: QueryRows,
    y_indptr: np.ndarray,
    y_indices: np.ndarray,
    y_data: np.ndarray,
    x_norm: np.ndarray,
    x_count: np.ndarray,
    *,
    mode: int,
    min_support: int = 1,
    shrinkage: float = 0.0,
    shrink_offset: int = 0,
    positive: bool = False,
    parallel: bool = True,
) -> np.ndarray:
    """Similarities of each query row with every compared row, (n_queries, n_x) float32.

    Same measures, rules and `positive` as `topk_similarities`; pairs that are not neighbours (no
    co-support, too little support, similarity <= 1e-10, the row itself) are NaN. For a few
    query rows only (the output is dense).
    """
    y = _columns(y_indptr, y_indices, y_data, x_norm, x_count)
    mode = _effective_mode(mode, min_support, shrinkage, positive, query)
    n_x = y[3].size
    n_q = query.indptr.size - 1
    out = np.full((n_q, n_x), np.nan, dtype=np.float32)
    if n_q == 0:
        return out
    kernel = _dense_parallel if parallel and n_q > 1 and parallel_allowed() else _dense_serial
    n_chunks = max(1, numba.get_num_threads()) if kernel is _dense_parallel else 1
    kernel(
        *_unsigned(query.indptr, query.indices),
        query.data,
        query.self_index,
        query.norm,
        query.count,
        *y,
        n_x,
        mode,
        int(min_support),
        float(shrinkage),
        int(shrink_offset),
        n_chunks,
        out,
    )
    return out


def _warm() -> None:
    """Compile (or load from cache) every variant on tiny arrays of the production dtypes."""
    indptr = np.array([0, 2, 4, 5])
    indices = np.array([0, 1, 0, 1, 1], dtype=np.int32)
    for dtype in (np.float32, np.float64):
        data = np.array([1.0, 2.0, 2.0, 1.0, 3.0], dtype=dtype)
        query = QueryRows(indptr, indices, data, np.arange(3), np.ones(3), np.array([2, 2, 1]))
        by_column = (np.array([0, 2, 5]), np.array([0, 1, 0, 1, 2], dtype=np.int32), data[[0, 2, 1, 3, 4]])
        for parallel in (False, True):
            topk_similarities(
                query, *by_column, np.ones(3), np.array([2, 2, 1]), mode=COMMON, n_keep=2, parallel=parallel
            )
            dense_similarities(query, *by_column, np.ones(3), np.array([2, 2, 1]), mode=COMMON, parallel=parallel)
