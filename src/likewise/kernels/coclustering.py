"""Co-clustering (George & Merugu 2005, as Surprise): cluster averages and the assignment steps.

Prediction for user u in user cluster ``a`` and item i in item cluster ``b``::

    r_hat = avg_co[a, b] + (mean_u - avg_user_cluster[a]) + (mean_i - avg_item_cluster[b])

An epoch computes the averages from the current assignment, then reassigns every user to the
cluster minimising the squared error over their ratings (item clusters fixed), then every item
(with the new user clusters). Each assignment depends only on the averages and the other side's
clusters, so rows are independent and run in parallel; ties go to the lowest cluster. The sum
is accumulated in float64 in Surprise's order of operations.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from likewise.kernels._jit import serial_and_parallel
from likewise.kernels._threads import parallel_allowed

__all__ = ["assign_clusters", "cluster_averages"]


def _assign_impl(
    indptr, indices, data, row_mean, col_mean, col_cluster, co_avg, row_cl_avg, col_cl_avg, rows_are_users, out
):
    n_row_cl = row_cl_avg.shape[0]
    for row in prange(indptr.shape[0] - 1):
        best = 0
        best_err = np.inf
        rm = row_mean[row]
        for rc in range(n_row_cl):
            err = 0.0
            for k in range(indptr[row], indptr[row + 1]):
                col = indices[k]
                cc = col_cluster[col]
                if rows_are_users:
                    est = co_avg[rc, cc] + rm - row_cl_avg[rc] + col_mean[col] - col_cl_avg[cc]
                else:
                    est = co_avg[cc, rc] + col_mean[col] - col_cl_avg[cc] + rm - row_cl_avg[rc]
                diff = data[k] - est
                err += diff * diff
            if err < best_err:
                best_err = err
                best = rc
        out[row] = best


_assign_parallel, _assign_serial = serial_and_parallel(_assign_impl)


def assign_clusters(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    row_mean: np.ndarray,
    col_mean: np.ndarray,
    col_cluster: np.ndarray,
    co_avg: np.ndarray,
    row_cluster_avg: np.ndarray,
    col_cluster_avg: np.ndarray,
    *,
    rows_are_users: bool,
    parallel: bool = True,
) -> np.ndarray:
    """Best cluster of each CSR row given the other side's clusters and the averages.

    Parameters
    ----------
    indptr, indices, data : ndarray
        Users x items CSR (``rows_are_users=True``) or its transpose, items x users.
    row_mean, col_mean : ndarray of float64
        Mean rating of each row / column.
    col_cluster : ndarray of int64
        Cluster of each column.
    co_avg : ndarray of float64, (n_user_clusters, n_item_clusters)
        Co-cluster averages, always users first.
    row_cluster_avg, col_cluster_avg : ndarray of float64
        Averages of the row-side and column-side clusters.
    rows_are_users : bool
        Whether the rows are users (selects the order of terms, as Surprise writes them).
    parallel : bool

    Returns
    -------
    ndarray of int64
        Chosen cluster per row (0 for rows without ratings).
    """
    out = np.empty(indptr.shape[0] - 1, dtype=np.int64)
    kernel = _assign_parallel if parallel and parallel_allowed() else _assign_serial
    kernel(
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(indices, dtype=np.int32),
        np.ascontiguousarray(data, dtype=np.float64),
        np.ascontiguousarray(row_mean, dtype=np.float64),
        np.ascontiguousarray(col_mean, dtype=np.float64),
        np.ascontiguousarray(col_cluster, dtype=np.int64),
        np.ascontiguousarray(co_avg, dtype=np.float64),
        np.ascontiguousarray(row_cluster_avg, dtype=np.float64),
        np.ascontiguousarray(col_cluster_avg, dtype=np.float64),
        bool(rows_are_users),
        out,
    )
    return out


def cluster_averages(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    user_cluster: np.ndarray,
    item_cluster: np.ndarray,
    n_user_clusters: int,
    n_item_clusters: int,
    global_mean: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean rating of each user cluster, item cluster and co-cluster (float64).

    Empty clusters get `global_mean`. Vectorised with ``np.bincount`` (one pass each).

    Returns
    -------
    (avg_user_cluster, avg_item_cluster, avg_co)
    """
    uc = user_cluster[users]
    ic = item_cluster[items]
    r = ratings.astype(np.float64)

    def mean(keys: np.ndarray, size: int) -> np.ndarray:
        sums = np.bincount(keys, weights=r, minlength=size)
        counts = np.bincount(keys, minlength=size)
        out = np.full(size, float(global_mean))
        np.divide(sums, counts, out=out, where=counts > 0)
        return out

    co = mean(uc * n_item_clusters + ic, n_user_clusters * n_item_clusters).reshape(n_user_clusters, n_item_clusters)
    return mean(uc, n_user_clusters), mean(ic, n_item_clusters), co


def _warm() -> None:
    """Compile every kernel of this module on tiny arrays of the production dtypes."""
    indptr = np.array([0, 2, 3], dtype=np.int64)
    indices = np.array([0, 1, 1], dtype=np.int32)
    data = np.array([4.0, 2.0, 5.0], dtype=np.float32)
    means = np.array([3.0, 5.0])
    for parallel in (False, True):
        assign_clusters(
            indptr,
            indices,
            data,
            means,
            means,
            np.zeros(2, np.int64),
            np.ones((2, 2)),
            means,
            means,
            rows_are_users=parallel,
            parallel=parallel,
        )
