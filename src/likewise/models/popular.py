"""Popularity: recommend what most people interacted with (the baseline every model must beat).

Scores, per ``by``:
- ``"count"``: number of users who interacted with the item, :math:`|U_i|`;
- ``"weight"``: total interaction weight :math:`\\sum_u r_{ui}` (plays, clicks);
- ``"rating"``: damped mean rating (a Bayesian average that shrinks items with few ratings
  towards the global mean :math:`\\mu`): :math:`(\\sum_u r_{ui} + \\beta\\mu) / (|U_i| + \\beta)`
  with :math:`\\beta` = ``damping``.

Everybody gets the same ranking (minus their seen items), so fold-in is exact: a new user's
list is the same ranking without the items they gave.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from likewise._util import plain
from likewise.data.interactions import Interactions
from likewise.kernels.topk import ranked_topk
from likewise.models._params import NONE, Interval, Options
from likewise.models.base import FitCallback, Recommender

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["Popularity"]


class Popularity(Recommender):
    """Most-popular items, by interaction count, total weight or damped mean rating.

    Parameters
    ----------
    by : {"count", "weight", "rating"}
        What ranks the items (see the module docstring).
    damping : float
        The Bayesian average's prior weight (``by="rating"`` only).
    n_threads : int or None
        Threads for batch recommendation (None: all available cores).
    """

    algorithm = "popularity"
    demo_params: ClassVar[dict[str, Any] | None] = {}

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "by": [Options(("count", "weight", "rating"))],
        "damping": [Interval(float, 0, None)],
        "n_threads": [Interval(int, 0, None), NONE],
    }

    def __init__(
        self,
        *,
        by: Literal["count", "weight", "rating"] = "count",
        damping: float = 5.0,
        n_threads: int | None = None,
    ) -> None:
        self.by = by
        self.damping = damping
        self.n_threads = n_threads

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        counts: np.ndarray = data.item_counts().astype(np.float64)
        sums = np.bincount(data.item_indices, weights=data.values, minlength=data.n_items)
        if self.by == "count":
            scores = counts
        elif self.by == "weight":
            scores = sums
        else:
            mean = float(data.values.mean())
            scores = (sums + self.damping * mean) / (counts + self.damping)
        self.item_counts_ = counts.astype(np.int64)
        self.item_scores_ = scores.astype(np.float32)
        order = np.lexsort((np.arange(data.n_items), -self.item_scores_))
        self.item_rank_ = np.empty(data.n_items, dtype=np.int64)
        self.item_rank_[order] = np.arange(1, data.n_items + 1)

    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_scores_, (uidx.size, self.item_scores_.size))

    def _top_n_users(
        self, uidx: np.ndarray, n: int, seen: sp.csr_matrix | None, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        # one ranking for everybody: walk it per user instead of scoring the whole catalogue
        return ranked_topk(
            self.item_scores_, n, n_rows=uidx.size, seen_indptr=None if seen is None else seen.indptr,
            seen_indices=None if seen is None else seen.indices, seen_rows=None if seen is None else uidx,
            allowed=allowed, parallel=uidx.size > 1,
        )  # fmt: skip

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self.item_scores_

    def _predict_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        return self.item_scores_[iidx]

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        import pandas as pd

        count = int(self.item_counts_[iidx])
        rank = int(self.item_rank_[iidx])
        measure = {"count": "interactions", "weight": "total weight", "rating": "damped mean rating"}[self.by]
        frame = pd.DataFrame({"kind": ["popularity"], "id": [plain(self.items_.ids[iidx])], "weight": [score]})
        users = f"{count} user{'s' if count != 1 else ''} interacted with it"
        detail = users if self.by == "count" else f"{score:.3g}; {users}"
        text = f"Popular: #{rank} of {self.n_items} items by {measure} ({detail})."
        return frame, text

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"item_scores": self.item_scores_, "item_counts": self.item_counts_, "item_rank": self.item_rank_}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.item_scores_ = arrays["item_scores"].astype(np.float32)
        self.item_counts_ = arrays["item_counts"].astype(np.int64)
        self.item_rank_ = arrays["item_rank"].astype(np.int64)
        if self.item_scores_.shape != (self.n_items,):
            raise ValueError("item_scores do not match the items")
