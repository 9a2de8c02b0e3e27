"""NMF kernels against Surprise's loop (tests/reference/nmf.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.kernels.nmf import nmf_accumulate, nmf_multiplicative_update
from tests.kernels.test_sgd import random_ratings, schedule_for
from tests.reference.nmf import nmf_epoch_reference

HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_epoch(schedule, n_groups, mu, state, biased, user_counts, item_counts, reg_pu, reg_qi):
    bu, bi, pu, qi = state
    unum, uden, inum, iden, sse = nmf_accumulate(
        schedule, n_groups, mu, bu, bi, pu, qi, (0.01, 0.02), (0.03, 0.04), biased
    )
    nmf_multiplicative_update(pu, unum, uden, user_counts, reg_pu, parallel=n_groups > 1)
    nmf_multiplicative_update(qi, inum, iden, item_counts, reg_qi, parallel=n_groups > 1)
    return sse


@given(seed=st.integers(0, 10_000), n_groups=st.integers(1, 3), n_factors=st.integers(1, 6), biased=st.booleans())
@HYPO
def test_nmf_epoch_matches_reference(seed, n_groups, n_factors, biased):
    matrix = random_ratings(seed)
    schedule, *_ = schedule_for(matrix, n_groups, seed)
    rng = np.random.default_rng(seed)
    n_users, n_items = matrix.shape
    state = [
        np.zeros(n_users, np.float32),
        np.zeros(n_items, np.float32),
        rng.uniform(0, 1, (n_users, n_factors)).astype(np.float32),
        rng.uniform(0, 1, (n_items, n_factors)).astype(np.float32),
    ]
    expected = [a.astype(np.float64) for a in state]
    mu = 3.1 if biased else 0.0
    user_counts = np.diff(matrix.indptr)
    item_counts = np.bincount(matrix.indices, minlength=n_items)
    for _ in range(3):
        sse = run_epoch(schedule, n_groups, mu, state, biased, user_counts, item_counts, 0.06, 0.05)
        sse_ref = nmf_epoch_reference(*schedule[:3], mu, *expected, (0.01, 0.02), (0.03, 0.04), 0.06, 0.05, biased)
    for got, want in zip(state, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=5e-4, atol=1e-5)
    assert abs(sse - sse_ref) <= 1e-3 * max(1.0, sse_ref)
    assert (state[2] >= 0).all() and (state[3] >= 0).all()


def test_multiplicative_update_keeps_zero_and_skips_bad_denominators():
    factors = np.array([[0.0, 1.0, 2.0]], dtype=np.float32)
    num = np.array([[5.0, 2.0, 3.0]])
    den = np.array([[1.0, 1.0, -10.0]])
    nmf_multiplicative_update(factors, num, den, np.array([1]), 0.0, parallel=False)
    # zero stays zero; 1 * 2/1 = 2; a non-positive denominator leaves the factor alone
    np.testing.assert_allclose(factors, [[0.0, 2.0, 2.0]])
