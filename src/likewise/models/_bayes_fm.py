"""The factorization-machine form of BayesianMF: Bayesian SVD++ (flipped) and side features.

A rating (u, i) is the design row [user block of u | item block of i] (Rendle 2012; Rendle,
Zhang & Koren 2019, section 4):

- user block: u's one-hot (group "user"), the items u rated in training with weight
  :math:`|N(u)|^{-1/2}` (group "implicit": the SVD++ term :math:`|N(u)|^{-1/2}\\sum_{j \\in N(u)} y_j`),
  u's side features (group "user features");
- item block: i's one-hot ("item"), the users who rated i with weight :math:`|N(i)|^{-1/2}`
  ("flipped"), i's side features ("item features").

One-hot columns exist only for rows with training ratings (a column nobody rated could only
be drawn from its prior; `likewise.models._features.design` follows the same rule), so a user
without ratings is represented by their features alone. Side-feature values are used as given.

Priors (libFM's MCMC; Freudenthaler, Schmidt-Thieme & Rendle 2011): each group g has
:math:`w_l \\sim N(\\mu^w_g, 1/\\lambda^w_g)` and, per factor f,
:math:`v_{l,f} \\sim N(\\mu^v_{g,f}, 1/\\lambda^v_{g,f})`; every :math:`(\\mu, \\lambda)` has the
Normal-Gamma hyper-prior :math:`\\lambda \\sim \\Gamma(\\alpha_\\lambda/2, \\beta_\\lambda/2)`,
:math:`\\mu \\sim N(\\mu_0, 1/(\\gamma_0\\lambda))` with
:math:`\\alpha_\\lambda = \\beta_\\lambda = \\gamma_0 = 1, \\mu_0 = 0`;
the noise precision :math:`\\alpha \\sim \\Gamma(1/2, 1/2)` a priori; :math:`w_0 \\sim N(0, 1)` on the ratings
centred at the training mean (flat in effect). Each iteration draws :math:`\\alpha`, then every
group's :math:`\\lambda` then :math:`\\mu`, then the parameters coordinate-wise
(`likewise.kernels.bayes_fm.fm_sweep`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from likewise.data.interactions import FeatureMatrix, Interactions
from likewise.exceptions import DataError
from likewise.kernels.bayes_fm import FMBlock, block_terms, fm_sweep, n_draws
from likewise.models._features import design

__all__ = ["GROUPS", "FMChain", "FMSample", "build_blocks"]

GROUPS = ("user", "implicit", "user features", "item", "flipped", "item features")
_USER, _IMPLICIT, _USER_FEATURES, _ITEM, _FLIPPED, _ITEM_FEATURES = range(len(GROUPS))
_HYPER_A, _HYPER_B, _GAMMA0 = 1.0, 1.0, 1.0  # Normal-Gamma hyper-prior (module docstring)
_NOISE_A, _NOISE_B = 1.0, 1.0


@dataclass
class FMSample:
    """What one kept draw contributes to prediction and to fold-in."""

    user_q: np.ndarray  # (n_users, F) float32: sum of the user block's factors
    item_q: np.ndarray  # (n_items, F)
    user_bias: np.ndarray  # (n_users,): the user block's linear and self-interaction terms
    item_bias: np.ndarray  # (n_items,): the same for items, plus w0
    user_hyper: tuple[float, float, np.ndarray, np.ndarray]  # (mu_w, lam_w, mu_v, lam_v) of "user"
    alpha: float
    implicit_linear: np.ndarray | None  # (n_items,) w of the implicit group
    implicit_factors: np.ndarray | None  # (n_items, F) y_j


def _implicit_matrix(pattern: sp.csr_matrix) -> sp.csr_matrix:
    """The rated-or-not pattern of `pattern`, each row scaled by its count ** -1/2."""
    counts = np.diff(pattern.indptr)
    scale = np.divide(1.0, np.sqrt(counts), out=np.zeros(counts.size), where=counts > 0)
    data = np.repeat(scale, counts)
    return sp.csr_matrix((data, pattern.indices.copy(), pattern.indptr.copy()), shape=pattern.shape)


def _side(
    n_rows: int,
    n_other: int,
    counts: np.ndarray,
    implicit: sp.csr_matrix | None,
    features: FeatureMatrix | None,
    groups: tuple[int, int, int],
) -> tuple[sp.csr_matrix, np.ndarray, int]:
    """(block design, feature groups, start column of the implicit part) of one side."""
    identity, n_identity = design(n_rows, None, counts > 0, normalise=False)
    parts, group_ids = [identity], [np.full(n_identity, groups[0])]
    if implicit is not None:
        parts.append(implicit)
        group_ids.append(np.full(n_other, groups[1]))
    if features is not None:
        parts.append(sp.csr_matrix(features.matrix, dtype=np.float64))
        group_ids.append(np.full(features.matrix.shape[1], groups[2]))
    matrix = sp.csr_matrix(sp.hstack(parts, format="csr"), dtype=np.float64)
    matrix.sort_indices()
    return matrix, np.concatenate(group_ids).astype(np.int32), n_identity


def _block(
    matrix: sp.csr_matrix,
    group: np.ndarray,
    rating_indptr: np.ndarray,
    rating_other: np.ndarray,
    rating_pos: np.ndarray,
    n_factors: int,
    init: np.ndarray,
) -> FMBlock:
    csc = matrix.tocsc()
    csc.sort_indices()
    counts = np.diff(rating_indptr)
    # `_side` gives one-hot columns, in row order, to the rows with ratings
    onehot = np.where(counts > 0, np.cumsum(counts > 0) - 1, -1).astype(np.int32)
    n_onehot = int((counts > 0).sum())
    return FMBlock(
        matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), np.ascontiguousarray(matrix.data, np.float64),
        csc.indptr.astype(np.int64), csc.indices.astype(np.int32), np.ascontiguousarray(csc.data, np.float64),
        rating_indptr.astype(np.int64), np.ascontiguousarray(rating_other, np.int32),
        np.ascontiguousarray(rating_pos, np.int64), counts.astype(np.float64), onehot, n_onehot, group,
        np.zeros(matrix.shape[1]), np.ascontiguousarray(init.reshape(n_factors, matrix.shape[1])),
    )  # fmt: skip


def build_blocks(
    data: Interactions,
    *,
    implicit_feedback: bool,
    flipped: bool,
    side_features: bool,
    n_factors: int,
    init_std: float,
    rng: np.random.Generator,
) -> tuple[FMBlock, FMBlock, int]:
    """The user and item blocks of `data`'s relational design (module docstring) with factors
    drawn from N(0, init_std^2), and the first implicit column of the user block. Ratings are
    indexed in the CSR order of ``data.matrix``."""
    if side_features and data.user_features is None and data.item_features is None:
        raise DataError("side_features=True needs Interactions with user_features or item_features; these have neither")
    by_user = data.matrix.tocsr()
    n_ratings = by_user.nnz
    rows = np.repeat(np.arange(data.n_users, dtype=np.int32), np.diff(by_user.indptr))
    cols = by_user.indices.astype(np.int32)
    order = np.argsort(cols, kind="stable")  # item-major positions of the user-major ratings
    item_indptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=data.n_items))])
    user_counts, item_counts = np.diff(by_user.indptr), np.diff(item_indptr)
    by_item = sp.csr_matrix((np.ones(n_ratings), rows[order], item_indptr), shape=(data.n_items, data.n_users))
    user_matrix, user_group, implicit_start = _side(
        data.n_users, data.n_items, user_counts,
        _implicit_matrix(by_user) if implicit_feedback else None,
        data.user_features if side_features else None, (_USER, _IMPLICIT, _USER_FEATURES),
    )  # fmt: skip
    item_matrix, item_group, _ = _side(
        data.n_items, data.n_users, item_counts,
        _implicit_matrix(by_item) if flipped else None,
        data.item_features if side_features else None, (_ITEM, _FLIPPED, _ITEM_FEATURES),
    )  # fmt: skip
    for what, matrix in (("user", user_matrix), ("item", item_matrix)):
        if not np.isfinite(matrix.data).all():
            raise DataError(f"{what}_features hold non-finite values")
    user_init = rng.normal(0.0, init_std, (n_factors, user_matrix.shape[1]))
    item_init = rng.normal(0.0, init_std, (n_factors, item_matrix.shape[1]))
    user = _block(user_matrix, user_group, by_user.indptr, cols, np.arange(n_ratings), n_factors, user_init)
    item = _block(item_matrix, item_group, item_indptr, rows[order], order, n_factors, item_init)
    return user, item, implicit_start


def _normal_gamma(
    values: np.ndarray, groups: np.ndarray, mu: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(mu, lambda) of every group drawn from their Normal-Gamma conditional (lambda first,
    given the current mu, then mu given the new lambda - libFM's order)."""
    n_groups = mu.size
    count = np.bincount(groups, minlength=n_groups).astype(np.float64)
    scatter = np.bincount(groups, weights=(values - mu[groups]) ** 2, minlength=n_groups)
    shape = (_HYPER_A + count + 1.0) / 2.0
    rate = (_HYPER_B + scatter + _GAMMA0 * mu**2) / 2.0
    lam = rng.gamma(shape, 1.0 / rate)
    total = np.bincount(groups, weights=values, minlength=n_groups)
    new_mu = total / (count + _GAMMA0) + rng.standard_normal(n_groups) / np.sqrt((count + _GAMMA0) * lam)
    return new_mu, lam


def sample_noise(residuals: np.ndarray, rng: np.random.Generator) -> float:
    """alpha from its Gamma conditional given the residuals."""
    shape = (_NOISE_A + residuals.size) / 2.0
    rate = (_NOISE_B + float(residuals @ residuals)) / 2.0
    return float(rng.gamma(shape, 1.0 / rate))


class FMChain:
    """The Markov chain of the FM form: state, one iteration, and the kept draw."""

    def __init__(self, user: FMBlock, item: FMBlock, targets: np.ndarray, implicit_start: int | None) -> None:
        self.user, self.item = user, item
        self.targets = targets  # centred ratings, user-major
        self.implicit_start = implicit_start
        self.groups = np.concatenate([user.group, item.group])
        n_factors = user.factors.shape[0]
        self.w0 = 0.0
        self.mu_w, self.mu_v = np.zeros(len(GROUPS)), np.zeros((n_factors, len(GROUPS)))
        self.lam_w, self.lam_v = np.ones(len(GROUPS)), np.ones((n_factors, len(GROUPS)))
        self.alpha = 1.0
        self._rows = np.repeat(np.arange(user.n_rows), np.diff(user.rating_indptr))
        self._cols = user.rating_other
        self._residual: np.ndarray | None = None  # of the current parameters, once computed

    def predictions(self) -> np.ndarray:
        """y_hat of every training rating under the current parameters."""
        user_q, user_bias = block_terms(self.user)
        item_q, item_bias = block_terms(self.item)
        return self._fitted(user_q, user_bias, item_q, item_bias + self.w0)

    def _fitted(
        self, user_q: np.ndarray, user_bias: np.ndarray, item_q: np.ndarray, item_bias: np.ndarray
    ) -> np.ndarray:
        dots = np.einsum("ij,ij->i", user_q[self._rows], item_q[self._cols])
        return user_bias[self._rows] + item_bias[self._cols] + dots

    def _sample_hyper(self, rng: np.random.Generator) -> None:
        linear = np.concatenate([self.user.linear, self.item.linear])
        self.mu_w, self.lam_w = _normal_gamma(linear, self.groups, self.mu_w, rng)
        for f in range(self.mu_v.shape[0]):
            values = np.concatenate([self.user.factors[f], self.item.factors[f]])
            self.mu_v[f], self.lam_v[f] = _normal_gamma(values, self.groups, self.mu_v[f], rng)

    def step(self, rng: np.random.Generator) -> tuple[float, FMSample]:
        """One iteration (module docstring); returns the new draw's squared error and the draw."""
        residual = self._residual if self._residual is not None else self.targets - self.predictions()
        self.alpha = sample_noise(residual, rng)
        alpha = self.alpha
        self._sample_hyper(rng)
        user_hyper = (float(self.mu_w[_USER]), float(self.lam_w[_USER]), self.mu_v[:, _USER].copy(),
                      self.lam_v[:, _USER].copy())  # fmt: skip
        hyper = (self.mu_w, self.lam_w, self.mu_v, self.lam_v)
        z = rng.standard_normal(n_draws(self.user, self.item))
        result = fm_sweep(self.user, self.item, residual, self.w0, alpha, hyper, z)
        self.w0 = result.w0
        user_q, user_bias, item_q = result.user_q, result.user_bias, result.item_q
        item_bias = result.item_bias + self.w0
        # recomputed from the parameters rather than taken from the sweep's running residuals
        residual = self.targets - self._fitted(user_q, user_bias, item_q, item_bias)
        self._residual = residual.copy()
        implicit_linear = implicit_factors = None
        if self.implicit_start is not None:
            cols = slice(self.implicit_start, self.implicit_start + self.item.n_rows)
            implicit_linear = self.user.linear[cols].astype(np.float32)
            implicit_factors = np.ascontiguousarray(self.user.factors[:, cols].T, dtype=np.float32)
        sample = FMSample(
            user_q.astype(np.float32), item_q.astype(np.float32), user_bias, item_bias,
            user_hyper, alpha, implicit_linear, implicit_factors,
        )  # fmt: skip
        return float(residual @ residual), sample
