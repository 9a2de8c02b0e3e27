"""BayesianMF: Bayesian probabilistic matrix factorisation by Gibbs sampling (BPMF).

Model (Salakhutdinov & Mnih 2008, with the global mean and biases of Rendle et al. 2019):

.. math::
    r_{ui} \\sim N(\\mu + b_u + b_i + u_u^T v_i, \\alpha^{-1}), \\quad
    u_u \\sim N(m_U, \\Lambda_U^{-1}), \\; v_i \\sim N(m_V, \\Lambda_V^{-1}), \\;
    b_u \\sim N(0, \\lambda_{bU}^{-1}), \\; b_i \\sim N(0, \\lambda_{bV}^{-1})

with Normal-Wishart hyper-priors on :math:`(m_U, \\Lambda_U)` and :math:`(m_V, \\Lambda_V)`
(:math:`\\mu_0 = 0, \\beta_0 = 2, \\nu_0 = f, W_0 = I`, the paper's values) and Gamma(1, 1)
priors on the bias precisions and the noise precision :math:`\\alpha`. Each Gibbs iteration
draws the user hyper-parameters, every user's (bias, factors) given the items
(`likewise.kernels.gibbs`, in parallel), the item hyper-parameters, every item given the users,
then :math:`\\alpha`; :math:`\\mu` is the training mean, fixed.

Prediction is the posterior mean of the score over the ``n_samples`` draws kept after
``burn_in``: :math:`\\hat r_{ui} = \\mu + \\bar b_u + \\bar b_i + \\frac1S \\sum_s u_u^{(s)T} v_i^{(s)}`,
clipped to the rating scale after averaging. The saved state is exactly that average, held
in the factor-model layout: ``user_factors_`` / ``item_factors_`` are the draws laid side by
side and scaled by :math:`S^{-1/2}` (shape (n, S f)), so one dot product *is* the average of the
S per-sample products, the scoring and persistence of `FactorRatingModel` apply unchanged and a
loaded model predicts bit for bit what the fitted one does. The cost is S times the memory of
one factor model (ML-100K, f = 10, S = 200: 21 MB).

Fold-in (``recommend_from_history``): for every kept sample s, the new user's (bias, factors)
are drawn from their conditional given that sample's item parameters, user hyper-parameters
and noise precision - the same conditional the Gibbs sweep uses - and laid side by side as the
stored users are. The draws use a generator seeded at fit time, so a history always gets the
same answer (a server must not change its recommendations between identical requests).

Deviations from the papers: :math:`\\mu` is fixed at the training mean (BPMF centres the data
the same way); :math:`\\alpha` is sampled (BPMF fixes it at 2; Rendle et al. and myfm sample it);
the averaged score is clipped (BPMF clips each sample's prediction). Not built here: the
implicit-feedback (Bayesian SVD++) terms and side features of Rendle et al.'s factorization-machine
form - see docs/algorithms/rating.md.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from likewise._util import check_random_state
from likewise.data.interactions import Interactions
from likewise.kernels._threads import thread_limits
from likewise.kernels.gibbs import sample_rows
from likewise.models._factor import FactorRatingModel
from likewise.models._params import NONE, Interval, RandomState
from likewise.models.base import FitCallback

__all__ = ["BayesianMF", "normal_wishart_posterior"]

_BETA0 = 2.0  # Normal-Wishart hyper-prior of BPMF (Salakhutdinov & Mnih 2008, section 4)
_GAMMA_A0 = 1.0  # Gamma(a0, b0) priors of the bias and noise precisions
_GAMMA_B0 = 1.0


def normal_wishart_posterior(factors: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, float]:
    """Posterior (mu*, beta*, W*, nu*) of a Normal-Wishart prior (mu0 = 0, beta0 = 2, W0 = I,
    nu0 = f) given the rows of `factors` (n, f), BPMF eq. 14."""
    n, f = factors.shape
    mean = factors.mean(axis=0) if n else np.zeros(f)
    centred = factors - mean
    scatter = centred.T @ centred  # n * S
    beta = _BETA0 + n
    mu = n * mean / beta
    w_inv = np.eye(f) + scatter + (_BETA0 * n / beta) * np.outer(mean, mean)
    w = np.linalg.inv(w_inv)
    return mu, beta, (w + w.T) / 2, float(f + n)


def _wishart(scale: np.ndarray, df: float, rng: np.random.Generator) -> np.ndarray:
    """One Wishart(scale, df) draw by the Bartlett decomposition."""
    f = scale.shape[0]
    chol = np.linalg.cholesky(scale)
    a = np.tril(rng.standard_normal((f, f)), -1)
    a[np.diag_indices(f)] = np.sqrt(rng.chisquare(df - np.arange(f)))
    la = chol @ a
    return la @ la.T


def _sample_hyper(factors: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(m, Lambda) drawn from their Normal-Wishart conditional."""
    mu, beta, w, nu = normal_wishart_posterior(factors)
    precision = _wishart(w, nu, rng)
    cov_chol = np.linalg.cholesky(np.linalg.inv(beta * precision))
    return mu + cov_chol @ rng.standard_normal(mu.size), precision


def _sample_precision(values: np.ndarray, rng: np.random.Generator) -> float:
    """Precision of zero-mean normal `values` from its Gamma(1, 1)-prior conditional."""
    shape = _GAMMA_A0 + values.size / 2.0
    rate = _GAMMA_B0 + float(values @ values) / 2.0
    return float(rng.gamma(shape, 1.0 / rate))


class BayesianMF(FactorRatingModel):
    """Bayesian matrix factorisation with biases by Gibbs sampling (Salakhutdinov & Mnih 2008).

    See the module docstring for the model, the hyper-priors and how predictions average
    the samples.

    Parameters
    ----------
    n_factors : int, default 10
        Latent factors per sample (the ML-100K figures of Rendle et al. and myfm use 10).
    n_samples : int, default 200
        Gibbs draws averaged for prediction, after `burn_in`.
    burn_in : int, default 20
        Draws discarded first (the chain starts from small random factors).
    init_std : float, default 0.1
        Standard deviation of the initial factors (biases start at 0).
    n_threads : int, optional
        Threads of the per-row conditionals and of scoring (None: all cores). Results do not
        depend on it: the normal draws come from one seeded generator.
    random_state : int, numpy Generator or None

    Attributes
    ----------
    user_factors_, item_factors_ : ndarray of float32 (n, n_samples * n_factors)
        The kept draws side by side, scaled by ``n_samples ** -0.5``.
    user_bias_, item_bias_ : ndarray of float32
        Posterior means of the biases.
    global_mean_ : float
    noise_precision_ : ndarray (n_samples,)
        :math:`\\alpha` of each kept sample.
    loss_history_ : list of float
        Training mean squared error of each draw (burn-in included); the fit callback gets
        ``"loss"`` and ``"rmse"`` of the current draw per iteration.
    n_iter_ : int
        Iterations run (burn-in + samples, fewer when the callback stopped early).
    """

    algorithm = "bayesian-mf"
    label = "BayesianMF"
    demo_params: ClassVar[dict[str, Any] | None] = {"n_samples": 30, "burn_in": 5, "random_state": None}

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_factors": [Interval(int, 1, None)],
        "n_samples": [Interval(int, 1, None)],
        "burn_in": [Interval(int, 0, None)],
        "init_std": [Interval(float, 0, None)],
        "n_threads": [Interval(int, 0, None), NONE],
        "random_state": [RandomState, NONE],
    }

    noise_precision_: np.ndarray
    user_prior_mean_: np.ndarray
    user_prior_precision_: np.ndarray
    user_bias_precision_: np.ndarray
    item_bias_samples_: np.ndarray
    fold_in_seed_: int

    def __init__(
        self,
        *,
        n_factors: int = 10,
        n_samples: int = 200,
        burn_in: int = 20,
        init_std: float = 0.1,
        n_threads: int | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.n_samples = n_samples
        self.burn_in = burn_in
        self.init_std = init_std
        self.n_threads = n_threads
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        self._start_fit(data)
        rng = check_random_state(self.random_state)
        f, mu = int(self.n_factors), self.global_mean_
        by_user = data.matrix.tocsr()
        by_item = sp.csr_matrix(by_user.T)
        users = np.ascontiguousarray(rng.normal(0.0, self.init_std, (data.n_users, f)))
        items = np.ascontiguousarray(rng.normal(0.0, self.init_std, (data.n_items, f)))
        user_bias, item_bias = np.zeros(data.n_users), np.zeros(data.n_items)
        kept: list[tuple[Any, ...]] = []
        rows, cols = np.repeat(np.arange(data.n_users), np.diff(by_user.indptr)), by_user.indices
        values = by_user.data.astype(np.float64)

        def sweep() -> float:
            m_u, lam_u = _sample_hyper(users, rng)
            bias_prec_u = _sample_precision(user_bias, rng)
            alpha = state["alpha"]
            z = rng.standard_normal((data.n_users, f + 1))
            sample_rows(
                by_user.indptr,
                by_user.indices,
                by_user.data,
                mu,
                item_bias,
                items,
                m_u,
                lam_u,
                bias_prec_u,
                alpha,
                z,
                user_bias,
                users,
            )
            m_v, lam_v = _sample_hyper(items, rng)
            bias_prec_v = _sample_precision(item_bias, rng)
            z = rng.standard_normal((data.n_items, f + 1))
            sample_rows(
                by_item.indptr,
                by_item.indices,
                by_item.data,
                mu,
                user_bias,
                users,
                m_v,
                lam_v,
                bias_prec_v,
                alpha,
                z,
                item_bias,
                items,
            )
            residual = values - mu - user_bias[rows] - item_bias[cols] - np.einsum("ij,ij->i", users[rows], items[cols])
            state["alpha"] = _sample_precision(residual, rng)
            if state["iteration"] >= self.burn_in:
                kept.append(
                    (users.copy(), items.copy(), user_bias.copy(), item_bias.copy(), m_u, lam_u, bias_prec_u, alpha)
                )
            state["iteration"] += 1
            return float(residual @ residual)

        state: dict[str, Any] = {"alpha": 2.0, "iteration": 0}  # BPMF's alpha = 2 as the starting value
        with thread_limits(self.n_threads):
            n_iter = int(self.burn_in) + int(self.n_samples)
            self._run_epochs(data.nnz, sweep, callback, lambda: None, lambda saved: None, n_epochs=n_iter)
        if not kept:  # the callback stopped during burn-in: the last draw is all there is
            kept.append((users, items, user_bias, item_bias, np.zeros(f), np.eye(f), 1.0, state["alpha"]))
        self._average(kept)
        self.fold_in_seed_ = int(rng.integers(2**31))
        self._zero_unknown()

    def _average(self, kept: list[tuple[Any, ...]]) -> None:
        """The averaged predictive state (module docstring) and what fold-in needs per sample."""
        scale = 1.0 / np.sqrt(len(kept))
        self.user_factors_ = np.ascontiguousarray(np.hstack([s[0] for s in kept]) * scale, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(np.hstack([s[1] for s in kept]) * scale, dtype=np.float32)
        self.user_bias_ = np.mean([s[2] for s in kept], axis=0).astype(np.float32)
        self.item_bias_ = np.mean([s[3] for s in kept], axis=0).astype(np.float32)
        self.item_bias_samples_ = np.array([s[3] for s in kept], dtype=np.float32)
        self.user_prior_mean_ = np.array([s[4] for s in kept], dtype=np.float64)
        self.user_prior_precision_ = np.array([s[5] for s in kept], dtype=np.float64)
        self.user_bias_precision_ = np.array([s[6] for s in kept], dtype=np.float64)
        self.noise_precision_ = np.array([s[7] for s in kept], dtype=np.float64)

    # ------------------------------------------------------------------ fold-in
    def _fold_in(self, iidx: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        known = self.item_known_[iidx]
        iidx, ratings = iidx[known], ratings[known]
        n_kept, f = self.noise_precision_.size, int(self.n_factors)
        rng = np.random.default_rng(self.fold_in_seed_)
        indptr = np.array([0, iidx.size], dtype=np.int64)
        local = np.arange(iidx.size, dtype=np.int32)
        root = np.sqrt(n_kept)
        biases, vectors = np.zeros(n_kept), np.zeros((n_kept, f))
        for s in range(n_kept):  # one draw per kept sample (tiny solves; the loop is over samples)
            other = self.item_factors_[iidx, s * f : (s + 1) * f].astype(np.float64) * root
            out_b, out_f = np.zeros(1), np.zeros((1, f))
            sample_rows(
                indptr,
                local,
                ratings,
                self.global_mean_,
                self.item_bias_samples_[s, iidx],
                other,
                self.user_prior_mean_[s],
                self.user_prior_precision_[s],
                self.user_bias_precision_[s],
                self.noise_precision_[s],
                rng.standard_normal((1, f + 1)),
                out_b,
                out_f,
            )
            biases[s], vectors[s] = out_b[0], out_f[0]
        return float(biases.mean()), vectors.reshape(-1) / root

    # ------------------------------------------------------------------ persistence
    _SAMPLE_ARRAYS: ClassVar[tuple[str, ...]] = (
        "noise_precision",
        "user_prior_mean",
        "user_prior_precision",
        "user_bias_precision",
        "item_bias_samples",
    )

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, state = super()._state()
        for name in self._SAMPLE_ARRAYS:
            arrays[name] = getattr(self, name + "_")
        state["fold_in_seed"] = self.fold_in_seed_
        return arrays, state

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        super()._set_state(arrays, state)
        for name in self._SAMPLE_ARRAYS:
            setattr(self, name + "_", np.ascontiguousarray(arrays[name]))
        self.fold_in_seed_ = int(state["fold_in_seed"])
        n_kept, f = self.noise_precision_.shape[0], int(self.n_factors)
        shapes = {
            "user_factors_": (self.n_users, n_kept * f),
            "item_factors_": (self.n_items, n_kept * f),
            "user_prior_mean_": (n_kept, f),
            "user_prior_precision_": (n_kept, f, f),
            "user_bias_precision_": (n_kept,),
            "item_bias_samples_": (n_kept, self.n_items),
        }
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name[:-1]} has shape {getattr(self, name).shape}, expected {shape}")
