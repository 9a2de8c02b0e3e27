"""Non-negative matrix factorisation by multiplicative updates (Luo et al. 2014, as Surprise).

One epoch, over the ratings in a `likewise.kernels.sgd.build_schedule` schedule:

1. for each rating, :math:`\\hat r = \\mu + b_u + b_i + q_i \\cdot p_u` (:math:`\\mu`, biases 0
   when unbiased), error :math:`e = r - \\hat r`; biased: SGD steps on :math:`b_u, b_i`; and
   accumulate ``user_num[u] += q_i r``, ``user_den[u] += q_i r_hat``, ``item_num[i] += p_u r``,
   ``item_den[i] += p_u r_hat`` (old biases and factors);
2. for every user and factor with :math:`p_{uf} \\ne 0`:
   :math:`p_{uf} \\leftarrow p_{uf} \\cdot num / (den + |I_u| \\lambda_p p_{uf})`, and likewise for
   items with :math:`|U_i| \\lambda_q`.

The accumulation runs in the block schedule (threads own disjoint users and items, so results
are deterministic for a given number of groups); the multiplicative step is parallel over rows.
A factor whose denominator is not positive (possible only with biases and unusual data) is
left unchanged, so factors never turn negative.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from likewise.kernels._jit import serial_and_parallel
from likewise.kernels._prefetch import prefetch
from likewise.kernels._threads import parallel_allowed
from likewise.kernels.sgd import AHEAD, FASTMATH

__all__ = ["nmf_accumulate", "nmf_multiplicative_update"]


def _nmf_accumulate_impl(
    users, items, ratings, block_ptr, n_groups, mu, bu, bi, pu, qi, lrs, regs, biased, unum, uden, inum, iden, sq_err
):
    lr_bu, lr_bi = lrs[0], lrs[1]
    reg_bu, reg_bi = regs[0], regs[1]
    n_factors = pu.shape[1]
    for s in range(n_groups):
        for t in prange(n_groups):
            b = s * n_groups + t
            total = 0.0
            end = block_ptr[b + 1]
            for k in range(block_ptr[b], end):
                if k + AHEAD < end:
                    ahead = items[k + AHEAD]
                    for f in range(0, n_factors, 8):
                        prefetch(inum, ahead, f)
                        prefetch(iden, ahead, f)
                    for f in range(0, n_factors, 16):
                        prefetch(qi, ahead, f)
                u = users[k]
                i = items[k]
                r = ratings[k]
                prow = pu[u]
                qrow = qi[i]
                dot = np.float32(0.0)
                for f in range(n_factors):
                    dot += qrow[f] * prow[f]
                est = mu + bu[u] + bi[i] + dot
                err = r - est
                total += err * err
                if biased:
                    bu[u] += lr_bu * (err - reg_bu * bu[u])
                    bi[i] += lr_bi * (err - reg_bi * bi[i])
                for f in range(n_factors):
                    qif = np.float64(qrow[f])
                    puf = np.float64(prow[f])
                    unum[u, f] += qif * r
                    uden[u, f] += qif * est
                    inum[i, f] += puf * r
                    iden[i, f] += puf * est
            sq_err[b] = total


_accumulate_parallel, _accumulate_serial = serial_and_parallel(_nmf_accumulate_impl, fastmath=FASTMATH)


def _multiplicative_impl(factors, num, den, counts, reg):
    n_factors = factors.shape[1]
    for row in prange(factors.shape[0]):
        n = counts[row]
        for f in range(n_factors):
            value = factors[row, f]
            if value != 0:
                d = den[row, f] + n * reg * value
                if d > 0:
                    factors[row, f] = value * (num[row, f] / d)


_multiplicative_parallel, _multiplicative_serial = serial_and_parallel(_multiplicative_impl)


def nmf_accumulate(
    schedule: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    n_groups: int,
    global_mean: float,
    user_bias: np.ndarray,
    item_bias: np.ndarray,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    learning_rates: tuple[float, float],
    regs: tuple[float, float],
    biased: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Step 1 of an NMF epoch (see the module docstring); biases are updated in place.

    Parameters
    ----------
    schedule, n_groups
        From `likewise.kernels.sgd.build_schedule`.
    global_mean : float
        :math:`\\mu`, 0 when unbiased.
    user_bias, item_bias, user_factors, item_factors : float32 C-contiguous arrays
    learning_rates, regs : 2-tuples
        For (b_u, b_i); used only when `biased`.
    biased : bool

    Returns
    -------
    user_num, user_den, item_num, item_den : ndarray of float64
    sq_err : float
        Sum of squared errors of the epoch.
    """
    users, items, ratings, block_ptr = schedule
    n_users, n_factors = user_factors.shape
    n_items = item_factors.shape[0]
    unum = np.zeros((n_users, n_factors))
    uden = np.zeros((n_users, n_factors))
    inum = np.zeros((n_items, n_factors))
    iden = np.zeros((n_items, n_factors))
    sq_err = np.zeros(n_groups * n_groups)
    kernel = _accumulate_parallel if n_groups > 1 and parallel_allowed() else _accumulate_serial
    kernel(
        users,
        items,
        ratings,
        block_ptr,
        int(n_groups),
        np.float32(global_mean),
        user_bias,
        item_bias,
        user_factors,
        item_factors,
        np.asarray(learning_rates, dtype=np.float32),
        np.asarray(regs, dtype=np.float32),
        bool(biased),
        unum,
        uden,
        inum,
        iden,
        sq_err,
    )
    return unum, uden, inum, iden, float(sq_err.sum())


def nmf_multiplicative_update(
    factors: np.ndarray,
    num: np.ndarray,
    den: np.ndarray,
    counts: np.ndarray,
    reg: float,
    *,
    parallel: bool = True,
) -> None:
    """Step 2 of an NMF epoch on one side (users or items), in place.

    ``counts[row]`` is the number of ratings of the row (:math:`|I_u|` or :math:`|U_i|`),
    ``reg`` :math:`\\lambda_p` or :math:`\\lambda_q`.
    """
    kernel = _multiplicative_parallel if parallel and parallel_allowed() else _multiplicative_serial
    kernel(factors, num, den, np.ascontiguousarray(counts, dtype=np.int64), np.float64(reg))


def _warm() -> None:
    """Compile every kernel of this module on tiny arrays of the production dtypes."""
    from likewise.kernels.sgd import build_schedule

    indptr = np.array([0, 2, 3], dtype=np.int64)
    indices = np.array([0, 1, 1], dtype=np.int32)
    data = np.array([4.0, 2.0, 5.0], dtype=np.float32)
    for n_groups in (1, 2):
        groups = np.array([0, n_groups - 1], dtype=np.int32)
        schedule = build_schedule(indptr, indices, data, np.arange(2), groups, groups, n_groups)
        pu, qi = np.ones((2, 2), np.float32), np.ones((2, 2), np.float32)
        biases = np.zeros(2, np.float32), np.zeros(2, np.float32)
        unum, uden, _, _, _ = nmf_accumulate(schedule, n_groups, 0.0, *biases, pu, qi, (0.01, 0.01), (0.02, 0.02), True)
        nmf_multiplicative_update(pu, unum, uden, np.array([2, 1]), 0.06, parallel=n_groups > 1)
