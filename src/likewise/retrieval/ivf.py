"""Approximate top-k by inner product: an inverted file of 4-bit product-quantised codes (faiss's
``IndexIVFPQFastScan``, extra ``ann``), re-ranked exactly, filters honoured.

How it proposes candidates (docs/ann.md, "IVF-PQ"):

- **inverted file**: k-means with ``nlist`` centroids splits the items into lists; a query visits
  the ``nprobe`` lists whose centroids have the largest inner product with it;
- **product quantisation** (Jégou, Douze & Schmid 2011): each item vector is cut into ``pq_m``
  groups of coordinates and each group is coded by the nearest of 16 centroids (4 bits), so an
  item costs ``pq_m / 2`` bytes; a query's inner product with a code is a sum of ``pq_m`` table
  lookups, done 32 codes at a time in SIMD registers ("fast scan": André, Kermarrec & Le Scouarnec
  2015; André, Scouarnec et al. 2019, "Quicker ADC");
- **exact re-rank**: the best ``rerank * k`` eligible candidates by code score are scored exactly
  from the model's own vectors (the index holds codes only, no float copy of the vectors), so the
  returned scores are the model's and their order is exact (ties by the lower index).

Inner product is searched directly (maximum inner-product search) with faiss's inner-product
metric in both quantisers; a per-item offset is one more coordinate (`ItemVectors`), and the
vectors are padded with zero coordinates to a multiple of ``pq_m`` (zeros change no inner product).

Filters, exactly `k` results and the exact fallback are shared with HNSW
(`likewise.retrieval._candidates`). A query visits about ``n_items * nprobe / nlist`` items, so
one that needs more than half of them as candidates (many seen items) is scanned exactly instead.

Why this index beside HNSW: on a 1M x 64 catalogue whose spectrum is nearly flat, faiss's HNSW
needed a 412 s build and about 0.5 KB per item for recall 0.95; this builds in about 30 s, stores
32 bytes per item (no float copy) and answers a single query faster at the same recall
(docs/ann.md and the ann section of docs/benchmarks.md have the measurements).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from likewise.exceptions import InvalidParameterError
from likewise.kernels._threads import resolve_threads
from likewise.retrieval._base import ItemVectors
from likewise.retrieval._candidates import CandidateIndex, deserialize, import_faiss

__all__ = ["DEFAULT_RERANK", "NPROBE_SHARE", "IVFPQIndex"]

NBITS = 4  # fast scan's code size: 16 centroids per group
DEFAULT_RERANK = 10
"""Candidates re-ranked exactly per result: ``rerank * k`` (100 for a top-10). With one code group
per coordinate the codes rank well enough that 20 or 50 gained under 0.003 recall@10 on 1M x 64
(docs/ann.md); recall is bounded by the lists probed."""
NPROBE_SHARE = 0.25
"""Default ``nprobe`` as a share of ``nlist`` (the recall / speed knob; measured in docs/ann.md)."""
MIN_TRAIN_ROWS = 39 * 2**NBITS
"""faiss's k-means wants 39 training points per centroid (it warns on stderr otherwise), i.e. 624
for a 16-entry code book: a smaller catalogue is trained on its rows repeated (its queries are
exact scans anyway, see above)."""
_BUILD_PARAMS = ("nlist", "pq_m")
_SEARCH_PARAMS = ("nprobe", "rerank")


def default_nlist(n_items: int) -> int:
    """About 2 sqrt(n) lists, at most one per 39 items (faiss's minimum of training points per
    centroid). Measured on 1M x 64 at a quarter of the lists probed: 2000 lists gave recall@10
    0.952 against 0.941 for 1000, at 15% fewer queries per second and a 3x longer build."""
    return max(1, min(round(2 * math.sqrt(n_items)), n_items // 39))


def _positive_int(name: str, value: Any, upper: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= upper:
        raise InvalidParameterError(f"ivf parameter {name} must be an integer in [1, {upper}], got {value!r}")
    return int(value)


def _check_params(items: ItemVectors, params: dict[str, Any]) -> dict[str, int]:
    """Every parameter resolved (defaults filled in) and checked against the catalogue."""
    unknown = sorted(set(params) - set(_BUILD_PARAMS) - set(_SEARCH_PARAMS))
    if unknown:
        raise InvalidParameterError(
            f"ivf index has no parameter {unknown}; parameters are {sorted(_BUILD_PARAMS + _SEARCH_PARAMS)}"
        )
    n_items, width = items.n_items, items.dim + (items.offsets is not None)
    given = {name: value for name, value in params.items() if value is not None}
    nlist = _positive_int("nlist", given.get("nlist", default_nlist(n_items)), max(1, n_items))
    pq_m = _positive_int("pq_m", given.get("pq_m", width + width % 2), width + width % 2)
    nprobe = _positive_int("nprobe", given.get("nprobe", max(1, math.ceil(nlist * NPROBE_SHARE))), nlist)
    rerank = _positive_int("rerank", given.get("rerank", DEFAULT_RERANK), 10_000)
    return {"nlist": nlist, "pq_m": pq_m, "nprobe": nprobe, "rerank": rerank}


def vectors_digest(items: ItemVectors) -> str:
    """sha256 of the vectors and offsets the index was built from. The index stores only codes, so
    it cannot be compared with the vectors as HNSW's stored floats are: meta.json keeps this digest
    and the digest of the index bytes, and loading checks both (a stale or foreign index file)."""
    digest = hashlib.sha256(np.ascontiguousarray(items.vectors).data)
    if items.offsets is not None:
        digest.update(np.ascontiguousarray(items.offsets).data)
    return digest.hexdigest()


class IVFPQIndex(CandidateIndex):
    """faiss ``IndexIVFPQFastScan`` over the item vectors (inner product), re-ranked exactly.

    Build with ``IVFPQIndex.build(items, nlist=None, nprobe=None, pq_m=None, rerank=10)``
    (None: the defaults above); `search` follows the `ItemIndex` protocol. Searching from several
    threads at once is safe (each call passes its own search parameters).
    """

    kind = "ivf"

    def __init__(
        self, items: ItemVectors, index: Any, params: dict[str, int], data: bytes, n_threads: int | None = None
    ) -> None:
        self.items = items
        self._index = index
        self._one_query = _probe_parallel_view(index)
        self._params = params
        self.n_threads = n_threads
        self._digests = {"vectors_sha256": vectors_digest(items), "index_sha256": hashlib.sha256(data).hexdigest()}

    # ----------------------------------------------------------------- building and bytes
    @classmethod
    def build(cls, items: ItemVectors, *, n_threads: int | None = None, **params: Any) -> IVFPQIndex:
        checked = _check_params(items, params)
        faiss = import_faiss()
        data = _padded(items.augmented(), checked["pq_m"])
        width = data.shape[1]
        quantizer = faiss.IndexFlatIP(width)
        index = faiss.IndexIVFPQFastScan(
            quantizer, width, checked["nlist"], checked["pq_m"], NBITS, faiss.METRIC_INNER_PRODUCT
        )
        faiss.omp_set_num_threads(resolve_threads(n_threads))  # this thread's OpenMP team only
        repeats = -(-MIN_TRAIN_ROWS // max(1, data.shape[0]))
        index.train(np.tile(data, (repeats, 1)) if repeats > 1 else data)
        index.add(data)
        return cls(items, index, checked, _serialised(index), n_threads)

    def to_bytes(self) -> bytes:
        return _serialised(self._index)

    @classmethod
    def from_bytes(cls, items: ItemVectors, data: bytes, params: dict[str, Any]) -> IVFPQIndex:
        """The saved index; ValueError unless it is an inner-product IVF-PQ over exactly `items`."""
        saved = dict(params)
        digests = {name: saved.pop(name, None) for name in ("vectors_sha256", "index_sha256")}
        try:
            checked = _check_params(items, saved)
        except InvalidParameterError as exc:
            raise ValueError(str(exc)) from exc
        if set(saved) != set(checked) or None in digests.values():
            raise ValueError(f"ivf index params must name {sorted(checked) + sorted(digests)}, got {sorted(params)}")
        if digests["vectors_sha256"] != vectors_digest(items):
            raise ValueError("the index's vectors are not the model's item factors (a stale or foreign index)")
        if digests["index_sha256"] != hashlib.sha256(data).hexdigest():
            raise ValueError("the index file is not the one saved with these item factors (stale, foreign or damaged)")
        index = deserialize(data, "IndexIVFPQFastScan")
        width = items.dim + (items.offsets is not None)
        expected = (items.n_items, -(-width // checked["pq_m"]) * checked["pq_m"], checked["nlist"], checked["pq_m"])
        found = (int(index.ntotal), int(index.d), int(index.nlist), int(index.pq.M))
        if found != expected or index.pq.nbits != NBITS:
            raise ValueError(
                f"the index holds (items, width, nlist, pq_m) = {found} with {index.pq.nbits}-bit codes; "
                f"the model and meta.json say {expected} with {NBITS}-bit codes"
            )
        return cls(items, index, checked, data)

    def params(self) -> dict[str, Any]:
        return {**self._params, **self._digests}

    def set_search(self, *, nprobe: int | None = None, rerank: int | None = None) -> IVFPQIndex:
        """Change the recall / speed knobs without rebuilding (saved with the model); returns self."""
        changes = {name: value for name, value in (("nprobe", nprobe), ("rerank", rerank)) if value is not None}
        self._params = _check_params(self.items, {**self._params, **changes})
        return self

    # ----------------------------------------------------------------- searching (CandidateIndex hooks)
    def _shortlist(self, k: int) -> int:
        return self._params["rerank"] * k  # code scores are approximate: re-rank a longer list

    def _scan_is_cheaper(self, fetch: np.ndarray) -> np.ndarray:
        visited = self.items.n_items * self._params["nprobe"] / self._params["nlist"]
        return np.asarray(fetch > visited / 2)

    def _propose(self, queries: np.ndarray, width: int, selector: Any) -> np.ndarray:
        faiss = import_faiss()
        search_params = faiss.SearchParametersIVF()
        search_params.nprobe = self._params["nprobe"]
        if selector is not None:
            search_params.sel = selector
        threads = resolve_threads(self.n_threads)
        faiss.omp_set_num_threads(threads)  # this thread's team only (an OpenMP per-thread setting)
        searcher = self._one_query if queries.shape[0] == 1 and threads > 1 else self._index
        padded = _padded(self.items.augment_queries(queries), self._params["pq_m"])
        _, labels = searcher.search(padded, width, params=search_params)
        return np.asarray(labels)


def _probe_parallel_view(index: Any) -> Any:
    """A second faiss object over `index`'s own inverted lists (shared, not copied) that splits
    *one* query's lists between the OpenMP threads (faiss's ``implem`` 15: lists in parallel, a
    reservoir per thread, merged).

    Why: faiss's default (``implem`` 0) spreads a batch over threads by query, so a single query
    runs on one thread; on 1M x 64 at nprobe 500 it took 0.93-0.95 ms against 0.53-0.74 ms split
    over 2 threads, while for batches the default stays faster (0.26 against 0.38 ms a query at
    1,000 queries). ``implem`` is a field of the faiss object, not a search parameter, so it is set
    once on this view rather than switched per call (which would race between threads).
    Candidates whose code scores tie at the shortlist's end may come out in another order from run
    to run (the per-thread merge); the exact re-rank of a shortlist of ``rerank * k`` makes the
    returned items the same (600 of 600 repeated queries on 1M x 64, docs/ann.md).
    The view does not own the lists, so it holds a reference to their owner (faiss's own idiom,
    ``referenced_objects``): a search through the view can never reach freed lists."""
    faiss = import_faiss()
    view = faiss.clone_index(index)
    view.replace_invlists(index.invlists, False)  # frees the clone's copy of the codes
    view.referenced_objects = [index]
    view.implem = 15
    return view


def _serialised(index: Any) -> bytes:
    faiss = import_faiss()
    return bytes(faiss.serialize_index(index).tobytes())


def _padded(vectors: np.ndarray, pq_m: int) -> np.ndarray:
    """`vectors` with zero coordinates appended up to a multiple of `pq_m` (float32, C order)."""
    extra = -vectors.shape[1] % pq_m
    if extra == 0:
        return np.ascontiguousarray(vectors, dtype=np.float32)
    return np.ascontiguousarray(np.hstack([vectors, np.zeros((vectors.shape[0], extra), np.float32)]))
