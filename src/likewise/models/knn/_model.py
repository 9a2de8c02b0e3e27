"""`_NeighborhoodModel`: what ItemKNN and UserKNN share (parameters, fit, persistence).

x below means "the compared entity" (an item for ItemKNN, a user for UserKNN) and y "the
other side". The subclasses implement the scoring hooks for their orientation.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from likewise._util import count_values
from likewise.data.interactions import Interactions
from likewise.kernels._threads import thread_limits
from likewise.models._params import BOOL, NONE, Interval, Options
from likewise.models.base import FitCallback, Recommender
from likewise.models.knn import _prediction
from likewise.models.knn._config import (
    PREDICTIONS,
    SIMILARITIES,
    KNNConfig,
    Measure,
    Mode,
    Norms,
    Prediction,
    Similarity,
)
from likewise.models.knn._similarity import (
    Prepared,
    Stats,
    exact_similarities,
    prepare,
    sim_matrix,
    statistics,
    stored_similarities,
)

__all__ = ["_NeighborhoodModel"]


class _NeighborhoodModel(Recommender):
    """Shared implementation of ItemKNN and UserKNN (x = compared entity, y = the other side)."""

    user_based: ClassVar[bool] = False
    supports_similar_items: ClassVar[bool] = True
    supports_similar_users: ClassVar[bool] = True

    config_: KNNConfig
    similarity_: sp.csr_matrix
    stats_: Stats

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "k": [Interval(int, 1, None)],
        "min_k": [Interval(int, 0, None)],
        "similarity": [Options(("auto", *SIMILARITIES))],
        "prediction": [Options(("auto", *PREDICTIONS))],
        "shrinkage": [NONE, Interval(float, 0, None)],
        "min_support": [Interval(int, 0, None)],
        "norms": [Options(("auto", "common", "full"))],
        "weighting": [NONE, Options(("bm25", "tfidf"))],
        "bm25_k1": [Interval(float, 0, None)],
        "bm25_b": [Interval(float, 0, 1)],
        "weighted": [BOOL],
        "n_neighbors_stored": [NONE, Interval(int, 1, None)],
        "baseline_n_epochs": [Interval(int, 0, None)],
        "baseline_reg_user": [Interval(float, 0, None)],
        "baseline_reg_item": [Interval(float, 0, None)],
        "clip": [BOOL],
        "n_threads": [NONE, Interval(int, 0, None)],
    }

    def __init__(
        self,
        *,
        k: int = 40,
        min_k: int = 1,
        similarity: Similarity = "auto",
        prediction: Prediction = "auto",
        shrinkage: float | None = None,
        min_support: int = 1,
        norms: Literal["auto", "common", "full"] = "auto",
        weighting: Literal["bm25", "tfidf"] | None = None,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        weighted: bool = True,
        n_neighbors_stored: int | None = None,
        baseline_n_epochs: int = 10,
        baseline_reg_user: float = 15.0,
        baseline_reg_item: float = 10.0,
        clip: bool = True,
        n_threads: int | None = None,
    ) -> None:
        self.k = k
        self.min_k = min_k
        self.similarity = similarity
        self.prediction = prediction
        self.shrinkage = shrinkage
        self.min_support = min_support
        self.norms = norms
        self.weighting = weighting
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.weighted = weighted
        self.n_neighbors_stored = n_neighbors_stored
        self.baseline_n_epochs = baseline_n_epochs
        self.baseline_reg_user = baseline_reg_user
        self.baseline_reg_item = baseline_reg_item
        self.clip = clip
        self.n_threads = n_threads

    # ----------------------------------------------------------------- capability
    @property
    def predicts_ratings(self) -> bool:  # type: ignore[override]
        """True when predictions are ratings (every prediction mode but "sum"; "auto" before fit)."""
        config: KNNConfig | None = getattr(self, "config_", None)
        return config.rates if config is not None else self.prediction != "sum"

    # ----------------------------------------------------------------- resolved choices
    # The documented learned state of the resolved "auto" values, read from `config_`.
    @property
    def similarity_measure_(self) -> Measure:
        return self.config_.similarity

    @property
    def prediction_(self) -> Mode:
        return self.config_.prediction

    @property
    def norms_(self) -> Norms:
        return self.config_.norms

    @property
    def n_neighbors_stored_(self) -> int:
        return self.config_.n_neighbors_stored

    # ----------------------------------------------------------------- fitting
    def _n_compared(self) -> int:
        return self.n_users if self.user_based else self.n_items

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        config = KNNConfig.resolve(
            self.get_params(), kind=data.kind, n_compared=self._n_compared(), owner=type(self).__name__
        )
        self.config_ = config
        self.stats_ = statistics(
            data.matrix,
            baseline=config.needs_baseline,
            n_epochs=self.baseline_n_epochs,
            reg_user=float(self.baseline_reg_user),
            reg_item=float(self.baseline_reg_item),
        )
        self._cache: dict[str, Any] = {}
        with thread_limits(self.n_threads):
            prepared = prepare(self.seen_, self.stats_, config, self.user_based)
            self.similarity_ = stored_similarities(prepared, config.n_neighbors_stored)
        if self.user_based:  # fold-in compares a new profile with these rows
            self._cache[f"prepared_{self.user_based}"] = prepared
        if callback is not None:
            callback(0, {"stored_neighbors": float(self.similarity_.indices.size)})

    # ----------------------------------------------------------------- prediction modes
    def _x_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-x (offset, scale) of the prediction mode (see kernels/knn.py)."""
        return _prediction.x_offsets(
            self.config_, self.stats_, user_based=self.user_based, n_x=self.similarity_.shape[0]
        )

    def _y_offsets(self) -> np.ndarray:
        n_y = self.n_items if self.user_based else self.n_users
        return _prediction.context_offsets(self.config_, self.stats_, user_based=self.user_based, n_y=n_y)

    def _new_user_bias(self, iidx: np.ndarray, ratings: np.ndarray) -> float:
        return _prediction.new_user_bias(self.stats_, float(self.baseline_reg_user), iidx, ratings)

    def _sim_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = self.similarity_
        return s.indptr, s.indices, s.data

    def _neighbour_args(self) -> dict[str, Any]:
        """The neighbour-reading parameters every scoring kernel takes."""
        return {"k": int(self.k), "min_k": int(self.min_k), "weighted": bool(self.weighted)}

    def _clips(self) -> bool:
        return self.config_.rates and bool(self.clip) and self.rating_scale_ is not None

    def _finalise(self, scores: np.ndarray) -> np.ndarray:
        """Rating predictions clipped to the rating scale (as Surprise's predict)."""
        if self._clips() and self.rating_scale_ is not None:
            low, high = self.rating_scale_
            np.clip(scores, low, high, out=scores)
        return scores

    def _reported_scores(self, scores: np.ndarray) -> np.ndarray:
        return self._finalise(scores)

    def _default_history_weights(self, n_items: int) -> np.ndarray:
        """Ratings at the top of the scale ("liked") for rating predictions, 1 for "sum" scoring."""
        if self.config_.rates and self.rating_scale_ is not None:
            return np.full(n_items, float(self.rating_scale_[1]), dtype=np.float32)
        return super()._default_history_weights(n_items)

    # ----------------------------------------------------------------- similarities on demand
    def _prepared_for(self, by_users: bool) -> Prepared:
        """`prepare(by_users)`, cached (not persisted: rebuilt from the training matrix)."""
        key = f"prepared_{by_users}"
        prepared = self._cache.get(key)
        if prepared is None:
            prepared = prepare(self.seen_, self.stats_, self.config_, by_users)
            self._cache[key] = prepared
        return prepared

    def _other_similarities(self, rows: np.ndarray) -> np.ndarray:
        """Exact similarities of the given rows of the *other* orientation (computed on demand)."""
        return exact_similarities(self._prepared_for(not self.user_based), rows)

    # ----------------------------------------------------------------- persistence
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        s = self.similarity_
        stats = self.stats_
        arrays = {
            "sim_indptr": s.indptr.astype(np.int64),
            "sim_indices": s.indices,
            "sim_data": s.data,
            "user_mean": stats.user_mean,
            "item_mean": stats.item_mean,
            "user_std": stats.user_std,
            "item_std": stats.item_std,
            "user_bias": stats.user_bias,
            "item_bias": stats.item_bias,
        }
        state = {
            "config": self.config_.to_state(),
            "global_mean": stats.global_mean,
            "overall_std": stats.overall_std,
        }
        return arrays, state

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        n_x = self._n_compared()
        self.config_ = KNNConfig.from_state(state["config"])
        seen = self.seen_
        self.stats_ = Stats(
            global_mean=float(state["global_mean"]),
            overall_std=float(state["overall_std"]),
            user_mean=arrays["user_mean"].astype(np.float64),
            item_mean=arrays["item_mean"].astype(np.float64),
            user_std=arrays["user_std"].astype(np.float64),
            item_std=arrays["item_std"].astype(np.float64),
            user_bias=arrays["user_bias"].astype(np.float64),
            item_bias=arrays["item_bias"].astype(np.float64),
            item_df=count_values(seen.indices, seen.shape[1]),
            user_df=np.diff(seen.indptr).astype(np.int64),
        )
        # The kernels index these by user / item: a wrong length would read out of bounds.
        for side, size in (("user", self.n_users), ("item", self.n_items)):
            for name in (f"{side}_mean", f"{side}_std", f"{side}_bias"):
                if arrays[name].shape != (size,):
                    raise ValueError(f"{name} does not match the model's ids")
        indptr, indices = arrays["sim_indptr"].astype(np.int64), arrays["sim_indices"].astype(np.int32)
        sims = arrays["sim_data"].astype(np.float32)
        # The kernels trust these arrays: check them once here (a bad file is a ModelFormatError).
        if (
            indptr.shape != (n_x + 1,)
            or indptr[0] != 0
            or (np.diff(indptr) < 0).any()
            or indptr[-1] != indices.size
            or sims.shape != indices.shape
            or (indices.size and (indices.min() < 0 or indices.max() >= n_x))
            or not np.isfinite(sims).all()
        ):
            raise ValueError("the stored similarity matrix is inconsistent with the model's ids")
        self.similarity_ = sim_matrix(indptr, indices, sims, n_x)
        self._cache = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_cache", None)  # derived matrices are rebuilt on demand
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        legacy = {name: state.pop(name + "_") for name in _LEGACY_NAMES if name + "_" in state}
        self.__dict__.update(state)
        if legacy and "config_" not in state:  # pickled before the config existed
            self.config_ = KNNConfig.from_legacy_state(legacy, self.get_params())
        self._cache = {}


_LEGACY_NAMES = ("similarity_measure", "prediction", "norms", "n_neighbors_stored")
"""The resolved choices models stored as attributes (and persisted state) before `KNNConfig`."""
