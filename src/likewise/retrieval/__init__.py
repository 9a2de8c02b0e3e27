"""Top-k retrieval over item vectors by inner product: one interface, an exact and an approximate index.

`ItemIndex` is the protocol (`search(query_vectors, k, allowed_mask=None, exclude=None)`);
`ExactIndex` is the brute-force path (likewise's fused scoring + top-k kernel) and the twin every
approximate answer is measured against; `HNSWIndex` is faiss's HNSW graph (extra ``ann``), with the
filters honoured by filtered search, over-fetch, refill and an exact fallback. Factor models build
one with ``model.build_index(kind=...)`` (docs/ann.md).
"""

from likewise.retrieval._base import INDEX_KINDS, ItemIndex, ItemVectors, build_index, restore_index
from likewise.retrieval.ann import HNSWIndex
from likewise.retrieval.exact import ExactIndex

__all__ = ["INDEX_KINDS", "ExactIndex", "HNSWIndex", "ItemIndex", "ItemVectors", "build_index", "restore_index"]
