"""Slope One kernels against Surprise's dense loops (tests/reference/slopeone.py)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.kernels.slopeone import deviations, slopeone_pairs, slopeone_rows
from tests.reference.slopeone import slopeone_estimate_reference, slopeone_fit_reference

HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_dense(seed: int, n_users: int = 8, n_items: int = 7, low: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.integers(low, low + 5, size=(n_users, n_items)).astype(np.float64)
    values[values == 0] = 0.5  # keep 0 meaning "not rated"
    return np.where(rng.random((n_users, n_items)) < 0.5, values, 0.0)


@given(seed=st.integers(0, 10_000), min_support=st.integers(1, 3), low=st.sampled_from([1, -4]))
@HYPO
def test_deviations_match_dense_reference(seed, min_support, low):
    dense = random_dense(seed, low=low)
    freq, dev_ref, _ = slopeone_fit_reference(dense)
    dev, support = deviations(sp.csr_matrix(dense), min_support)
    keep = freq >= min_support
    np.testing.assert_array_equal(dev.toarray() != 0, keep & (dev_ref != 0))
    np.testing.assert_allclose(dev.toarray(), np.where(keep, dev_ref, 0), atol=1e-6)
    np.testing.assert_array_equal(support.toarray(), np.where(keep, freq, 0))
    np.testing.assert_array_equal(dev.indptr, support.indptr)
    np.testing.assert_allclose(dev.toarray(), -dev.toarray().T, atol=1e-6)


@given(seed=st.integers(0, 10_000), min_support=st.integers(1, 2))
@HYPO
def test_scores_match_surprise_estimate(seed, min_support):
    dense = random_dense(seed)
    dense[0] = 0.0  # a user without ratings
    freq, dev_ref, user_mean = slopeone_fit_reference(dense)
    matrix = sp.csr_matrix(dense)
    matrix.sort_indices()
    dev, _ = deviations(matrix, min_support)
    means = np.nan_to_num(user_mean, nan=3.0)
    users = np.arange(dense.shape[0])
    for parallel in (False, True):
        rows = slopeone_rows(matrix.indptr, matrix.indices, users, dev, means, 3.0, parallel=parallel)
        for u in users:
            for i in range(dense.shape[1]):
                if np.isnan(user_mean[u]):  # no ratings: the fallback
                    want = 3.0
                else:
                    want = slopeone_estimate_reference(dense, freq, dev_ref, user_mean, u, i, min_support)
                assert abs(rows[u, i] - want) < 1e-5
    uu, ii = np.meshgrid(users, np.arange(dense.shape[1]), indexing="ij")
    pairs = slopeone_pairs(uu.ravel(), ii.ravel(), matrix.indptr, matrix.indices, dev, means, 3.0)
    np.testing.assert_allclose(pairs, rows.ravel(), rtol=1e-6, atol=1e-6)
    many = np.arange(5000) % uu.size  # large requests take the parallel build
    pairs = slopeone_pairs(uu.ravel()[many], ii.ravel()[many], matrix.indptr, matrix.indices, dev, means, 3.0)
    np.testing.assert_allclose(pairs, rows.ravel()[many], rtol=1e-6, atol=1e-6)
