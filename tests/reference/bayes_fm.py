"""Slow plain-numpy twin of likewise.kernels.bayes_fm: libFM's coordinate-wise MCMC sweep on a
dense design matrix (Rendle 2012, "Factorization machines with libFM", algorithm 2).

Every rating is one dense row ``X[k]`` (all features, user block then item block); for each
parameter theta, ``h`` is computed from its definition (``h_{w_l} = X[:, l]``,
``h_{v_lf} = X[:, l] (X @ V[:, f] - V[l, f] X[:, l])``), the conditional is
``N((alpha h.(e + theta h) + lam mu) / P, 1/P)`` with ``P = alpha h.h + lam``, and the residuals
are moved by ``-delta h`` after each draw. The one-hot columns (`onehot`) are drawn as blocks
``(w_c, V[c, :])`` from their joint Gaussian conditional (design ``H = [h_{w_c}, h_{v_c1}, ...]``,
``P = diag(lam) + alpha H^T H``, mean ``P^{-1}(lam mu + alpha H^T (e + H theta))``, draw
``mean + L^{-T} z``). The draws use ``z`` in the same order as the kernel: w0, the one-hot
blocks in the order given, every other w_l, then for each f every other v_lf.
"""

import numpy as np


def predict_reference(X, w0, w, V):
    """The FM score of every row: w0 + X w + sum_f ((X V_f)^2 - X^2 V_f^2) / 2."""
    q = X @ V
    return w0 + X @ w + 0.5 * ((q * q).sum(axis=1) - ((X * X) @ (V * V)).sum(axis=1))


def dense_design(user_design, item_design, users, items):
    """Rows [user block of users[k] | item block of items[k]] (dense arrays in, dense out)."""
    return np.hstack([user_design[users], item_design[items]])


def coordinate_conditional(h, e, theta, prior_mean, prior_prec, alpha):
    """(mean, precision) of one parameter given the others."""
    prec = alpha * h @ h + prior_prec
    return (alpha * h @ (e + theta * h) + prior_prec * prior_mean) / prec, prec


def _block_draw(X, e, w, V, col, group, hyper, alpha, draws):
    """Joint draw of (w[col], V[col, :]); returns the new values and the residuals' change."""
    mu_w, lam_w, mu_v, lam_v = hyper
    g = group[col]
    x = X[:, col]
    H = np.column_stack([x, x[:, None] * (X @ V - np.outer(x, V[col]))])
    theta = np.concatenate([[w[col]], V[col]])
    lam = np.concatenate([[lam_w[g]], lam_v[:, g]])
    mu = np.concatenate([[mu_w[g]], mu_v[:, g]])
    precision = np.diag(lam) + alpha * H.T @ H
    mean = np.linalg.solve(precision, lam * mu + alpha * H.T @ (e + H @ theta))
    z = np.array([next(draws) for _ in range(theta.size)])
    new = mean + np.linalg.solve(np.linalg.cholesky(precision).T, z)
    return new, H @ (new - theta)


def sweep_reference(X, y, w0, w, V, group, hyper, alpha, z, *, onehot=(), linear_only=False):
    """One sweep (only w0 and w with `linear_only`); returns (w0, w, V, e) after it (inputs are
    not modified)."""
    mu_w, lam_w, mu_v, lam_v = hyper
    w, V = w.astype(float).copy(), V.astype(float).copy()
    e = y - predict_reference(X, w0, w, V)
    n = y.size
    draws = iter(z)
    ones = np.ones(n)
    mean, prec = coordinate_conditional(ones, e, w0, 0.0, 1.0, alpha)
    new = mean + next(draws) / np.sqrt(prec)
    e = e - (new - w0)
    w0 = new
    for col in onehot:
        new, change = _block_draw(X, e, w, V, col, group, hyper, alpha, draws)
        w[col], V[col] = new[0], new[1:]
        e = e - change
    rest = [col for col in range(X.shape[1]) if col not in set(onehot)]
    for col in rest:
        h = X[:, col]
        g = group[col]
        mean, prec = coordinate_conditional(h, e, w[col], mu_w[g], lam_w[g], alpha)
        new = mean + next(draws) / np.sqrt(prec)
        e = e - (new - w[col]) * h
        w[col] = new
    if linear_only:
        return w0, w, V, e
    for f in range(V.shape[1]):
        for col in rest:
            h = X[:, col] * (X @ V[:, f] - V[col, f] * X[:, col])
            g = group[col]
            mean, prec = coordinate_conditional(h, e, V[col, f], mu_v[f, g], lam_v[f, g], alpha)
            new = mean + next(draws) / np.sqrt(prec)
            e = e - (new - V[col, f]) * h
            V[col, f] = new
    return w0, w, V, e
