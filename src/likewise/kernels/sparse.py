"""Building a users x items CSR from rows in input order: sort by pair, merge duplicate pairs.

A log of ``n`` rows ``(u_r, i_r, v_r[, t_r])`` becomes a CSR whose row ``u`` lists the distinct
items of user ``u`` in ascending order, one value per item. Rows of one (user, item) pair are
ordered by ``(t_r, r)`` (timestamp, then input position; by position alone without timestamps)
and merged by the policy: the first or the last row's value and timestamp, or the sum or mean
of the values with the latest timestamp.

How: a counting sort buckets the rows by user in O(n) (stable: each bucket keeps input order),
then each user's bucket is sorted by item on its own (buckets are small and independent, so
the users are spread over threads), and duplicate runs are merged in one pass per user. This
replaces one global stable sort of an int64 ``(user, item)`` key followed by a gather of every
column through the permutation: at 25M rows it allocated and touched about 2 GB of temporaries
(docs/large.md, "Streaming ingestion").

The plain-Python twin (a tuple sort and a dict of groups) is ``tests/reference/sparse.py``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from likewise.kernels._jit import serial_and_parallel
from likewise.kernels._threads import parallel_allowed

__all__ = ["MERGE_POLICIES", "distinct_per_user", "merge_duplicates", "pair_order"]

_FIRST, _LAST, _SUM, _MEAN = 0, 1, 2, 3
# A duplicate policy's code inside the kernels ("error" merges nothing: its caller raises first).
MERGE_POLICIES = {"first": _FIRST, "error": _FIRST, "last": _LAST, "sum": _SUM, "mean": _MEAN}
_INSERTION_MAX = 16  # runs up to this long are sorted by insertion, longer ones by merge sort


@numba.njit(cache=True, nogil=True)
def _bucket_by_user(uidx, n_users, row_starts, order):
    """Counting sort: ``order[row_starts[u]:row_starts[u + 1]]`` = rows of user u, in input order."""
    for r in range(uidx.shape[0]):
        row_starts[uidx[r] + 1] += 1
    for u in range(n_users):
        row_starts[u + 1] += row_starts[u]
    fill = row_starts[:-1].copy()
    for r in range(uidx.shape[0]):
        u = uidx[r]
        order[fill[u]] = r
        fill[u] += 1


@numba.njit(cache=True, nogil=True)
def _stable_sort_run(order, lo, hi, keys):
    """Sort ``order[lo:hi]`` by ``keys[order[.]]``, stably (equal keys keep their order)."""
    if hi - lo <= _INSERTION_MAX:
        for k in range(lo + 1, hi):
            row = order[k]
            key = keys[row]
            j = k - 1
            while j >= lo and keys[order[j]] > key:
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = row
        return
    run = order[lo:hi].copy()
    perm = np.argsort(keys[run], kind="mergesort")
    for k in range(hi - lo):
        order[lo + k] = run[perm[k]]


def _sort_within_users_impl(order, row_starts, iidx, ts, has_ts):
    for u in prange(row_starts.shape[0] - 1):
        lo, hi = row_starts[u], row_starts[u + 1]
        ascending = True
        for k in range(lo + 1, hi):
            step = iidx[order[k]] - iidx[order[k - 1]]
            if step < 0 or (step == 0 and has_ts):  # a repeated pair's rows may need reordering by ts
                ascending = False
                break
        if ascending:
            continue
        _stable_sort_run(order, lo, hi, iidx)
        if not has_ts:
            continue
        k = lo
        while k < hi:  # a repeated pair's rows (ascending position) by timestamp, stably
            j = k + 1
            while j < hi and iidx[order[j]] == iidx[order[k]]:
                j += 1
            if j - k > 1:
                _stable_sort_run(order, k, j, ts)
            k = j


def _distinct_per_user_impl(order, row_starts, iidx, counts):
    for u in prange(row_starts.shape[0] - 1):
        lo, hi = row_starts[u], row_starts[u + 1]
        n = 0
        for k in range(lo, hi):
            if k == lo or iidx[order[k]] != iidx[order[k - 1]]:
                n += 1
        counts[u] = n


def _merge_impl(order, row_starts, iidx, vals, ts, has_ts, policy, indptr, out_indices, out_data, out_ts):
    for u in prange(row_starts.shape[0] - 1):
        lo, hi = row_starts[u], row_starts[u + 1]
        q = indptr[u]
        k = lo
        while k < hi:
            item = iidx[order[k]]
            j = k + 1
            while j < hi and iidx[order[j]] == item:
                j += 1
            out_indices[q] = item
            if policy == _FIRST or policy == _LAST:
                row = order[k] if policy == _FIRST else order[j - 1]
                out_data[q] = vals[row]
                if has_ts:
                    out_ts[q] = ts[row]
            else:
                total = 0.0
                for m in range(k, j):
                    total += np.float64(vals[order[m]])
                out_data[q] = total if policy == _SUM else total / (j - k)
                if has_ts:
                    latest = ts[order[k]]
                    for m in range(k + 1, j):
                        latest = max(latest, ts[order[m]])
                    out_ts[q] = latest
            q += 1
            k = j


_sort_within_users_parallel, _sort_within_users_serial = serial_and_parallel(_sort_within_users_impl)
_distinct_per_user_parallel, _distinct_per_user_serial = serial_and_parallel(_distinct_per_user_impl)
_merge_parallel, _merge_serial = serial_and_parallel(_merge_impl)


def _timestamps(ts: np.ndarray | None) -> tuple[np.ndarray, bool]:
    if ts is None:
        return np.zeros(0, dtype=np.int64), False
    return np.ascontiguousarray(ts, dtype=np.int64), True


def pair_order(
    uidx: np.ndarray, iidx: np.ndarray, ts: np.ndarray | None, n_users: int
) -> tuple[np.ndarray, np.ndarray]:
    """The rows sorted by (user, item, timestamp, input position), bucketed by user.

    Parameters
    ----------
    uidx, iidx : int arrays (n,)
        Every row's user in ``[0, n_users)`` and item (non-negative).
    ts : int64 array (n,) or None
        Timestamps; they order only the rows of a repeated pair.
    n_users : int

    Returns
    -------
    order : int64 (n,)
        Row positions in sorted order (the same permutation as a stable sort of the key
        ``user * n_items + item``, with each repeated pair's rows re-sorted by timestamp).
    row_starts : int64 (n_users + 1,)
        ``order[row_starts[u]:row_starts[u + 1]]`` are the rows of user ``u``.
    """
    uidx = np.ascontiguousarray(uidx, dtype=np.int32)
    iidx = np.ascontiguousarray(iidx, dtype=np.int32)
    stamps, has_ts = _timestamps(ts)
    row_starts = np.zeros(n_users + 1, dtype=np.int64)
    order = np.empty(uidx.shape[0], dtype=np.int64)
    _bucket_by_user(uidx, n_users, row_starts, order)
    sort = _sort_within_users_parallel if parallel_allowed() else _sort_within_users_serial
    sort(order, row_starts, iidx, stamps, has_ts)
    return order, row_starts


def distinct_per_user(order: np.ndarray, row_starts: np.ndarray, iidx: np.ndarray) -> np.ndarray:
    """Distinct items of every user (the CSR's row lengths), int64, from `pair_order`'s output."""
    counts = np.zeros(row_starts.shape[0] - 1, dtype=np.int64)
    count = _distinct_per_user_parallel if parallel_allowed() else _distinct_per_user_serial
    count(order, row_starts, np.ascontiguousarray(iidx, dtype=np.int32), counts)
    return counts


def merge_duplicates(
    order: np.ndarray,
    row_starts: np.ndarray,
    iidx: np.ndarray,
    vals: np.ndarray,
    ts: np.ndarray | None,
    indptr: np.ndarray,
    policy: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The CSR's indices (int32), data (float32) and timestamps (int64 or None).

    ``indptr`` (int64, from `distinct_per_user`'s counts) places each user's merged items;
    ``policy`` is a key of `MERGE_POLICIES`. Sums and means accumulate in float64 in sorted order.
    """
    nnz = int(indptr[-1])
    stamps, has_ts = _timestamps(ts)
    values = vals if vals.dtype in (np.float32, np.float64) else vals.astype(np.float64)
    out_indices = np.empty(nnz, dtype=np.int32)
    out_data = np.empty(nnz, dtype=np.float32)
    out_ts = np.empty(nnz if has_ts else 0, dtype=np.int64)
    merge = _merge_parallel if parallel_allowed() else _merge_serial
    merge(
        order,
        row_starts,
        np.ascontiguousarray(iidx, dtype=np.int32),
        np.ascontiguousarray(values),
        stamps,
        has_ts,
        MERGE_POLICIES[policy],
        np.ascontiguousarray(indptr, dtype=np.int64),
        out_indices,
        out_data,
        out_ts,
    )
    return out_indices, out_data, (out_ts if has_ts else None)


def _warm() -> None:
    uidx = np.array([1, 0, 1, 1], dtype=np.int32)
    iidx = np.array([2, 0, 2, 1], dtype=np.int32)
    stamps = np.array([5, 1, 3, 2], dtype=np.int64)
    for ts in (None, stamps):
        order, row_starts = pair_order(uidx, iidx, ts, 2)
        counts = distinct_per_user(order, row_starts, iidx)
        indptr = np.zeros(3, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        for vals in (np.ones(4, dtype=np.float32), np.ones(4, dtype=np.float64)):
            merge_duplicates(order, row_starts, iidx, vals, ts, indptr, "sum")
