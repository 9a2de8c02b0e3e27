"""Slow plain-numpy twin of likewise.kernels.coclustering: Surprise's CoClustering, loop for loop."""

import numpy as np


def averages_reference(users, items, ratings, cltr_u, cltr_i, n_cltr_u, n_cltr_i, global_mean):
    count_u, count_i = np.zeros(n_cltr_u), np.zeros(n_cltr_i)
    count_co = np.zeros((n_cltr_u, n_cltr_i))
    sum_u, sum_i = np.zeros(n_cltr_u), np.zeros(n_cltr_i)
    sum_co = np.zeros((n_cltr_u, n_cltr_i))
    for u, i, r in zip(users, items, ratings, strict=True):
        uc, ic = cltr_u[u], cltr_i[i]
        count_u[uc] += 1
        count_i[ic] += 1
        count_co[uc, ic] += 1
        sum_u[uc] += r
        sum_i[ic] += r
        sum_co[uc, ic] += r
    avg_u = np.array([sum_u[c] / count_u[c] if count_u[c] else global_mean for c in range(n_cltr_u)])
    avg_i = np.array([sum_i[c] / count_i[c] if count_i[c] else global_mean for c in range(n_cltr_i)])
    avg_co = np.array(
        [
            [sum_co[a, b] / count_co[a, b] if count_co[a, b] else global_mean for b in range(n_cltr_i)]
            for a in range(n_cltr_u)
        ]
    )
    return avg_u, avg_i, avg_co


def coclustering_fit_reference(ur, ir, n_users, n_items, cltr_u, cltr_i, n_cltr_u, n_cltr_i, n_epochs):
    """Surprise's fit from given initial clusters; ``ur[u]`` / ``ir[i]`` list (item, r) / (user, r).

    Returns the final (cltr_u, cltr_i, avg_u, avg_i, avg_co, user_mean, item_mean)."""
    cltr_u, cltr_i = np.array(cltr_u), np.array(cltr_i)
    all_ratings = [(u, i, r) for u in range(n_users) for i, r in ur[u]]
    users = [x[0] for x in all_ratings]
    items = [x[1] for x in all_ratings]
    ratings = [x[2] for x in all_ratings]
    global_mean = np.mean(ratings)
    user_mean = np.array([np.mean([r for _, r in ur[u]]) if ur[u] else global_mean for u in range(n_users)])
    item_mean = np.array([np.mean([r for _, r in ir[i]]) if ir[i] else global_mean for i in range(n_items)])
    for _ in range(n_epochs):
        avg_u, avg_i, avg_co = averages_reference(
            users, items, ratings, cltr_u, cltr_i, n_cltr_u, n_cltr_i, global_mean
        )
        for u in range(n_users):
            errors = np.zeros(n_cltr_u)
            for uc in range(n_cltr_u):
                for i, r in ur[u]:
                    ic = cltr_i[i]
                    est = avg_co[uc, ic] + user_mean[u] - avg_u[uc] + item_mean[i] - avg_i[ic]
                    errors[uc] += (r - est) ** 2
            cltr_u[u] = np.argmin(errors)
        for i in range(n_items):
            errors = np.zeros(n_cltr_i)
            for ic in range(n_cltr_i):
                for u, r in ir[i]:
                    uc = cltr_u[u]
                    est = avg_co[uc, ic] + user_mean[u] - avg_u[uc] + item_mean[i] - avg_i[ic]
                    errors[ic] += (r - est) ** 2
            cltr_i[i] = np.argmin(errors)
    avg_u, avg_i, avg_co = averages_reference(users, items, ratings, cltr_u, cltr_i, n_cltr_u, n_cltr_i, global_mean)
    return cltr_u, cltr_i, avg_u, avg_i, avg_co, user_mean, item_mean
