"""`ItemKNN`: scores an item from the items most similar to it among the user's items.

Rating modes gather, for each target item, its first ``k`` stored neighbours the user rated
(`likewise.kernels.knn.gather_scores`); "sum" scoring spreads each history item's value to its
own first ``k`` neighbours (`spread_scores`), and recommendation ranks the items so reached
without dense rows over the catalogue (`spread_topk`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse as sp

from likewise.kernels.knn import gather_scores, spread_scores, spread_topk
from likewise.models.knn import _prediction
from likewise.models.knn._explain import explain_item_based
from likewise.models.knn._model import _NeighborhoodModel
from likewise.models.knn._similarity import stored_rows_dense

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["ItemKNN"]


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

    The "auto" choices are resolved in `fit` into ``config_`` (a `KNNConfig`). With "sum"
    scoring, `recommend` spreads and ranks the scores per user over the items actually reached
    (`likewise.kernels.knn.spread_topk`), never as dense rows over the catalogue: the same
    result, in time proportional to the user's history times k.
    """

    # Where the class has always lived: pickles, reprs and model directories written before
    # registry keys name it so (likewise.models._registry resolves those paths).
    __module__ = "likewise.models.knn"

    algorithm = "itemknn"
    demo_params: ClassVar[dict[str, Any] | None] = {"prediction": "sum", "similarity": "dot", "weighting": "bm25"}

    user_based: ClassVar[bool] = False

    # ----------------------------------------------------------------- top-n
    def _top_n_users(
        self, uidx: np.ndarray, n: int, seen: sp.csr_matrix | None, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """ "sum" scoring with positive weights: scores spread and ranked in one pass per user
        (`spread_topk`); otherwise dense score blocks and the top-k kernel (the base hook)."""
        if not (self.config_.prediction == "sum" and self._positive_weights()):
            return super()._top_n_users(uidx, n, seen, allowed)
        train = self.seen_
        return spread_topk(
            self._sim_parts(),
            (train.indptr, train.indices, train.data),
            uidx,
            n,
            seen=None if seen is None else (seen.indptr, seen.indices),
            seen_rows=None if seen is None else uidx,
            allowed=allowed,
            **self._neighbour_args(),
        )

    def _positive_weights(self) -> bool:
        """Whether every reached item scores > 0 (the precondition of the fused top-n path)."""
        positive = self._cache.get("positive")
        if positive is None:
            data = self.seen_.data
            positive = not self.weighted or data.size == 0 or bool(data.min() > 0)
            self._cache["positive"] = positive
        return bool(positive)

    # ----------------------------------------------------------------- scores
    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        seen = self.seen_
        context = (seen.indptr, seen.indices, seen.data)
        if self.config_.prediction == "sum":
            return spread_scores(self._sim_parts(), context, uidx, **self._neighbour_args())
        x_off, x_scale = self._x_offsets()
        ctx_off = self._y_offsets()[uidx]
        scores = gather_scores(
            self._sim_parts(),
            context,
            uidx,
            ctx_off,
            x_off,
            x_scale,
            mode=self.config_.prediction_kernel_mode,
            fallback=self.stats_.global_mean,
            **self._neighbour_args(),
        )
        return scores  # unclipped: recommend ranks by it

    def _predict_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        order = np.argsort(uidx, kind="stable")
        users, starts = np.unique(uidx[order], return_index=True)
        group_ptr = np.append(starts, uidx.size).astype(np.int64)
        seen = self.seen_
        context = (seen.indptr, seen.indices, seen.data)
        if self.config_.prediction == "sum":
            sorted_scores = spread_scores(
                self._sim_parts(), context, users, targets=iidx[order], group_ptr=group_ptr, **self._neighbour_args()
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
                mode=self.config_.prediction_kernel_mode,
                fallback=self.stats_.global_mean,
                targets=iidx[order],
                group_ptr=group_ptr,
                **self._neighbour_args(),
            )
            sorted_scores = self._finalise(sorted_scores)
        out = np.empty(uidx.size, dtype=np.float32)
        out[order] = sorted_scores
        return out

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        items, values = _prediction.history(iidx, weights)
        context = (np.array([0, items.size]), items, values)
        if self.config_.prediction == "sum":
            return spread_scores(self._sim_parts(), context, np.zeros(1), parallel=False, **self._neighbour_args())[0]
        x_off, x_scale = self._x_offsets()
        ctx_off = np.array([self._new_user_bias(items, values) if self.config_.prediction == "baseline" else 0.0])
        scores = gather_scores(
            self._sim_parts(),
            context,
            np.zeros(1),
            ctx_off,
            x_off,
            x_scale,
            mode=self.config_.prediction_kernel_mode,
            fallback=self.stats_.global_mean,
            parallel=False,
            **self._neighbour_args(),
        )[0]
        return scores  # unclipped: recommend ranks by it

    # ----------------------------------------------------------------- similarities, explanations
    def _similar_items(self, iidx: np.ndarray) -> np.ndarray:
        return stored_rows_dense(self.similarity_, iidx)

    def _similar_users(self, uidx: np.ndarray) -> np.ndarray:
        return self._other_similarities(uidx)

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        return explain_item_based(self, uidx, iidx, score)
