"""Slow loop twin of likewise.kernels.timesvd: one timeSVD++ epoch written from the formulas.

Float64 and literal: the implicit sum is recomputed from the y_j for every user, the
prediction is summed term by term, and the y_j receive the user's summed gradient after the
user's ratings (the per-user form the kernel documents).
"""

import numpy as np


def timesvdpp_epoch_reference(order, user_items, mu, state, lrs, regs):
    """One epoch over `order` = (users, items, ratings, dev, bins, slots); updates `state` in place.

    ``state`` = [bu, bi, pu, qi, yj, alpha_u, alpha_p, day_bias, bin_bias] (float64 arrays);
    ``user_items[u]`` lists N(u). Returns the sum of squared errors.
    """
    bu, bi, pu, qi, yj, alpha_u, alpha_p, day_bias, bin_bias = state
    lr_bu, lr_bi, lr_pu, lr_qi, lr_yj, lr_a, lr_day, lr_bin = lrs
    rg_bu, rg_bi, rg_pu, rg_qi, rg_yj, rg_a, rg_day, rg_bin = regs
    users, items, ratings, dev, bins, slots = order
    sse = 0.0
    k = 0
    while k < len(users):
        u = users[k]
        block = [kk for kk in range(k, len(users)) if users[kk] == u]
        block = block[: next((n for n, kk in enumerate(block) if kk != k + n), len(block))]
        rated = user_items[u]
        inv_sqrt = 1.0 / np.sqrt(max(len(rated), 1))
        z = sum((yj[j] for j in rated), np.zeros(pu.shape[1])) * inv_sqrt
        grad_y = np.zeros(pu.shape[1])
        for kk in block:
            i, d, b, s = items[kk], dev[kk], bins[kk], slots[kk]
            user_vec = pu[u] + alpha_p[u] * d + z
            pred = mu + bu[u] + alpha_u[u] * d + day_bias[s] + bi[i] + bin_bias[i, b] + qi[i] @ user_vec
            err = ratings[kk] - pred
            sse += err * err
            q_old, p_old, a_old = qi[i].copy(), pu[u].copy(), alpha_p[u].copy()
            bu[u] += lr_bu * (err - rg_bu * bu[u])
            alpha_u[u] += lr_a * (err * d - rg_a * alpha_u[u])
            day_bias[s] += lr_day * (err - rg_day * day_bias[s])
            bi[i] += lr_bi * (err - rg_bi * bi[i])
            bin_bias[i, b] += lr_bin * (err - rg_bin * bin_bias[i, b])
            qi[i] += lr_qi * (err * user_vec - rg_qi * q_old)
            pu[u] += lr_pu * (err * q_old - rg_pu * p_old)
            alpha_p[u] += lr_a * (err * q_old * d - rg_a * a_old)
            grad_y += err * q_old
        for j in rated:
            yj[j] += lr_yj * (grad_y * inv_sqrt - len(block) * rg_yj * yj[j])
        k += len(block)
    return sse
