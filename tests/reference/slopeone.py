"""Slow plain-numpy twin of likewise.kernels.slopeone: Surprise's SlopeOne with dense matrices."""

import numpy as np


def slopeone_fit_reference(dense):
    """(freq, dev, user_mean) from a dense users x items array where 0 = not rated."""
    n_users, n_items = dense.shape
    freq = np.zeros((n_items, n_items), dtype=np.int64)
    dev = np.zeros((n_items, n_items))
    for u in range(n_users):
        rated = [(i, dense[u, i]) for i in range(n_items) if dense[u, i] != 0]
        for i, r_ui in rated:
            for j, r_uj in rated:
                freq[i, j] += 1
                dev[i, j] += r_ui - r_uj
    for i in range(n_items):
        dev[i, i] = 0
        for j in range(i + 1, n_items):
            if freq[i, j]:
                dev[i, j] /= freq[i, j]
            dev[j, i] = -dev[i, j]
    user_mean = np.array([dense[u][dense[u] != 0].mean() if (dense[u] != 0).any() else np.nan for u in range(n_users)])
    return freq, dev, user_mean


def slopeone_estimate_reference(dense, freq, dev, user_mean, u, i, min_support=1):
    """Surprise's estimate for a user and item that both have ratings."""
    ri = [j for j in range(dense.shape[1]) if dense[u, j] != 0 and freq[i, j] >= min_support]
    est = user_mean[u]
    if ri:
        est += sum(dev[i, j] for j in ri) / len(ri)
    return est
