"""The relational FM Gibbs sweep against libFM's dense coordinate loop (tests/reference/bayes_fm.py)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from likewise.kernels.bayes_fm import FMBlock, block_terms, fm_sweep, n_draws
from tests.reference.bayes_fm import coordinate_conditional, dense_design, predict_reference, sweep_reference


def _block(dense, rows_of_ratings, other_of_ratings, n_factors, group, rng):
    """An FMBlock of the dense block design; ratings k are listed under their row."""
    matrix = sp.csr_matrix(dense)
    csc = matrix.tocsc()
    csc.sort_indices()
    order = np.argsort(rows_of_ratings, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows_of_ratings, minlength=dense.shape[0]))])
    counts = np.diff(indptr)
    onehot = np.where(counts > 0, np.cumsum(counts > 0) - 1, -1).astype(np.int32)
    return FMBlock(
        matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), matrix.data.astype(np.float64),
        csc.indptr.astype(np.int64), csc.indices.astype(np.int32), csc.data.astype(np.float64),
        indptr.astype(np.int64), other_of_ratings[order].astype(np.int32), order.astype(np.int64),
        counts.astype(np.float64), onehot, int((counts > 0).sum()), np.asarray(group, np.int32),
        rng.normal(size=dense.shape[1]), np.ascontiguousarray(rng.normal(0, 0.5, (n_factors, dense.shape[1]))),
    )  # fmt: skip


def _problem(seed, n_users=5, n_items=4, n_ratings=12, n_factors=2, empty_last_user=False):
    """Random sparse block designs (a one-hot part and a weighted part per side), random ratings."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users - int(empty_last_user), n_ratings)
    items = rng.integers(0, n_items, n_ratings)
    extra_u = (rng.random((n_users, 3)) < 0.5) * rng.normal(size=(n_users, 3))
    extra_i = (rng.random((n_items, 2)) < 0.5) * rng.uniform(0.2, 1.0, (n_items, 2))
    # one-hot columns first, for the rows with ratings only (as the model builds them)
    user_eye = np.eye(n_users)[:, np.isin(np.arange(n_users), users)]
    item_eye = np.eye(n_items)[:, np.isin(np.arange(n_items), items)]
    user_dense = np.hstack([user_eye, extra_u])
    item_dense = np.hstack([item_eye, extra_i])
    user_group = [0] * user_eye.shape[1] + [1] * 3
    item_group = [2] * item_eye.shape[1] + [3] * 2
    y = rng.normal(size=n_ratings)
    user = _block(user_dense, users, items, n_factors, user_group, rng)
    item = _block(item_dense, items, users, n_factors, item_group, rng)
    hyper = (rng.normal(size=4), rng.uniform(0.5, 2.0, 4), rng.normal(size=(n_factors, 4)),
             rng.uniform(0.5, 2.0, (n_factors, 4)))  # fmt: skip
    X = dense_design(user_dense, item_dense, users, items)
    return user, item, X, y, hyper, rng


def _onehot_columns(user, item):
    """The dense design's one-hot columns: the user block's first, then the item block's."""
    return list(range(user.n_onehot)) + [user.n_features + c for c in range(item.n_onehot)]


def _dense_params(user, item):
    return np.concatenate([user.linear, item.linear]), np.hstack([user.factors, item.factors]).T


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_factors=st.integers(1, 3), n_ratings=st.integers(1, 20))
def test_sweep_equals_the_dense_coordinate_loop(seed, n_factors, n_ratings):
    user, item, X, y, hyper, rng = _problem(seed, n_ratings=n_ratings, n_factors=n_factors)
    w, V = _dense_params(user, item)
    w0, alpha = 0.3, 1.7
    group = np.concatenate([user.group, item.group])
    z = rng.standard_normal(n_draws(user, item))
    ref_w0, ref_w, ref_V, ref_e = sweep_reference(
        X, y, w0, w, V, group, hyper, alpha, z, onehot=_onehot_columns(user, item)
    )
    e = y - predict_reference(X, w0, w, V)
    result = fm_sweep(user, item, e, w0, alpha, hyper, z)
    new_w0 = result.w0
    got_w, got_V = _dense_params(user, item)
    assert new_w0 == pytest.approx(ref_w0, abs=1e-10)
    np.testing.assert_allclose(got_w, ref_w, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got_V, ref_V, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(e, ref_e, rtol=1e-9, atol=1e-9)
    # the cached residuals are those of the new parameters
    np.testing.assert_allclose(e, y - predict_reference(X, new_w0, got_w, got_V), atol=1e-9)
    # and the per-row terms it returns are those of the new parameters
    for got_q, got_bias, block in ((result.user_q, result.user_bias, user), (result.item_q, result.item_bias, item)):
        q, bias = block_terms(block)
        np.testing.assert_allclose(got_q, q, atol=1e-10)
        np.testing.assert_allclose(got_bias, bias, atol=1e-10)


def test_first_coordinate_factor_draw_with_zero_noise_is_the_dense_conditional_mean():
    user, item, X, y, hyper, rng = _problem(3, n_factors=1)
    w, V = _dense_params(user, item)
    w0, alpha = 0.0, 2.0
    group = np.concatenate([user.group, item.group])
    z = rng.standard_normal(n_draws(user, item))
    col = user.n_onehot  # the first feature that is drawn coordinate-wise
    z[1 + (user.n_onehot + item.n_onehot) * 2 + w.size - user.n_onehot - item.n_onehot] = 0.0
    e = y - predict_reference(X, w0, w, V)
    fm_sweep(user, item, e, w0, alpha, hyper, z)
    # the dense sweep up to that coordinate, then its conditional computed from h's definition
    w0_ref, w_ref, V_ref, e_ref = sweep_reference(
        X, y, w0, w, V, group, hyper, alpha, z, onehot=_onehot_columns(user, item), linear_only=True
    )
    np.testing.assert_allclose(e_ref, y - predict_reference(X, w0_ref, w_ref, V_ref), atol=1e-10)
    h = X[:, col] * (X @ V_ref[:, 0] - V_ref[col, 0] * X[:, col])
    mean, _ = coordinate_conditional(h, e_ref, V_ref[col, 0], hyper[2][0, group[col]], hyper[3][0, group[col]], alpha)
    assert user.factors[0, col] == pytest.approx(mean, abs=1e-10)


def test_onehot_block_draws_have_the_joint_conditional_moments():
    """Many sweeps from the same state: the first user's (w, v) draws have the dense conditional's
    mean and covariance (the kernel's Cholesky draw is the right Gaussian)."""
    user, item, X, y, hyper, rng = _problem(6, n_ratings=15, n_factors=2)
    w, V = _dense_params(user, item)
    alpha, n = 1.5, 3000
    e = y - predict_reference(X, 0.3, w, V)
    # w0 is drawn first; with its normal fixed at 0 it moves to its conditional mean
    prec0 = alpha * y.size + 1.0
    w0_new = alpha * (e.sum() + 0.3 * y.size) / prec0
    start = e.copy()
    e = e - (w0_new - 0.3)
    x = X[:, 0]
    H = np.column_stack([x, x[:, None] * (X @ V - np.outer(x, V[0]))])
    g = user.group[0]
    lam = np.concatenate([[hyper[1][g]], hyper[3][:, g]])
    mu = np.concatenate([[hyper[0][g]], hyper[2][:, g]])
    precision = np.diag(lam) + alpha * H.T @ H
    theta = np.concatenate([[w[0]], V[0]])
    mean = np.linalg.solve(precision, lam * mu + alpha * H.T @ (e + H @ theta))
    draws = np.empty((n, 3))
    for k in range(n):
        fresh_user = user._replace(linear=w[: user.n_features].copy(), factors=V[: user.n_features].T.copy())
        fresh_item = item._replace(linear=w[user.n_features :].copy(), factors=V[user.n_features :].T.copy())
        z = rng.standard_normal(n_draws(user, item))
        z[0] = 0.0
        fm_sweep(fresh_user, fresh_item, start.copy(), 0.3, alpha, hyper, z)
        draws[k] = fresh_user.linear[0], *fresh_user.factors[:, 0]
    cov = np.linalg.inv(precision)
    np.testing.assert_allclose(draws.mean(axis=0), mean, atol=4 * np.sqrt(np.diag(cov).max() / n))
    np.testing.assert_allclose(np.cov(draws.T), cov, atol=0.08 * np.abs(cov).max())


def test_w0_conditional_has_the_stated_mean_and_spread():
    user, item, X, y, hyper, rng = _problem(4, n_ratings=15)
    w, V = _dense_params(user, item)
    alpha, draws = 3.0, []
    base = y - predict_reference(X, 0.0, w, V)
    for _ in range(1500):
        z = np.zeros(n_draws(user, item))
        z[0] = rng.standard_normal()
        e = base.copy()
        blank = user._replace(linear=w[: user.n_features].copy(), factors=V[: user.n_features].T.copy())
        other = item._replace(linear=w[user.n_features :].copy(), factors=V[user.n_features :].T.copy())
        draws.append(fm_sweep(blank, other, e, 0.0, alpha, hyper, z).w0)
    prec = alpha * y.size + 1.0
    mean = alpha * base.sum() / prec
    assert np.mean(draws) == pytest.approx(mean, abs=4 / np.sqrt(prec * len(draws)))
    assert np.std(draws) == pytest.approx(1 / np.sqrt(prec), rel=0.1)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_block_terms_give_the_dense_prediction(seed):
    user, item, X, y, _, _ = _problem(seed)
    w, V = _dense_params(user, item)
    user_q, user_bias = block_terms(user)
    item_q, item_bias = block_terms(item)
    users = np.repeat(np.arange(user.n_rows), np.diff(user.rating_indptr))
    items = user.rating_other
    pred = np.empty(y.size)
    pred[user.rating_pos] = user_bias[users] + item_bias[items] + np.einsum("ij,ij->i", user_q[users], item_q[items])
    np.testing.assert_allclose(pred, predict_reference(X, 0.0, w, V), atol=1e-10)


def test_rows_without_ratings_and_features_without_rows():
    """An empty user row and a feature nobody has: the sweep still matches the dense loop."""
    user, item, X, y, hyper, rng = _problem(9, n_users=6, n_ratings=8, empty_last_user=True)
    assert user.counts[-1] == 0
    w, V = _dense_params(user, item)
    group = np.concatenate([user.group, item.group])
    z = rng.standard_normal(n_draws(user, item))
    _, ref_w, ref_V, _ = sweep_reference(X, y, 0.0, w, V, group, hyper, 1.0, z, onehot=_onehot_columns(user, item))
    fm_sweep(user, item, y - predict_reference(X, 0.0, w, V), 0.0, 1.0, hyper, z)
    got_w, got_V = _dense_params(user, item)
    np.testing.assert_allclose(got_w, ref_w, atol=1e-9)
    np.testing.assert_allclose(got_V, ref_V, atol=1e-9)
    assert np.isfinite(got_V).all()


def test_bad_draw_count_is_refused():
    user, item, _, y, hyper, _ = _problem(0)
    with pytest.raises(ValueError, match="normal draws"):
        fm_sweep(user, item, y.copy(), 0.0, 1.0, hyper, np.zeros(3))
