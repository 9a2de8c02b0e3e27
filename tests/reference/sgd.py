"""Slow plain-numpy twins of likewise.kernels.sgd, written straight from Surprise's loops.

Everything is float64 and literal: SVD++ recomputes the implicit sum from the y_j at every
rating and updates every y_j of the user at every rating (Surprise's O(|N(u)| f) per rating).
"""

import numpy as np


def svd_epoch_reference(users, items, ratings, mu, bu, bi, pu, qi, lrs, regs, update_bias=True):
    """One SGD epoch of biased SVD over the ratings in the given order; updates in place."""
    lr_bu, lr_bi, lr_pu, lr_qi = lrs
    reg_bu, reg_bi, reg_pu, reg_qi = regs
    sse = 0.0
    for u, i, r in zip(users, items, ratings, strict=True):
        err = r - (mu + bu[u] + bi[i] + np.dot(qi[i], pu[u]))
        sse += err * err
        if update_bias:
            bu[u] += lr_bu * (err - reg_bu * bu[u])
            bi[i] += lr_bi * (err - reg_bi * bi[i])
        puf = pu[u].copy()
        qif = qi[i].copy()
        pu[u] += lr_pu * (err * qif - reg_pu * puf)
        qi[i] += lr_qi * (err * puf - reg_qi * qif)
    return sse


def svdpp_epoch_reference(users, items, ratings, user_items, mu, bu, bi, pu, qi, yj, lrs, regs):
    """Surprise's SVD++ epoch, rating by rating. ``user_items[u]`` lists N(u)."""
    lr_bu, lr_bi, lr_pu, lr_qi, lr_yj = lrs
    reg_bu, reg_bi, reg_pu, reg_qi, reg_yj = regs
    sse = 0.0
    for u, i, r in zip(users, items, ratings, strict=True):
        iu = user_items[u]
        sqrt_iu = np.sqrt(len(iu))
        z = sum(yj[j] / sqrt_iu for j in iu)
        err = r - (mu + bu[u] + bi[i] + np.dot(qi[i], pu[u] + z))
        sse += err * err
        bu[u] += lr_bu * (err - reg_bu * bu[u])
        bi[i] += lr_bi * (err - reg_bi * bi[i])
        puf = pu[u].copy()
        qif = qi[i].copy()
        pu[u] += lr_pu * (err * qif - reg_pu * puf)
        qi[i] += lr_qi * (err * (puf + z) - reg_qi * qif)
        for j in iu:
            yj[j] += lr_yj * (err * qif / sqrt_iu - reg_yj * yj[j])
    return sse
