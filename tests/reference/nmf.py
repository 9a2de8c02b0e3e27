"""Slow plain-numpy twin of likewise.kernels.nmf: Surprise's NMF epoch, loop for loop (float64)."""

import numpy as np


def nmf_epoch_reference(users, items, ratings, mu, bu, bi, pu, qi, lrs, regs, reg_pu, reg_qi, biased):
    """One epoch over the ratings in the given order; updates all arrays in place, returns the SSE."""
    lr_bu, lr_bi = lrs
    reg_bu, reg_bi = regs
    n_users, n_factors = pu.shape
    n_items = qi.shape[0]
    user_num = np.zeros((n_users, n_factors))
    user_denom = np.zeros((n_users, n_factors))
    item_num = np.zeros((n_items, n_factors))
    item_denom = np.zeros((n_items, n_factors))
    sse = 0.0
    for u, i, r in zip(users, items, ratings, strict=True):
        dot = sum(qi[i, f] * pu[u, f] for f in range(n_factors))
        est = mu + bu[u] + bi[i] + dot
        err = r - est
        sse += err * err
        if biased:
            bu[u] += lr_bu * (err - reg_bu * bu[u])
            bi[i] += lr_bi * (err - reg_bi * bi[i])
        for f in range(n_factors):
            user_num[u, f] += qi[i, f] * r
            user_denom[u, f] += qi[i, f] * est
            item_num[i, f] += pu[u, f] * r
            item_denom[i, f] += pu[u, f] * est
    user_counts = np.bincount(np.asarray(users), minlength=n_users)
    item_counts = np.bincount(np.asarray(items), minlength=n_items)
    for u in range(n_users):
        for f in range(n_factors):
            if pu[u, f] != 0 and user_counts[u] > 0:
                user_denom[u, f] += user_counts[u] * reg_pu * pu[u, f]
                pu[u, f] *= user_num[u, f] / user_denom[u, f]
    for i in range(n_items):
        for f in range(n_factors):
            if qi[i, f] != 0 and item_counts[i] > 0:
                item_denom[i, f] += item_counts[i] * reg_qi * qi[i, f]
                qi[i, f] *= item_num[i, f] / item_denom[i, f]
    return sse
