"""SGD epoch of timeSVD++ (Koren 2009, "Collaborative filtering with temporal dynamics").

.. math::
    \\hat r_{ui}(t) = \\mu + b_i + b_{i,\\mathrm{Bin}(t)} + b_u + \\alpha_u \\mathrm{dev}_u(t) + b_{u,t}
        + q_i^T \\big(p_u + \\alpha_{p_u} \\mathrm{dev}_u(t) + |N(u)|^{-1/2} \\sum_{j \\in N(u)} y_j\\big)

The caller precomputes, per rating, :math:`\\mathrm{dev}_u(t)`, the item-bias bin and the slot
of the (user, day) bias, and orders the ratings user by user (users in a seeded random order).
Per rating the update is plain SGD on the squared error with L2 penalties, every term reading
the values from before the step (as Surprise's SVD++ does). The implicit sum is computed once
per user; the :math:`y_j` receive the user's summed gradient after the user's ratings,
:math:`y_j \\mathrel{+}= \\eta (|N(u)|^{-1/2} \\sum_k e_k q_{i_k} - n_u \\lambda y_j)` - the
per-user form Koren describes for SVD++, O(f) per rating instead of O(|N(u)| f). Serial, like
`likewise.kernels.sgd`'s SVD++ (parallel blocks would conflict on the :math:`y_j`). The loop twin
is `tests/reference/timesvd.py`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["timesvdpp_epoch"]


@numba.njit(cache=True, nogil=True)
def _epoch(
    users,
    items,
    ratings,
    dev,
    bins,
    slots,
    indptr,
    indices,
    mu,
    bu,
    bi,
    pu,
    qi,
    yj,
    alpha_u,
    alpha_p,
    day_bias,
    bin_bias,
    lrs,
    regs,
    z,
    acc,
    eff,
):
    lr_bu, lr_bi, lr_pu, lr_qi, lr_yj, lr_a, lr_day, lr_bin = (
        lrs[0],
        lrs[1],
        lrs[2],
        lrs[3],
        lrs[4],
        lrs[5],
        lrs[6],
        lrs[7],
    )
    rg_bu, rg_bi, rg_pu, rg_qi, rg_yj, rg_a, rg_day, rg_bin = (
        regs[0],
        regs[1],
        regs[2],
        regs[3],
        regs[4],
        regs[5],
        regs[6],
        regs[7],
    )
    n_factors = pu.shape[1]
    n = users.shape[0]
    total = 0.0
    k = 0
    while k < n:
        u = users[k]
        end = k
        while end < n and users[end] == u:
            end += 1
        start_n, end_n = indptr[u], indptr[u + 1]
        inv_sqrt = 1.0 / math.sqrt(max(end_n - start_n, 1))
        for f in range(n_factors):
            z[f] = 0.0
            acc[f] = 0.0
        for p in range(start_n, end_n):
            for f in range(n_factors):
                z[f] += yj[indices[p], f]
        for f in range(n_factors):
            z[f] *= inv_sqrt
        for kk in range(k, end):
            i, d, b, s = items[kk], dev[kk], bins[kk], slots[kk]
            dot = 0.0
            for f in range(n_factors):
                eff[f] = pu[u, f] + alpha_p[u, f] * d + z[f]
                dot += qi[i, f] * eff[f]
            err = ratings[kk] - (mu + bu[u] + alpha_u[u] * d + day_bias[s] + bi[i] + bin_bias[i, b] + dot)
            total += err * err
            bu[u] += lr_bu * (err - rg_bu * bu[u])
            alpha_u[u] += lr_a * (err * d - rg_a * alpha_u[u])
            day_bias[s] += lr_day * (err - rg_day * day_bias[s])
            bi[i] += lr_bi * (err - rg_bi * bi[i])
            bin_bias[i, b] += lr_bin * (err - rg_bin * bin_bias[i, b])
            for f in range(n_factors):
                qf, pf, af = qi[i, f], pu[u, f], alpha_p[u, f]
                qi[i, f] += lr_qi * (err * eff[f] - rg_qi * qf)
                pu[u, f] += lr_pu * (err * qf - rg_pu * pf)
                alpha_p[u, f] += lr_a * (err * qf * d - rg_a * af)
                acc[f] += err * qf
        n_block = end - k
        for p in range(start_n, end_n):
            j = indices[p]
            for f in range(n_factors):
                yj[j, f] += lr_yj * (acc[f] * inv_sqrt - n_block * rg_yj * yj[j, f])
        k = end
    return total


def _f32(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)


def timesvdpp_epoch(
    order: tuple[np.ndarray, ...],
    indptr: np.ndarray,
    indices: np.ndarray,
    mu: float,
    state: tuple[np.ndarray, ...],
    lrs: tuple[float, ...],
    regs: tuple[float, ...],
) -> float:
    """One epoch in place; returns the sum of squared errors seen.

    Parameters
    ----------
    order : (users, items, ratings, dev, bins, slots)
        The ratings in processing order (each user's in a row) with their
        :math:`\\mathrm{dev}_u(t)`, item-bias bin and (user, day) slot.
    indptr, indices : CSR of the training matrix (N(u))
    mu : float
    state : (bu, bi, pu, qi, yj, alpha_u, alpha_p, day_bias, bin_bias)
        C-contiguous float32 arrays, updated in place.
    lrs, regs : 8 floats each
        For bu, bi, pu, qi, yj, the drift terms (alpha_u and alpha_pu), day biases, bin biases.
    """
    for array in state:
        if array.dtype != np.float32 or not array.flags.c_contiguous:
            raise ValueError("timeSVD++ state must be C-contiguous float32 arrays")
    users, items, ratings, dev, bins, slots = order
    f = state[2].shape[1]
    scratch = [np.zeros(f, np.float32) for _ in range(3)]
    return float(
        _epoch(  # type: ignore[call-arg]
            np.ascontiguousarray(users, np.int32),
            np.ascontiguousarray(items, np.int32),
            _f32(ratings),
            _f32(dev),
            np.ascontiguousarray(bins, np.int32),
            np.ascontiguousarray(slots, np.int64),
            np.ascontiguousarray(indptr, np.int64),
            np.ascontiguousarray(indices, np.int32),
            np.float32(mu),
            *state,
            _f32(np.array(lrs)),
            _f32(np.array(regs)),
            *scratch,
        )
    )


def _warm() -> None:
    """Compile the epoch kernel on tiny arrays of the production dtypes."""
    indptr, indices = np.array([0, 2, 3], np.int64), np.array([0, 1, 1], np.int32)
    order = (np.array([0, 0, 1]), indices, np.array([4.0, 2.0, 5.0]), np.zeros(3), np.zeros(3), np.array([0, 0, 1]))
    f32 = np.float32
    state = (
        np.zeros(2, f32),
        np.zeros(2, f32),
        np.ones((2, 2), f32),
        np.ones((2, 2), f32),
        np.ones((2, 2), f32),
        np.zeros(2, f32),
        np.zeros((2, 2), f32),
        np.zeros(2, f32),
        np.zeros((2, 1), f32),
    )
    timesvdpp_epoch(order, indptr, indices, 3.0, state, (0.01,) * 8, (0.02,) * 8)
