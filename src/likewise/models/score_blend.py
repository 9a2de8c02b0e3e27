"""ScoreBlend: a per-user z-score blend of ranking models (collaborative + content, say).

.. math::
    s(u, i) = \\sum_m w_m\\, z_u(s_m(u, \\cdot))_i, \\qquad
    z_u(x)_i = \\frac{x_i - \\operatorname{mean}_C(x)}{\\operatorname{sd}_C(x)}

where :math:`s_m` is base model m's ranking score and :math:`C` the items being ranked for that
user (every item for `score_indices` / `predict`; the allowed items - ``candidates`` minus
``exclude`` - for `recommend`, so a blend restricted to cold items standardises over the cold
items, as benchmarks/suites/hybrid.py does). Base scores live on unrelated scales (a dot product,
a sum of cosine similarities); standardising each user's row keeps one model's spread from
deciding the weights. A constant row standardises to 0; an item a model cannot score (NaN) counts
as that user's mean (z = 0) and is left out of the mean and sd.

Weights: given (``weights``), or chosen in `fit` when None: a per-user random holdout
(`likewise.evaluation.split.user_split`, ``validation_fraction`` of every user's interactions:
the warm use; for cold items give the weights found on a cold-item split) is carved from the
training data, every base model is fitted on its train part, and the weights maximising the mean
``metric``@``k`` (seen items excluded) on its test part win. Two models: ``(w, 1 - w)`` for w in
``weight_grid``; more: every point of the grid's simplex, i.e. every tuple of grid values summing
to 1 (ties go to the first in grid order). Then every base model is refitted on all the data.

Base models are given as in `Blend`: unfitted likewise models or ``(algorithm, params)`` pairs;
``n_threads`` and ``random_state`` are handed down the same way (`likewise.models._nested`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from likewise._util import check_random_state
from likewise.data.interactions import Interactions
from likewise.exceptions import InvalidParameterError, NotSupportedError
from likewise.kernels.topk import topk_rows
from likewise.models import _nested
from likewise.models._params import NONE, Interval, Options, RandomState
from likewise.models.base import FitCallback, Recommender

if TYPE_CHECKING:
    import pandas as pd
    import scipy.sparse as sp

__all__ = ["DEFAULT_GRID", "ScoreBlend", "z_blend"]

DEFAULT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
_METRICS = ("ndcg", "precision", "recall", "map", "mrr", "hit_rate")


def z_blend(
    blocks: Sequence[np.ndarray], weights: Sequence[float] | np.ndarray, columns: np.ndarray | None = None
) -> np.ndarray:
    """``sum_m weights[m] * z(blocks[m])``, z standardising each row over `columns` (default:
    every column; mean 0, sd 1, a constant row -> 0, NaN -> 0 and out of the statistics).
    Returns float64 of shape (rows, len(columns) or n_columns)."""
    total: np.ndarray | None = None
    for block, weight in zip(blocks, weights, strict=True):
        values = np.asarray(block, dtype=np.float64)
        if columns is not None:
            values = values[:, columns]
        if not values.shape[1]:
            mean = sd = values[:, :0]
        elif np.isnan(values).any():
            mean, sd = np.nanmean(values, axis=1, keepdims=True), np.nanstd(values, axis=1, keepdims=True)
        else:  # plain mean / std: the exact float64 operations of benchmarks.suites.hybrid's blend
            mean, sd = values.mean(axis=1, keepdims=True), values.std(axis=1, keepdims=True)
        z = np.nan_to_num((values - mean) / np.where(sd > 0, sd, 1.0), nan=0.0)
        total = float(weight) * z if total is None else total + float(weight) * z
    assert total is not None  # at least one block: checked by the callers
    return total


def _weight_grid(n_models: int, grid: Sequence[float]) -> list[tuple[float, ...]]:
    """Candidate weight vectors: (w, 1 - w) for two models, the grid's simplex for more."""
    values = sorted({float(g) for g in grid})
    if n_models == 2:
        return [(w, 1.0 - w) for w in values]
    return [combo for combo in itertools.product(values, repeat=n_models) if abs(sum(combo) - 1.0) < 1e-9]


class _ModelList:
    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and len(value) >= 2 and all(_nested.is_spec(e) for e in value)

    def __str__(self) -> str:
        return "a list of two or more unfitted likewise models or (algorithm, params) pairs"


class _Weights:
    def is_satisfied_by(self, value: Any) -> bool:
        if value is None:
            return True
        return (
            isinstance(value, (list, tuple))
            and bool(value)
            and all(
                isinstance(w, (int, float)) and not isinstance(w, bool) and np.isfinite(w) and w >= 0 for w in value
            )
        )

    def __str__(self) -> str:
        return "None or a list of finite non-negative numbers, one per model"


class _Grid:
    def is_satisfied_by(self, value: Any) -> bool:
        return (
            isinstance(value, (list, tuple))
            and bool(value)
            and all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0 <= w <= 1 for w in value)
        )

    def __str__(self) -> str:
        return "a non-empty list of numbers in [0, 1]"


class ScoreBlend(Recommender):
    """Weighted sum of per-user z-scored base-model scores (module docstring).

    Parameters
    ----------
    models : list
        Two or more unfitted likewise models or ``(algorithm, params)`` pairs.
    weights : list of float, optional
        One non-negative weight per model (not all 0); None: chosen on a validation split.
    validation_fraction : float, default 0.2
        Share of every user's interactions held out to choose the weights.
    metric : {"ndcg", "precision", "recall", "map", "mrr", "hit_rate"}, default "ndcg"
    k : int, default 10
        Cut-off of the validation metric.
    weight_grid : list of float, optional
        Weights tried per model (None: `DEFAULT_GRID`, 0 to 1 by 0.25; None rather than a tuple
        default so a saved model's JSON parameters compare equal).
    random_state : int, numpy Generator or None
        Seeds the validation split and the base models whose own ``random_state`` is None.
    n_threads : int, optional
        Given to every base model that has the parameter.

    Attributes
    ----------
    models_ : list of Recommender
    specs_ : list of (str, dict)
    weights_ : ndarray of float64 (n_models,)
    validation_ : ndarray of float64 (n_candidates, n_models + 1)
        Every weight vector tried and its validation score (empty when ``weights`` is given).
    """

    algorithm = "score-blend"
    label = "ScoreBlend"
    supports_features: ClassVar[bool] = True
    demo_params: ClassVar[dict[str, Any] | None] = None

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "models": [_ModelList()],
        "weights": [_Weights()],
        "validation_fraction": [Interval(float, 0, 1, closed="neither")],
        "metric": [Options(_METRICS)],
        "k": [Interval(int, 1, None)],
        "weight_grid": [_Grid(), NONE],
        "random_state": [RandomState, NONE],
        "n_threads": [Interval(int, 0, None), NONE],
    }

    models_: list[Recommender]
    specs_: list[tuple[str, dict[str, Any]]]
    weights_: np.ndarray
    validation_: np.ndarray

    def __init__(
        self,
        *,
        models: Sequence[Any] | None = None,
        weights: Sequence[float] | None = None,
        validation_fraction: float = 0.2,
        metric: str = "ndcg",
        k: int = 10,
        weight_grid: Sequence[float] | None = None,
        random_state: int | np.random.Generator | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.models = models
        self.weights = weights
        self.validation_fraction = validation_fraction
        self.metric = metric
        self.k = k
        self.weight_grid = weight_grid
        self.random_state = random_state
        self.n_threads = n_threads

    # ------------------------------------------------------------------ fitting
    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        rng = check_random_state(self.random_state)
        self.specs_ = _nested.resolve_specs("ScoreBlend", list(self.models or ()), self.n_threads, rng)
        if self.weights is not None:
            if len(self.weights) != len(self.specs_):
                raise InvalidParameterError(
                    f"ScoreBlend: weights has {len(self.weights)} values for {len(self.specs_)} models"
                )
            if not any(w > 0 for w in self.weights):
                raise InvalidParameterError("ScoreBlend: weights must not all be 0")
            self.weights_ = np.asarray(self.weights, dtype=np.float64)
            self.validation_ = np.empty((0, len(self.specs_) + 1))
        else:
            self.weights_, self.validation_ = self._choose_weights(data, rng)
        self.models_ = []
        for m, spec in enumerate(self.specs_):
            self.models_.append(_nested.build(spec).fit(data))
            if callback is not None:  # True is ignored: a half-fitted blend has no model to return
                callback(m, {"model": float(m)})

    def _choose_weights(self, data: Interactions, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        from likewise.evaluation import metrics
        from likewise.evaluation.split import user_split

        split = user_split(data, float(self.validation_fraction), random_state=rng)
        fitted = [_nested.build(spec).fit(split.train) for spec in self.specs_]
        test = split.test.matrix
        users = np.flatnonzero(np.diff(test.indptr) > 0)
        blocks = [model.score_indices(users) for model in fitted]
        seen = split.train.matrix
        measure = {"ndcg": metrics.ndcg_at_k, "precision": metrics.precision_at_k, "recall": metrics.recall_at_k,
                   "map": metrics.average_precision_at_k, "mrr": metrics.reciprocal_rank,
                   "hit_rate": metrics.hit_rate_at_k}[str(self.metric)]  # fmt: skip
        k = min(int(self.k), split.train.n_items)
        rows = []
        grid = DEFAULT_GRID if self.weight_grid is None else self.weight_grid
        for candidate in _weight_grid(len(self.specs_), grid):
            blended = np.ascontiguousarray(z_blend(blocks, candidate), dtype=np.float32)
            top, _ = topk_rows(blended, k, seen_indptr=seen.indptr, seen_indices=seen.indices, seen_rows=users)
            rows.append([*candidate, float(np.mean(measure(top, test[users], k)))])
        if not rows:
            raise InvalidParameterError(
                f"ScoreBlend: no weight vector from weight_grid={list(grid)} sums to 1 for {len(self.specs_)} models"
            )
        table = np.asarray(rows, dtype=np.float64)
        best = int(np.argmax(table[:, -1]))  # first maximum: ties go to the earlier grid point
        return table[best, :-1].copy(), table

    # ------------------------------------------------------------------ scoring
    def _base_scores(self, uidx: np.ndarray) -> list[np.ndarray]:
        return [model.score_indices(uidx) for model in self.models_]

    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        return z_blend(self._base_scores(uidx), self.weights_).astype(np.float32)

    def _ranked(self, blocks: list[np.ndarray], allowed: np.ndarray) -> np.ndarray:
        """Blend standardised over the allowed items; the others score -inf (never ranked)."""
        columns = np.flatnonzero(allowed)
        out = np.full((blocks[0].shape[0], allowed.size), -np.inf, dtype=np.float32)
        out[:, columns] = z_blend(blocks, self.weights_, columns)
        return out

    def _top_n_users(
        self, uidx: np.ndarray, n: int, seen: sp.csr_matrix | None, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        indices = np.empty((uidx.size, n), dtype=np.int32)
        scores = np.empty((uidx.size, n), dtype=np.float32)
        for block in self._blocks(uidx.size):
            rows = uidx[block]
            indices[block], scores[block] = topk_rows(
                self._ranked(self._base_scores(rows), allowed), n,
                seen_indptr=None if seen is None else seen.indptr,
                seen_indices=None if seen is None else seen.indices,
                seen_rows=None if seen is None else rows, allowed=allowed,
            )  # fmt: skip
        return indices, scores

    def _history_blocks(self, iidx: np.ndarray, weights: np.ndarray) -> list[np.ndarray]:
        """Every base model's fold-in scores of a new user (through its own recommend_from_history)."""
        rows = _nested.history_scores("ScoreBlend", self.models_, iidx, weights, self.n_items, np.nan)
        return [row.reshape(1, -1) for row in rows]

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return z_blend(self._history_blocks(iidx, weights), self.weights_).astype(np.float32).ravel()

    def _top_n_history(
        self, iidx: np.ndarray, weights: np.ndarray, n: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        scores = self._ranked(self._history_blocks(iidx, weights), allowed)
        return topk_rows(scores, n, allowed=allowed, parallel=False)

    # ------------------------------------------------------------------ cold items
    def add_items(self, ids: Any, features: Any) -> Self:
        """Add items unseen at fit time to every base model (each must have ``add_items``:
        HybridMF, ContentKNN); nothing changes unless all of them can."""
        self.check_is_fitted()
        missing = [type(m).__name__ for m in self.models_ if not callable(getattr(m, "add_items", None))]
        if missing:
            raise NotSupportedError(f"ScoreBlend.add_items: base model(s) {', '.join(missing)} cannot add items")
        for model in self.models_:
            model.add_items(ids, features)  # type: ignore[attr-defined]
        first = self.models_[0]
        self.items_, self.seen_, self.item_titles_ = first.items_, first.seen_, first.item_titles_
        return self

    # ------------------------------------------------------------------ explanations
    def _label(self, m: int) -> str:
        return f"{type(self.models_[m]).__name__} #{m}"

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        import pandas as pd

        blocks = self._base_scores(np.array([uidx], dtype=np.int32))
        shares = [float(w) * z_blend([b], [1.0])[0, iidx] for w, b in zip(self.weights_, blocks, strict=True)]
        labels = [self._label(m) for m in range(len(self.models_))]
        frame = pd.DataFrame({"kind": "model", "id": labels, "weight": np.asarray(shares, dtype=np.float32)})
        parts = ", ".join(
            f"{label} scores {float(b[0, iidx]):.3g} (weight {w:.2f}, {s:+.2f})"
            for label, b, w, s in zip(labels, blocks, self.weights_, shares, strict=True)
        )
        return frame, f"{self.item_label(iidx)}: the blend of {len(labels)} models scores {score:.3g}: {parts}."

    # ------------------------------------------------------------------ persistence
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, nested = _nested.save_models(self.specs_, self.models_)
        return {**arrays, "weights": self.weights_, "validation": self.validation_}, {"models": nested}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.specs_, self.models_ = _nested.load_models(self, arrays, state.get("models"))
        n = len(self.models_)
        self.weights_ = np.asarray(arrays["weights"], dtype=np.float64)
        self.validation_ = np.asarray(arrays["validation"], dtype=np.float64)
        if self.weights_.shape != (n,) or not np.isfinite(self.weights_).all():
            raise ValueError(f"weights has shape {self.weights_.shape}, expected ({n},) finite values")
        if self.validation_.ndim != 2 or self.validation_.shape[1] != n + 1:
            raise ValueError(f"validation has shape {self.validation_.shape}, expected (rows, {n + 1})")
