"""Gibbs sampling of a factorization machine over a relational (user block | item block) design.

The model (Rendle 2012, "Factorization machines with libFM", section 5, MCMC) scores a design
row :math:`x` as

.. math::
    \\hat y(x) = w_0 + \\sum_l w_l x_l + \\sum_f \\tfrac12\\Big[\\big(\\sum_l v_{l,f} x_l\\big)^2
    - \\sum_l v_{l,f}^2 x_l^2\\Big]

and every parameter :math:`\\theta` enters it linearly, :math:`\\hat y = g_\\theta + \\theta h_\\theta`
(:math:`h_{w_l} = x_l`, :math:`h_{v_{l,f}} = x_l (q_f - v_{l,f} x_l)` with :math:`q_f = \\sum_l v_{l,f} x_l`).
With noise precision :math:`\\alpha` and the prior :math:`\\theta \\sim N(\\mu_g, \\lambda_g^{-1})` of its
group g, the coordinate conditional is Gaussian:

.. math::
    P = \\alpha \\sum_k h_k^2 + \\lambda_g, \\quad
    m = \\big(\\alpha \\sum_k h_k (e_k + \\theta h_k) + \\lambda_g \\mu_g\\big) / P, \\quad
    \\theta \\sim N(m, P^{-1})

over the ratings k (:math:`e = y - \\hat y`). A draw is :math:`m + z / \\sqrt P` with the caller's
standard normal `z` (one seeded generator: results do not depend on the thread count).

**Blocked one-hot draws.** A row's own one-hot column c (the user's id) appears in that row
only, and the score is linear in :math:`\\theta_c = (w_c, v_{c,1..F})` jointly, with design
:math:`a_k = (1, q^I(i) + r_u)` (:math:`r_u = q^U(u) - v_c`, the rest of the user's row). So
:math:`\\theta_c` is drawn jointly from :math:`N(P^{-1} h, P^{-1})`,
:math:`P = \\mathrm{diag}(\\lambda) + \\alpha \\sum_k a_k a_k^T`,
:math:`h = \\lambda \\mu + \\alpha \\sum_k a_k (e_k + \\theta_c^T a_k)` - BPMF's row update with the FM's
diagonal prior - for all users at once (independent given the rest: parallel), then all items.
This is still an exact Gibbs sampler (a blocked one) and mixes far better than single-site
updates of the same coordinates, which can sit for many sweeps in a poor mode when the
factors start near zero. The other features (implicit items, flipped users, side features)
are drawn coordinate-wise as libFM does.

**Relational form** (Rendle, "Scaling factorization machines to relational data", VLDB 2013).
A rating's row is the concatenation of its user's block row (user one-hot, implicit items,
user features) and its item's block row. For a feature l of the user block,
:math:`h_k = x_{ul} (a_u + q^I_f(i))` with :math:`a_u = q^U_f(u) - v_{l,f} x_{ul}`, so the sums over
ratings reduce to per-user aggregates that stay fixed while the user block is sampled
(:math:`n_u`, :math:`S1_u = \\sum_{i \\in R(u)} q^I_f(i)`, :math:`S2_u = \\sum q^I_f(i)^2`) and two that
move with each draw (:math:`E_u = \\sum e_{ui}`, :math:`G_u = \\sum q^I_f(i) e_{ui}`):

.. math::
    \\sum_k h_k^2 = \\sum_u x_{ul}^2 (n_u a_u^2 + 2 a_u S1_u + S2_u), \\quad
    \\sum_k h_k e_k = \\sum_u x_{ul} (a_u E_u + G_u)

A draw moving :math:`v_{l,f}` by :math:`\\delta` changes :math:`e_{ui}` by :math:`-\\delta h`, hence
:math:`E_u` by :math:`-\\delta x_{ul} (n_u a_u + S1_u)` and :math:`G_u` by :math:`-\\delta x_{ul}(a_u S1_u + S2_u)`.
One pass over a block's features thus costs its design's non-zeros, not the ratings times the
implicit-feedback length (what a flat libFM design costs); the residuals are brought up to date
once per block and factor from the change of :math:`q^U_f` and of the block's self-interaction.
The running :math:`q_f` (and sum of squares) are recomputed from the parameters at the start of
each factor's pass, so rounding does not accumulate across passes (callers recompute the
residuals from the parameters between sweeps). Coordinate draws are sequential (each
conditions on the previous); the per-row passes are serial (see the note above them); the
one-hot row draws run in parallel.

The slow twin (a dense design matrix, libFM's coordinate loop, the same draw order) is
`tests/reference/bayes_fm.py`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from likewise.kernels._jit import serial_and_parallel
from likewise.kernels._threads import parallel_allowed
from likewise.kernels.gibbs import cholesky_lower, gaussian_draw

__all__ = ["FMBlock", "SweepResult", "block_terms", "fm_sweep", "n_draws"]


class FMBlock(NamedTuple):
    """One side's block of the relational design and its parameters (all arrays C-contiguous).

    design_* : CSR (rows x features) of the block, float64 values
    column_* : the same matrix as CSC (features x rows)
    rating_* : CSR (rows x ratings): the other side's row and the position in the residual
        vector of each of the row's ratings
    counts : float64 (rows,), ratings per row
    onehot : int32 (rows,), the row's one-hot column (-1: none); one-hot columns come first
    n_onehot : int, the number of one-hot columns
    group : int32 (features,), the prior group of each feature
    linear : float64 (features,), the weights w_l (written in place)
    factors : float64 (n_factors, features), the factors v_{l,f} (written in place)
    """

    design_indptr: np.ndarray
    design_indices: np.ndarray
    design_values: np.ndarray
    column_indptr: np.ndarray
    column_rows: np.ndarray
    column_values: np.ndarray
    rating_indptr: np.ndarray
    rating_other: np.ndarray
    rating_pos: np.ndarray
    counts: np.ndarray
    onehot: np.ndarray
    n_onehot: int
    group: np.ndarray
    linear: np.ndarray
    factors: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.design_indptr.shape[0] - 1)

    @property
    def n_features(self) -> int:
        return int(self.group.shape[0])


# --------------------------------------------------------------------- per-row passes (serial)
# These passes are memory-bound and take about a millisecond on ML-100K: a numba parallel
# region per pass cost more than it saved on 2 idle cores (0.095 vs 0.086 s per sweep) and
# ten times more on a loaded machine, so they are serial; the one-hot row draws, with
# O(F^2) work per rating, keep a parallel build.
@njit(cache=True, nogil=True)
def _row_dots(indptr, indices, values, coef, out, out_sq):
    """out[r] = sum_l coef[l] x_rl, out_sq[r] = sum_l (coef[l] x_rl)^2."""
    for r in range(indptr.shape[0] - 1):
        acc = 0.0
        acc_sq = 0.0
        for k in range(indptr[r], indptr[r + 1]):
            term = coef[indices[k]] * values[k]
            acc += term
            acc_sq += term * term
        out[r] = acc
        out_sq[r] = acc_sq


@njit(cache=True, nogil=True)
def _aggregates(indptr, other, pos, q_other, e, s1, s2, esum, gsum):
    """Per row: S1, S2 of the other side's q over the row's ratings, E = sum e, G = sum q e."""
    for r in range(indptr.shape[0] - 1):
        a = 0.0
        b = 0.0
        c = 0.0
        d = 0.0
        for k in range(indptr[r], indptr[r + 1]):
            q = q_other[other[k]]
            res = e[pos[k]]
            a += q
            b += q * q
            c += res
            d += q * res
        s1[r] = a
        s2[r] = b
        esum[r] = c
        gsum[r] = d


@njit(cache=True, nogil=True)
def _refresh(indptr, other, pos, dq, dself, q_other, e):
    """e_k -= dq[r] q_other[c_k] + dself[r] for every rating k of every row r."""
    for r in range(indptr.shape[0] - 1):
        for k in range(indptr[r], indptr[r + 1]):
            e[pos[k]] -= dq[r] * q_other[other[k]] + dself[r]


def _onehot_rows_impl(
    indptr, other, pos, onehot, group, linear, factors, q_self, q_other, mu_w, lam_w, mu_v, lam_v, alpha, z, e
):
    """Joint draw of every row's own one-hot parameters (w_c, v_c) given everything else."""
    n_factors = factors.shape[0]
    dim = n_factors + 1
    for r in prange(indptr.shape[0] - 1):
        c = onehot[r]
        if c < 0:
            continue
        g = group[c]
        prec = np.zeros((dim, dim))
        low = np.empty((dim, dim))
        h = np.zeros(dim)
        design = np.empty(dim)
        old = np.empty(dim)
        new = np.empty(dim)
        rest = np.empty(n_factors)
        old[0] = linear[c]
        prec[0, 0] = lam_w[g]
        h[0] = lam_w[g] * mu_w[g]
        for f in range(n_factors):
            old[f + 1] = factors[f, c]
            rest[f] = q_self[r, f] - factors[f, c]
            prec[f + 1, f + 1] = lam_v[f, g]
            h[f + 1] = lam_v[f, g] * mu_v[f, g]
        design[0] = 1.0
        for k in range(indptr[r], indptr[r + 1]):
            current = old[0]
            for f in range(n_factors):
                design[f + 1] = q_other[other[k], f] + rest[f]
                current += old[f + 1] * design[f + 1]
            target = alpha * (e[pos[k]] + current)
            for a in range(dim):
                h[a] += design[a] * target
                scaled = alpha * design[a]
                for b in range(a + 1):
                    prec[a, b] += scaled * design[b]
        for a in range(dim):
            for b in range(a):
                prec[b, a] = prec[a, b]
        cholesky_lower(prec, low)
        gaussian_draw(low, h, z[c], new)
        for k in range(indptr[r], indptr[r + 1]):
            change = new[0] - old[0]
            for f in range(n_factors):
                change += (new[f + 1] - old[f + 1]) * (q_other[other[k], f] + rest[f])
            e[pos[k]] -= change
        linear[c] = new[0]
        for f in range(n_factors):
            factors[f, c] = new[f + 1]


_onehot_rows_parallel, _onehot_rows_serial = serial_and_parallel(_onehot_rows_impl)


# --------------------------------------------------------------------- coordinate draws (sequential)
@njit(cache=True, nogil=True)
def _draw(theta, sum_h2, sum_he, prior_mean, prior_prec, alpha, z):
    """theta's new value from N(m, 1/P) (module docstring) with the standard normal `z`."""
    prec = alpha * sum_h2 + prior_prec
    mean = (alpha * (sum_he + theta * sum_h2) + prior_prec * prior_mean) / prec
    return mean + z / np.sqrt(prec)


@njit(cache=True, nogil=True)
def _sample_linear(col_indptr, col_rows, col_values, group, mu, lam, alpha, z, counts, esum, coef):
    """Draw every w_l of a block in order; keeps E (per-row residual sums) current."""
    for col in range(col_indptr.shape[0] - 1):
        sum_h2 = 0.0
        sum_he = 0.0
        for k in range(col_indptr[col], col_indptr[col + 1]):
            r = col_rows[k]
            x = col_values[k]
            sum_h2 += x * x * counts[r]
            sum_he += x * esum[r]
        g = group[col]
        new = _draw(coef[col], sum_h2, sum_he, mu[g], lam[g], alpha, z[col])
        delta = new - coef[col]
        for k in range(col_indptr[col], col_indptr[col + 1]):
            r = col_rows[k]
            esum[r] -= delta * col_values[k] * counts[r]
        coef[col] = new


@njit(cache=True, nogil=True)
def _sample_factor(col_indptr, col_rows, col_values, group, mu, lam, alpha, z, counts, s1, s2, esum, gsum, coef, q, sq):
    """Draw every v_{l,f} of a block for one f in order; keeps q, sq (sum of (v x)^2), E and G
    current."""
    for col in range(col_indptr.shape[0] - 1):
        v = coef[col]
        sum_h2 = 0.0
        sum_he = 0.0
        for k in range(col_indptr[col], col_indptr[col + 1]):
            r = col_rows[k]
            x = col_values[k]
            a = q[r] - v * x
            sum_h2 += x * x * (counts[r] * a * a + 2.0 * a * s1[r] + s2[r])
            sum_he += x * (a * esum[r] + gsum[r])
        g = group[col]
        new = _draw(v, sum_h2, sum_he, mu[g], lam[g], alpha, z[col])
        delta = new - v
        for k in range(col_indptr[col], col_indptr[col + 1]):
            r = col_rows[k]
            x = col_values[k]
            a = q[r] - v * x
            q[r] += delta * x
            sq[r] += (new * new - v * v) * x * x
            esum[r] -= delta * x * (counts[r] * a + s1[r])
            gsum[r] -= delta * x * (a * s1[r] + s2[r])
        coef[col] = new


# --------------------------------------------------------------------- the sweep
def n_draws(user: FMBlock, item: FMBlock) -> int:
    """Standard normals one sweep consumes: w0, every w_l, every v_{l,f}."""
    n_factors = user.factors.shape[0]
    return 1 + (n_factors + 1) * (user.n_features + item.n_features)


def _onehot_pass(
    block: FMBlock, other: FMBlock, e: np.ndarray, hyper: tuple[np.ndarray, ...], alpha: float, z: np.ndarray
) -> None:
    """Draw every row's one-hot (w_c, v_c) jointly (rows are independent given the rest)."""
    if block.n_onehot == 0:
        return
    kernel = _onehot_rows_parallel if parallel_allowed() else _onehot_rows_serial
    q_self, q_other = block_terms(block)[0], block_terms(other)[0]
    kernel(
        block.rating_indptr, block.rating_other, block.rating_pos, block.onehot, block.group, block.linear,
        block.factors, q_self, q_other, hyper[0], hyper[1], hyper[2], hyper[3], alpha,
        z.reshape(block.n_onehot, block.factors.shape[0] + 1), e,
    )  # fmt: skip


def _row_values(block: FMBlock, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out, out_sq = np.empty(block.n_rows), np.empty(block.n_rows)
    _row_dots(block.design_indptr, block.design_indices, block.design_values, coef, out, out_sq)
    return out, out_sq


def _linear_pass(
    block: FMBlock, other: FMBlock, e: np.ndarray, hyper: tuple[np.ndarray, ...], alpha: float, z: np.ndarray
) -> np.ndarray:
    """Draw the block's w; returns the rows' new linear terms."""
    n = block.n_rows
    before, _ = _row_values(block, block.linear)
    s1, s2, esum, gsum = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    # only E is used: the other side's q plays no part in a linear weight's conditional
    no_q = np.zeros(other.n_rows)
    _aggregates(block.rating_indptr, block.rating_other, block.rating_pos, no_q, e, s1, s2, esum, gsum)
    rest = block.n_onehot  # the one-hot columns were drawn jointly by `_onehot_pass`
    _sample_linear(
        block.column_indptr[rest:], block.column_rows, block.column_values, block.group[rest:], hyper[0], hyper[1],
        alpha, z, block.counts, esum, block.linear[rest:],
    )  # fmt: skip
    after, _ = _row_values(block, block.linear)
    _refresh(block.rating_indptr, block.rating_other, block.rating_pos, np.zeros(n), after - before, no_q, e)
    return after


def _factor_pass(
    block: FMBlock,
    f: int,
    current: tuple[np.ndarray, np.ndarray],
    q_other: np.ndarray,
    e: np.ndarray,
    hyper: tuple[np.ndarray, ...],
    alpha: float,
    z: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the block's v_{., f} given the other side's q_f; `current` is the block's (q_f, the
    squares' sum) before; returns them after."""
    n = block.n_rows
    q_before, sq_before = current
    s1, s2, esum, gsum = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    _aggregates(block.rating_indptr, block.rating_other, block.rating_pos, q_other, e, s1, s2, esum, gsum)
    q_after, sq_after = q_before.copy(), sq_before.copy()
    mu_v, lam_v = hyper[2][f], hyper[3][f]
    rest = block.n_onehot
    _sample_factor(
        block.column_indptr[rest:], block.column_rows, block.column_values, block.group[rest:], mu_v, lam_v,
        alpha, z, block.counts, s1, s2, esum, gsum, block.factors[f, rest:], q_after, sq_after,
    )  # fmt: skip
    dself = 0.5 * ((q_after * q_after - sq_after) - (q_before * q_before - sq_before))
    _refresh(block.rating_indptr, block.rating_other, block.rating_pos, q_after - q_before, dself, q_other, e)
    return q_after, sq_after


class SweepResult(NamedTuple):
    """The new intercept and both blocks' per-row terms after a sweep (`block_terms`' form)."""

    w0: float
    user_q: np.ndarray
    user_bias: np.ndarray
    item_q: np.ndarray
    item_bias: np.ndarray


def fm_sweep(
    user: FMBlock,
    item: FMBlock,
    e: np.ndarray,
    w0: float,
    alpha: float,
    hyper: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    z: np.ndarray,
) -> SweepResult:
    """One Gibbs sweep over every parameter: w0; every user's one-hot parameters (w_c, v_c)
    jointly, then every item's; then the other features' w_l, then for each factor f their
    v_{l,f} (user block first, then the item block), each from its conditional (module
    docstring). Writes the blocks' ``linear`` / ``factors`` and the residuals `e`
    (ratings in the order of ``rating_pos``) in place.

    Parameters
    ----------
    user, item : FMBlock
    e : ndarray float64 (n_ratings,)
        Residuals y - y_hat of the current parameters.
    w0, alpha : float
        Current intercept (prior N(0, 1)) and the noise precision.
    hyper : (mu_w (G,), lam_w (G,), mu_v (F, G), lam_v (F, G))
        Prior means and precisions of the groups (indices in the blocks' ``group``).
    z : ndarray float64 (n_draws(user, item),)
        Standard normals, consumed in the order the parameters are drawn.

    Returns
    -------
    SweepResult
        The new w0 and, per block, what `block_terms` would compute from the new parameters.
    """
    if z.shape != (n_draws(user, item),):
        raise ValueError(f"fm_sweep needs {n_draws(user, item)} normal draws, got {z.shape}")
    if e.dtype != np.float64 or not e.flags.c_contiguous:
        raise ValueError("fm_sweep updates a C-contiguous float64 residual vector")
    n = e.shape[0]
    prec = alpha * n + 1.0
    new_w0 = alpha * (float(e.sum()) + w0 * n) / prec + z[0] / np.sqrt(prec)
    e -= new_w0 - w0
    n_factors = user.factors.shape[0]
    start = 1
    for block, other in ((user, item), (item, user)):
        size = block.n_onehot * (n_factors + 1)
        _onehot_pass(block, other, e, hyper, alpha, z[start : start + size])
        start += size
    n_user, n_item = user.n_features - user.n_onehot, item.n_features - item.n_onehot
    user_bias = _linear_pass(user, item, e, hyper, alpha, z[start : start + n_user])
    item_bias = _linear_pass(item, user, e, hyper, alpha, z[start + n_user : start + n_user + n_item])
    user_q, item_q = np.empty((user.n_rows, n_factors)), np.empty((item.n_rows, n_factors))
    start += n_user + n_item
    for f in range(n_factors):
        item_terms = _row_values(item, item.factors[f])
        q_u, sq_u = _factor_pass(user, f, _row_values(user, user.factors[f]), item_terms[0], e, hyper,
                                 alpha, z[start : start + n_user])  # fmt: skip
        q_i, sq_i = _factor_pass(item, f, item_terms, q_u, e, hyper, alpha, z[start + n_user : start + n_user + n_item])
        user_q[:, f], item_q[:, f] = q_u, q_i
        user_bias += 0.5 * (q_u * q_u - sq_u)
        item_bias += 0.5 * (q_i * q_i - sq_i)
        start += n_user + n_item
    return SweepResult(float(new_w0), user_q, user_bias, item_q, item_bias)


def block_terms(block: FMBlock) -> tuple[np.ndarray, np.ndarray]:
    """(q, bias) of every row of a block: q (rows, F) the factor sums, bias the linear part plus
    the block's own pairwise interactions, sum_f (q_f^2 - sum_l v_lf^2 x_l^2) / 2."""
    n_factors = block.factors.shape[0]
    q = np.empty((block.n_rows, n_factors))
    bias, _ = _row_values(block, block.linear)
    for f in range(n_factors):
        qf, sq = _row_values(block, block.factors[f])
        q[:, f] = qf
        bias += 0.5 * (qf * qf - sq)
    return q, bias


def _warm() -> None:
    """Compile every kernel of this module on tiny arrays of the production dtypes."""
    i32, i64, f64 = np.int32, np.int64, np.float64

    def block() -> FMBlock:
        return FMBlock(
            np.array([0, 1, 2], i64), np.array([0, 1], i32), np.ones(2),
            np.array([0, 1, 2], i64), np.array([0, 1], i32), np.ones(2),
            np.array([0, 1, 2], i64), np.array([0, 1], i32), np.array([0, 1], i64),
            np.ones(2), np.array([0, -1], i32), 1, np.zeros(2, i32), np.zeros(2), np.full((1, 2), 0.1),
        )  # fmt: skip

    user, item = block(), block()
    hyper = (np.zeros(1), np.ones(1), np.zeros((1, 1)), np.ones((1, 1)))
    for parallel in (False, True):
        onehot = _onehot_rows_parallel if parallel else _onehot_rows_serial
        onehot(
            user.rating_indptr, user.rating_other, user.rating_pos, user.onehot, user.group, user.linear.copy(),
            user.factors.copy(), np.zeros((2, 1)), np.zeros((2, 1)), *hyper, 1.0, np.zeros((1, 2)), np.ones(2),
        )  # fmt: skip
    fm_sweep(user, item, np.ones(2, dtype=f64), 0.0, 1.0, hyper, np.zeros(n_draws(user, item)))
    block_terms(user)
