"""Results of recommendation queries: `Recs` (ranked lists) and `Explanation`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from likewise.data.idmap import IdMap

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["Explanation", "Recs"]


@dataclass(frozen=True, eq=False)
class Recs:
    """Top-n lists for a batch of queries.

    `indices` (int32) and `scores` (float32) have shape (n_queries, n); rows are sorted by score,
    best first, and padded with index -1 / score -inf when fewer than n items were eligible.
    `queries` holds the raw id of each query (a user, an item for `similar_items`, or None for
    an anonymous history); `query_name` is its column name in `to_frame`. `fallback` (from
    `recommend`) is a boolean per query: True where the row is the popularity fallback of
    ``unknown="popular"`` for a user the model does not know, not the model's own answer.
    `fallback_step` (from cold-start calls such as `HybridMF.recommend_new_user`) names, per
    query, the step of the model's fallback chain that produced the row ("features",
    "fold-in" or "popularity"); None elsewhere.
    """

    indices: np.ndarray
    scores: np.ndarray
    items: IdMap
    queries: np.ndarray
    query_name: str = "user"
    titles: np.ndarray | None = field(default=None, repr=False)
    fallback: np.ndarray | None = field(default=None, repr=False)
    fallback_step: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    @property
    def n(self) -> int:
        return int(self.indices.shape[1])

    @property
    def valid(self) -> np.ndarray:
        """Boolean mask of real (non-padding) entries."""
        return self.indices >= 0

    def ids(self) -> np.ndarray:
        """Raw item ids, shape (n_queries, n), object dtype with None for padding."""
        out = np.full(self.indices.shape, None, dtype=object)
        valid = self.valid
        out[valid] = self.items.to_ids(self.indices[valid])
        return out

    def row(self, position: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(raw item ids, scores) of one query, padding removed."""
        valid = self.valid[position]
        return self.items.to_ids(self.indices[position][valid]), self.scores[position][valid]

    def to_frame(self) -> pd.DataFrame:
        """Long format: <query_name>, item, score, rank (1-based)[, title]; padding dropped."""
        import pandas as pd

        valid = self.valid
        query_pos, rank = np.nonzero(valid)
        idx = self.indices[valid]
        frame = pd.DataFrame(
            {
                self.query_name: self.queries[query_pos],
                "item": self.items.to_ids(idx),
                "score": self.scores[valid],
                "rank": (rank + 1).astype(np.int64),
            }
        )
        if self.titles is not None:
            frame["title"] = self.titles[idx]
        return frame

    def __repr__(self) -> str:
        return f"Recs(n_queries={len(self)}, n={self.n}, query={self.query_name!r})"


@dataclass(frozen=True)
class Explanation:
    """Why a model scored `item` for `user` as it did.

    `contributions` has columns kind (e.g. "item", "user", "popularity"), id (raw id or label)
    and weight (its share of the score, in the model's units), sorted by |weight| descending.
    """

    user: Any
    item: Any
    score: float
    contributions: pd.DataFrame
    text: str

    def __str__(self) -> str:
        return self.text
