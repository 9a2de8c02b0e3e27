"""Blend: Netflix-Prize stacking of likewise rating models (Töscher, Jahrer & Bell 2009; Koren 2009).

.. math::
    \\hat r_{ui} = w_0 + \\sum_m w_m p_m + a\\,\\ell_u + b\\,\\ell_i
        + \\sum_m (c_m \\ell_u + d_m \\ell_i)(p_m - \\mu),
    \\qquad \\ell_u = \\log(1 + |N(u)|),\\ \\ell_i = \\log(1 + |N(i)|)

where :math:`p_m` is base model m's (clipped) predicted rating, :math:`\\mu` the global mean and
:math:`|N(u)|`, :math:`|N(i)|` the user's and item's numbers of training ratings: a linear blend
whose weights move with the support, as in the BellKor / Pragmatic Chaos blends, where how
much to trust a neighbourhood model versus a factor model depends on how much the user and the
item have rated.

Fitting (stacking with K-fold out-of-fold predictions):

1. the training ratings are dealt into ``n_folds`` folds at random (seeded by ``random_state``);
   for each fold every base model is fitted on the other folds and predicts the fold's
   ratings, so every training rating gets one prediction per base model from a model that
   never saw it. The support features of those rows count the ratings of the fold's training
   part (what the predicting model saw);
2. the weights are ridge regression, in closed form, of the ratings on those features
   (``reg`` is added to the diagonal of the normal equations; the intercept is not penalised);
3. every base model is fitted again on all the training data; predictions combine their
   predictions with the learned weights (support counted on all the training data).

Time: a base model with ``predict_at`` (`TimeSVDpp`) predicts the out-of-fold ratings at their
own timestamps when the data has them; `Blend.predict_at` does the same for new pairs, and the
model contract's `predict` / `recommend` use each base model's own `predict` (timeSVD++ at the
user's mean date).

Base models are given as a list, each entry either an unfitted likewise rating model
(``SVDpp(n_factors=50)``) or an ``(algorithm, params)`` pair (``("svdpp", {"n_factors": 50})``,
the names of `likewise.models.ALGORITHMS`); a saved Blend stores them as ``[name, params]``
pairs. Blend's ``n_threads``, when not None, is given to every base model that has the
parameter; a base model whose ``random_state`` is None gets a seed drawn from Blend's
``random_state``, so a seeded Blend refits identically.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from likewise._util import check_random_state
from likewise.data.interactions import Interactions
from likewise.exceptions import InvalidParameterError
from likewise.models import _nested, _registry
from likewise.models._params import BOOL, NONE, Interval, RandomState
from likewise.models._rating import RatingModel, clip_note
from likewise.models.base import FitCallback, Recommender

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_MODELS", "Blend"]

# Users x items cells scored at once per base model in `Blend._score_users` (float64: ~16 MB).
_GRID_CELLS = 2_000_000

DEFAULT_MODELS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("bayesian-mf", {"n_factors": 10, "n_samples": 200, "burn_in": 20}),
    ("timesvdpp", {}),
    ("svdpp", {}),
    ("itemknn", {"k": 40, "min_k": 1, "similarity": "pearson_baseline", "prediction": "baseline"}),
)
"""Blend's base models when ``models`` is None (timeSVD++ only when the data has timestamps)."""


class _ModelList:
    """Constraint of ``models``: None or a non-empty list of rating models / (name, params) pairs."""

    def is_satisfied_by(self, value: Any) -> bool:
        if value is None:
            return True
        if not isinstance(value, (list, tuple)) or not value:
            return False
        return all(_nested.is_spec(entry) for entry in value)

    def __str__(self) -> str:
        return "None or a non-empty list of unfitted likewise rating models or (algorithm, params) pairs"


class Blend(RatingModel):
    """Stacking of likewise rating models with a support-aware ridge blender (module docstring).

    Parameters
    ----------
    models : list, optional
        Base models: unfitted likewise rating models or ``(algorithm, params)`` pairs
        (default `DEFAULT_MODELS`: BayesianMF, timeSVD++ when the data has timestamps, SVD++
        and ItemKNN pearson-baseline).
    n_folds : int, default 5
        Folds of the out-of-fold predictions (each base model is fitted ``n_folds + 1`` times).
    reg : float, default 1.0
        Ridge penalty added to the diagonal of the blender's normal equations (not to the
        intercept); the equations sum over the training ratings, so it matters little on
        tens of thousands of ratings and keeps the solve well posed on tiny data.
    meta_features : bool, default True
        Add the support features (log user and item support and their products with every
        centred base prediction); False blends the base predictions linearly with an intercept.
    n_threads : int, optional
        Given to every base model that has the parameter (None: each keeps its own).
    random_state : int, numpy Generator or None
        Seeds the folds and the base models whose own ``random_state`` is None.

    Attributes
    ----------
    models_ : list of Recommender
        The base models, fitted on all the training data.
    specs_ : list of (str, dict)
        Their algorithm names and the parameters they were fitted with.
    weights_ : ndarray of float64
        Blender coefficients, in the order of `feature_names`.
    oof_rmse_ : ndarray of float64 (n_models + 1,)
        RMSE of each base model's out-of-fold predictions, then of the blend fitted on them
        (in-sample for the blender: an optimistic figure).
    """

    algorithm = "blend"
    label = "Blend"
    demo_params: ClassVar[dict[str, Any] | None] = {
        "models": [
            ["bayesian-mf", {"n_samples": 30, "burn_in": 5}],
            ["svd", {"n_epochs": 20}],
            ["itemknn", {"k": 40, "min_k": 1, "similarity": "pearson_baseline", "prediction": "baseline"}],
        ],
        "n_folds": 3,
        "random_state": None,
    }

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "models": [_ModelList()],
        "n_folds": [Interval(int, 2, None)],
        "reg": [Interval(float, 0, None)],
        "meta_features": [BOOL],
        "n_threads": [Interval(int, 0, None), NONE],
        "random_state": [RandomState, NONE],
    }

    models_: list[Recommender]
    specs_: list[tuple[str, dict[str, Any]]]
    weights_: np.ndarray
    oof_rmse_: np.ndarray

    def __init__(
        self,
        *,
        models: Sequence[Any] | None = None,
        n_folds: int = 5,
        reg: float = 1.0,
        meta_features: bool = True,
        n_threads: int | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.models = models
        self.n_folds = n_folds
        self.reg = reg
        self.meta_features = meta_features
        self.n_threads = n_threads
        self.random_state = random_state

    # ------------------------------------------------------------------ base models
    def _resolve_specs(self, data: Interactions, rng: np.random.Generator) -> list[tuple[str, dict[str, Any]]]:
        """(algorithm, params) of every base model as it will be fitted: threads and seeds set."""
        if self.models is None:
            entries: list[Any] = [
                spec for spec in DEFAULT_MODELS if spec[0] != "timesvdpp" or data.timestamps is not None
            ]
        else:
            entries = list(self.models)
        return _nested.resolve_specs("Blend", entries, self.n_threads, rng, ratings_only=True)

    # ------------------------------------------------------------------ fitting
    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        self._start_fit(data)
        rng = check_random_state(self.random_state)
        self.specs_ = self._resolve_specs(data, rng)
        n_folds = int(self.n_folds)
        if data.nnz < n_folds:
            raise InvalidParameterError(f"Blend: n_folds={n_folds} needs at least that many ratings, got {data.nnz}")
        folds = np.empty(data.nnz, dtype=np.int64)
        folds[rng.permutation(data.nnz)] = np.arange(data.nnz) % n_folds
        users, items, ratings = data.user_indices, data.item_indices, data.values.astype(np.float64)
        oof = np.empty((data.nnz, len(self.specs_)), dtype=np.float64)
        user_support = np.empty(data.nnz, dtype=np.float64)
        item_support = np.empty(data.nnz, dtype=np.float64)
        step = 0
        for fold in range(n_folds):
            held = folds == fold
            part = data.subset(~held)
            user_support[held] = part.user_counts()[users[held]]
            item_support[held] = part.item_counts()[items[held]]
            stamps = None if data.timestamps is None else data.timestamps[held]
            for m, spec in enumerate(self.specs_):
                started = time.perf_counter()
                model = _nested.build(spec).fit(part)
                oof[held, m] = self._base_predictions(model, users[held], items[held], stamps)
                step = self._report(callback, step, fold, m, time.perf_counter() - started)
        features = self._features(oof, user_support, item_support)
        self.weights_ = self._ridge(features, ratings)
        blended = self._clip(features @ self.weights_)
        base_rmse = np.sqrt(np.mean((oof - ratings[:, None]) ** 2, axis=0))
        self.oof_rmse_ = np.append(base_rmse, math.sqrt(float(np.mean((blended - ratings) ** 2))))
        self.models_ = []
        for m, spec in enumerate(self.specs_):
            started = time.perf_counter()
            self.models_.append(_nested.build(spec).fit(data))
            step = self._report(callback, step, n_folds, m, time.perf_counter() - started)

    @staticmethod
    def _report(callback: FitCallback | None, step: int, fold: int, model: int, seconds: float) -> int:
        """Progress after each base-model fit (fold == n_folds: the refit on all data); a
        callback's True is ignored: a blend stopped half-way has no model to return."""
        if callback is not None:
            callback(step, {"fold": float(fold), "model": float(model), "seconds": seconds})
        return step + 1

    def _base_predictions(
        self, model: Recommender, uidx: np.ndarray, iidx: np.ndarray, stamps: np.ndarray | None
    ) -> np.ndarray:
        """One base model's clipped predictions for index pairs (at `stamps` when it has time)."""
        user_ids, item_ids = self.users_.ids[uidx], self.items_.ids[iidx]
        predict_at = getattr(model, "predict_at", None)
        if stamps is not None and callable(predict_at):
            pred = predict_at(user_ids, item_ids, stamps)
        else:
            pred = model.predict(user_ids, item_ids)
        return self._finite(np.asarray(pred, dtype=np.float64))

    def _finite(self, pred: np.ndarray) -> np.ndarray:
        """A base prediction the model could not make (NaN) counts as the global mean."""
        pred[~np.isfinite(pred)] = self.global_mean_
        return pred

    @property
    def feature_names(self) -> list[str]:
        """Names of the blender's inputs, in the order of `weights_`."""
        self.check_is_fitted()
        labels = [self._label(m) for m in range(len(self.specs_))]
        names = ["intercept", *labels]
        if self.meta_features:
            names += ["log user support", "log item support"]
            names += [f"log user support x {label}" for label in labels]
            names += [f"log item support x {label}" for label in labels]
        return names

    def _label(self, m: int) -> str:
        cls = _registry.class_for_key(self.specs_[m][0])
        return f"{getattr(cls, 'label', self.specs_[m][0])} #{m}"

    def _features(self, pred: np.ndarray, user_support: np.ndarray, item_support: np.ndarray) -> np.ndarray:
        """Blender inputs (rows, n_features) from base predictions (rows, n_models) and supports."""
        columns = [np.ones((pred.shape[0], 1)), pred]
        if self.meta_features:
            log_u, log_i = np.log1p(user_support)[:, None], np.log1p(item_support)[:, None]
            centred = pred - self.global_mean_  # products with centred predictions keep the columns apart
            columns += [log_u, log_i, log_u * centred, log_i * centred]
        return np.hstack(columns)

    def _ridge(self, features: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Closed-form ridge regression, the intercept (column 0) unpenalised."""
        gram = features.T @ features
        penalty = np.full(gram.shape[0], float(self.reg))
        penalty[0] = 0.0
        gram[np.diag_indices_from(gram)] += penalty
        rhs = features.T @ target
        try:
            return np.linalg.solve(gram, rhs)
        except np.linalg.LinAlgError:  # reg = 0 with collinear inputs (e.g. two identical models)
            return np.linalg.lstsq(gram, rhs, rcond=None)[0]

    # ------------------------------------------------------------------ scoring
    def _supports(self, uidx: np.ndarray, iidx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        user_counts = np.diff(self.seen_.indptr).astype(np.float64)
        item_counts = np.bincount(self.seen_.indices, minlength=self.n_items).astype(np.float64)
        return user_counts[uidx], item_counts[iidx]

    def _coefficients(self, user_support: np.ndarray, item_support: np.ndarray) -> tuple[list[Any], Any]:
        """The blend as ``constant + sum_m coefficient_m * p_m`` for supports that broadcast
        (pairs: two (n,) arrays; a grid: (b, 1) and (1, n_items)) - the same value as the
        feature rows times `weights_`, without building them (a grid of users x items would
        need n_features times its memory)."""
        n, w = len(self.specs_), self.weights_
        if not self.meta_features:
            return [w[1 + m] for m in range(n)], w[0]
        log_u, log_i = np.log1p(user_support), np.log1p(item_support)
        slopes = [w[n + 3 + m] * log_u + w[2 * n + 3 + m] * log_i for m in range(n)]
        constant = w[0] + w[n + 1] * log_u + w[n + 2] * log_i - self.global_mean_ * sum(slopes)
        return [w[1 + m] + slopes[m] for m in range(n)], constant

    def _combine(self, pred: np.ndarray, user_support: np.ndarray, item_support: np.ndarray) -> np.ndarray:
        """Blended raw scores of pairs: `pred` (rows, n_models) and their supports (rows,)."""
        coefficients, constant = self._coefficients(user_support, item_support)
        out = constant + sum(c * pred[:, m] for m, c in enumerate(coefficients))
        return np.asarray(out, dtype=np.float32)

    def _raw_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        pred = np.column_stack([self._base_predictions(model, uidx, iidx, None) for model in self.models_])
        return self._combine(pred, *self._supports(uidx, iidx))

    def predict_at(
        self, users: Any, items: Any, timestamps: Any, *, unknown: Literal["nan", "raise"] = "nan"
    ) -> np.ndarray:
        """Ratings of (user, item) pairs at the given times (seconds): base models with
        ``predict_at`` predict at those times (as they did for the blender's training rows)."""
        uidx, iidx, stamps = self._timed_pairs(users, items, timestamps, unknown)
        out = np.full(uidx.size, np.nan, dtype=np.float32)
        known = (uidx >= 0) & (iidx >= 0)
        u, i = uidx[known], iidx[known]
        with self._threads():
            pred = np.column_stack([self._base_predictions(model, u, i, stamps[known]) for model in self.models_])
            out[known] = self._clip(self._combine(pred, *self._supports(u, i)))
        return out

    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        out = np.empty((uidx.size, self.n_items), dtype=np.float32)
        user_counts, item_counts = self._supports(uidx, np.arange(self.n_items))
        step = max(1, _GRID_CELLS // max(self.n_items, 1))
        for start in range(0, uidx.size, step):  # a few users at a time: one float64 grid per model
            rows = slice(start, start + step)
            coefficients, total = self._coefficients(user_counts[rows, None], item_counts[None, :])
            for coefficient, model in zip(coefficients, self.models_, strict=True):
                total = total + coefficient * self._grid_predictions(model, uidx[rows])
            out[rows] = total
        return out

    def _grid_predictions(self, model: Recommender, uidx: np.ndarray) -> np.ndarray:
        """A base model's scores of users x every item, clipped as its `predict` reports them
        (what the blender was fitted on)."""
        scores = model.score_indices(uidx).astype(np.float64)
        scale = self.rating_scale_
        if scale:
            np.clip(scores, scale[0], scale[1], out=scores)
        return self._finite(scores)

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        rows = _nested.history_scores("Blend", self.models_, iidx, weights, self.n_items, self.global_mean_)
        base = [self._finite(row) for row in rows]
        user_support = np.full(self.n_items, float(iidx.size))
        item_support = self._supports(np.zeros(0, np.int32), np.arange(self.n_items))[1]
        return self._combine(np.column_stack(base), user_support, item_support)

    # ------------------------------------------------------------------ explanations
    def contributions(self, pred: np.ndarray, user_support: float, item_support: float) -> np.ndarray:
        """Each base model's share of the raw blended score for predictions `pred` (n_models,):
        its weight times its prediction plus its support-product terms."""
        n = len(self.specs_)
        w = self.weights_
        share = w[1 : n + 1] * pred
        if self.meta_features:
            log_u, log_i = math.log1p(user_support), math.log1p(item_support)
            share = share + (w[n + 3 : 2 * n + 3] * log_u + w[2 * n + 3 : 3 * n + 3] * log_i) * (
                pred - self.global_mean_
            )
        return np.asarray(share, dtype=np.float64)

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        u, i = np.array([uidx], np.int32), np.array([iidx], np.int32)
        pred = np.array([self._base_predictions(model, u, i, None)[0] for model in self.models_])
        user_support, item_support = (float(v[0]) for v in self._supports(u, i))
        shares = self.contributions(pred, user_support, item_support)
        n, w = len(self.specs_), self.weights_
        rest = float(w[0])
        if self.meta_features:
            rest += float(w[n + 1] * math.log1p(user_support) + w[n + 2] * math.log1p(item_support))
        labels = [self._label(m) for m in range(n)]
        rows: list[tuple[str, Any, float]] = [
            ("model", label, share) for label, share in zip(labels, shares, strict=True)
        ]
        rows.append(("intercept", "intercept and support terms", rest))
        raw = rest + float(shares.sum())
        parts = ", ".join(
            f"{label} predicts {p:.2f} ({s:+.2f})" for label, p, s in zip(labels, pred, shares, strict=True)
        )
        text = (
            f"The blend of {n} models estimates {score:.2f}: {parts}; intercept and support terms "
            f"{rest:+.2f} (the user has {user_support:.0f} ratings, the item {item_support:.0f})"
            f"{clip_note(raw, score)}."
        )
        return self._terms_frame(rows), text

    # ------------------------------------------------------------------ persistence
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, nested = _nested.save_models(self.specs_, self.models_)
        arrays.update({"weights": self.weights_, "oof_rmse": self.oof_rmse_})
        return arrays, {**self._base_state(), "models": nested}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self._restore_base(state)
        self.specs_, self.models_ = _nested.load_models(self, arrays, state["models"])
        for m, model in enumerate(self.models_):
            if not model.predicts_ratings:
                raise ValueError(f"base model {m} ({type(model).__name__}) does not predict ratings")
        n = len(self.models_)
        self.weights_ = np.asarray(arrays["weights"], dtype=np.float64)
        self.oof_rmse_ = np.asarray(arrays["oof_rmse"], dtype=np.float64)
        expected = 1 + n + (2 + 2 * n if self.meta_features else 0)
        if self.weights_.shape != (expected,):
            raise ValueError(f"weights has shape {self.weights_.shape}, expected ({expected},) for {n} models")
        if self.oof_rmse_.shape != (n + 1,):
            raise ValueError(f"oof_rmse has shape {self.oof_rmse_.shape}, expected ({n + 1},)")
