"""What every item index shares: the vectors it searches, the protocol, building and restoring by kind.

Scores are ``query . item + offset[item]`` (the factor models' ranking: ALS and BPR, BPR's item
bias, the item bias of rating models). An offset is folded into the vectors once, as one more
coordinate (1 on the query side), so every index searches a plain inner product.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, Protocol

import numpy as np
import scipy.sparse as sp

from likewise.exceptions import InvalidParameterError

__all__ = ["INDEX_KINDS", "IndexKind", "ItemIndex", "ItemVectors", "build_index", "check_search_args", "restore_index"]

IndexKind = Literal["exact", "hnsw", "ivf"]
INDEX_KINDS: tuple[str, ...] = ("exact", "hnsw", "ivf")


@dataclass(frozen=True)
class ItemVectors:
    """Item vectors (n_items, f) float32 and an optional per-item offset (n_items,) float32."""

    vectors: np.ndarray
    offsets: np.ndarray | None = None

    @classmethod
    def of(cls, vectors: np.ndarray, offsets: np.ndarray | None = None) -> ItemVectors:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise InvalidParameterError(f"item vectors must be a 2-D array, got shape {vectors.shape}")
        if offsets is not None:
            offsets = np.ascontiguousarray(offsets, dtype=np.float32)
            if offsets.shape != (vectors.shape[0],):
                raise InvalidParameterError(
                    f"item offsets must have one value per item ({vectors.shape[0]}), got shape {offsets.shape}"
                )
        return cls(vectors, offsets)

    @property
    def n_items(self) -> int:
        return int(self.vectors.shape[0])

    @cached_property
    def all_allowed(self) -> np.ndarray:
        """The allowed mask of a search without a filter: all True, read-only, made once (at 1M
        items, making and counting a fresh one cost about 65 us, 5% of an IVF-PQ query)."""
        mask = np.ones(self.n_items, dtype=bool)
        mask.flags.writeable = False
        return mask

    @property
    def dim(self) -> int:
        """Width of a query vector (the offset coordinate is not part of it)."""
        return int(self.vectors.shape[1])

    def augmented(self) -> np.ndarray:
        """(n_items, dim + 1 if offsets) float32: the offset as a last coordinate."""
        if self.offsets is None:
            return self.vectors
        return np.ascontiguousarray(np.hstack([self.vectors, self.offsets[:, None]]), dtype=np.float32)

    def augment_queries(self, queries: np.ndarray) -> np.ndarray:
        """Queries with the 1 that multiplies the offset coordinate (when there is one)."""
        if self.offsets is None:
            return queries
        return np.ascontiguousarray(np.hstack([queries, np.ones((queries.shape[0], 1), np.float32)]))

    def scores(self, queries: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Exact scores of ``items`` (b, m) for each query (b, dim), float32."""
        out = np.einsum("bf,bmf->bm", queries, self.vectors[items]).astype(np.float32)
        if self.offsets is not None:
            out += self.offsets[items]
        return out


class ItemIndex(Protocol):
    """Top-k items by inner product for a batch of query vectors, with filters.

    ``search(query_vectors (b, dim), k, allowed_mask=None, exclude=None) -> (indices, scores)``:
    int32 / float32 ``(b, k)``, best first (ties by the lower item index), padded with -1 /
    -inf only when fewer than `k` items are eligible. ``allowed_mask`` (n_items,) bool: items
    that may be returned at all; ``exclude``: a CSR matrix (b, n_items) whose row r lists the
    items query r must not get (seen items). No returned item is ever filtered out.
    """

    kind: str
    items: ItemVectors

    def search(
        self,
        query_vectors: np.ndarray,
        k: int,
        allowed_mask: np.ndarray | None = None,
        exclude: sp.csr_matrix | None = None,
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def params(self) -> dict[str, Any]:
        """The build and search parameters (JSON values), as saved in meta.json."""
        ...

    def to_bytes(self) -> bytes | None:
        """The index's own serialisation (None when it is rebuilt from the vectors instead)."""
        ...


def check_search_args(
    items: ItemVectors, queries: Any, k: Any, allowed_mask: Any, exclude: Any
) -> tuple[np.ndarray, int, np.ndarray, sp.csr_matrix | None]:
    """Validated (queries float32 (b, dim), k, allowed bool (n_items,), exclude canonical CSR or None)."""
    q = np.asarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q.reshape(1, -1)
    if q.ndim != 2 or q.shape[1] != items.dim:
        raise InvalidParameterError(f"query vectors must have shape (b, {items.dim}), got {np.shape(queries)}")
    if not np.isfinite(q).all():
        raise InvalidParameterError("query vectors must be finite numbers")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidParameterError(f"k must be a positive integer, got {k!r}")
    if allowed_mask is None:
        allowed = items.all_allowed
    else:
        allowed = np.asarray(allowed_mask)
        if allowed.dtype != np.bool_ or allowed.shape != (items.n_items,):
            raise InvalidParameterError(
                f"allowed_mask must be a boolean array of shape ({items.n_items},), got dtype {allowed.dtype} "
                f"and shape {allowed.shape}"
            )
    drop = None
    if exclude is not None:
        if not sp.issparse(exclude) or exclude.shape != (q.shape[0], items.n_items):
            raise InvalidParameterError(
                f"exclude must be a sparse matrix of shape {(q.shape[0], items.n_items)}, "
                f"got {getattr(exclude, 'shape', type(exclude).__name__)}"
            )
        drop = sp.csr_matrix(exclude)
        if not drop.has_canonical_format:
            drop = drop.copy()
            drop.sum_duplicates()
    return np.ascontiguousarray(q), int(k), np.ascontiguousarray(allowed), drop


def build_index(kind: str, items: ItemVectors, n_threads: int | None = None, **params: Any) -> ItemIndex:
    """A new index of `kind` over `items` ("exact": brute force; "hnsw": faiss HNSW; "ivf": faiss
    IVF-PQ fast scan with an exact re-rank; the last two need the extra ``ann``)."""
    from likewise.retrieval.ann import HNSWIndex
    from likewise.retrieval.exact import ExactIndex
    from likewise.retrieval.ivf import IVFPQIndex

    if kind == "exact":
        if params:
            raise InvalidParameterError(f"the exact index takes no parameters, got {sorted(params)}")
        return ExactIndex(items)
    if kind == "hnsw":
        return HNSWIndex.build(items, n_threads=n_threads, **params)
    if kind == "ivf":
        return IVFPQIndex.build(items, n_threads=n_threads, **params)
    raise InvalidParameterError(f"kind must be one of {list(INDEX_KINDS)}, got {kind!r}")


def restore_index(kind: Any, items: ItemVectors, params: Any, data: bytes | None) -> ItemIndex:
    """An index as saved (ValueError when the saved description or bytes do not fit `items`)."""
    from likewise.retrieval.ann import HNSWIndex
    from likewise.retrieval.exact import ExactIndex
    from likewise.retrieval.ivf import IVFPQIndex

    if not isinstance(params, dict):
        raise ValueError(f"index params must be a JSON object, got {type(params).__name__}")
    if kind == "exact":
        if data is not None or params:
            raise ValueError("an exact index stores neither a file nor parameters")
        return ExactIndex(items)
    if kind in ("hnsw", "ivf"):
        if data is None:
            raise ValueError(f"an {kind} index needs its index file")
        index_type = HNSWIndex if kind == "hnsw" else IVFPQIndex
        return index_type.from_bytes(items, data, params)
    raise ValueError(f"index kind must be one of {list(INDEX_KINDS)}, got {kind!r}")
