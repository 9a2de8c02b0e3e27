"""`UserKNN`: scores an item from the users most similar to the user who rated it.

Whole score rows scatter each of the user's stored neighbours' ratings to the items they rated
(`likewise.kernels.knn.scatter_scores`); pointwise predictions gather, per item, the user's
first ``k`` neighbours among its raters (`gather_scores` on the item-major ratings). A new
user's profile is compared with every training user (`profile_similarities`) and scored the
same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse as sp

from likewise.kernels.knn import gather_scores, scatter_scores
from likewise.models.knn import _prediction
from likewise.models.knn._explain import explain_user_based
from likewise.models.knn._model import _NeighborhoodModel
from likewise.models.knn._similarity import (
    bm25_length_norm,
    entry_values,
    inverse_frequency,
    profile_similarities,
    stored_rows_dense,
)

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["UserKNN"]


class UserKNN(_NeighborhoodModel):
    """User-based neighbourhood model: scores an item from the users most similar to the user.

    Same parameters as `ItemKNN`, with users and items swapped: similarities are between users
    (co-support = common items), "adjusted_cosine" centres on item means, "means" / "zscore"
    use the user's mean / deviation, and "sum" scoring adds the similarities of the user's k
    nearest neighbours who interacted with the item (with ``n_neighbors_stored`` above k: of the
    k most similar users among the stored ones who did, LensKit's rule). For rating predictions
    `n_neighbors_stored` defaults to all users up to `EXACT_LIMIT` users.
    """

    # Where the class has always lived (see ItemKNN).
    __module__ = "likewise.models.knn"

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

    # ----------------------------------------------------------------- scores
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
            mode=self.config_.prediction_kernel_mode,
            fallback=self.stats_.global_mean,
            **self._neighbour_args(),
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
            mode=self.config_.prediction_kernel_mode,
            fallback=self.stats_.global_mean,
            targets=uidx[order],
            group_ptr=group_ptr,
            **self._neighbour_args(),
        )
        out = np.empty(uidx.size, dtype=np.float32)
        out[order] = self._finalise(sorted_scores)
        return out

    # ----------------------------------------------------------------- fold-in
    def _profile_neighbours(self, items: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
        """Neighbour list (indptr, indices, sims) of a new user's profile, and its offset/scale."""
        stats = self.stats_
        config = self.config_
        prepared = self._prepared_for(True)
        mean = float(values.mean()) if values.size else stats.global_mean
        std = float(values.std()) if values.size else 0.0
        if std == 0.0:
            std = stats.overall_std
        bias = self._new_user_bias(items, values)

        def length_norm() -> np.ndarray:  # BM25's, against the mean row sum of the training users
            return bm25_length_norm(config, np.array([values.sum()]), float(self.seen_.data.sum()) / self.n_users)

        prof = entry_values(
            config,
            values,
            x_mean=lambda: np.full(values.size, mean),
            y_mean=lambda: stats.item_mean[items],
            baseline=lambda: stats.global_mean + bias + stats.item_bias[items],
            idf=lambda: inverse_frequency(self.n_users, stats.item_df)[items],
            length_norm=length_norm,
        )
        # One more than stored: replaying a training user's own history makes that user its own
        # closest neighbour (contributing nothing: they rated only history items), and the
        # stored neighbours must still all fit.
        sim = profile_similarities(prepared, config, items, prof, config.n_neighbors_stored + 1)
        own = _prediction.profile_offset(config, stats, mean=mean, std=std, bias=bias)
        return (*sim, np.array([own[0]]), np.array([own[1]]))

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        items, values = _prediction.history(iidx, weights)
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
            mode=self.config_.prediction_kernel_mode,
            fallback=self.stats_.global_mean,
            parallel=False,
            **self._neighbour_args(),
        )[0]
        return scores  # unclipped: recommend ranks by it

    # ----------------------------------------------------------------- similarities, explanations
    def _similar_users(self, uidx: np.ndarray) -> np.ndarray:
        return stored_rows_dense(self.similarity_, uidx)

    def _similar_items(self, iidx: np.ndarray) -> np.ndarray:
        return self._other_similarities(iidx)

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        return explain_user_based(self, self._ratings_by_item(), uidx, iidx, score)
