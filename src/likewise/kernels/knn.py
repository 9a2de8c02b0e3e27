"""Neighbourhood scoring: turn a pruned similarity matrix and ratings into scores.

The similarity matrix S (CSR, n_x x n_x) lists each row's neighbours by similarity, descending
(ties to the lower index), positive similarities only; x is an item for item-based models and
a user for user-based ones. Three access patterns cover every case without a dense n_x x n_x
matrix:

- ``gather``: a context row of the rating matrix (a user for item-based models, an item for
  user-based ones) is marked in a dense per-thread array; then for each target x its neighbour
  list is scanned in order and the first ``k`` neighbours present in the context are used.
  This is Surprise's rule: the k most similar neighbours *that rated the target*.
- ``scatter`` (user-based, all items at once): the target user's neighbours are visited in
  order and each spreads its ratings to the items it rated; an item takes contributions from
  its first ``k`` neighbours only, which is the same rule as ``gather``.
- ``spread`` (item-based implicit scoring, as implicit's ItemItemRecommender): each item of
  the history gives ``weight * s`` to each of its own first ``k`` neighbours.

Estimates (``mode``), with N the neighbours used, s their similarities and r their values:

- ``SUM``: sum s (times r when ``weighted``); 0 when |N| < min_k.
- ``BASIC``: sum s r / sum s; ``fallback`` (the global mean) when |N| < min_k or N is empty.
- ``CENTERED``: base + scale_x * sum s (r - off_x' - off_y) / scale_x' / sum s, with
  base = off_x + off_y; only the base when |N| < min_k or N is empty. With off = means and
  scale = 1 this is KNNWithMeans; with scale = standard deviations KNNWithZScore; with
  off_x = mu + b_x, off_y = b_y KNNBaseline.

Sums are float64; outputs float32. Brute-force twins are in ``tests/reference/knn.py``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from likewise.kernels._jit import serial_and_parallel
from likewise.kernels._threads import parallel_allowed
from likewise.kernels.topk import _better, _sift_down, _sift_up

__all__ = ["BASIC", "CENTERED", "SUM", "gather_scores", "scatter_scores", "spread_scores", "spread_topk"]

SUM = 0
BASIC = 1
CENTERED = 2


@numba.njit
def _finish(mode, used, num, den, min_k, base, scale, fallback):
    if mode == 0:
        if used < min_k:
            return 0.0
        return num
    if used < min_k or used == 0 or not den > 0.0:
        return fallback if mode == 1 else base
    if mode == 1:
        return num / den
    return base + scale * num / den


@numba.njit
def _scan(x, s_indptr, s_indices, s_data, stamp, mark, val, ctx_off, x_off, x_scale, k, mode, weighted):
    """Walk x's neighbours in order; use the first k that are marked. Returns (used, num, den)."""
    used = 0
    num = 0.0
    den = 0.0
    for p in range(s_indptr[x], s_indptr[x + 1]):
        if used >= k:
            break
        x2 = s_indices[p]
        if mark[x2] != stamp:
            continue
        s = np.float64(s_data[p])
        r = val[x2]
        if mode == 0:
            num += s * r if weighted else s
        elif mode == 1:
            num += s * r
            den += s
        else:
            num += s * (r - x_off[x2] - ctx_off) / x_scale[x2]
            den += s
        used += 1
    return used, num, den


def _gather_impl(
    s_indptr,
    s_indices,
    s_data,
    c_indptr,
    c_indices,
    c_data,
    ctx_rows,
    ctx_off,
    group_ptr,
    targets,
    all_targets,
    x_off,
    x_scale,
    k,
    min_k,
    mode,
    weighted,
    fallback,
    n_chunks,
    out,
):
    n_x = s_indptr.size - 1
    n_groups = ctx_rows.size
    for chunk in prange(n_chunks):
        mark = np.zeros(n_x, dtype=np.int64)
        val = np.zeros(n_x, dtype=np.float64)
        for g in range(chunk, n_groups, n_chunks):
            stamp = g + 1
            c = ctx_rows[g]
            for p in range(c_indptr[c], c_indptr[c + 1]):
                mark[c_indices[p]] = stamp
                val[c_indices[p]] = c_data[p]
            off = ctx_off[g]
            if all_targets:
                for x in range(n_x):
                    used, num, den = _scan(
                        x, s_indptr, s_indices, s_data, stamp, mark, val, off, x_off, x_scale, k, mode, weighted
                    )
                    out[g * n_x + x] = _finish(mode, used, num, den, min_k, x_off[x] + off, x_scale[x], fallback)
            else:
                for pos in range(group_ptr[g], group_ptr[g + 1]):
                    x = targets[pos]
                    used, num, den = _scan(
                        x, s_indptr, s_indices, s_data, stamp, mark, val, off, x_off, x_scale, k, mode, weighted
                    )
                    out[pos] = _finish(mode, used, num, den, min_k, x_off[x] + off, x_scale[x], fallback)


def _scatter_impl(
    s_indptr,
    s_indices,
    s_data,
    nb_rows,
    tgt_off,
    tgt_scale,
    r_indptr,
    r_indices,
    r_data,
    x_off,
    x_scale,
    y_off,
    k,
    min_k,
    mode,
    weighted,
    fallback,
    n_chunks,
    out,
):
    n_rows, n_y = out.shape
    for chunk in prange(n_chunks):
        cnt = np.zeros(n_y, dtype=np.int64)
        num = np.zeros(n_y, dtype=np.float64)
        den = np.zeros(n_y, dtype=np.float64)
        for q in range(chunk, n_rows, n_chunks):
            nb = nb_rows[q]
            for p in range(s_indptr[nb], s_indptr[nb + 1]):
                x2 = s_indices[p]
                s = np.float64(s_data[p])
                for t in range(r_indptr[x2], r_indptr[x2 + 1]):
                    y = r_indices[t]
                    if cnt[y] >= k:
                        continue
                    cnt[y] += 1
                    r = np.float64(r_data[t])
                    if mode == 0:
                        num[y] += s * r if weighted else s
                    elif mode == 1:
                        num[y] += s * r
                        den[y] += s
                    else:
                        num[y] += s * (r - x_off[x2] - y_off[y]) / x_scale[x2]
                        den[y] += s
            for y in range(n_y):
                out[q, y] = _finish(mode, cnt[y], num[y], den[y], min_k, tgt_off[q] + y_off[y], tgt_scale[q], fallback)
                cnt[y] = 0
                num[y] = 0.0
                den[y] = 0.0


def _spread_impl(
    s_indptr,
    s_indices,
    s_data,
    c_indptr,
    c_indices,
    c_data,
    ctx_rows,
    group_ptr,
    targets,
    all_targets,
    k,
    min_k,
    weighted,
    n_chunks,
    out,
):
    n_x = s_indptr.size - 1
    n_groups = ctx_rows.size
    for chunk in prange(n_chunks):
        cnt = np.zeros(n_x, dtype=np.int64)
        acc = np.zeros(n_x, dtype=np.float64)
        touched = np.empty(n_x, dtype=np.uint32)
        for g in range(chunk, n_groups, n_chunks):
            c = ctx_rows[g]
            n_touched = 0
            for p in range(c_indptr[c], c_indptr[c + 1]):
                j = c_indices[p]
                w = np.float64(c_data[p]) if weighted else 1.0
                begin = s_indptr[j]
                stop = min(begin + np.uint64(k), s_indptr[j + 1])
                for t in range(begin, stop):
                    x = s_indices[t]
                    if cnt[x] == 0:
                        touched[n_touched] = x
                        n_touched += 1
                    cnt[x] += 1
                    acc[x] += w * np.float64(s_data[t])
            if all_targets:
                for x in range(n_x):
                    out[g * n_x + x] = acc[x] if cnt[x] >= min_k else 0.0
            else:
                for pos in range(group_ptr[g], group_ptr[g + 1]):
                    x = targets[pos]
                    out[pos] = acc[x] if cnt[x] >= min_k else 0.0
            for t in range(n_touched):
                cnt[touched[t]] = 0
                acc[touched[t]] = 0.0


_gather_parallel, _gather_serial = serial_and_parallel(_gather_impl)
_scatter_parallel, _scatter_serial = serial_and_parallel(_scatter_impl)
_spread_parallel, _spread_serial = serial_and_parallel(_spread_impl)


def _csr(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR parts with unsigned index views (no copy once int64/int32): numba indexes with
    unsigned integers without the negative-index wrap-around check (1.5-2x in inner loops)."""
    return (
        np.ascontiguousarray(indptr, dtype=np.int64).view(np.uint64),
        np.ascontiguousarray(indices, dtype=np.int32).view(np.uint32),
        np.ascontiguousarray(data, dtype=np.float32),
    )


def _chunks(parallel: bool, n_groups: int) -> tuple[bool, int]:
    use_parallel = parallel and n_groups > 1
    return use_parallel, (max(1, numba.get_num_threads()) if use_parallel else 1)


def _groups(
    ctx_rows: np.ndarray, targets: np.ndarray | None, group_ptr: np.ndarray | None, n_x: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, int]:
    ctx = np.ascontiguousarray(ctx_rows, dtype=np.int64)
    if targets is None:
        return ctx, np.zeros(ctx.size + 1, np.int64), np.zeros(0, np.int64), True, ctx.size * n_x
    if group_ptr is None or group_ptr.shape != (ctx.size + 1,):
        raise ValueError("group_ptr must have one entry per context row plus one")
    ptr = np.ascontiguousarray(group_ptr, dtype=np.int64)
    return ctx, ptr, np.ascontiguousarray(targets, dtype=np.int64), False, int(ptr[-1])


def gather_scores(
    sim: tuple[np.ndarray, np.ndarray, np.ndarray],
    context: tuple[np.ndarray, np.ndarray, np.ndarray],
    ctx_rows: np.ndarray,
    ctx_off: np.ndarray,
    x_off: np.ndarray,
    x_scale: np.ndarray,
    *,
    k: int,
    min_k: int,
    mode: int,
    weighted: bool = True,
    fallback: float = 0.0,
    targets: np.ndarray | None = None,
    group_ptr: np.ndarray | None = None,
    parallel: bool = True,
) -> np.ndarray:
    """Scores of targets from the neighbours each context row has (Surprise's rule).

    Parameters
    ----------
    sim : (indptr, indices, data)
        The pruned similarity matrix, rows sorted by similarity descending.
    context : (indptr, indices, data)
        Rating rows over the same index space as `sim` (a user's items for item-based models).
    ctx_rows : ndarray
        The context row of each group; ``ctx_off`` its offset (``b_u`` for baselines, else 0).
    x_off, x_scale : ndarray
        Per-x offset and scale (see the module docstring).
    k, min_k, mode, weighted, fallback
        Neighbours used, minimum for a neighbourhood estimate, estimate kind, SUM weighting,
        BASIC fallback.
    targets, group_ptr : ndarray, optional
        Targets of group g are ``targets[group_ptr[g]:group_ptr[g + 1]]``; without them every
        x is a target and the result is (n_groups, n_x).

    Returns
    -------
    float32 scores: flat, aligned with `targets`, or (n_groups, n_x).
    """
    s = _csr(*sim)
    c = _csr(*context)
    n_x = s[0].size - 1
    ctx, ptr, tgt, all_targets, n_out = _groups(ctx_rows, targets, group_ptr, n_x)
    out = np.empty(n_out, dtype=np.float32)
    if ctx.size == 0:
        return out.reshape(0, n_x) if all_targets else out
    use_parallel, n_chunks = _chunks(parallel, ctx.size)
    kernel = _gather_parallel if use_parallel and parallel_allowed() else _gather_serial
    kernel(
        *s,
        *c,
        ctx,
        np.ascontiguousarray(ctx_off, dtype=np.float64),
        ptr,
        tgt,
        all_targets,
        np.ascontiguousarray(x_off, dtype=np.float64),
        np.ascontiguousarray(x_scale, dtype=np.float64),
        int(k),
        int(min_k),
        int(mode),
        bool(weighted),
        float(fallback),
        n_chunks,
        out,
    )
    return out.reshape(ctx.size, n_x) if all_targets else out


def scatter_scores(
    sim: tuple[np.ndarray, np.ndarray, np.ndarray],
    nb_rows: np.ndarray,
    tgt_off: np.ndarray,
    tgt_scale: np.ndarray,
    ratings: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_y: int,
    x_off: np.ndarray,
    x_scale: np.ndarray,
    y_off: np.ndarray,
    *,
    k: int,
    min_k: int,
    mode: int,
    weighted: bool = True,
    fallback: float = 0.0,
    parallel: bool = True,
) -> np.ndarray:
    """Scores of every y for each target row, from the ratings of its first k neighbours per y.

    ``sim`` row ``nb_rows[q]`` is the neighbour list of query q (whose own offset and scale are
    ``tgt_off[q]``, ``tgt_scale[q]``); ``ratings`` are the x-major rating rows (a user's items
    for user-based models) and ``y_off`` a per-y offset (``b_i`` for baselines, else 0).
    Returns (n_queries, n_y) float32.
    """
    s = _csr(*sim)
    r = _csr(*ratings)
    nb = np.ascontiguousarray(nb_rows, dtype=np.int64)
    out = np.empty((nb.size, int(n_y)), dtype=np.float32)
    if nb.size == 0:
        return out
    use_parallel, n_chunks = _chunks(parallel, nb.size)
    kernel = _scatter_parallel if use_parallel and parallel_allowed() else _scatter_serial
    kernel(
        *s,
        nb,
        np.ascontiguousarray(tgt_off, dtype=np.float64),
        np.ascontiguousarray(tgt_scale, dtype=np.float64),
        *r,
        np.ascontiguousarray(x_off, dtype=np.float64),
        np.ascontiguousarray(x_scale, dtype=np.float64),
        np.ascontiguousarray(y_off, dtype=np.float64),
        int(k),
        int(min_k),
        int(mode),
        bool(weighted),
        float(fallback),
        n_chunks,
        out,
    )
    return out


def spread_scores(
    sim: tuple[np.ndarray, np.ndarray, np.ndarray],
    context: tuple[np.ndarray, np.ndarray, np.ndarray],
    ctx_rows: np.ndarray,
    *,
    k: int,
    min_k: int,
    weighted: bool = True,
    targets: np.ndarray | None = None,
    group_ptr: np.ndarray | None = None,
    parallel: bool = True,
) -> np.ndarray:
    """Implicit item-based scores: each context entry j adds ``w * s`` to its first k neighbours.

    Targets reached by fewer than `min_k` entries score 0. Same `targets`/`group_ptr`
    convention and return shapes as `gather_scores`.
    """
    s = _csr(*sim)
    c = _csr(*context)
    n_x = s[0].size - 1
    ctx, ptr, tgt, all_targets, n_out = _groups(ctx_rows, targets, group_ptr, n_x)
    out = np.empty(n_out, dtype=np.float32)
    if ctx.size == 0:
        return out.reshape(0, n_x) if all_targets else out
    use_parallel, n_chunks = _chunks(parallel, ctx.size)
    kernel = _spread_parallel if use_parallel and parallel_allowed() else _spread_serial
    kernel(*s, *c, ctx, ptr, tgt, all_targets, int(k), int(min_k), bool(weighted), n_chunks, out)
    return out.reshape(ctx.size, n_x) if all_targets else out


def _warm() -> None:
    """Compile (or load from cache) every variant on tiny arrays of the production dtypes."""
    sim = (np.array([0, 1, 2, 3]), np.array([1, 0, 0], dtype=np.int32), np.ones(3, dtype=np.float32))
    ratings = (np.array([0, 2, 3, 4]), np.array([0, 1, 1, 2], dtype=np.int32), np.ones(4, dtype=np.float32))
    rows, zeros, ones = np.arange(3), np.zeros(3), np.ones(3)
    for parallel in (False, True):
        gather_scores(sim, ratings, rows, zeros, zeros, ones, k=2, min_k=1, mode=CENTERED, parallel=parallel)
        gather_scores(
            sim, ratings, rows[:2], zeros[:2], zeros, ones, k=2, min_k=1, mode=BASIC,
            targets=np.array([0, 1]), group_ptr=np.array([0, 1, 2]), parallel=parallel,
        )  # fmt: skip
        spread_scores(sim, ratings, rows, k=2, min_k=1, parallel=parallel)
        spread_topk(sim, ratings, rows, 2, k=2, min_k=1, seen=ratings[:2], seen_rows=rows, parallel=parallel)
        scatter_scores(
            sim, rows, zeros, ones, ratings, 3, zeros, ones, zeros, k=2, min_k=1, mode=SUM, parallel=parallel
        )


def _spread_topk_impl(
    s_indptr,
    s_indices,
    s_data,
    c_indptr,
    c_indices,
    c_data,
    ctx_rows,
    k,
    min_k,
    weighted,
    seen_indptr,
    seen_indices,
    seen_rows,
    allowed,
    n_chunks,
    out_idx,
    out_scores,
):
    n_x = s_indptr.size - 1
    n_groups, n = out_idx.shape
    for chunk in prange(n_chunks):
        cnt = np.zeros(n_x, dtype=np.int64)
        acc = np.zeros(n_x, dtype=np.float64)
        touched = np.empty(n_x, dtype=np.uint32)
        blocked = np.zeros(n_x, dtype=np.int64)
        heap_s = np.empty(n, dtype=np.float32)
        heap_i = np.empty(n, dtype=np.int32)
        for g in range(chunk, n_groups, n_chunks):
            c = ctx_rows[g]
            stamp = g + 1
            n_touched = 0
            for p in range(c_indptr[c], c_indptr[c + 1]):
                j = c_indices[p]
                w = np.float64(c_data[p]) if weighted else 1.0
                begin = s_indptr[j]
                stop = min(begin + np.uint64(k), s_indptr[j + 1])
                for t in range(begin, stop):
                    x = s_indices[t]
                    if cnt[x] == 0:
                        touched[n_touched] = x
                        n_touched += 1
                    cnt[x] += 1
                    acc[x] += w * np.float64(s_data[t])
            src = seen_rows[g]
            if src >= 0:
                for p in range(seen_indptr[src], seen_indptr[src + 1]):
                    blocked[seen_indices[p]] = stamp
            # positive scores: the touched items only, best n by (score desc, index asc)
            size = 0
            for t in range(n_touched):
                x = touched[t]
                if cnt[x] < min_k or not allowed[x] or blocked[x] == stamp:
                    continue
                s = np.float32(acc[x])
                if size < n:
                    heap_s[size] = s
                    heap_i[size] = x
                    _sift_up(heap_s, heap_i, size)
                    size += 1
                elif _better(s, x, heap_s[0], heap_i[0]):
                    heap_s[0] = s
                    heap_i[0] = x
                    _sift_down(heap_s, heap_i, size, 0)
            filled = size
            while size > 0:
                size -= 1
                out_idx[g, size] = heap_i[0]
                out_scores[g, size] = heap_s[0]
                heap_s[0] = heap_s[size]
                heap_i[0] = heap_i[size]
                _sift_down(heap_s, heap_i, size, 0)
            # then every other eligible item scores 0, in index order (as a dense row would rank them)
            x = 0
            while filled < n and x < n_x:
                if allowed[x] and blocked[x] != stamp and cnt[x] < max(min_k, 1):
                    out_idx[g, filled] = x
                    out_scores[g, filled] = 0.0
                    filled += 1
                x += 1
            for pos in range(filled, n):
                out_idx[g, pos] = -1
                out_scores[g, pos] = -np.inf
            for t in range(n_touched):
                cnt[touched[t]] = 0
                acc[touched[t]] = 0.0


_spread_topk_parallel, _spread_topk_serial = serial_and_parallel(_spread_topk_impl)


def spread_topk(
    sim: tuple[np.ndarray, np.ndarray, np.ndarray],
    context: tuple[np.ndarray, np.ndarray, np.ndarray],
    ctx_rows: np.ndarray,
    n: int,
    *,
    k: int,
    min_k: int,
    weighted: bool = True,
    seen: tuple[np.ndarray, np.ndarray] | None = None,
    seen_rows: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    parallel: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """`spread_scores` fused with top-`n` selection, without dense score rows.

    Same result as ranking ``spread_scores`` rows with `likewise.kernels.topk.topk_rows` (same
    filters: ``seen`` CSR rows ``seen_rows[g]`` (-1 = none) and the ``allowed`` item mask; same
    order: score descending, ties to the lower index; -1 / -inf padding), **provided every
    context value is positive when** ``weighted`` (so that a reached item scores > 0). Cost per
    row: its spread plus a heap over the items it reaches, instead of O(n_items).
    """
    s = _csr(*sim)
    c = _csr(*context)
    n_x = s[0].size - 1
    ctx = np.ascontiguousarray(ctx_rows, dtype=np.int64)
    n = int(n)
    out_idx = np.empty((ctx.size, n), dtype=np.int32)
    out_scores = np.empty((ctx.size, n), dtype=np.float32)
    if ctx.size == 0 or n == 0:
        return out_idx, out_scores
    if seen is None or seen_rows is None:
        seen_indptr, seen_indices = np.zeros(1, np.int64), np.zeros(0, np.int32)
        rows = np.full(ctx.size, -1, dtype=np.int64)
    else:
        seen_indptr, seen_indices = seen
        rows = np.ascontiguousarray(seen_rows, dtype=np.int64)
    mask = np.ones(n_x, dtype=np.bool_) if allowed is None else np.ascontiguousarray(allowed, dtype=np.bool_)
    use_parallel, n_chunks = _chunks(parallel, ctx.size)
    kernel = _spread_topk_parallel if use_parallel and parallel_allowed() else _spread_topk_serial
    kernel(
        *s,
        *c,
        ctx,
        int(k),
        int(min_k),
        bool(weighted),
        np.ascontiguousarray(seen_indptr, dtype=np.int64).view(np.uint64),
        np.ascontiguousarray(seen_indices, dtype=np.int32).view(np.uint32),
        rows,
        mask,
        n_chunks,
        out_idx,
        out_scores,
    )
    return out_idx, out_scores
