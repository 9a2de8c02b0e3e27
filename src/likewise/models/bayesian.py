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
the averaged score is clipped (BPMF clips each sample's prediction).

**The factorization-machine form** (``implicit_feedback``, ``flipped``, ``side_features``; any of
them on): Bayesian SVD++ as Rendle, Zhang & Koren 2019 ran it - a factorization machine whose
design row for rating (u, i) is [u's one-hot, the items u rated weighted
:math:`|N(u)|^{-1/2}`, u's features | i's one-hot, the users who rated i weighted
:math:`|N(i)|^{-1/2}` ("flipped"), i's features], each feature group with its own Normal-Gamma
hyper-priors (`likewise.models._bayes_fm`), sampled by the relational Gibbs kernel
`likewise.kernels.bayes_fm` (each user's and item's one-hot parameters jointly, the other
features coordinate-wise as libFM does). Its per-sample user vector is the user block's factor
sum :math:`q_u = v_u + |N(u)|^{-1/2}\\sum_{j \\in N(u)} y_j (+ \\text{features})`, its bias the block's
linear and within-block pairwise terms; stored the same way as the plain model's, so scoring and
persistence are unchanged. Fold-in draws the new user's (w_u, v_u) jointly per sample with the
history as N(u) (the same conditional the sweep uses); a new user has no side features there.
Without the options the block sampler above runs (Normal-Wishart priors, full-covariance row
draws; it is also faster).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from likewise._util import check_random_state
from likewise.data.interactions import Interactions
from likewise.kernels._threads import thread_limits
from likewise.kernels.gibbs import sample_rows
from likewise.models._bayes_fm import FMChain, FMSample, build_blocks
from likewise.models._factor import FactorRatingModel
from likewise.models._params import BOOL, NONE, Interval, RandomState
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
    implicit_feedback : bool, default False
        Add the SVD++ implicit term :math:`|N(u)|^{-1/2}\\sum_{j \\in N(u)} y_j` (N(u): the items the
        user rated in training) to every user, in the factorization-machine form.
    flipped : bool, default False
        Add the item-side term :math:`|N(i)|^{-1/2}\\sum_{v \\in N(i)} z_v` (N(i): the users who rated i).
    side_features : bool, default False
        Add ``Interactions.user_features`` / ``item_features`` as feature groups (values as
        given); fitting data without either raises `DataError`.

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
        "implicit_feedback": [BOOL],
        "flipped": [BOOL],
        "side_features": [BOOL],
    }

    noise_precision_: np.ndarray
    user_prior_mean_: np.ndarray
    user_prior_precision_: np.ndarray
    user_bias_precision_: np.ndarray
    item_bias_samples_: np.ndarray
    user_bias_mean_: np.ndarray
    implicit_bias_samples_: np.ndarray
    implicit_factor_samples_: np.ndarray
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
        implicit_feedback: bool = False,
        flipped: bool = False,
        side_features: bool = False,
    ) -> None:
        self.n_factors = n_factors
        self.n_samples = n_samples
        self.burn_in = burn_in
        self.init_std = init_std
        self.n_threads = n_threads
        self.random_state = random_state
        self.implicit_feedback = implicit_feedback
        self.flipped = flipped
        self.side_features = side_features

    @property
    def fm_form(self) -> bool:
        """Whether the factorization-machine sampler runs (any of the FM options is on)."""
        return bool(self.implicit_feedback or self.flipped or self.side_features)

    # ------------------------------------------------------------------ fitting
    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        self._start_fit(data)
        rng = check_random_state(self.random_state)
        if self.fm_form:
            self._fit_fm(data, callback, rng)
            return
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
            self._run_epochs(
                data.nnz, sweep, callback, lambda: None, lambda saved: None,
                before_predict=lambda: self._install_draw(users, items, user_bias, item_bias), n_epochs=n_iter,
            )  # fmt: skip
        if not kept:  # the callback stopped during burn-in: the last draw is all there is
            kept.append((users, items, user_bias, item_bias, np.zeros(f), np.eye(f), 1.0, state["alpha"]))
        self._average(kept)
        self.fold_in_seed_ = int(rng.integers(2**31))
        self._zero_unknown()

    def _install_draw(self, users: np.ndarray, items: np.ndarray, user_bias: np.ndarray, item_bias: np.ndarray) -> None:
        """Make the current draw the predictive state (what `validation=` scores during fit;
        the averaged state replaces it when the chain ends)."""
        self.user_factors_ = np.ascontiguousarray(users, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(items, dtype=np.float32)
        self.user_bias_ = np.asarray(user_bias, dtype=np.float32)
        self.item_bias_ = np.asarray(item_bias, dtype=np.float32)

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

    def _fit_fm(self, data: Interactions, callback: FitCallback | None, rng: np.random.Generator) -> None:
        """The factorization-machine form (`likewise.models._bayes_fm`)."""
        user, item, implicit_start = build_blocks(
            data, implicit_feedback=bool(self.implicit_feedback), flipped=bool(self.flipped),
            side_features=bool(self.side_features), n_factors=int(self.n_factors),
            init_std=float(self.init_std), rng=rng,
        )  # fmt: skip
        targets = data.matrix.tocsr().data.astype(np.float64) - self.global_mean_
        chain = FMChain(user, item, targets, implicit_start if self.implicit_feedback else None)
        kept: list[FMSample] = []
        last: list[FMSample] = []  # the latest draw, for a callback that stops during burn-in

        def sweep() -> float:
            loss, sample = chain.step(rng)
            if chain_state["iteration"] >= self.burn_in:
                kept.append(sample)
            chain_state["iteration"] += 1
            last[:] = [sample]
            return loss

        chain_state = {"iteration": 0}

        with thread_limits(self.n_threads):
            n_iter = int(self.burn_in) + int(self.n_samples)
            self._run_epochs(
                data.nnz, sweep, callback, lambda: None, lambda saved: None,
                before_predict=lambda: self._install_draw(last[0].user_q, last[0].item_q, last[0].user_bias,
                                                          last[0].item_bias),
                n_epochs=n_iter,
            )  # fmt: skip
        self._average_fm(kept or last)
        self.fold_in_seed_ = int(rng.integers(2**31))

    def _average_fm(self, kept: list[FMSample]) -> None:
        """The averaged predictive state of the FM form, laid out as the plain model's, and what
        its fold-in needs per sample (the user group's hyper-parameters, the implicit group)."""
        scale = 1.0 / np.sqrt(len(kept))
        self.user_factors_ = np.ascontiguousarray(np.hstack([s.user_q for s in kept]) * scale, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(np.hstack([s.item_q for s in kept]) * scale, dtype=np.float32)
        self.user_bias_ = np.mean([s.user_bias for s in kept], axis=0).astype(np.float32)
        self.item_bias_ = np.mean([s.item_bias for s in kept], axis=0).astype(np.float32)
        self.item_bias_samples_ = np.array([s.item_bias for s in kept], dtype=np.float32)
        self.user_bias_mean_ = np.array([s.user_hyper[0] for s in kept], dtype=np.float64)
        self.user_bias_precision_ = np.array([s.user_hyper[1] for s in kept], dtype=np.float64)
        self.user_prior_mean_ = np.array([s.user_hyper[2] for s in kept], dtype=np.float64)
        self.user_prior_precision_ = np.array([np.diag(s.user_hyper[3]) for s in kept], dtype=np.float64)
        self.noise_precision_ = np.array([s.alpha for s in kept], dtype=np.float64)
        if self.implicit_feedback:
            self.implicit_bias_samples_ = np.array([s.implicit_linear for s in kept], dtype=np.float32)
            self.implicit_factor_samples_ = np.array([s.implicit_factors for s in kept], dtype=np.float32)

    # ------------------------------------------------------------------ fold-in
    def _fold_in(self, iidx: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        known = self.item_known_[iidx]
        iidx, ratings = iidx[known], ratings[known]
        if self.fm_form:
            return self._fold_in_fm(iidx, ratings)
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

    def _fold_in_fm(self, iidx: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        """Fold-in in the FM form: per kept sample, the new user's one-hot (w_u, v_u) drawn jointly
        from its Gaussian conditional given that sample (exact: the score is linear in them),
        with the history as N(u) of the implicit term; the user has no side features."""
        n_kept, f = self.noise_precision_.size, int(self.n_factors)
        rng = np.random.default_rng(self.fold_in_seed_)
        indptr = np.array([0, iidx.size], dtype=np.int64)
        local = np.arange(iidx.size, dtype=np.int32)
        root = np.sqrt(n_kept)
        biases, vectors = np.zeros(n_kept), np.zeros((n_kept, f))
        for s in range(n_kept):  # one draw per kept sample (tiny solves; the loop is over samples)
            implicit_q, implicit_bias = self._implicit_term(s, iidx)
            item_q = self.item_factors_[iidx, s * f : (s + 1) * f].astype(np.float64) * root
            mu_w = float(self.user_bias_mean_[s])
            # the score is w_u + v_u . (q_i + y~) + [item terms + b~ + y~ . q_i]: known given sample s
            known_part = self.item_bias_samples_[s, iidx].astype(np.float64) + implicit_bias + item_q @ implicit_q
            out_b, out_f = np.zeros(1), np.zeros((1, f))
            sample_rows(
                indptr, local, ratings, self.global_mean_, known_part + mu_w, item_q + implicit_q,
                self.user_prior_mean_[s], self.user_prior_precision_[s], self.user_bias_precision_[s],
                self.noise_precision_[s], rng.standard_normal((1, f + 1)), out_b, out_f,
            )  # fmt: skip
            # the user block's terms: w_u + implicit linear + self-interaction v_u . y~ + const
            biases[s] = out_b[0] + mu_w + implicit_bias + float(out_f[0] @ implicit_q)
            vectors[s] = out_f[0] + implicit_q
        return float(biases.mean()), vectors.reshape(-1) / root

    def _implicit_term(self, s: int, iidx: np.ndarray) -> tuple[np.ndarray, float]:
        """(y~, b~) of sample s for the history `iidx`: y~ = |N|^-1/2 sum_j y_j and the terms of the
        user block that do not involve the one-hot: sum_j w_j |N|^-1/2 + the implicit items'
        pairwise interactions (sum_f y~_f^2 - sum_j y_jf^2 / |N|) / 2. Zero without the group."""
        f = int(self.n_factors)
        if not self.implicit_feedback or iidx.size == 0:
            return np.zeros(f), 0.0
        weight = 1.0 / np.sqrt(iidx.size)
        factors = self.implicit_factor_samples_[s, iidx].astype(np.float64)
        summed = factors.sum(axis=0) * weight
        self_term = 0.5 * (float(summed @ summed) - float((factors * factors).sum()) * weight * weight)
        linear = float(self.implicit_bias_samples_[s, iidx].astype(np.float64).sum()) * weight
        return summed, linear + self_term

    # ------------------------------------------------------------------ persistence
    _SAMPLE_ARRAYS: ClassVar[tuple[str, ...]] = (
        "noise_precision",
        "user_prior_mean",
        "user_prior_precision",
        "user_bias_precision",
        "item_bias_samples",
    )

    def _sample_arrays(self) -> tuple[str, ...]:
        """The per-sample arrays this configuration keeps for fold-in."""
        names = self._SAMPLE_ARRAYS
        if self.fm_form:
            names += ("user_bias_mean",)
        if self.implicit_feedback:
            names += ("implicit_bias_samples", "implicit_factor_samples")
        return names

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, state = super()._state()
        for name in self._sample_arrays():
            arrays[name] = getattr(self, name + "_")
        state["fold_in_seed"] = self.fold_in_seed_
        return arrays, state

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        super()._set_state(arrays, state)
        for name in self._sample_arrays():
            if name not in arrays:
                raise ValueError(f"{name} is missing (the model was saved with {self.get_params()})")
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
        if self.fm_form:
            shapes["user_bias_mean_"] = (n_kept,)
        if self.implicit_feedback:
            shapes["implicit_bias_samples_"] = (n_kept, self.n_items)
            shapes["implicit_factor_samples_"] = (n_kept, self.n_items, f)
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name[:-1]} has shape {getattr(self, name).shape}, expected {shape}")
