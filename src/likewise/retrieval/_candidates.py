"""What the approximate indexes share: a faiss structure proposes candidates, likewise filters
them, tops up short rows and re-ranks exactly.

A subclass (`HNSWIndex`, `IVFPQIndex`) says how candidates are proposed (`_propose`), how many
eligible ones a query keeps for the exact re-rank (`_shortlist`: ``k`` for a graph walk, which
already ranks by exact inner products; ``rerank * k`` for compressed codes, whose order is only
approximate) and when a scan of every item is cheaper than proposing (`_scan_is_cheaper`).
Every returned score is recomputed from the item vectors, so scores are the model's and the
order among returned items is exact (ties by the lower index).

Filters and exactly `k` results (docs/ann.md, "Filters"):

- the global mask (``allowed_mask``: exclude / candidates / attribute filters) is applied inside
  the faiss search (``IDSelectorBitmap``), so disallowed items never take a candidate slot;
- per-query exclusions (seen items) are over-fetched: ``k' = shortlist + |excluded and allowed|``
  candidates, the excluded ones dropped; a query still short of `k` is searched again with ``k'``
  doubled, at most `MAX_DOUBLINGS` times;
- exact fallback (`likewise.retrieval.exact`): when fewer than `FALLBACK_FRACTION` of the items
  are allowed (a search would visit mostly filtered items), for a query whose search would cost
  more than a scan or would have to return every allowed item, and for queries still short after
  the doublings. Queries are searched in groups of similar ``k'``, so one heavy user does not widen
  everybody's search.
  A row is padded with -1 / -inf only when fewer than `k` items are eligible at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from likewise.exceptions import NotSupportedError
from likewise.retrieval._base import ItemVectors, check_search_args
from likewise.retrieval.exact import exact_search

__all__ = ["FALLBACK_FRACTION", "MAX_DOUBLINGS", "CandidateIndex", "deserialize", "import_faiss"]

FALLBACK_FRACTION = 0.05
MAX_DOUBLINGS = 3


def import_faiss() -> Any:
    """The faiss module, or NotSupportedError naming the extra that provides it."""
    try:
        import faiss
    except ImportError as exc:
        raise NotSupportedError(
            f"approximate item indexes need faiss: pip install 'likewise[ann]' (faiss-cpu); import failed: {exc}"
        ) from exc
    return faiss


def deserialize(data: bytes, expected: str) -> Any:
    """The faiss index saved as `data` (no copy of the bytes); ValueError unless it is an
    inner-product index of the faiss class named `expected`."""
    faiss = import_faiss()
    try:
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))  # already downcast
    except RuntimeError as exc:
        raise ValueError(f"the index file is not a readable faiss index: {str(exc).splitlines()[0]}") from exc
    if type(index).__name__ != expected or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise ValueError(f"the index file holds a {type(index).__name__}, not an inner-product {expected}")
    return index


class CandidateIndex(ABC):
    """The `ItemIndex` search of an approximate index; subclasses provide the abstract methods."""

    kind: str
    items: ItemVectors
    n_threads: int | None

    # ----------------------------------------------------------------- what a subclass provides
    @classmethod
    @abstractmethod
    def from_bytes(cls, items: ItemVectors, data: bytes, params: dict[str, Any]) -> Self:
        """The index saved as `data` over `items`; ValueError when they do not fit each other."""
        ...

    @abstractmethod
    def to_bytes(self) -> bytes: ...

    @abstractmethod
    def params(self) -> dict[str, Any]: ...

    @abstractmethod
    def _shortlist(self, k: int) -> int:
        """How many eligible candidates a query keeps for the exact re-rank (at least `k`)."""
        ...

    @abstractmethod
    def _scan_is_cheaper(self, fetch: np.ndarray) -> np.ndarray:
        """Per query: whether proposing `fetch` candidates would cost more than scoring every item."""
        ...

    @abstractmethod
    def _propose(self, queries: np.ndarray, width: int, selector: Any) -> np.ndarray:
        """Candidate item indices (m, width), best first by the structure's own measure, -1 where
        it found fewer; `selector` is faiss's IDSelector of the allowed items, or None."""
        ...

    # ----------------------------------------------------------------- pickling, repr
    def __getstate__(self) -> dict[str, Any]:
        """Pickle through faiss's own serialisation (the SWIG object itself cannot be pickled)."""
        return {"items": self.items, "data": self.to_bytes(), "params": self.params(), "n_threads": self.n_threads}

    def __setstate__(self, state: dict[str, Any]) -> None:
        restored = type(self).from_bytes(state["items"], state["data"], state["params"])
        self.__dict__.update(vars(restored))
        self.n_threads = state["n_threads"]

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.params().items() if not k.endswith("_sha256")}
        return f"{type(self).__name__}(n_items={self.items.n_items}, dim={self.items.dim}, {shown})"

    # ----------------------------------------------------------------- the shared search
    def search(
        self,
        query_vectors: Any,
        k: int,
        allowed_mask: np.ndarray | None = None,
        exclude: sp.csr_matrix | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        queries, k, allowed, drop = check_search_args(self.items, query_vectors, k, allowed_mask, exclude)
        n_items, b = self.items.n_items, queries.shape[0]
        n_allowed = n_items if allowed is self.items.all_allowed else int(np.count_nonzero(allowed))
        if n_allowed < FALLBACK_FRACTION * n_items or b == 0:
            return exact_search(self.items, queries, k, allowed, drop)
        excluded = np.zeros(b, dtype=np.int64)
        if drop is not None:
            rows = np.repeat(np.arange(b), np.diff(drop.indptr))
            excluded = np.bincount(rows, weights=allowed[drop.indices], minlength=b).astype(np.int64)
        eligible = n_allowed - excluded
        keep = max(k, self._shortlist(k))
        fetch = np.minimum(keep + excluded, n_allowed)
        out_idx = np.full((b, keep), -1, dtype=np.int32)
        selector = self._selector(allowed) if n_allowed < n_items else None
        todo = np.arange(b)
        for _ in range(MAX_DOUBLINGS + 1):
            todo = todo[~self._scan_is_cheaper(fetch[todo]) & (fetch[todo] < n_allowed)]
            if todo.size == 0:
                break
            done = self._propose_by_width(queries, todo, fetch, k, allowed, drop, eligible, selector, out_idx)
            todo = todo[~done]
            fetch[todo] *= 2
        pending = np.flatnonzero((out_idx >= 0).sum(axis=1) < np.minimum(eligible, k))  # scanned or short
        if pending.size:
            sub = None if drop is None else drop[pending]
            out_idx[pending] = -1
            out_idx[pending, :k] = exact_search(self.items, queries[pending], k, allowed, sub)[0]
        return self._exact_order(queries, out_idx, k)

    def _propose_by_width(
        self,
        queries: np.ndarray,
        rows: np.ndarray,
        fetch: np.ndarray,
        k: int,
        allowed: np.ndarray,
        drop: sp.csr_matrix | None,
        eligible: np.ndarray,
        selector: tuple[Any, np.ndarray] | None,
        out_idx: np.ndarray,
    ) -> np.ndarray:
        """Candidates for `rows`, grouped by their fetch width rounded up to a power of two (one
        heavy user does not widen everybody's search); fills `out_idx`, says which rows are complete."""
        done = np.zeros(rows.size, dtype=bool)
        widths = 1 << np.ceil(np.log2(np.maximum(fetch[rows], 1))).astype(np.int64)
        for width in np.unique(widths):
            pos = np.flatnonzero(widths == width)
            group = rows[pos]
            found = self._propose(queries[group], int(fetch[group].max()), None if selector is None else selector[0])
            idx, complete = self._keep(found, group, out_idx.shape[1], allowed, drop, np.minimum(eligible[group], k))
            out_idx[group[complete]] = idx[complete]
            done[pos] = complete
        return done

    def _selector(self, allowed: np.ndarray) -> tuple[Any, np.ndarray]:
        faiss = import_faiss()
        bits = np.packbits(allowed, bitorder="little")
        return faiss.IDSelectorBitmap(allowed.size, faiss.swig_ptr(bits)), bits  # bits kept alive with it

    def _keep(
        self,
        found: np.ndarray,
        rows: np.ndarray,
        keep: int,
        allowed: np.ndarray,
        drop: sp.csr_matrix | None,
        wanted: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The first `keep` eligible candidates per row (proposal order; -1 padded) and which rows
        have all they need (`wanted`: k, or fewer when fewer items are eligible)."""
        ok = found >= 0
        ok &= allowed[np.where(ok, found, 0)]
        sub = None if drop is None else drop[rows]
        if sub is not None and sub.nnz:
            n_items = self.items.n_items
            keys = np.repeat(np.arange(rows.size, dtype=np.int64), np.diff(sub.indptr)) * n_items + sub.indices
            cand = np.arange(rows.size, dtype=np.int64)[:, None] * n_items + np.where(ok, found, 0)
            pos = np.minimum(np.searchsorted(keys, cand), keys.size - 1)
            ok &= keys[pos] != cand
        order = np.argsort(~ok, axis=1, kind="stable")[:, :keep]  # eligible first, proposal order kept
        picked = np.take_along_axis(found, order, axis=1)
        picked_ok = np.take_along_axis(ok, order, axis=1)
        picked = np.where(picked_ok, picked, -1).astype(np.int32)
        if picked.shape[1] < keep:
            picked = np.hstack([picked, np.full((rows.size, keep - picked.shape[1]), -1, np.int32)])
        return picked, picked_ok.sum(axis=1) >= wanted

    def _exact_order(self, queries: np.ndarray, indices: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best `k` of the chosen items by exact score, best first (ties by the lower index)."""
        valid = indices >= 0
        exact = self.items.scores(queries, np.where(valid, indices, 0))
        scores = np.where(valid, exact, np.float32(-np.inf)).astype(np.float32)
        keyed = np.where(valid, indices, np.iinfo(np.int32).max)
        order = np.lexsort((keyed, -scores), axis=-1)[:, :k]
        return np.take_along_axis(indices, order, axis=1), np.take_along_axis(scores, order, axis=1)
