"""The exact index: every item scored, the best `k` selected (likewise's fused kernel).

It is the brute-force twin of the approximate index (tests compare both with a dense numpy
argsort), the fallback the approximate index uses when a filter is too selective, and what
``build_index(kind="exact")`` gives: the same answers as a model without an index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from likewise.kernels.als import factor_topk
from likewise.retrieval._base import ItemVectors, check_search_args

__all__ = ["ExactIndex", "exact_search"]


def exact_search(
    items: ItemVectors,
    queries: np.ndarray,
    k: int,
    allowed: np.ndarray,
    exclude: sp.csr_matrix | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-`k` of ``queries @ vectors.T + offsets`` with the filters (inputs already checked)."""
    b = queries.shape[0]
    return factor_topk(
        queries,
        items.vectors,
        np.arange(b, dtype=np.int64),
        k,
        bias=items.offsets,
        seen_indptr=None if exclude is None else exclude.indptr,
        seen_indices=None if exclude is None else exclude.indices,
        allowed=allowed,
        parallel=b > 1,
    )


class ExactIndex:
    """Brute force over every item: exact ranking (ties by the lower index), any filter, no build."""

    kind = "exact"

    def __init__(self, items: ItemVectors) -> None:
        self.items = items

    def search(
        self,
        query_vectors: Any,
        k: int,
        allowed_mask: np.ndarray | None = None,
        exclude: sp.csr_matrix | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        queries, k, allowed, drop = check_search_args(self.items, query_vectors, k, allowed_mask, exclude)
        return exact_search(self.items, queries, k, allowed, drop)

    def params(self) -> dict[str, Any]:
        return {}

    def to_bytes(self) -> bytes | None:
        return None

    def __repr__(self) -> str:
        return f"ExactIndex(n_items={self.items.n_items}, dim={self.items.dim})"
