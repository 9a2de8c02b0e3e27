"""Approximate top-k by inner product: faiss's HNSW graph (extra ``ann``), filters honoured.

Why faiss's HNSW with the inner-product metric: measured on this machine against usearch's HNSW
and faiss's IVF (docs/ann.md, "Choosing the library"), it gave the best recall per query second,
and searching the inner product directly beat the MIPS-to-L2 transform (Bachrach et al. 2014) on
factor-model vectors, whose appended coordinate dominates the distances. The graph only proposes
candidates: every returned score is recomputed exactly from the vectors, so scores are the model's
scores and the order among the returned items is exact (ties by the lower index).

Filters and exactly `k` results (docs/ann.md, "Filters"):

- the global mask (``allowed_mask``: exclude / candidates / attribute filters) is applied inside the
  graph search (faiss's ``IDSelectorBitmap``), so disallowed items never take a result slot;
- per-query exclusions (seen items) are over-fetched: ``k' = k + |excluded and allowed|`` candidates,
  the excluded ones dropped; a query still short of `k` is searched again with ``k'`` doubled,
  at most `MAX_DOUBLINGS` times;
- exact fallback (`likewise.retrieval.exact`): when fewer than `FALLBACK_FRACTION` of the items are
  allowed (a graph walk would visit mostly filtered nodes); for a query whose walk would evaluate
  more nodes than a scan (``max(k', ef_search) * M > max(n_items, MIN_SCAN_NODES)``: a user with
  thousands of seen items in a small catalogue) or would have to return every allowed item; and
  for queries still short after the doublings. Queries are walked in groups of similar ``k'`` so
  one heavy user does not widen everybody's walk.
  A row is padded with -1 / -inf only when fewer than `k` items are eligible at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from likewise.exceptions import InvalidParameterError, NotSupportedError
from likewise.kernels._threads import resolve_threads
from likewise.retrieval._base import ItemVectors, check_search_args
from likewise.retrieval.exact import exact_search

__all__ = ["DEFAULT_PARAMS", "FALLBACK_FRACTION", "MAX_DOUBLINGS", "MIN_SCAN_NODES", "HNSWIndex", "import_faiss"]

DEFAULT_PARAMS: dict[str, int] = {"M": 32, "ef_construction": 100, "ef_search": 128}
"""Graph degree, candidate list while building, candidate list while searching (faiss's names:
M, efConstruction, efSearch). ef_search is the recall / speed knob (docs/ann.md)."""
FALLBACK_FRACTION = 0.05
MAX_DOUBLINGS = 3
MIN_SCAN_NODES = 16_384
"""A walk is preferred to the scan unless it evaluates more than max(n_items, this) nodes: below
that size both take well under a millisecond, and the graph keeps small catalogues on one path."""


def import_faiss() -> Any:
    """The faiss module, or NotSupportedError naming the extra that provides it."""
    try:
        import faiss
    except ImportError as exc:
        raise NotSupportedError(
            f"the hnsw index needs faiss: pip install 'likewise[ann]' (faiss-cpu); import failed: {exc}"
        ) from exc
    return faiss


def _check_params(params: dict[str, Any]) -> dict[str, int]:
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        raise InvalidParameterError(f"hnsw index has no parameter {unknown}; parameters are {sorted(DEFAULT_PARAMS)}")
    out = {**DEFAULT_PARAMS, **params}
    for name, value in out.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 2 <= value <= 4096:
            raise InvalidParameterError(f"hnsw parameter {name} must be an integer in [2, 4096], got {value!r}")
    return {name: int(value) for name, value in out.items()}


class HNSWIndex:
    """faiss ``IndexHNSWFlat`` over the item vectors (inner product), with likewise's filters.

    Build with `HNSWIndex.build(items, M=32, ef_construction=100, ef_search=128)`; `search` follows
    the `ItemIndex` protocol. Searching from several threads at once is safe (faiss searches a
    built index read-only; the per-call search parameters are not shared).
    """

    kind = "hnsw"

    def __init__(self, items: ItemVectors, index: Any, params: dict[str, int], n_threads: int | None = None) -> None:
        self.items = items
        self._index = index
        self._params = params
        self.n_threads = n_threads

    # ----------------------------------------------------------------- building and bytes
    @classmethod
    def build(cls, items: ItemVectors, *, n_threads: int | None = None, **params: Any) -> HNSWIndex:
        checked = _check_params(params)
        faiss = import_faiss()
        data = items.augmented()
        index = faiss.IndexHNSWFlat(data.shape[1], checked["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = checked["ef_construction"]
        index.hnsw.efSearch = checked["ef_search"]
        # omp_set_num_threads sets the calling thread's OpenMP team size, nobody else's.
        faiss.omp_set_num_threads(resolve_threads(n_threads))
        index.add(data)
        return cls(items, index, checked, n_threads)

    def to_bytes(self) -> bytes:
        faiss = import_faiss()
        return bytes(faiss.serialize_index(self._index).tobytes())

    @classmethod
    def from_bytes(cls, items: ItemVectors, data: bytes, params: dict[str, Any]) -> HNSWIndex:
        """The saved index; ValueError unless it is an inner-product HNSW over exactly `items`."""
        try:
            checked = _check_params(params)
        except InvalidParameterError as exc:
            raise ValueError(str(exc)) from exc
        faiss = import_faiss()
        try:
            index = faiss.deserialize_index(np.array(bytearray(data), dtype=np.uint8))  # already downcast
        except RuntimeError as exc:
            raise ValueError(f"the index file is not a readable faiss index: {str(exc).splitlines()[0]}") from exc
        if not isinstance(index, faiss.IndexHNSWFlat) or index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError(f"the index file holds a {type(index).__name__}, not an inner-product IndexHNSWFlat")
        expected = items.augmented()
        if index.ntotal != expected.shape[0] or index.d != expected.shape[1]:
            raise ValueError(
                f"the index holds {index.ntotal} vectors of width {index.d}; the model has {expected.shape[0]} "
                f"items of width {expected.shape[1]}"
            )
        if index.hnsw.efConstruction != checked["ef_construction"]:
            raise ValueError("the index was built with another ef_construction than meta.json says")
        stored = faiss.rev_swig_ptr(faiss.downcast_index(index.storage).get_xb(), index.ntotal * index.d)
        if not np.array_equal(np.asarray(stored).reshape(expected.shape), expected):
            raise ValueError("the index's vectors are not the model's item factors (a stale or foreign index)")
        index.hnsw.efSearch = checked["ef_search"]
        return cls(items, index, checked)

    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def set_ef_search(self, ef_search: int) -> HNSWIndex:
        """Change the search width (the recall / speed knob) without rebuilding; returns self.
        Saved with the model like the other parameters."""
        self._params = _check_params({**self._params, "ef_search": ef_search})
        self._index.hnsw.efSearch = self._params["ef_search"]
        return self

    def __getstate__(self) -> dict[str, Any]:
        """Pickle through faiss's own serialisation (the SWIG object itself cannot be pickled)."""
        return {"items": self.items, "data": self.to_bytes(), "params": self._params, "n_threads": self.n_threads}

    def __setstate__(self, state: dict[str, Any]) -> None:
        restored = HNSWIndex.from_bytes(state["items"], state["data"], state["params"])
        self.__dict__.update(vars(restored))
        self.n_threads = state["n_threads"]

    def __repr__(self) -> str:
        return f"HNSWIndex(n_items={self.items.n_items}, dim={self.items.dim}, {self._params})"

    # ----------------------------------------------------------------- searching
    def search(
        self,
        query_vectors: Any,
        k: int,
        allowed_mask: np.ndarray | None = None,
        exclude: sp.csr_matrix | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        queries, k, allowed, drop = check_search_args(self.items, query_vectors, k, allowed_mask, exclude)
        n_items, b = self.items.n_items, queries.shape[0]
        n_allowed = int(np.count_nonzero(allowed))
        if n_allowed < FALLBACK_FRACTION * n_items or b == 0:
            return exact_search(self.items, queries, k, allowed, drop)
        excluded = np.zeros(b, dtype=np.int64)
        if drop is not None:
            rows = np.repeat(np.arange(b), np.diff(drop.indptr))
            excluded = np.bincount(rows, weights=allowed[drop.indices], minlength=b).astype(np.int64)
        eligible = n_allowed - excluded
        fetch = np.minimum(k + excluded, n_allowed)
        out_idx = np.full((b, k), -1, dtype=np.int32)
        selector = self._selector(allowed) if n_allowed < n_items else None
        budget = max(n_items, MIN_SCAN_NODES)
        todo = np.arange(b)
        for _ in range(MAX_DOUBLINGS + 1):
            # A walk of width w evaluates about w * M nodes: a row whose walk would cost more than
            # scanning the catalogue, or would have to return every allowed item, is scanned.
            cost = np.maximum(fetch[todo], self._params["ef_search"]) * self._params["M"]
            todo = todo[(cost <= budget) & (fetch[todo] < n_allowed)]
            if todo.size == 0:
                break
            done = self._walk_by_width(queries, todo, fetch, k, allowed, drop, eligible, selector, out_idx)
            todo = todo[~done]
            fetch[todo] *= 2
        pending = np.flatnonzero(~self._filled(out_idx, eligible, k))  # scanned or still short
        if pending.size:
            sub = None if drop is None else drop[pending]
            out_idx[pending] = exact_search(self.items, queries[pending], k, allowed, sub)[0]
        return self._exact_order(queries, out_idx)

    @staticmethod
    def _filled(out_idx: np.ndarray, eligible: np.ndarray, k: int) -> np.ndarray:
        return (out_idx >= 0).sum(axis=1) >= np.minimum(eligible, k)

    def _walk_by_width(
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
        """Graph search for `rows`, grouped by their fetch width rounded up to a power of two (one
        heavy user does not widen everybody's walk); fills `out_idx`, says which rows are complete."""
        done = np.zeros(rows.size, dtype=bool)
        if rows.size == 0:
            return done
        widths = 1 << np.ceil(np.log2(np.maximum(fetch[rows], 1))).astype(np.int64)
        for width in np.unique(widths):
            pos = np.flatnonzero(widths == width)
            group = rows[pos]
            found = self._graph_search(queries[group], int(fetch[group].max()), selector)
            idx, complete = self._keep(found, group, k, allowed, drop, np.minimum(eligible[group], k))
            out_idx[group[complete]] = idx[complete]
            done[pos] = complete
        return done

    def _selector(self, allowed: np.ndarray) -> tuple[Any, np.ndarray]:
        faiss = import_faiss()
        bits = np.packbits(allowed, bitorder="little")
        return faiss.IDSelectorBitmap(allowed.size, faiss.swig_ptr(bits)), bits  # bits kept alive with it

    def _graph_search(self, queries: np.ndarray, width: int, selector: tuple[Any, np.ndarray] | None) -> np.ndarray:
        """Candidate item indices (m, width) from the graph, -1 where it found fewer."""
        faiss = import_faiss()
        search_params = faiss.SearchParametersHNSW()
        search_params.efSearch = max(self._params["ef_search"], width)
        if selector is not None:
            search_params.sel = selector[0]
        threads = 1 if queries.shape[0] == 1 else resolve_threads(self.n_threads)
        faiss.omp_set_num_threads(threads)  # this thread's team only (an OpenMP per-thread setting)
        _, labels = self._index.search(self.items.augment_queries(queries), width, params=search_params)
        return np.asarray(labels)

    def _keep(
        self,
        found: np.ndarray,
        rows: np.ndarray,
        k: int,
        allowed: np.ndarray,
        drop: sp.csr_matrix | None,
        wanted: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The first `k` eligible candidates per row (graph order; -1 padded) and which rows have
        all they need (`wanted`: k, or fewer when fewer items are eligible)."""
        ok = found >= 0
        ok &= allowed[np.where(ok, found, 0)]
        sub = None if drop is None else drop[rows]
        if sub is not None and sub.nnz:
            n_items = self.items.n_items
            keys = np.repeat(np.arange(rows.size, dtype=np.int64), np.diff(sub.indptr)) * n_items + sub.indices
            cand = np.arange(rows.size, dtype=np.int64)[:, None] * n_items + np.where(ok, found, 0)
            pos = np.minimum(np.searchsorted(keys, cand), keys.size - 1)
            ok &= keys[pos] != cand
        order = np.argsort(~ok, axis=1, kind="stable")[:, :k]  # eligible first, graph order kept
        picked = np.take_along_axis(found, order, axis=1)
        picked_ok = np.take_along_axis(ok, order, axis=1)
        picked = np.where(picked_ok, picked, -1).astype(np.int32)
        if picked.shape[1] < k:
            picked = np.hstack([picked, np.full((rows.size, k - picked.shape[1]), -1, np.int32)])
        return picked, picked_ok.sum(axis=1) >= wanted

    def _exact_order(self, queries: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores for the chosen items, sorted best first (ties by the lower index)."""
        valid = indices >= 0
        exact = self.items.scores(queries, np.where(valid, indices, 0))
        scores = np.where(valid, exact, np.float32(-np.inf)).astype(np.float32)
        keyed = np.where(valid, indices, np.iinfo(np.int32).max)
        order = np.lexsort((keyed, -scores), axis=-1)
        return np.take_along_axis(indices, order, axis=1), np.take_along_axis(scores, order, axis=1)
