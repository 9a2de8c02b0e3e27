"""Approximate top-k by inner product: faiss's HNSW graph (extra ``ann``), filters honoured.

Why faiss's HNSW with the inner-product metric: measured on this machine against usearch's HNSW
and faiss's IVF (docs/ann.md, "Choosing the library"), it gave the best recall per query second,
and searching the inner product directly beat the MIPS-to-L2 transform (Bachrach et al. 2014) on
factor-model vectors, whose appended coordinate dominates the distances. The graph only proposes
candidates: every returned score is recomputed exactly from the vectors, so scores are the model's
scores and the order among the returned items is exact (ties by the lower index).

Filters, exactly `k` results and the exact fallback are shared with the IVF-PQ index
(`likewise.retrieval._candidates`). A graph walk of width ``w`` evaluates about ``w * M`` nodes,
so a query is scanned instead when ``max(k', ef_search) * M > max(n_items, MIN_SCAN_NODES)`` (a
user with thousands of seen items in a small catalogue).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from likewise.exceptions import InvalidParameterError
from likewise.kernels._threads import resolve_threads
from likewise.retrieval._base import ItemVectors
from likewise.retrieval._candidates import CandidateIndex, deserialize, import_faiss

__all__ = ["DEFAULT_PARAMS", "MIN_SCAN_NODES", "HNSWIndex", "import_faiss"]

DEFAULT_PARAMS: dict[str, int] = {"M": 32, "ef_construction": 100, "ef_search": 128}
"""Graph degree, candidate list while building, candidate list while searching (faiss's names:
M, efConstruction, efSearch). ef_search is the recall / speed knob (docs/ann.md)."""
MIN_SCAN_NODES = 16_384
"""A walk is preferred to the scan unless it evaluates more than max(n_items, this) nodes: below
that size both take well under a millisecond, and the graph keeps small catalogues on one path."""


def _check_params(params: dict[str, Any]) -> dict[str, int]:
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        raise InvalidParameterError(f"hnsw index has no parameter {unknown}; parameters are {sorted(DEFAULT_PARAMS)}")
    out = {**DEFAULT_PARAMS, **params}
    for name, value in out.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 2 <= value <= 4096:
            raise InvalidParameterError(f"hnsw parameter {name} must be an integer in [2, 4096], got {value!r}")
    return {name: int(value) for name, value in out.items()}


class HNSWIndex(CandidateIndex):
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
        index = deserialize(data, "IndexHNSWFlat")
        expected = items.augmented()
        if index.ntotal != expected.shape[0] or index.d != expected.shape[1]:
            raise ValueError(
                f"the index holds {index.ntotal} vectors of width {index.d}; the model has {expected.shape[0]} "
                f"items of width {expected.shape[1]}"
            )
        if index.hnsw.efConstruction != checked["ef_construction"]:
            raise ValueError("the index was built with another ef_construction than meta.json says")
        faiss = import_faiss()
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

    # ----------------------------------------------------------------- searching (CandidateIndex hooks)
    def _shortlist(self, k: int) -> int:
        return k  # the walk ranks by exact inner products already: its first k eligible are kept

    def _scan_is_cheaper(self, fetch: np.ndarray) -> np.ndarray:
        cost = np.maximum(fetch, self._params["ef_search"]) * self._params["M"]
        return np.asarray(cost > max(self.items.n_items, MIN_SCAN_NODES))

    def _propose(self, queries: np.ndarray, width: int, selector: Any) -> np.ndarray:
        faiss = import_faiss()
        search_params = faiss.SearchParametersHNSW()
        search_params.efSearch = max(self._params["ef_search"], width)
        if selector is not None:
            search_params.sel = selector
        threads = 1 if queries.shape[0] == 1 else resolve_threads(self.n_threads)
        faiss.omp_set_num_threads(threads)  # this thread's team only (an OpenMP per-thread setting)
        _, labels = self._index.search(self.items.augment_queries(queries), width, params=search_params)
        return np.asarray(labels)
