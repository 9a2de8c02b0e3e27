"""Neighbourhood collaborative filtering: `ItemKNN` and `UserKNN`.

"People who agreed in the past will agree in the future": a user-based model predicts from the
users most similar to the target user, an item-based one from the items most similar to the
target item among those the user rated. Both share everything but the orientation, so one
base class (`_NeighborhoodModel`) holds the logic and x below means "the compared entity"
(an item for `ItemKNN`, a user for `UserKNN`) and y "the other side".

Fitting computes similarities sparsely (numba kernel, parallel over rows, memory O(n_x) per
thread) and keeps, for each x, its best ``n_neighbors_stored`` neighbours with a positive
similarity, sorted by similarity. No dense n_x x n_x matrix is ever built. Predictions follow
Surprise's KNNBasic / KNNWithMeans / KNNWithZScore / KNNBaseline definitions (the k most
similar neighbours *that rated the target*), and implicit scoring follows implicit's
ItemItemRecommender (item-based) or the votes of the k nearest users (user-based). The formulas
are in docs/algorithms/knn.md; the brute-force twins in tests/reference/knn.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from likewise.data.interactions import Interactions
from likewise.exceptions import InvalidParameterError
from likewise.kernels._threads import thread_limits
from likewise.kernels.knn import BASIC, CENTERED, SUM, gather_scores, scatter_scores, spread_scores, spread_topk
from likewise.kernels.similarity import (
    COMMON,
    FULL,
    JACCARD,
    MSD,
    PEARSON,
    QueryRows,
    dense_similarities,
    topk_similarities,
)
from likewise.models._params import BOOL, NONE, Interval, Options
from likewise.models.base import FitCallback, Recommender

__all__ = ["EXACT_LIMIT", "ItemKNN", "UserKNN"]

Similarity = Literal["auto", "cosine", "pearson", "adjusted_cosine", "pearson_baseline", "msd", "jaccard", "dot"]
Prediction = Literal["auto", "sum", "basic", "means", "zscore", "baseline"]

SIMILARITIES = ("cosine", "pearson", "adjusted_cosine", "pearson_baseline", "msd", "jaccard", "dot")
PREDICTIONS = ("sum", "basic", "means", "zscore", "baseline")

EXACT_LIMIT = 4096
"""With at most this many compared rows (items for ItemKNN, users for UserKNN), every positive
neighbour is stored by default, so rating predictions are exactly Surprise's. The stored matrix
then holds at most EXACT_LIMIT**2 = 16.8M (index, similarity) pairs, 134 MB."""

DEFAULT_STORED = 500
"""Above EXACT_LIMIT, each row keeps max(k, DEFAULT_STORED) neighbours by default for rating
predictions (at most 4 KB per row: 240 MB for 60k items). On ml-latest-small (9.7k items),
ItemKNN pearson_baseline with 500 stored neighbours is within 0.001 RMSE of storing them all
(100: +0.008)."""


@dataclass
class _Prepared:
    """The compared matrix in both orientations, with what the similarity kernel needs."""

    x_major: sp.csr_matrix  # n_x x n_y, prepared values (float32, or float64 when centred)
    y_major: sp.csr_matrix  # n_y x n_x, the same values
    norm: np.ndarray
    count: np.ndarray
    mode: int
    min_support: int
    shrinkage: float
    shrink_offset: int


@dataclass
class _Stats:
    """Per-user and per-item statistics learned in fit (what centring and fallbacks need)."""

    global_mean: float
    overall_std: float
    user_mean: np.ndarray
    item_mean: np.ndarray
    user_std: np.ndarray
    item_std: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    item_df: np.ndarray  # users per item (idf of user-based weighting)
    user_df: np.ndarray  # items per user (idf of item-based weighting)


class _NeighborhoodModel(Recommender):
    """Shared implementation of ItemKNN and UserKNN (x = compared entity, y = the other side)."""

    user_based: ClassVar[bool] = False
    supports_similar_items: ClassVar[bool] = True
    supports_similar_users: ClassVar[bool] = True

    similarity_measure_: str
    prediction_: str
    norms_: str
    n_neighbors_stored_: int
    similarity_: sp.csr_matrix
    stats_: _Stats

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
        """True when predictions are ratings (every prediction mode but "sum")."""
        mode = getattr(self, "prediction_", None) or self.prediction
        if mode == "auto":
            return True
        return mode != "sum"

    # ----------------------------------------------------------------- fitting
    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        explicit = data.kind == "explicit"
        # "auto": Surprise's best rating predictor on ratings, implicit's item-item on feedback;
        # ranking by a sum of similarities wants whole-vector norms (over the co-support alone,
        # two users who share one item are perfectly similar).
        prediction = self.prediction if self.prediction != "auto" else ("baseline" if explicit else "sum")
        rating_mode = explicit and prediction != "sum"
        measure = self.similarity if self.similarity != "auto" else ("pearson_baseline" if rating_mode else "cosine")
        norms = self.norms
        if norms == "auto":
            norms = "common" if rating_mode and self.weighting is None else "full"
        if self.weighting is not None and measure not in ("cosine", "dot"):
            raise InvalidParameterError(
                f"{type(self).__name__}: weighting={self.weighting!r} applies to similarity 'cosine' or 'dot', "
                f"got similarity={measure!r}"
            )
        if self.min_k > self.k:
            raise InvalidParameterError(f"{type(self).__name__}: min_k ({self.min_k}) must not exceed k ({self.k})")
        n_x = data.n_users if self.user_based else data.n_items
        if self.n_neighbors_stored is None:
            if prediction == "sum":  # implicit scoring only ever reads the first k of a row
                n_keep = self.k
            elif n_x <= EXACT_LIMIT:
                n_keep = max(n_x - 1, 0)
            else:
                n_keep = max(self.k, DEFAULT_STORED)
        else:
            if self.n_neighbors_stored < self.k:
                raise InvalidParameterError(
                    f"{type(self).__name__}: n_neighbors_stored ({self.n_neighbors_stored}) must be at least "
                    f"k ({self.k}), or None for the default"
                )
            n_keep = self.n_neighbors_stored
        self.similarity_measure_ = measure
        self.prediction_ = prediction
        self.norms_ = norms
        self.n_neighbors_stored_ = int(min(n_keep, max(n_x - 1, 0)))
        needs_bias = prediction == "baseline" or measure == "pearson_baseline"
        self.stats_ = _statistics(
            data.matrix,
            baseline=needs_bias,
            n_epochs=self.baseline_n_epochs,
            reg_user=float(self.baseline_reg_user),
            reg_item=float(self.baseline_reg_item),
        )
        self._cache: dict[str, Any] = {}
        with thread_limits(self.n_threads):
            prepared = self._prepare(self.user_based)
            query = QueryRows(
                prepared.x_major.indptr,
                prepared.x_major.indices,
                prepared.x_major.data,
                np.arange(n_x),
                prepared.norm,
                prepared.count,
            )
            indptr, indices, sims = topk_similarities(
                query,
                prepared.y_major.indptr,
                prepared.y_major.indices,
                prepared.y_major.data,
                prepared.norm,
                prepared.count,
                mode=prepared.mode,
                n_keep=self.n_neighbors_stored_,
                min_support=prepared.min_support,
                shrinkage=prepared.shrinkage,
                shrink_offset=prepared.shrink_offset,
            )
        if self.user_based:  # fold-in compares a new profile with these rows
            self._cache[f"prepared_{self.user_based}"] = prepared
        self.similarity_ = _sim_matrix(indptr, indices, sims, n_x)
        if callback is not None:
            callback(0, {"stored_neighbors": float(indices.size)})

    # ----------------------------------------------------------------- preparation
    def _prepare(self, by_users: bool) -> _Prepared:
        """The rating matrix as the compared matrix (rows = users if `by_users` else items)."""
        seen = self.seen_
        users = np.repeat(np.arange(seen.shape[0], dtype=np.int64), np.diff(seen.indptr))
        items = seen.indices.astype(np.int64)
        ratings = seen.data.astype(np.float64)
        x_idx, y_idx = (users, items) if by_users else (items, users)
        stats = self.stats_
        n_x = seen.shape[0] if by_users else seen.shape[1]
        x_mean = stats.user_mean if by_users else stats.item_mean
        y_mean = stats.item_mean if by_users else stats.user_mean
        x_count = np.diff(seen.indptr).astype(np.int64) if by_users else stats.item_df.astype(np.int64)
        values = self._entry_values(
            ratings,
            x_mean=lambda: x_mean[x_idx],
            y_mean=lambda: y_mean[y_idx],
            baseline=lambda: stats.global_mean + stats.user_bias[users] + stats.item_bias[items],
            idf=lambda: _idf(n_x, (stats.item_df if by_users else stats.user_df))[y_idx],
            length_norm=lambda: self._length_norm(
                np.bincount(x_idx, weights=ratings, minlength=n_x), ratings.sum() / max(n_x, 1)
            )[x_idx],
        )
        # The values in the rating matrix's own (user-major) order, then its transpose.
        # Raw values go to the kernel as float32 (exact for ratings and counts, half the memory
        # traffic); centred and re-weighted ones stay float64, so that similarities that are
        # exactly 0 or exactly tied in real arithmetic stay so (float32 rounding would order
        # ties by noise). The kernel sums in float64 either way.
        inexact = (
            self.similarity_measure_ in ("adjusted_cosine", "pearson_baseline")
            or (self.similarity_measure_ == "pearson" and self.norms_ == "full")
            or (self.similarity_measure_ in ("cosine", "dot") and self.weighting is not None)
        )
        values = values if inexact else values.astype(np.float32)
        user_major = sp.csr_matrix((values, seen.indices, seen.indptr), shape=seen.shape)
        item_major = user_major.T.tocsr()
        item_major.sort_indices()
        x_major, y_major = (user_major, item_major) if by_users else (item_major, user_major)
        mode, min_support, shrinkage, offset = self._measure()
        norm = np.ones(n_x)
        if mode == FULL and self.similarity_measure_ != "dot":
            squares = values.astype(np.float64) ** 2
            norm = np.sqrt(np.bincount(x_idx, weights=squares, minlength=n_x))
        return _Prepared(x_major, y_major, norm, x_count, mode, min_support, shrinkage, offset)

    def _measure(self) -> tuple[int, int, float, int]:
        """(kernel mode, effective min_support, shrinkage, shrink offset) of the fitted measure."""
        measure = self.similarity_measure_
        common = self.norms_ == "common"
        if measure in ("cosine", "adjusted_cosine", "pearson_baseline"):
            mode = COMMON if common else FULL
        elif measure == "pearson":
            mode = PEARSON if common else FULL
        elif measure == "msd":
            mode = MSD
        elif measure == "jaccard":
            mode = JACCARD
        else:
            mode = FULL
        min_support = int(self.min_support)
        offset = 0
        default_shrinkage = 0.0
        if measure == "pearson_baseline":
            min_support = max(2, min_support)
            offset = 1
            default_shrinkage = 100.0
        shrinkage = default_shrinkage if self.shrinkage is None else float(self.shrinkage)
        return mode, min_support, shrinkage, offset

    def _entry_values(
        self,
        ratings: np.ndarray,
        *,
        x_mean: Callable[[], np.ndarray],
        y_mean: Callable[[], np.ndarray],
        baseline: Callable[[], np.ndarray],
        idf: Callable[[], np.ndarray],
        length_norm: Callable[[], np.ndarray],
    ) -> np.ndarray:
        """Prepared value of each rating for the fitted measure.

        The per-rating statistics are callables, evaluated only when the measure needs them
        (each is as large as the rating matrix).
        """
        measure = self.similarity_measure_
        common = self.norms_ == "common"
        if measure in ("cosine", "dot"):
            if self.weighting == "bm25":
                k1 = float(self.bm25_k1)
                return ratings * (k1 + 1.0) / (k1 * length_norm() + ratings) * idf()
            if self.weighting == "tfidf":
                return np.sqrt(np.maximum(ratings, 0.0)) * idf()
            return ratings
        if measure == "pearson":
            return ratings if common else ratings - x_mean()
        if measure == "adjusted_cosine":
            return ratings - y_mean()
        if measure == "pearson_baseline":
            return ratings - baseline()
        if measure == "jaccard":
            return np.ones_like(ratings)
        return ratings  # msd

    def _length_norm(self, row_sums: np.ndarray, average: float) -> np.ndarray:
        """BM25 document length normalisation (average = mean row sum of the training rows)."""
        b = float(self.bm25_b)
        return (1.0 - b) + b * row_sums / (average if average > 0 else 1.0)

    # ----------------------------------------------------------------- offsets
    def _x_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-x (offset, scale) of the prediction mode (see kernels/knn.py)."""
        stats = self.stats_
        n_x = self.similarity_.shape[0]
        mode = self.prediction_
        mean = stats.user_mean if self.user_based else stats.item_mean
        std = stats.user_std if self.user_based else stats.item_std
        bias = stats.user_bias if self.user_based else stats.item_bias
        if mode == "means":
            return mean, np.ones(n_x)
        if mode == "zscore":
            return mean, std
        if mode == "baseline":
            return stats.global_mean + bias, np.ones(n_x)
        return np.zeros(n_x), np.ones(n_x)

    def _y_offsets(self) -> np.ndarray:
        stats = self.stats_
        n_y = self.n_items if self.user_based else self.n_users
        if self.prediction_ != "baseline":
            return np.zeros(n_y)
        return stats.item_bias if self.user_based else stats.user_bias

    def _kernel_mode(self) -> int:
        return {"sum": SUM, "basic": BASIC}.get(self.prediction_, CENTERED)

    def _sim_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = self.similarity_
        return s.indptr, s.indices, s.data

    def _clips(self) -> bool:
        return self.prediction_ != "sum" and bool(self.clip) and self.rating_scale_ is not None

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
        if self.prediction_ != "sum" and self.rating_scale_ is not None:
            return np.full(n_items, float(self.rating_scale_[1]), dtype=np.float32)
        return super()._default_history_weights(n_items)

    def _common(self) -> dict[str, Any]:
        return {
            "k": int(self.k),
            "min_k": int(self.min_k),
            "weighted": bool(self.weighted),
        }

    # ----------------------------------------------------------------- fold-in helpers
    def _profile(self, iidx: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A new user's history, deduplicated (the last value of a repeated item wins), sorted."""
        iidx = np.asarray(iidx, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float64)
        if iidx.size == 0:
            return iidx, weights
        reverse_unique, first = np.unique(iidx[::-1], return_index=True)
        return reverse_unique, weights[::-1][first]

    def _new_user_bias(self, iidx: np.ndarray, ratings: np.ndarray) -> float:
        """The user bias Surprise's ALS would give this history (its last half-step)."""
        stats = self.stats_
        if iidx.size == 0:
            return 0.0
        residual = ratings - stats.global_mean - stats.item_bias[iidx]
        return float(residual.sum() / (float(self.baseline_reg_user) + iidx.size))

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
            "similarity_measure": self.similarity_measure_,
            "prediction": self.prediction_,
            "norms": self.norms_,
            "n_neighbors_stored": self.n_neighbors_stored_,
            "global_mean": stats.global_mean,
            "overall_std": stats.overall_std,
        }
        return arrays, state

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        n_x = self.n_users if self.user_based else self.n_items
        self.similarity_measure_ = str(state["similarity_measure"])
        self.prediction_ = str(state["prediction"])
        self.norms_ = str(state["norms"])
        self.n_neighbors_stored_ = int(state["n_neighbors_stored"])
        seen = self.seen_
        self.stats_ = _Stats(
            global_mean=float(state["global_mean"]),
            overall_std=float(state["overall_std"]),
            user_mean=arrays["user_mean"].astype(np.float64),
            item_mean=arrays["item_mean"].astype(np.float64),
            user_std=arrays["user_std"].astype(np.float64),
            item_std=arrays["item_std"].astype(np.float64),
            user_bias=arrays["user_bias"].astype(np.float64),
            item_bias=arrays["item_bias"].astype(np.float64),
            item_df=np.bincount(seen.indices, minlength=seen.shape[1]).astype(np.int64),
            user_df=np.diff(seen.indptr).astype(np.int64),
        )
        for name, size in (("user_mean", self.n_users), ("item_mean", self.n_items)):
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
        self.similarity_ = _sim_matrix(indptr, indices, sims, n_x)
        self._cache = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_cache", None)  # derived matrices are rebuilt on demand
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cache = {}

    # ----------------------------------------------------------------- the other orientation
    def _prepared_for(self, by_users: bool) -> _Prepared:
        """`_prepare(by_users)`, cached (not persisted: rebuilt from the training matrix)."""
        key = f"prepared_{by_users}"
        prepared = self._cache.get(key)
        if prepared is None:
            prepared = self._prepare(by_users)
            self._cache[key] = prepared
        return prepared

    def _other_similarities(self, rows: np.ndarray) -> np.ndarray:
        """Exact similarities of the given rows of the *other* orientation (computed on demand)."""
        prepared = self._prepared_for(not self.user_based)
        x = prepared.x_major
        rows = np.asarray(rows, dtype=np.int64)
        sub = x[rows]
        query = QueryRows(sub.indptr, sub.indices, sub.data, rows, prepared.norm[rows], prepared.count[rows])
        return dense_similarities(
            query,
            prepared.y_major.indptr,
            prepared.y_major.indices,
            prepared.y_major.data,
            prepared.norm,
            prepared.count,
            mode=prepared.mode,
            min_support=prepared.min_support,
            shrinkage=prepared.shrinkage,
            shrink_offset=prepared.shrink_offset,
            parallel=rows.size > 1,
        )

    def _stored_rows_dense(self, rows: np.ndarray) -> np.ndarray:
        s = self.similarity_
        out = np.full((rows.size, s.shape[1]), np.nan, dtype=np.float32)
        for pos, row in enumerate(np.asarray(rows, dtype=np.int64)):
            start, end = s.indptr[row], s.indptr[row + 1]
            out[pos, s.indices[start:end]] = s.data[start:end]
        return out

    # ----------------------------------------------------------------- explanations
    def _explain_frame(
        self,
        base_kind: str | None,
        base_value: float,
        kind: str,
        ids: np.ndarray,
        sims: np.ndarray,
        values: np.ndarray,
        weights: np.ndarray,
    ) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "kind": [kind] * len(ids),
                "id": [_plain(v) for v in ids],
                "weight": weights.astype(np.float64),
                "similarity": sims.astype(np.float64),
                "value": values.astype(np.float64),
            }
        )
        if base_kind is not None:
            base = pd.DataFrame(
                {"kind": [base_kind], "id": [None], "weight": [base_value], "similarity": [np.nan], "value": [np.nan]}
            )
            frame = pd.concat([base, frame], ignore_index=True) if len(frame) else base
        order = np.argsort(-np.abs(frame["weight"].to_numpy()), kind="stable")
        return frame.iloc[order].reset_index(drop=True)

    def _contributions(
        self, neighbours: np.ndarray, sims: np.ndarray, values: np.ndarray, target: int, context_off: float
    ) -> tuple[str | None, float, np.ndarray, str]:
        """(base kind, base value, per-neighbour weights, base description) of a gathered estimate."""
        mode = self.prediction_
        stats = self.stats_
        used = neighbours.size
        if mode == "sum":
            weights = sims * (values if self.weighted else 1.0)
            if used < self.min_k:
                weights = np.zeros_like(sims)
            return None, 0.0, weights, ""
        x_off, x_scale = self._x_offsets()
        den = float(sims.sum())
        enough = used >= max(self.min_k, 1) and den > 0
        if mode == "basic":
            if not enough:
                return "global_mean", stats.global_mean, np.zeros_like(sims), f"the global mean {stats.global_mean:.3g}"
            return None, 0.0, sims * values / den, ""
        base = float(x_off[target] + context_off)
        name = "baseline" if mode == "baseline" else "mean"
        if not enough:
            return name, base, np.zeros_like(sims), f"the {name} {base:.3g}"
        dev = (values - x_off[neighbours] - context_off) / x_scale[neighbours]
        return name, base, float(x_scale[target]) * sims * dev / den, f"the {name} {base:.3g}"


class ItemKNN(_NeighborhoodModel):
    """Item-based neighbourhood model: scores an item from the items most similar to it.

    Parameters
    ----------
    k : int
        Neighbours used per prediction (Surprise's ``k``; implicit's ``K``). Default 40.
    min_k : int
        Fewer usable neighbours than this -> the fallback (global mean, mean or baseline; 0 for
        ``"sum"``). Default 1.
    similarity : {"auto", "cosine", "pearson", "adjusted_cosine", "pearson_baseline", "msd", "jaccard", "dot"}
        "auto" = "pearson_baseline" for rating predictions on explicit data, else "cosine".
    prediction : {"auto", "sum", "basic", "means", "zscore", "baseline"}
        KNNBasic, KNNWithMeans, KNNWithZScore, KNNBaseline, or the implicit "sum" of
        similarities. "auto" = "baseline" on explicit data, "sum" on implicit data.
    shrinkage : float, optional
        Multiply similarities by n / (n + shrinkage), n the co-support; for pearson_baseline
        (n - 1) / (n - 1 + shrinkage) as Surprise. Default: 100 for pearson_baseline, else 0.
    min_support : int
        Pairs with fewer common users are not neighbours (at least 2 for pearson_baseline).
    norms : {"auto", "common", "full"}
        Whether cosine-like measures normalise over the co-rated entries only (Surprise) or over
        whole vectors (implicit, LensKit). "auto" = common for rating predictions on explicit
        data without weighting, else full.
    weighting : {None, "bm25", "tfidf"}
        Re-weight the item x user matrix before a "cosine" or "dot" similarity (implicit's
        BM25Recommender is ``similarity="dot", weighting="bm25"``).
    bm25_k1, bm25_b : float
        BM25 parameters (implicit's defaults 1.2 and 0.75).
    weighted : bool
        In "sum" scoring, multiply each similarity by the interaction value.
    n_neighbors_stored : int, optional
        Neighbours kept per item. Default: k for "sum" scoring (all it reads); for rating
        predictions all of them up to `EXACT_LIMIT` items (exact Surprise semantics), else
        max(k, 500).
    baseline_n_epochs, baseline_reg_user, baseline_reg_item
        Surprise's ALS baseline options (10, 15, 10) for "baseline" and "pearson_baseline".
    clip : bool
        Clip rating predictions to the data's rating scale (as Surprise).
    n_threads : int, optional
        Threads for fitting and batch scoring (None = all cores).
    """

    algorithm = "itemknn"
    demo_params: ClassVar[dict[str, Any] | None] = {"prediction": "sum", "similarity": "dot", "weighting": "bm25"}

    user_based: ClassVar[bool] = False

    def _top_n_users(
        self, uidx: np.ndarray, n: int, seen: sp.csr_matrix | None, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` items per known user (see `Recommender._top_n_users`).

        With "sum" scoring the scores are spread and ranked per user over the items actually
        reached (`likewise.kernels.knn.spread_topk`), never as dense rows over the catalogue:
        the same result, in time proportional to the user's history times k.
        """
        if not (self.prediction_ == "sum" and self._positive_weights()):
            return super()._top_n_users(uidx, n, seen, allowed)
        context = self.seen_
        return spread_topk(
            self._sim_parts(),
            (context.indptr, context.indices, context.data),
            uidx,
            n,
            seen=None if seen is None else (seen.indptr, seen.indices),
            seen_rows=None if seen is None else uidx,
            allowed=allowed,
            **_spread_args(self),
        )

    def _positive_weights(self) -> bool:
        """Whether every reached item scores > 0 (the precondition of the fused top-n path)."""
        positive = self._cache.get("positive")
        if positive is None:
            data = self.seen_.data
            positive = not self.weighted or data.size == 0 or bool(data.min() > 0)
            self._cache["positive"] = positive
        return bool(positive)

    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        seen = self.seen_
        context = (seen.indptr, seen.indices, seen.data)
        if self.prediction_ == "sum":
            return spread_scores(self._sim_parts(), context, uidx, **_spread_args(self))
        x_off, x_scale = self._x_offsets()
        ctx_off = self._y_offsets()[uidx]
        scores = gather_scores(
            self._sim_parts(),
            context,
            uidx,
            ctx_off,
            x_off,
            x_scale,
            mode=self._kernel_mode(),
            fallback=self.stats_.global_mean,
            **self._common(),
        )
        return scores  # unclipped: recommend ranks by it

    def _predict_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        order = np.argsort(uidx, kind="stable")
        users, starts = np.unique(uidx[order], return_index=True)
        group_ptr = np.append(starts, uidx.size).astype(np.int64)
        seen = self.seen_
        context = (seen.indptr, seen.indices, seen.data)
        if self.prediction_ == "sum":
            sorted_scores = spread_scores(
                self._sim_parts(), context, users, targets=iidx[order], group_ptr=group_ptr, **_spread_args(self)
            )
        else:
            x_off, x_scale = self._x_offsets()
            sorted_scores = gather_scores(
                self._sim_parts(),
                context,
                users,
                self._y_offsets()[users],
                x_off,
                x_scale,
                mode=self._kernel_mode(),
                fallback=self.stats_.global_mean,
                targets=iidx[order],
                group_ptr=group_ptr,
                **self._common(),
            )
            sorted_scores = self._finalise(sorted_scores)
        out = np.empty(uidx.size, dtype=np.float32)
        out[order] = sorted_scores
        return out

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        items, values = self._profile(iidx, weights)
        context = (np.array([0, items.size]), items, values)
        if self.prediction_ == "sum":
            return spread_scores(self._sim_parts(), context, np.zeros(1), parallel=False, **_spread_args(self))[0]
        x_off, x_scale = self._x_offsets()
        ctx_off = np.array([self._new_user_bias(items, values) if self.prediction_ == "baseline" else 0.0])
        scores = gather_scores(
            self._sim_parts(),
            context,
            np.zeros(1),
            ctx_off,
            x_off,
            x_scale,
            mode=self._kernel_mode(),
            fallback=self.stats_.global_mean,
            parallel=False,
            **self._common(),
        )[0]
        return scores  # unclipped: recommend ranks by it

    def _similar_items(self, iidx: np.ndarray) -> np.ndarray:
        return self._stored_rows_dense(iidx)

    def _similar_users(self, uidx: np.ndarray) -> np.ndarray:
        return self._other_similarities(uidx)

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        seen = self.seen_
        start, end = seen.indptr[uidx], seen.indptr[uidx + 1]
        rated, ratings = seen.indices[start:end], seen.data[start:end].astype(np.float64)
        s = self.similarity_
        user = _plain(self.users_.ids[uidx])
        target = self.item_label(iidx)
        if self.prediction_ == "sum":
            neighbours, sims, values = [], [], []
            for j, value in zip(rated, ratings, strict=True):
                row = slice(s.indptr[j], min(s.indptr[j] + self.k, s.indptr[j + 1]))
                hit = np.nonzero(s.indices[row] == iidx)[0]
                if hit.size:
                    neighbours.append(j)
                    sims.append(float(s.data[row][hit[0]]))
                    values.append(value)
            nb = np.array(neighbours, dtype=np.int64)
            sim_arr, val_arr = np.array(sims, dtype=np.float64), np.array(values, dtype=np.float64)
            _, _, weights, _ = self._contributions(nb, sim_arr, val_arr, iidx, 0.0)
            frame = self._explain_frame(None, 0.0, "item", self.items_.to_ids(nb), sim_arr, val_arr, weights)
            text = _sum_text(score, target, user, [self.item_label(j) for j in nb], sim_arr, "item", self.k)
            return frame, text
        row_idx = s.indices[s.indptr[iidx] : s.indptr[iidx + 1]]
        row_sim = s.data[s.indptr[iidx] : s.indptr[iidx + 1]].astype(np.float64)
        position = np.full(self.n_items, -1, dtype=np.int64)
        position[rated] = np.arange(rated.size)
        hit = position[row_idx] >= 0
        nb = row_idx[hit][: self.k].astype(np.int64)
        sim_arr = row_sim[hit][: self.k]
        val_arr = ratings[position[nb]]
        ctx_off = float(self._y_offsets()[uidx])
        base_kind, base_value, weights, base_text = self._contributions(nb, sim_arr, val_arr, iidx, ctx_off)
        frame = self._explain_frame(base_kind, base_value, "item", self.items_.to_ids(nb), sim_arr, val_arr, weights)
        text = _rating_text(
            score, target, user, [self.item_label(j) for j in nb], sim_arr, val_arr, base_text, "item", self.min_k
        )
        return frame, text + _clip_note(float(frame["weight"].sum()), score)


class UserKNN(_NeighborhoodModel):
    """User-based neighbourhood model: scores an item from the users most similar to the user.

    Same parameters as `ItemKNN`, with users and items swapped: similarities are between users
    (co-support = common items), "adjusted_cosine" centres on item means, "means" / "zscore"
    use the user's mean / deviation, and "sum" scoring adds the similarities of the user's k
    nearest neighbours who interacted with the item (with ``n_neighbors_stored`` above k: of the
    k most similar users among the stored ones who did, LensKit's rule). For rating predictions
    `n_neighbors_stored` defaults to all users up to `EXACT_LIMIT` users.
    """

    algorithm = "userknn"
    demo_params: ClassVar[dict[str, Any] | None] = {"prediction": "sum", "k": 50}

    user_based: ClassVar[bool] = True

    def _ratings_by_item(self) -> sp.csr_matrix:
        cached = self._cache.get("by_item")
        if cached is None:
            cached = self.seen_.T.tocsr()
            cached.sort_indices()
            self._cache["by_item"] = cached
        return cached

    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        x_off, x_scale = self._x_offsets()
        seen = self.seen_
        scores = scatter_scores(
            self._sim_parts(),
            uidx,
            x_off[uidx],
            x_scale[uidx],
            (seen.indptr, seen.indices, seen.data),
            self.n_items,
            x_off,
            x_scale,
            self._y_offsets(),
            mode=self._kernel_mode(),
            fallback=self.stats_.global_mean,
            **self._common(),
        )
        return scores  # unclipped: recommend ranks by it

    def _predict_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        order = np.argsort(iidx, kind="stable")
        items, starts = np.unique(iidx[order], return_index=True)
        group_ptr = np.append(starts, iidx.size).astype(np.int64)
        by_item = self._ratings_by_item()
        x_off, x_scale = self._x_offsets()
        sorted_scores = gather_scores(
            self._sim_parts(),
            (by_item.indptr, by_item.indices, by_item.data),
            items,
            self._y_offsets()[items],
            x_off,
            x_scale,
            mode=self._kernel_mode(),
            fallback=self.stats_.global_mean,
            targets=uidx[order],
            group_ptr=group_ptr,
            **self._common(),
        )
        out = np.empty(uidx.size, dtype=np.float32)
        out[order] = self._finalise(sorted_scores)
        return out

    def _profile_neighbours(self, items: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
        """Neighbour list (indptr, indices, sims) of a new user's profile, and its offset/scale."""
        stats = self.stats_
        prepared = self._prepared_for(True)
        mode, min_support, shrinkage, offset = self._measure()
        mean = float(values.mean()) if values.size else stats.global_mean
        std = float(values.std()) if values.size else 0.0
        if std == 0.0:
            std = stats.overall_std
        bias = self._new_user_bias(items, values)
        seen = self.seen_
        prof = self._entry_values(
            values,
            x_mean=lambda: np.full(values.size, mean),
            y_mean=lambda: stats.item_mean[items],
            baseline=lambda: stats.global_mean + bias + stats.item_bias[items],
            idf=lambda: _idf(self.n_users, stats.item_df)[items],
            length_norm=lambda: self._length_norm(np.array([values.sum()]), float(seen.data.sum()) / self.n_users),
        )
        prof = prof.astype(prepared.y_major.data.dtype)  # as the training rows were prepared
        norm = 1.0
        if mode == FULL and self.similarity_measure_ != "dot":
            norm = float(np.sqrt((prof.astype(np.float64) ** 2).sum()))
        query = QueryRows(
            np.array([0, items.size]), items, prof, np.array([-1]), np.array([norm]), np.array([items.size])
        )
        sim = topk_similarities(
            query,
            prepared.y_major.indptr,
            prepared.y_major.indices,
            prepared.y_major.data,
            prepared.norm,
            prepared.count,
            mode=mode,
            # One more than stored: replaying a training user's own history makes that user its
            # own closest neighbour (contributing nothing: they rated only history items), and
            # the stored neighbours must still all fit.
            n_keep=self.n_neighbors_stored_ + 1,
            min_support=min_support,
            shrinkage=shrinkage,
            shrink_offset=offset,
            parallel=False,
        )
        if self.prediction_ == "means":
            own = (mean, 1.0)
        elif self.prediction_ == "zscore":
            own = (mean, std)
        elif self.prediction_ == "baseline":
            own = (stats.global_mean + bias, 1.0)
        else:
            own = (0.0, 1.0)
        return (*sim, np.array([own[0]]), np.array([own[1]]))

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        items, values = self._profile(iidx, weights)
        indptr, indices, sims, own_off, own_scale = self._profile_neighbours(items, values)
        x_off, x_scale = self._x_offsets()
        seen = self.seen_
        scores = scatter_scores(
            (indptr, indices, sims),
            np.zeros(1),
            own_off,
            own_scale,
            (seen.indptr, seen.indices, seen.data),
            self.n_items,
            x_off,
            x_scale,
            self._y_offsets(),
            mode=self._kernel_mode(),
            fallback=self.stats_.global_mean,
            parallel=False,
            **self._common(),
        )[0]
        return scores  # unclipped: recommend ranks by it

    def _similar_users(self, uidx: np.ndarray) -> np.ndarray:
        return self._stored_rows_dense(uidx)

    def _similar_items(self, iidx: np.ndarray) -> np.ndarray:
        return self._other_similarities(iidx)

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        by_item = self._ratings_by_item()
        start, end = by_item.indptr[iidx], by_item.indptr[iidx + 1]
        raters, ratings = by_item.indices[start:end], by_item.data[start:end].astype(np.float64)
        s = self.similarity_
        row_idx = s.indices[s.indptr[uidx] : s.indptr[uidx + 1]]
        row_sim = s.data[s.indptr[uidx] : s.indptr[uidx + 1]].astype(np.float64)
        position = np.full(self.n_users, -1, dtype=np.int64)
        position[raters] = np.arange(raters.size)
        hit = position[row_idx] >= 0
        nb = row_idx[hit][: self.k].astype(np.int64)
        sim_arr = row_sim[hit][: self.k]
        val_arr = ratings[position[nb]]
        user = _plain(self.users_.ids[uidx])
        target = self.item_label(iidx)
        labels = [str(_plain(v)) for v in self.users_.to_ids(nb)]
        ctx_off = float(self._y_offsets()[iidx])
        base_kind, base_value, weights, base_text = self._contributions(nb, sim_arr, val_arr, uidx, ctx_off)
        frame = self._explain_frame(base_kind, base_value, "user", self.users_.to_ids(nb), sim_arr, val_arr, weights)
        if self.prediction_ == "sum":
            text = _sum_text(score, target, user, labels, sim_arr, "user", self.k)
        else:
            text = _rating_text(score, target, user, labels, sim_arr, val_arr, base_text, "user", self.min_k)
            text += _clip_note(float(frame["weight"].sum()), score)
        return frame, text


# --------------------------------------------------------------------------------- helpers
def _spread_args(model: _NeighborhoodModel) -> dict[str, Any]:
    return {"k": int(model.k), "min_k": int(model.min_k), "weighted": bool(model.weighted)}


def _sim_matrix(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_x: int) -> sp.csr_matrix:
    """CSR whose rows list neighbours by similarity (descending), not by index: scipy is told
    the indices are unsorted so that it never reorders them behind our back."""
    matrix = sp.csr_matrix((n_x, n_x), dtype=np.float32)
    matrix.indptr = np.asarray(indptr, dtype=np.int64)
    matrix.indices = np.asarray(indices, dtype=np.int32)
    matrix.data = np.asarray(data, dtype=np.float32)
    matrix.has_sorted_indices = False
    return matrix


def _idf(n_docs: int, document_frequency: np.ndarray) -> np.ndarray:
    """implicit's idf: log(N) - log1p(df), N the number of compared rows."""
    return np.log(max(n_docs, 1)) - np.log1p(document_frequency.astype(np.float64))


def _statistics(matrix: sp.csr_matrix, *, baseline: bool, n_epochs: int, reg_user: float, reg_item: float) -> _Stats:
    """Means, population standard deviations and (optionally) Surprise's ALS baselines."""
    n_users, n_items = matrix.shape
    ratings = matrix.data.astype(np.float64)
    users = np.repeat(np.arange(n_users), np.diff(matrix.indptr))
    items = matrix.indices
    global_mean = float(ratings.mean()) if ratings.size else 0.0
    overall_std = float(ratings.std()) if ratings.size else 0.0
    if overall_std == 0.0:
        overall_std = 1.0
    user_n = np.bincount(users, minlength=n_users).astype(np.float64)
    item_n = np.bincount(items, minlength=n_items).astype(np.float64)

    def mean_std(index: np.ndarray, counts: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        sums = np.bincount(index, weights=ratings, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counts > 0, sums / np.maximum(counts, 1), global_mean)
        centred = ratings - mean[index]
        var = np.bincount(index, weights=centred * centred, minlength=size) / np.maximum(counts, 1)
        std = np.sqrt(var)
        std[(counts == 0) | (std == 0.0)] = overall_std
        return mean, std

    user_mean, user_std = mean_std(users, user_n, n_users)
    item_mean, item_std = mean_std(items, item_n, n_items)
    user_bias = np.zeros(n_users)
    item_bias = np.zeros(n_items)
    if baseline:
        for _ in range(n_epochs):
            dev_i = np.bincount(items, weights=ratings - global_mean - user_bias[users], minlength=n_items)
            denom_i = reg_item + item_n
            item_bias = np.divide(dev_i, denom_i, out=np.zeros(n_items), where=denom_i > 0)
            dev_u = np.bincount(users, weights=ratings - global_mean - item_bias[items], minlength=n_users)
            denom_u = reg_user + user_n
            user_bias = np.divide(dev_u, denom_u, out=np.zeros(n_users), where=denom_u > 0)
    return _Stats(
        global_mean=global_mean,
        overall_std=overall_std,
        user_mean=user_mean,
        item_mean=item_mean,
        user_std=user_std,
        item_std=item_std,
        user_bias=user_bias,
        item_bias=item_bias,
        item_df=item_n.astype(np.int64),
        user_df=user_n.astype(np.int64),
    )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _listing(labels: list[str], sims: np.ndarray, values: np.ndarray | None, limit: int = 3) -> str:
    parts = []
    for pos, label in enumerate(labels[:limit]):
        extra = f", rated {values[pos]:g}" if values is not None else ""
        parts.append(f"{label} (similarity {sims[pos]:.2f}{extra})")
    more = len(labels) - limit
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _rating_text(
    score: float,
    target: str,
    user: Any,
    labels: list[str],
    sims: np.ndarray,
    values: np.ndarray,
    base_text: str,
    kind: str,
    min_k: int,
) -> str:
    who = "items user" if kind == "item" else "users who rated it, like user"
    if len(labels) < max(min_k, 1):
        reason = f"fewer than {max(min_k, 1)} similar {kind}s available, so {base_text or 'the fallback'}"
        return f"Predicted {score:.3g} for {target}: {reason}."
    lead = f"{base_text} adjusted by " if base_text else ""
    if kind == "item":
        source = f"{len(labels)} similar {who} {user} rated: "
    else:
        source = f"{len(labels)} similar users who rated it: "
    return f"Predicted {score:.3g} for {target} from {lead}{source}{_listing(labels, sims, values)}."


def _clip_note(raw: float, score: float) -> str:
    if abs(raw - score) > 1e-4 * max(1.0, abs(raw)):
        return f" (The raw estimate {raw:.3g} is clipped to the rating scale.)"
    return ""


def _sum_text(score: float, target: str, user: Any, labels: list[str], sims: np.ndarray, kind: str, k: int) -> str:
    if not labels:
        return f"{target} is not among the {k} nearest neighbours of anything user {user} has; score {score:.3g}."
    if kind == "item":
        return (
            f"Score {score:.3g} for {target}: it is close to {len(labels)} of user {user}'s items: "
            + _listing(labels, sims, None)
            + "."
        )
    return f"Score {score:.3g} for {target}: {len(labels)} similar users have it: " + _listing(labels, sims, None) + "."
