"""Top-k retrieval over item vectors by inner product: one interface, an exact and an approximate index.

`ItemIndex` is the protocol (`search(query_vectors, k, allowed_mask=None, exclude=None)`);
`ExactIndex` is the brute-force path (likewise's fused scoring + top-k kernel) and the twin every
approximate answer is measured against; `HNSWIndex` is faiss's HNSW graph and `IVFPQIndex` faiss's
inverted file of 4-bit product-quantised codes re-ranked exactly (extra ``ann``), both with the
filters honoured by filtered search, over-fetch, refill and an exact fallback. Factor models build
one with ``model.build_index(kind=...)`` (docs/ann.md).
"""

from likewise.retrieval._base import INDEX_KINDS, ItemIndex, ItemVectors, build_index, restore_index
from likewise.retrieval.ann import HNSWIndex
from likewise.retrieval.exact import ExactIndex
from likewise.retrieval.ivf import IVFPQIndex

__all__ = [
    "INDEX_KINDS",
    "ExactIndex",
    "HNSWIndex",
    "IVFPQIndex",
    "ItemIndex",
    "ItemVectors",
    "build_index",
    "restore_index",
]
