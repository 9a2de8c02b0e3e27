"""HybridMF: LightFM's hybrid factorisation (Kula 2015) under likewise's contract, plus cold start.

Users and items are described by features (``Interactions.user_features`` /
``item_features``, plus one identity feature per user / item with training interactions,
switchable). Each feature f has an embedding e_f and a bias c_f; a row's representation is the
feature-weighted sum, ``p_u = sum_f x_uf e_f``, ``b_u = sum_f x_uf c_f`` (items: ``q_i``,
``b_i``), rows normalised to sum 1 by default, and the score is ``p_u . q_i + b_u + b_i``.
Training: `likewise.kernels.hybrid` (WARP, k-OS WARP, BPR, logistic; adagrad / adadelta;
Hogwild, or serial and bit-reproducible with ``deterministic=True``).

Stored scoring arrays: ``user_factors_ = [P | b_u | 1]`` and ``item_factors_ = [Q | 1 | b_i]``,
so ``user_factors_ @ item_factors_.T`` is the score and the factor family's fused top-n,
pairwise and block scoring apply unchanged; similarities use P and Q only.

Cold start (docs/models.md, "Cold start"):

- **New items** with features: ``model.add_items(ids, features)`` (no retraining): each new
  item's representation is its normalised features' sum (no identity); afterwards the ids are
  ordinary items (``recommend(..., candidates=new_ids)``, ``similar_items``, ``predict``).
- **New users**: ``recommend_new_user(features=..., items=...)`` walks the fallback chain
  (``fallback``, default ``"features,fold-in,popularity"``): "features" applies when a known
  feature is given (the features' representation, refined by the history when one is given),
  "fold-in" when a known history item is given (solved from the history alone), "popularity"
  always. The step used is in ``Recs.fallback_step`` and in `explain_new_user`.
- **Fold-in** (`new_user_vector`): regularised least squares with the item representations
  fixed, implicit-ALS style (Hu et al. 2008):
  ``min_p sum_i c_i (t_i - p.q_i)^2 + lam |p - p0|^2`` over every item, with t_i = 1,
  c_i = 1 + fold_in_alpha w_i for history items and t_i = 0, c_i = 1 otherwise, p0 the
  features' representation (0 without features), lam = fold_in_reg * trace(Q^T Q) / f (so the
  penalty does not depend on the scale the embeddings were trained to). Closed form:
  ``(Q^T Q + sum_H (c_i - 1) q_i q_i^T + lam I) p = sum_H c_i q_i + lam p0``; ``Q^T Q`` is
  cached, so a new user costs one f x f solve.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp

from likewise._util import as_1d, check_random_state, join_words, plain
from likewise.data.idmap import IdMap
from likewise.data.interactions import FeatureMatrix, Interactions
from likewise.exceptions import DataError, DataWarning, InvalidParameterError
from likewise.kernels._threads import thread_limits
from likewise.kernels.bpr import positives_bitset
from likewise.kernels.hybrid import LOSSES, SCHEDULES, hybrid_epoch, new_params
from likewise.kernels.topk import topk_rows
from likewise.models._epochs import (
    Divergence,
    FitRequest,
    LossHistory,
    history_arrays,
    restore_history,
    run_epochs,
)
from likewise.models._factor import FactorModel, cosine_rows
from likewise.models._features import design, feature_rows, grow_items, new_ids, normalise_rows
from likewise.models._params import BOOL, NONE, Interval, Options, RandomState
from likewise.models.base import FitCallback
from likewise.models.recs import Explanation, Recs

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["FALLBACK_STEPS", "HybridMF"]

FALLBACK_STEPS = ("features", "fold-in", "popularity")
_PARAM_NAMES = ("emb", "bias", "emb_g2", "bias_g2", "emb_d2", "bias_d2")


class _FallbackChain:
    """A comma-separated chain of distinct steps from FALLBACK_STEPS."""

    def is_satisfied_by(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        steps = [s.strip() for s in value.split(",")]
        return bool(steps) and len(set(steps)) == len(steps) and all(s in FALLBACK_STEPS for s in steps)

    def __str__(self) -> str:
        return "a comma-separated chain of distinct steps from 'features', 'fold-in', 'popularity'"


class _HybridRequest(FitRequest):
    """`FitRequest` carrying the sample weights of one ``fit`` / ``partial_fit`` call."""

    def __init__(self, callback: FitCallback | None, sample_weight: np.ndarray | None) -> None:
        super().__init__(callback)
        object.__setattr__(self, "sample_weight", sample_weight)


class HybridMF(FactorModel):
    """Hybrid matrix factorisation over user and item features (LightFM's model).

    Parameters
    ----------
    n_factors : int, default 32
        Embedding width (LightFM's ``no_components``).
    loss : {"warp", "warp-kos", "bpr", "logistic"}, default "warp"
    learning_schedule : {"adagrad", "adadelta"}, default "adagrad"
    learning_rate : float, default 0.05
        Adagrad's step size (unused by adadelta).
    rho, epsilon : float, default 0.95, 1e-6
        Adadelta's decay and conditioning.
    item_alpha, user_alpha : float, default 0.0
        L2 penalty on the item / user feature embeddings touched by each step.
    max_sampled : int, default 10
        WARP's negative draws per positive.
    kos_k, kos_n : int, default 5, 10
        k-OS WARP: the k-th best of n positives drawn per user.
    n_epochs : int, default 10
    user_identity, item_identity : bool, default True
        Give every user / item with training interactions its own identity feature.
    normalise : bool, default True
        Scale each design row (identity + features) to sum 1, as LightFM's Dataset does.
    fallback : str, default "features,fold-in,popularity"
        The new-user fallback chain (see the module docstring).
    fold_in_reg, fold_in_alpha : float, default 0.1, 10.0
        Fold-in penalty (relative to trace(Q^T Q) / f) and confidence of history items.
    deterministic : bool, default False
        Serial, bit-reproducible SGD instead of Hogwild.
    random_state : int, numpy Generator or None
    n_threads : int or None

    Attributes
    ----------
    user_embeddings_, item_embeddings_ : float32 (n_features, n_factors)
        Per-feature embeddings (identity columns first).
    user_feature_bias_, item_feature_bias_ : float32 (n_features,)
    user_design_, item_design_ : CSR float32
        Rows x features actually used (identity + features, normalised).
    user_feature_names_, item_feature_names_ : unicode arrays of the named features
    user_factors_, item_factors_ : the scoring arrays (module docstring)
    loss_history_, n_iter_

    Notes
    -----
    M. Kula, "Metadata Embeddings for User and Item Cold-start Recommendations", CBRecSys 2015.
    J. Weston, S. Bengio, N. Usunier, "WSABIE: Scaling Up To Large Vocabulary Image
    Annotation", IJCAI 2011 (WARP). S. Rendle et al., "BPR", UAI 2009.
    """

    algorithm = "hybrid"
    label = "HybridMF"
    supports_features: ClassVar[bool] = True
    demo_params: ClassVar[dict[str, Any] | None] = {"n_epochs": 10, "random_state": None}

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_factors": [Interval(int, 1, None)],
        "loss": [Options(tuple(LOSSES))],
        "learning_schedule": [Options(tuple(SCHEDULES))],
        "learning_rate": [Interval(float, 0, None, closed="neither")],
        "rho": [Interval(float, 0, 1, closed="neither")],
        "epsilon": [Interval(float, 0, None, closed="neither")],
        "item_alpha": [Interval(float, 0, None)],
        "user_alpha": [Interval(float, 0, None)],
        "max_sampled": [Interval(int, 1, None)],
        "kos_k": [Interval(int, 1, None)],
        "kos_n": [Interval(int, 1, None)],
        "n_epochs": [Interval(int, 0, None)],
        "user_identity": [BOOL],
        "item_identity": [BOOL],
        "normalise": [BOOL],
        "fallback": [_FallbackChain()],
        "fold_in_reg": [Interval(float, 0, None, closed="neither")],
        "fold_in_alpha": [Interval(float, 0, None)],
        "deterministic": [BOOL],
        "random_state": [RandomState, NONE],
        "n_threads": [Interval(int, 0, None), NONE],
    }

    def __init__(
        self,
        *,
        n_factors: int = 32,
        loss: Literal["warp", "warp-kos", "bpr", "logistic"] = "warp",
        learning_schedule: Literal["adagrad", "adadelta"] = "adagrad",
        learning_rate: float = 0.05,
        rho: float = 0.95,
        epsilon: float = 1e-6,
        item_alpha: float = 0.0,
        user_alpha: float = 0.0,
        max_sampled: int = 10,
        kos_k: int = 5,
        kos_n: int = 10,
        n_epochs: int = 10,
        user_identity: bool = True,
        item_identity: bool = True,
        normalise: bool = True,
        fallback: str = "features,fold-in,popularity",
        fold_in_reg: float = 0.1,
        fold_in_alpha: float = 10.0,
        deterministic: bool = False,
        random_state: int | np.random.Generator | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.loss = loss
        self.learning_schedule = learning_schedule
        self.learning_rate = learning_rate
        self.rho = rho
        self.epsilon = epsilon
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.max_sampled = max_sampled
        self.kos_k = kos_k
        self.kos_n = kos_n
        self.n_epochs = n_epochs
        self.user_identity = user_identity
        self.item_identity = item_identity
        self.normalise = normalise
        self.fallback = fallback
        self.fold_in_reg = fold_in_reg
        self.fold_in_alpha = fold_in_alpha
        self.deterministic = deterministic
        self.random_state = random_state
        self.n_threads = n_threads

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        interactions: Interactions,
        *,
        sample_weight: Any = None,
        callback: FitCallback | None = None,
    ) -> Self:
        """Learn from `interactions` (and their user / item features).

        ``sample_weight``: one non-negative weight per stored interaction, in the CSR order of
        ``interactions.matrix`` (``interactions.values`` gives the values themselves as weights);
        default 1 each (LightFM's ``sample_weight``).
        """
        weights = self._sample_weights(interactions, sample_weight)
        return super().fit(interactions, callback=_HybridRequest(callback, weights))

    def partial_fit(
        self,
        interactions: Interactions,
        *,
        n_epochs: int | None = None,
        sample_weight: Any = None,
        callback: FitCallback | None = None,
    ) -> Self:
        """Train `n_epochs` more epochs (default ``n_epochs``), keeping the embeddings and the
        learning-rate state; fits from scratch when the model is not fitted.

        `interactions` must use the model's id maps (after `add_items` / `add_users`, build them
        with ``users=model.users_, items=model.items_``). Rows that had no identity feature at
        fit time do not gain one: their representation stays their features'.
        """
        if not self.is_fitted:
            if n_epochs is not None:
                raise InvalidParameterError("n_epochs is for continuing a fitted model; set the n_epochs parameter")
            return self.fit(interactions, sample_weight=sample_weight, callback=callback)
        if not isinstance(interactions, Interactions):
            raise InvalidParameterError(f"partial_fit expects likewise Interactions, got {type(interactions).__name__}")
        if interactions.users != self.users_ or interactions.items != self.items_:
            raise InvalidParameterError(
                "partial_fit needs interactions over the model's users and items (build them with "
                "users=model.users_, items=model.items_; add new ones with add_users / add_items first)"
            )
        epochs = int(self.n_epochs if n_epochs is None else n_epochs)
        if epochs < 0:
            raise InvalidParameterError(f"n_epochs must be >= 0, got {n_epochs}")
        weights = self._sample_weights(interactions, sample_weight)
        self.seen_ = interactions.matrix
        self._train(interactions, epochs, FitRequest.of(callback).callback, weights)
        return self

    @staticmethod
    def _sample_weights(data: Any, sample_weight: Any) -> np.ndarray | None:
        if sample_weight is None or not isinstance(data, Interactions):
            return None
        weights = np.asarray(sample_weight, dtype=np.float32).reshape(-1)
        if weights.shape != (data.nnz,):
            raise InvalidParameterError(
                f"sample_weight must have one value per interaction ({data.nnz}), got {weights.size}"
            )
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise InvalidParameterError("sample_weight must hold finite, non-negative numbers")
        return weights

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        rng = check_random_state(self.random_state)
        user_rows = data.user_counts() > 0 if self.user_identity else None
        item_rows = data.item_counts() > 0 if self.item_identity else None
        self.user_design_, self.n_user_identity_ = design(
            data.n_users, data.user_features, user_rows, normalise=self.normalise
        )
        self.item_design_, self.n_item_identity_ = design(
            data.n_items, data.item_features, item_rows, normalise=self.normalise
        )
        self.user_feature_names_ = _names(data.user_features)
        self.item_feature_names_ = _names(data.item_features)
        schedule = SCHEDULES[self.learning_schedule]
        self.params_ = new_params(
            self.user_design_.shape[1], self.item_design_.shape[1], int(self.n_factors), schedule, rng
        )
        self.seed_ = int(rng.integers(0, 2**63))
        self.epochs_done_ = 0
        self.loss_history_ = LossHistory()
        self.n_iter_ = 0
        request = callback if isinstance(callback, _HybridRequest) else _HybridRequest(callback, None)
        self._train(data, int(self.n_epochs), request.callback, getattr(request, "sample_weight", None))

    def _train(self, data: Interactions, n_epochs: int, callback: FitCallback | None, weights: Any) -> None:
        csr = data.matrix
        weights = np.ones(csr.nnz, np.float32) if weights is None else weights
        bits = positives_bitset(csr.indptr, csr.indices, data.n_items)
        advice = f"lower learning_rate (got {self.learning_rate}) or raise item_alpha / user_alpha"
        divergence = Divergence("HybridMF", advice, "the embeddings became NaN or infinite")
        offset = self.epochs_done_
        with thread_limits(self.n_threads) as threads:
            streams = 1 if self.deterministic else threads

            def step(epoch: int) -> dict[str, float]:
                return hybrid_epoch(
                    csr, weights, self.user_design_, self.item_design_, self.params_,
                    loss=LOSSES[self.loss], schedule=SCHEDULES[self.learning_schedule],
                    learning_rate=float(self.learning_rate), rho=float(self.rho), epsilon=float(self.epsilon),
                    user_alpha=float(self.user_alpha), item_alpha=float(self.item_alpha),
                    max_sampled=int(self.max_sampled), kos_k=int(self.kos_k), kos_n=int(self.kos_n),
                    seed=self.seed_, epoch=offset + epoch, n_streams=streams, positive_bits=bits,
                )  # fmt: skip

            def finite() -> bool:
                return bool(np.isfinite(self.params_["item_emb"]).all() and np.isfinite(self.params_["user_emb"]).all())

            result = run_epochs(
                step, n_epochs, callback=callback, divergence=divergence, finite=finite,
                check_loss=False, report_seconds=True,
            )  # fmt: skip
        self.epochs_done_ = offset + result.n_iter
        self.n_iter_ = self.n_iter_ + result.n_iter
        self.loss_history_ = LossHistory([*self.loss_history_, *result.loss_history])
        self._refresh()

    def _refresh(self) -> None:
        """Recompute the scoring arrays from the embeddings and the design matrices."""
        f = int(self.n_factors)
        p = self.params_
        users = np.empty((self.user_design_.shape[0], f + 2), dtype=np.float32)
        users[:, :f] = self.user_design_ @ p["user_emb"]
        users[:, f] = self.user_design_ @ p["user_bias"]
        users[:, f + 1] = 1.0
        items = np.empty((self.item_design_.shape[0], f + 2), dtype=np.float32)
        items[:, :f] = self.item_design_ @ p["item_emb"]
        items[:, f] = 1.0
        items[:, f + 1] = self.item_design_ @ p["item_bias"]
        self.user_factors_ = np.ascontiguousarray(users)
        self.item_factors_ = np.ascontiguousarray(items)
        self._forget_similarities()
        self.__dict__.pop("_gram_cache_", None)

    # ------------------------------------------------------------------ similarities
    def _similar_items(self, iidx: np.ndarray) -> np.ndarray:
        vectors = self.item_factors_[:, : int(self.n_factors)]
        return cosine_rows(vectors, iidx, np.linalg.norm(vectors, axis=1).astype(np.float32), self.n_threads)

    def _similar_users(self, uidx: np.ndarray) -> np.ndarray:
        vectors = self.user_factors_[:, : int(self.n_factors)]
        return cosine_rows(vectors, uidx, np.linalg.norm(vectors, axis=1).astype(np.float32), self.n_threads)

    # ------------------------------------------------------------------ cold start: new users
    def _steps(self) -> list[str]:
        return [s.strip() for s in str(self.fallback).split(",")]

    def _fill_caches(self, allowed: list[np.ndarray]) -> None:
        super()._fill_caches(allowed)
        self._gram()  # folding in a new user solves with it

    def _gram(self) -> np.ndarray:
        items = self.item_factors_
        cached = self.__dict__.get("_gram_cache_")
        if cached is not None and cached[0] is items:
            return cached[1]
        q = items[:, : int(self.n_factors)].astype(np.float64)
        gram = q.T @ q
        self._gram_cache_ = (items, gram)
        return gram

    def _feature_vector(self, features: Any) -> np.ndarray | None:
        """The representation [p, b] (f + 1) of a new user's features; None when none is known."""
        if features is None:
            return None
        row = feature_rows([features] if not isinstance(features, FeatureMatrix) else features,
                           self.user_feature_names_, 1, "new user")  # fmt: skip
        if row.nnz == 0:
            return None
        full = sp.hstack([sp.csr_matrix((1, self.n_user_identity_), dtype=np.float32), row], format="csr")
        if self.normalise:
            full = normalise_rows(full)
        p = self.params_
        out = np.empty(int(self.n_factors) + 1, dtype=np.float32)
        out[:-1] = (full @ p["user_emb"]).ravel()
        out[-1] = float((full @ p["user_bias"])[0])
        return out

    def _solve(self, iidx: np.ndarray, weights: np.ndarray, prior: np.ndarray | None) -> np.ndarray:
        """The fold-in least squares of the module docstring: p (f,), float64."""
        f = int(self.n_factors)
        gram = self._gram()
        q = self.item_factors_[iidx, :f].astype(np.float64)
        conf = 1.0 + float(self.fold_in_alpha) * weights.astype(np.float64)
        lam = float(self.fold_in_reg) * max(float(np.trace(gram)) / f, 1e-12)
        lhs = gram + (q.T * (conf - 1.0)) @ q + lam * np.eye(f)
        p0 = np.zeros(f) if prior is None else prior[:f].astype(np.float64)
        rhs = q.T @ conf + lam * p0
        return np.linalg.solve(lhs, rhs)

    def new_user_vector(
        self, *, features: Any = None, items: Any = None, weights: Any = None
    ) -> tuple[np.ndarray | None, str]:
        """(user scoring vector [p, b_u, 1] or None for popularity, the fallback step used).

        ``features``: a list of user feature names or a {name: value} dict; ``items``: raw
        ids of the user's items (unknown ids raise UnknownIdError); ``weights``: one strength
        per item (default 1).
        """
        self.check_is_fitted()
        iidx, w = self._history(items, weights)
        prior = self._feature_vector(features)
        f = int(self.n_factors)
        for step in self._steps():
            if step == "features" and prior is not None:
                p = self._solve(iidx, w, prior) if iidx.size else prior[:f].astype(np.float64)
                return self._scoring_vector(p, float(prior[f])), step
            if step == "fold-in" and iidx.size:
                return self._scoring_vector(self._solve(iidx, w, None), 0.0), step
            if step == "popularity":
                return None, step
        raise InvalidParameterError(
            f"fallback chain {self.fallback!r} has no step that applies to this user "
            "(add 'popularity' to the chain to always answer)"
        )

    def _scoring_vector(self, p: np.ndarray, bias: float) -> np.ndarray:
        out = np.empty(int(self.n_factors) + 2, dtype=np.float32)
        out[:-2] = p
        out[-2] = bias
        out[-1] = 1.0
        return out

    def _history(self, items: Any, weights: Any) -> tuple[np.ndarray, np.ndarray]:
        if items is None:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        iidx = self.items_.to_index(as_1d(items))
        if weights is None:
            return iidx, np.ones(iidx.size, np.float32)
        w = np.asarray(weights, dtype=np.float32).reshape(-1)
        if w.shape != iidx.shape or not np.isfinite(w).all():
            raise InvalidParameterError(f"weights must be {iidx.size} finite numbers, one per item")
        return iidx, w

    def _history_vector(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """`recommend_from_history`: fold-in from the history (no features)."""
        keep = weights > 0
        if not keep.any():
            return self._scoring_vector(np.zeros(int(self.n_factors)), 0.0)
        return self._scoring_vector(self._solve(iidx[keep], weights[keep], None), 0.0)

    def recommend_new_user(
        self,
        *,
        features: Any = None,
        items: Any = None,
        weights: Any = None,
        n: int = 10,
        exclude_seen: bool = True,
        exclude: Any = None,
        candidates: Any = None,
    ) -> Recs:
        """Top-`n` for a user unknown to the model, from features and / or a short history,
        through the fallback chain; ``Recs.fallback_step`` names the step used (and
        ``Recs.fallback`` is True when it was popularity)."""
        self._check_n(n)
        vector, step = self.new_user_vector(features=features, items=items, weights=weights)
        allowed = self._allowed_mask(exclude, candidates)
        iidx, _ = self._history(items, None)
        if exclude_seen:
            allowed[iidx] = False
        with self._threads():
            if vector is None:
                counts = np.bincount(self.seen_.indices, minlength=self.n_items).astype(np.float32)
                scores = counts.reshape(1, -1)
            else:
                scores = (self.item_factors_ @ vector).reshape(1, -1)
            indices, top = topk_rows(scores, n, allowed=allowed, parallel=False)
        return Recs(
            indices, top, self.items_, np.array([None], dtype=object), "user", titles=self.item_titles_,
            fallback=np.array([step == "popularity"]), fallback_step=np.array([step], dtype=object),
        )  # fmt: skip

    def explain_new_user(
        self, item: Any, *, features: Any = None, items: Any = None, weights: Any = None
    ) -> Explanation:
        """Why `item` scores as it does for a new user (features / history), naming the step."""
        self.check_is_fitted()
        iidx = int(self.items_.to_index([item])[0])
        vector, step = self.new_user_vector(features=features, items=items, weights=weights)
        if vector is None:
            count = int(np.count_nonzero(self.seen_.indices == iidx))
            frame = _frame([("popularity", plain(self.items_.ids[iidx]), float(count))])
            text = f"Fallback step 'popularity': {self.item_label(iidx)} has {count} training interactions."
            return Explanation(user=None, item=plain(self.items_.ids[iidx]), score=float(count), contributions=frame,
                               text=text)  # fmt: skip
        rows, text = self._item_terms(vector, iidx)
        history, _ = self._history(items, None)
        rows += self._history_rows(history, iidx)
        score = float(self.item_factors_[iidx] @ vector)
        what = {"features": "the user's features" + (" refined by their history" if history.size else ""),
                "fold-in": f"a fold-in of their {history.size} items"}[step]  # fmt: skip
        sentence = f"Fallback step '{step}' ({what}): {text}"
        return Explanation(user=None, item=plain(self.items_.ids[iidx]), score=score, contributions=_frame(rows),
                           text=sentence)  # fmt: skip

    # ------------------------------------------------------------------ cold start: new items / users
    def add_items(self, ids: Any, features: Any) -> Self:
        """Add items unseen at fit time, described by `features`, without retraining.

        Parameters
        ----------
        ids : array-like of raw item ids, none of them known to the model
        features : one entry per id - a list of feature names or a {name: value} dict -, a
            sparse matrix with one column per ``item_feature_names_``, or a FeatureMatrix
            (columns matched by name). Unknown feature names are reported (DataWarning).

        The new items get no identity feature and no interactions; item indices are
        re-assigned (ids stay sorted), raw ids are unaffected.
        """
        self._extend("item", ids, features)
        return self

    def add_users(self, ids: Any, features: Any) -> Self:
        """Add users unseen at fit time, described by `features` (as `add_items`)."""
        self._extend("user", ids, features)
        return self

    def _extend(self, side: str, ids: Any, features: Any) -> None:
        self.check_is_fitted()
        old: IdMap = self.items_ if side == "item" else self.users_
        raw = new_ids(old, ids, side)
        names = self.item_feature_names_ if side == "item" else self.user_feature_names_
        rows = feature_rows(features, names, raw.size, f"add_{side}s")
        if (np.diff(rows.indptr) == 0).any():
            warnings.warn(
                f"add_{side}s: {int((np.diff(rows.indptr) == 0).sum())} new {side}(s) have no known feature; "
                "they score by the biases alone",
                DataWarning,
                stacklevel=3,
            )
        n_identity = self.n_item_identity_ if side == "item" else self.n_user_identity_
        added = sp.hstack([sp.csr_matrix((raw.size, n_identity), dtype=np.float32), rows], format="csr")
        if self.normalise:
            added = normalise_rows(added)
        old_design = self.item_design_ if side == "item" else self.user_design_
        stacked = sp.csr_matrix(sp.vstack([old_design, added], format="csr"), dtype=np.float32)
        if side == "item":
            order = grow_items(self, raw)
            self.item_design_ = sp.csr_matrix(stacked[order])
        else:
            new_map = IdMap(np.concatenate([old.ids, raw]), name=old.name)
            if len(new_map) != len(old) + raw.size:
                known = [plain(v) for v in raw if v in old][:5]
                raise DataError(f"add_users: ids must be new and distinct; already known or repeated: {known}")
            order = np.argsort(new_map.to_index(np.concatenate([old.ids, raw])))
            self.user_design_ = sp.csr_matrix(stacked[order])
            seen = sp.vstack([self.seen_, sp.csr_matrix((raw.size, self.n_items), dtype=np.float32)], format="csr")
            self.seen_ = sp.csr_matrix(seen[order])
            self.users_ = new_map
        self._refresh()

    # ------------------------------------------------------------------ explain
    def _item_terms(self, user_vector: np.ndarray, iidx: int) -> tuple[list[tuple[str, Any, float]], str]:
        """Rows (kind, id, weight) of the item's features: x_if (e_f . p_u + c_f); they sum to
        p_u . q_i + b_i. Text names the top three."""
        f = int(self.n_factors)
        p = self.params_
        start, end = self.item_design_.indptr[iidx], self.item_design_.indptr[iidx + 1]
        cols = self.item_design_.indices[start:end]
        x = self.item_design_.data[start:end]
        weights = x * (p["item_emb"][cols] @ user_vector[:f] + p["item_bias"][cols])
        rows: list[tuple[str, Any, float]] = []
        for col, w in zip(cols, weights, strict=True):
            if col < self.n_item_identity_:
                rows.append(("item_identity", plain(self.items_.ids[iidx]), float(w)))
            else:
                rows.append(("item_feature", str(self.item_feature_names_[col - self.n_item_identity_]), float(w)))
        rows.sort(key=lambda r: -abs(r[2]))
        top = [f"{r[1] if r[0] == 'item_feature' else 'its identity (who liked it)'} ({r[2]:+.3g})" for r in rows[:3]]
        text = f"{self.item_label(iidx)}: " + (join_words(top) if top else "no features") + "."
        return rows, text

    def _history_rows(self, history: np.ndarray, iidx: int, limit: int = 3) -> list[tuple[str, Any, float]]:
        """The user's items closest to `iidx` in representation space (cosine)."""
        history = history[history != iidx]
        if history.size == 0:
            return []
        f = int(self.n_factors)
        rows = self.item_factors_[np.append(history, iidx), :f]
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        unit = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
        sims = unit[:-1] @ unit[-1]
        order = np.argsort(-sims, kind="stable")[:limit]
        return [("history_item", plain(self.items_.ids[history[k]]), float(sims[k])) for k in order]

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        f = int(self.n_factors)
        vector = self.user_factors_[uidx]
        rows, text = self._item_terms(vector, iidx)
        rows.append(("user_bias", plain(self.users_.ids[uidx]), float(vector[f])))
        p = self.params_
        start, end = self.user_design_.indptr[uidx], self.user_design_.indptr[uidx + 1]
        for col, x in zip(self.user_design_.indices[start:end], self.user_design_.data[start:end], strict=True):
            if col >= self.n_user_identity_:
                name = str(self.user_feature_names_[col - self.n_user_identity_])
                rows.append(("user_feature", name, float(x * (p["user_emb"][col] @ self.item_factors_[iidx, :f]))))
        history = self.seen_.indices[self.seen_.indptr[uidx] : self.seen_.indptr[uidx + 1]]
        similar = self._history_rows(history, iidx)
        rows += similar
        sentence = f"Score {score:.3g} for {text}"
        if similar:
            sentence += " Closest of the user's items: " + join_words(
                [self.item_label(int(self.items_.to_index([r[1]])[0])) for r in similar]
            ) + "."  # fmt: skip
        return _frame(rows), sentence

    # ------------------------------------------------------------------ persistence
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays: dict[str, np.ndarray] = {}
        for side in ("user", "item"):
            for part in _PARAM_NAMES:
                arrays[f"{side}_{part}"] = self.params_[f"{side}_{part}"]
            matrix = self.user_design_ if side == "user" else self.item_design_
            arrays[f"{side}_design_indptr"] = matrix.indptr.astype(np.int64)
            arrays[f"{side}_design_indices"] = matrix.indices.astype(np.int32)
            arrays[f"{side}_design_data"] = matrix.data.astype(np.float32)
            arrays[f"{side}_feature_names"] = self.user_feature_names_ if side == "user" else self.item_feature_names_
        arrays.update(history_arrays(self.loss_history_))
        state = {
            "n_iter": self.n_iter_,
            "seed": self.seed_,
            "epochs_done": self.epochs_done_,
            "n_user_identity": self.n_user_identity_,
            "n_item_identity": self.n_item_identity_,
            "n_user_columns": int(self.user_design_.shape[1]),
            "n_item_columns": int(self.item_design_.shape[1]),
        }
        return arrays, state

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        f = int(self.n_factors)
        self.params_ = {}
        for side, n_rows in (("user", self.n_users), ("item", self.n_items)):
            columns = int(state[f"n_{side}_columns"])
            matrix = sp.csr_matrix(
                (arrays[f"{side}_design_data"], arrays[f"{side}_design_indices"], arrays[f"{side}_design_indptr"]),
                shape=(n_rows, columns),
            )
            matrix.check_format(full_check=True)
            for part in _PARAM_NAMES:
                value = np.ascontiguousarray(arrays[f"{side}_{part}"], dtype=np.float32)
                expected = (columns, f) if part.startswith("emb") else (columns,)
                if value.shape != expected:
                    raise ValueError(f"{side}_{part} has shape {value.shape}, expected {expected}")
                self.params_[f"{side}_{part}"] = value
            names = np.asarray(arrays[f"{side}_feature_names"])
            identity = int(state[f"n_{side}_identity"])
            if names.dtype.kind != "U" or names.ndim != 1 or identity + names.size != columns:
                raise ValueError(f"{side} feature names do not match the design columns")
            setattr(self, f"{side}_design_", matrix)
            setattr(self, f"{side}_feature_names_", names)
            setattr(self, f"n_{side}_identity_", identity)
        self.seed_ = int(state["seed"])
        self.epochs_done_ = int(state["epochs_done"])
        self.loss_history_, self.n_iter_ = restore_history(arrays, state)
        self._refresh()


def _names(features: FeatureMatrix | None) -> np.ndarray:
    if features is None:
        return np.zeros(0, dtype="<U1")
    return np.asarray(features.names, dtype=str)


def _frame(rows: list[tuple[str, Any, float]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["kind", "id", "weight"])
    frame["weight"] = frame["weight"].astype(np.float32)
    order = np.argsort(-np.abs(frame["weight"].to_numpy()), kind="stable")
    return frame.iloc[order].reset_index(drop=True)
