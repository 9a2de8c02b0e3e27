"""Gibbs sampling of Bayesian matrix factorisation: the per-row Gaussian conditionals.

For one user (or item) ``r`` with ratings :math:`y_k` of the other side's rows :math:`c_k`,
the model :math:`y = \\mu + b_r + b_c + v_c^T u_r + \\epsilon`, :math:`\\epsilon \\sim N(0, \\alpha^{-1})`,
and the priors :math:`b_r \\sim N(0, \\lambda_b^{-1})`, :math:`u_r \\sim N(m, \\Lambda^{-1})`,
the joint conditional of :math:`x_r = (b_r, u_r)` is Gaussian (Salakhutdinov & Mnih 2008, eq. 12-13,
with the bias as one more coordinate whose design value is 1):

.. math::
    P = \\mathrm{diag}(\\lambda_b, \\Lambda) + \\alpha \\sum_k a_k a_k^T, \\quad
    h = (0, \\Lambda m) + \\alpha \\sum_k a_k (y_k - \\mu - b_{c_k}), \\quad
    x_r \\sim N(P^{-1} h, P^{-1})

with :math:`a_k = (1, v_{c_k})`. A draw is :math:`P^{-1} h + L^{-T} z` for :math:`P = L L^T` and a
standard normal :math:`z` - the caller passes `z`, drawn from its seeded generator, so results do
not depend on the thread count. Rows are independent given the other side: the outer loop is
``prange`` (serial build for one thread / request threads, `likewise.kernels._jit`). The
(f+1)-square solves are small; hand-written Cholesky keeps them allocation-light and nogil.
The slow twin is `tests/reference/gibbs.py`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from likewise.kernels._jit import serial_and_parallel
from likewise.kernels._threads import parallel_allowed

__all__ = ["cholesky_lower", "gaussian_draw", "row_conditional", "sample_rows"]


@njit(cache=True, nogil=True)
def _precision_and_shift(
    start, end, indices, values, offset, other_bias, other_factors, prior_mean, prior_prec, bias_prec, alpha, prec, h
):
    """Fill `prec` ((f+1)^2) and `h` (f+1) of one row's conditional (see the module docstring)."""
    n_factors = other_factors.shape[1]
    dim = n_factors + 1
    for a in range(dim):
        h[a] = 0.0
        for b in range(dim):
            prec[a, b] = 0.0
    prec[0, 0] = bias_prec
    for a in range(n_factors):
        acc = 0.0
        for b in range(n_factors):
            prec[a + 1, b + 1] = prior_prec[a, b]
            acc += prior_prec[a, b] * prior_mean[b]
        h[a + 1] = acc
    design = np.empty(dim)
    design[0] = 1.0
    for k in range(start, end):
        c = indices[k]
        for a in range(n_factors):
            design[a + 1] = other_factors[c, a]
        target = alpha * (values[k] - offset - other_bias[c])
        for a in range(dim):
            h[a] += design[a] * target
            scaled = alpha * design[a]
            for b in range(a + 1):
                prec[a, b] += scaled * design[b]
    for a in range(dim):  # mirror the lower triangle
        for b in range(a):
            prec[b, a] = prec[a, b]


@njit(cache=True, nogil=True)
def cholesky_lower(prec, low):
    """Lower-triangular ``low`` with ``low @ low.T == prec`` (prec symmetric positive definite)."""
    dim = prec.shape[0]
    for a in range(dim):
        for b in range(a + 1):
            acc = prec[a, b]
            for k in range(b):
                acc -= low[a, k] * low[b, k]
            if a == b:
                low[a, a] = np.sqrt(acc)
            else:
                low[a, b] = acc / low[b, b]
        for b in range(a + 1, dim):
            low[a, b] = 0.0


@njit(cache=True, nogil=True)
def gaussian_draw(low, h, z, out):
    """``out = P^{-1} h + L^{-T} z`` by forward and back substitution with ``P = L L^T``."""
    dim = h.shape[0]
    w = np.empty(dim)
    for a in range(dim):  # L w = h
        acc = h[a]
        for k in range(a):
            acc -= low[a, k] * w[k]
        w[a] = acc / low[a, a]
    for a in range(dim):  # L^T x = w + z  ->  x = L^-T L^-1 h + L^-T z
        w[a] += z[a]
    for a in range(dim - 1, -1, -1):
        acc = w[a]
        for k in range(a + 1, dim):
            acc -= low[k, a] * out[k]
        out[a] = acc / low[a, a]


def _sample_rows_impl(
    indptr,
    indices,
    values,
    offset,
    other_bias,
    other_factors,
    prior_mean,
    prior_prec,
    bias_prec,
    alpha,
    z,
    out_bias,
    out_factors,
):
    dim = other_factors.shape[1] + 1
    for r in prange(indptr.shape[0] - 1):
        prec = np.empty((dim, dim))
        low = np.empty((dim, dim))
        h = np.empty(dim)
        x = np.empty(dim)
        _precision_and_shift(
            indptr[r],
            indptr[r + 1],
            indices,
            values,
            offset,
            other_bias,
            other_factors,
            prior_mean,
            prior_prec,
            bias_prec,
            alpha,
            prec,
            h,
        )
        cholesky_lower(prec, low)
        gaussian_draw(low, h, z[r], x)
        out_bias[r] = x[0]
        for a in range(dim - 1):
            out_factors[r, a] = x[a + 1]


_sample_rows_parallel, _sample_rows_serial = serial_and_parallel(_sample_rows_impl)


def _f64(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float64)


def sample_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    offset: float,
    other_bias: np.ndarray,
    other_factors: np.ndarray,
    prior_mean: np.ndarray,
    prior_prec: np.ndarray,
    bias_prec: float,
    alpha: float,
    z: np.ndarray,
    out_bias: np.ndarray,
    out_factors: np.ndarray,
) -> None:
    """Draw (bias, factors) of every CSR row from its conditional, in place (module docstring).

    Parameters
    ----------
    indptr, indices, values : CSR of this side (rows) x the other side (columns)
    offset : float
        Global mean :math:`\\mu`.
    other_bias, other_factors : ndarray float64 (n_other,), (n_other, f)
    prior_mean, prior_prec : ndarray float64 (f,), (f, f)
        Mean and precision of this side's factor prior.
    bias_prec, alpha : float
        Precision of the bias prior and of the rating noise.
    z : ndarray float64 (n_rows, f + 1)
        Standard normal draws (column 0 for the bias).
    out_bias, out_factors : ndarray float64 (n_rows,), (n_rows, f), C-contiguous
        Written in place.
    """
    n_rows = indptr.shape[0] - 1
    dim = other_factors.shape[1] + 1
    if z.shape != (n_rows, dim) or out_bias.shape != (n_rows,) or out_factors.shape != (n_rows, dim - 1):
        raise ValueError("sample_rows: z, out_bias and out_factors must have one row per CSR row")
    for out in (out_bias, out_factors):
        if out.dtype != np.float64 or not out.flags.c_contiguous:
            raise ValueError("sample_rows writes into C-contiguous float64 arrays")
    kernel = _sample_rows_parallel if parallel_allowed() and n_rows > 1 else _sample_rows_serial
    kernel(
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(indices, dtype=np.int32),
        _f64(values),
        float(offset),
        _f64(other_bias),
        _f64(other_factors),
        _f64(prior_mean),
        _f64(prior_prec),
        float(bias_prec),
        float(alpha),
        _f64(z),
        out_bias,
        out_factors,
    )


def row_conditional(
    items: np.ndarray,
    ratings: np.ndarray,
    offset: float,
    other_bias: np.ndarray,
    other_factors: np.ndarray,
    prior_mean: np.ndarray,
    prior_prec: np.ndarray,
    bias_prec: float,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, precision) of one row's conditional as the sampling kernel builds it (for tests
    and for anyone inspecting the posterior of one user); coordinate 0 is the bias."""
    dim = other_factors.shape[1] + 1
    prec = np.empty((dim, dim))
    h = np.empty(dim)
    _precision_and_shift(
        0,
        len(items),
        np.ascontiguousarray(items, dtype=np.int32),
        _f64(ratings),
        float(offset),
        _f64(other_bias),
        _f64(other_factors),
        _f64(prior_mean),
        _f64(prior_prec),
        float(bias_prec),
        float(alpha),
        prec,
        h,
    )
    return np.linalg.solve(prec, h), prec


def _warm() -> None:
    """Compile every kernel of this module on tiny arrays of the production dtypes."""
    indptr = np.array([0, 2, 3], dtype=np.int64)
    indices = np.array([0, 1, 1], dtype=np.int32)
    values = np.array([4.0, 2.0, 5.0], dtype=np.float32)
    other_bias, other = np.zeros(2), np.ones((2, 2))
    for parallel in (False, True):
        kernel = _sample_rows_parallel if parallel else _sample_rows_serial
        out_b, out_f = np.zeros(2), np.zeros((2, 2))
        kernel(
            indptr,
            indices,
            values.astype(np.float64),
            3.0,
            other_bias,
            other,
            np.zeros(2),
            np.eye(2),
            1.0,
            2.0,
            np.zeros((2, 3)),
            out_b,
            out_f,
        )
    row_conditional(indices[:2], values[:2], 3.0, other_bias, other, np.zeros(2), np.eye(2), 1.0, 2.0)
