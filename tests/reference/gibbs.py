"""Slow plain-numpy twins of likewise.kernels.gibbs, written from the Gaussian conditionals.

For one user with ratings ``y`` of items ``c``, the design row of rating k is ``(1, v_{c_k})``
and the conditional of ``(b_u, u_u)`` is ``N(P^{-1} h, P^{-1})`` with
``P = diag(lambda_b, Lambda) + alpha A^T A`` and ``h = (0, Lambda m) + alpha A^T (y - mu - b_c)``
(Salakhutdinov & Mnih 2008 eq. 12-13 with the bias as a coordinate). Dense numpy, float64.
"""

import numpy as np


def conditional_reference(items, ratings, mu, item_bias, item_factors, prior_mean, prior_prec, bias_prec, alpha):
    """(mean, precision) of one user's (bias, factors) given the items and hyper-parameters."""
    design = np.hstack([np.ones((len(items), 1)), item_factors[items]])
    targets = np.asarray(ratings, dtype=np.float64) - mu - item_bias[items]
    f = item_factors.shape[1]
    prior = np.zeros((f + 1, f + 1))
    prior[0, 0] = bias_prec
    prior[1:, 1:] = prior_prec
    shift = np.concatenate([[0.0], prior_prec @ prior_mean])
    precision = prior + alpha * design.T @ design
    mean = np.linalg.solve(precision, shift + alpha * design.T @ targets)
    return mean, precision


def draw_reference(mean, precision, z):
    """The draw ``mean + L^{-T} z`` for ``precision = L L^T`` (covariance ``precision^{-1}``)."""
    low = np.linalg.cholesky(precision)
    return mean + np.linalg.solve(low.T, z)
