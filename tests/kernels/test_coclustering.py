"""Co-clustering kernels against Surprise's loops (tests/reference/coclustering.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.kernels.coclustering import assign_clusters, cluster_averages
from tests.kernels.test_sgd import random_ratings
from tests.reference.coclustering import averages_reference, coclustering_fit_reference

HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fit_with_kernels(matrix, cu, ci, k_u, k_i, n_epochs, parallel):
    coo = matrix.tocoo()
    users, items, ratings = coo.row, coo.col, coo.data.astype(np.float64)
    mu = ratings.mean()
    counts_u = np.bincount(users, minlength=matrix.shape[0])
    counts_i = np.bincount(items, minlength=matrix.shape[1])
    um = np.where(counts_u > 0, np.bincount(users, ratings, matrix.shape[0]) / np.maximum(counts_u, 1), mu)
    im = np.where(counts_i > 0, np.bincount(items, ratings, matrix.shape[1]) / np.maximum(counts_i, 1), mu)
    csc = matrix.tocsc()
    csc.sort_indices()
    cu, ci = cu.copy(), ci.copy()
    for _ in range(n_epochs):
        au, ai, co = cluster_averages(users, items, ratings, cu, ci, k_u, k_i, mu)
        cu = assign_clusters(
            matrix.indptr, matrix.indices, matrix.data, um, im, ci, co, au, ai, rows_are_users=True, parallel=parallel
        )
        ci = assign_clusters(
            csc.indptr, csc.indices, csc.data, im, um, cu, co, ai, au, rows_are_users=False, parallel=parallel
        )
    au, ai, co = cluster_averages(users, items, ratings, cu, ci, k_u, k_i, mu)
    return cu, ci, au, ai, co


@given(seed=st.integers(0, 10_000), k_u=st.integers(1, 4), k_i=st.integers(1, 4), parallel=st.booleans())
@HYPO
def test_coclustering_matches_surprise_loops(seed, k_u, k_i, parallel):
    matrix = random_ratings(seed, n_users=9, n_items=8)
    rng = np.random.default_rng(seed)
    cu0 = rng.integers(0, k_u, matrix.shape[0])
    ci0 = rng.integers(0, k_i, matrix.shape[1])
    ur = [list(zip(matrix[u].indices.tolist(), matrix[u].data.tolist(), strict=True)) for u in range(matrix.shape[0])]
    csc = matrix.tocsc()
    ir = [list(zip(csc[:, i].indices.tolist(), csc[:, i].data.tolist(), strict=True)) for i in range(matrix.shape[1])]
    want = coclustering_fit_reference(ur, ir, *matrix.shape, cu0, ci0, k_u, k_i, 3)
    got = fit_with_kernels(matrix, cu0, ci0, k_u, k_i, 3, parallel)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    for a, b in zip(got[2:], want[2:5], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_averages_fall_back_to_global_mean():
    users, items, ratings = np.array([0, 0, 1]), np.array([0, 1, 1]), np.array([4.0, 2.0, 3.0])
    au, ai, co = cluster_averages(users, items, ratings, np.array([0, 0]), np.array([0, 1]), 2, 2, 3.0)
    ref = averages_reference(users, items, ratings, [0, 0], [0, 1], 2, 2, 3.0)
    np.testing.assert_allclose(au, [3.0, 3.0])  # cluster 1 is empty -> global mean
    np.testing.assert_allclose(co, [[4.0, 2.5], [3.0, 3.0]])
    for a, b in zip((au, ai, co), ref, strict=True):
        np.testing.assert_allclose(a, b)
