"""Slope One (Lemire & Maclachlan 2005, Surprise's unweighted form): deviations and scoring.

Deviation of item i from item j over the users :math:`U_{ij}` who rated both::

    dev[i, j] = sum_{u in U_ij} (r_ui - r_uj) / |U_ij|          (antisymmetric; dev[i, i] = 0)

Prediction: :math:`\\hat r_{ui} = \\mu_u + \\frac{1}{|R_i(u)|} \\sum_{j \\in R_i(u)} dev[i, j]` with
:math:`R_i(u)` the items rated by u that share at least ``min_support`` raters with i (i itself
included when u rated it, with dev 0 - as Surprise). Deviations are kept sparse (CSR over the
co-rated pattern), never as a dense items x items matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import prange

from likewise.kernels._jit import serial_and_parallel
from likewise.kernels._threads import parallel_allowed

__all__ = ["deviations", "slopeone_pairs", "slopeone_rows"]


def _chunks(n: int, parts: int) -> np.ndarray:
    return np.linspace(0, n, max(1, min(parts, n)) + 1).astype(np.int64)


def _count_pairs_impl(csc_indptr, csc_indices, indptr, indices, min_support, bounds, row_nnz):
    n_items = csc_indptr.shape[0] - 1
    for c in prange(bounds.shape[0] - 1):
        cnt = np.zeros(n_items, dtype=np.int64)
        stamp = np.full(n_items, -1, dtype=np.int64)  # scratch entry j belongs to row stamp[j]
        for i in range(bounds[c], bounds[c + 1]):
            touched = 0
            for p in range(csc_indptr[i], csc_indptr[i + 1]):
                u = csc_indices[p]
                for k in range(indptr[u], indptr[u + 1]):
                    j = indices[k]
                    if stamp[j] != i:
                        stamp[j] = i
                        cnt[j] = 0
                    cnt[j] += 1
                    if cnt[j] == min_support:
                        touched += 1
            row_nnz[i] = touched


def _fill_pairs_impl(
    csc_indptr, csc_indices, csc_data, indptr, indices, data, min_support, bounds, out_ptr, out_idx, out_dev, out_sup
):
    n_items = csc_indptr.shape[0] - 1
    for c in prange(bounds.shape[0] - 1):
        acc = np.zeros(n_items, dtype=np.float64)
        cnt = np.zeros(n_items, dtype=np.int64)
        stamp = np.full(n_items, -1, dtype=np.int64)
        for i in range(bounds[c], bounds[c + 1]):
            pos = out_ptr[i]
            for p in range(csc_indptr[i], csc_indptr[i + 1]):
                u = csc_indices[p]
                r_ui = np.float64(csc_data[p])
                for k in range(indptr[u], indptr[u + 1]):
                    j = indices[k]
                    if stamp[j] != i:
                        stamp[j] = i
                        cnt[j] = 0
                        acc[j] = 0.0
                    acc[j] += r_ui - data[k]
                    cnt[j] += 1
                    if cnt[j] == min_support:
                        out_idx[pos] = j
                        pos += 1
            row = out_idx[out_ptr[i] : out_ptr[i + 1]]
            row.sort()
            for q in range(out_ptr[i], out_ptr[i + 1]):
                j = out_idx[q]
                out_dev[q] = 0.0 if j == i else acc[j] / cnt[j]
                out_sup[q] = cnt[j]


_count_pairs_parallel, _count_pairs_serial = serial_and_parallel(_count_pairs_impl)
_fill_pairs_parallel, _fill_pairs_serial = serial_and_parallel(_fill_pairs_impl)


def deviations(
    matrix: sp.csr_matrix, min_support: int = 1, *, n_chunks: int = 64
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Item-item deviations and supports from a users x items rating CSR.

    One parallel pass per item over the histories of its raters (:math:`O(\\sum_u |I_u|^2)` in
    all), accumulating in float64 into a dense scratch row per chunk of items.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix
        Ratings, users x items (sorted indices).
    min_support : int
        Keep pairs rated together by at least this many users.
    n_chunks : int
        Work units of the parallel loops (each holds two dense rows of n_items scratch).

    Returns
    -------
    dev : csr_matrix of float32 (n_items, n_items)
        Antisymmetric deviations on the kept pattern, sorted indices (the diagonal of rated
        items is stored, 0).
    support : csr_matrix of int32
        :math:`|U_{ij}|` on the same pattern (same indptr and indices).
    """
    csr = sp.csr_matrix(matrix)
    csc = csr.tocsc()
    n_items = csr.shape[1]
    indptr = csr.indptr.astype(np.int64)
    indices = csr.indices.astype(np.int32)
    data = csr.data.astype(np.float64)
    csc_indptr = csc.indptr.astype(np.int64)
    csc_indices = csc.indices.astype(np.int32)
    csc_data = csc.data.astype(np.float64)
    bounds = _chunks(n_items, n_chunks)
    row_nnz = np.zeros(n_items, dtype=np.int64)
    min_support = max(int(min_support), 1)
    parallel = parallel_allowed()
    count_pairs = _count_pairs_parallel if parallel else _count_pairs_serial
    fill_pairs = _fill_pairs_parallel if parallel else _fill_pairs_serial
    count_pairs(csc_indptr, csc_indices, indptr, indices, min_support, bounds, row_nnz)
    out_ptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(row_nnz, out=out_ptr[1:])
    nnz = int(out_ptr[-1])
    out_idx = np.empty(nnz, dtype=np.int32)
    out_dev = np.empty(nnz, dtype=np.float64)
    out_sup = np.empty(nnz, dtype=np.int32)
    fill_pairs(
        csc_indptr,
        csc_indices,
        csc_data,
        indptr,
        indices,
        data,
        min_support,
        bounds,
        out_ptr,
        out_idx,
        out_dev,
        out_sup,
    )
    shape = (n_items, n_items)
    dev = sp.csr_matrix((out_dev.astype(np.float32), out_idx, out_ptr), shape=shape)
    support = sp.csr_matrix((out_sup, out_idx, out_ptr), shape=shape)
    return dev, support


def _rows_impl(seen_indptr, seen_indices, rows, dev_indptr, dev_indices, dev_data, means, fallback, out):
    n_items = out.shape[1]
    for b in prange(rows.shape[0]):
        acc = np.zeros(n_items, dtype=np.float64)
        cnt = np.zeros(n_items, dtype=np.int64)
        src = rows[b]
        for k in range(seen_indptr[src], seen_indptr[src + 1]):
            j = seen_indices[k]
            for p in range(dev_indptr[j], dev_indptr[j + 1]):
                i = dev_indices[p]
                acc[i] -= dev_data[p]  # dev[i, j] = -dev[j, i]
                cnt[i] += 1
        mean = means[b]
        for i in range(n_items):
            if cnt[i] > 0:
                out[b, i] = mean + acc[i] / cnt[i]
            else:
                out[b, i] = mean if seen_indptr[src + 1] > seen_indptr[src] else fallback


_rows_parallel, _rows_serial = serial_and_parallel(_rows_impl)


def slopeone_rows(
    seen_indptr: np.ndarray,
    seen_indices: np.ndarray,
    rows: np.ndarray,
    dev: sp.csr_matrix,
    means: np.ndarray,
    fallback: float,
    *,
    parallel: bool = True,
) -> np.ndarray:
    """Slope One estimates of every item for the CSR rows `rows` of a users' history, float32.

    ``means[b]`` is the mean rating of query ``b``; a query with an empty history gets
    `fallback` everywhere. Returns (len(rows), n_items).
    """
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    out = np.empty((rows.shape[0], dev.shape[0]), dtype=np.float32)
    kernel = _rows_parallel if parallel and rows.shape[0] > 1 and parallel_allowed() else _rows_serial
    kernel(
        np.ascontiguousarray(seen_indptr, dtype=np.int64),
        np.ascontiguousarray(seen_indices, dtype=np.int32),
        rows,
        np.ascontiguousarray(dev.indptr, dtype=np.int64),
        np.ascontiguousarray(dev.indices, dtype=np.int32),
        np.ascontiguousarray(dev.data, dtype=np.float32),
        np.ascontiguousarray(means, dtype=np.float64),
        np.float64(fallback),
        out,
    )
    return out


def _pairs_impl(uidx, iidx, seen_indptr, seen_indices, dev_indptr, dev_indices, dev_data, means, fallback, out):
    for n in prange(uidx.shape[0]):
        u = uidx[n]
        i = iidx[n]
        a = seen_indptr[u]
        a_end = seen_indptr[u + 1]
        p = dev_indptr[i]
        p_end = dev_indptr[i + 1]
        acc = 0.0
        cnt = 0
        while a < a_end and p < p_end:  # merge the sorted history with row i of dev
            ja = seen_indices[a]
            jp = dev_indices[p]
            if ja == jp:
                acc += dev_data[p]
                cnt += 1
                a += 1
                p += 1
            elif ja < jp:
                a += 1
            else:
                p += 1
        if cnt > 0:
            out[n] = means[u] + acc / cnt
        elif a_end > seen_indptr[u]:
            out[n] = means[u]
        else:
            out[n] = fallback


_pairs_parallel, _pairs_serial = serial_and_parallel(_pairs_impl)
_SERIAL_BELOW = 4096  # small requests (serving) use the serial build: parallel kernels are not re-entrant


def slopeone_pairs(
    uidx: np.ndarray,
    iidx: np.ndarray,
    seen_indptr: np.ndarray,
    seen_indices: np.ndarray,
    dev: sp.csr_matrix,
    means: np.ndarray,
    fallback: float,
) -> np.ndarray:
    """Slope One estimates for (user, item) index pairs, float32; users' histories are CSR rows
    with sorted indices and ``means[u]`` their mean ratings."""
    out = np.empty(uidx.shape[0], dtype=np.float32)
    kernel = _pairs_parallel if uidx.shape[0] >= _SERIAL_BELOW and parallel_allowed() else _pairs_serial
    kernel(
        np.ascontiguousarray(uidx, dtype=np.int64),
        np.ascontiguousarray(iidx, dtype=np.int64),
        np.ascontiguousarray(seen_indptr, dtype=np.int64),
        np.ascontiguousarray(seen_indices, dtype=np.int32),
        np.ascontiguousarray(dev.indptr, dtype=np.int64),
        np.ascontiguousarray(dev.indices, dtype=np.int32),
        np.ascontiguousarray(dev.data, dtype=np.float32),
        np.ascontiguousarray(means, dtype=np.float64),
        np.float64(fallback),
        out,
    )
    return out


def _warm() -> None:
    """Compile every kernel of this module on tiny arrays of the production dtypes."""
    matrix = sp.csr_matrix(np.array([[4.0, 2.0], [0.0, 5.0]], dtype=np.float32))
    dev, _ = deviations(matrix)
    means = np.array([3.0, 5.0])
    for parallel in (False, True):
        slopeone_rows(matrix.indptr, matrix.indices, np.arange(2), dev, means, 3.0, parallel=parallel)
    for size in (2, _SERIAL_BELOW):  # the serial and the parallel build
        pairs = np.arange(size) % 2
        slopeone_pairs(pairs, 1 - pairs, matrix.indptr, matrix.indices, dev, means, 3.0)
