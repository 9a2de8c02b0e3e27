"""The factor-model family: what ALS, BPR, SVD, SVD++ and NMF share (EASE borrows the explanation).

`FactorModel` is a base class, not a mixin. Its hooks (scores ``x_u . y_i (+ b_i)``, the
fused top-n, cached cosines, factor persistence) need the whole `Recommender` contract
(``n_items``, ``_threads``, ``n_threads``...), which a mixin could only promise through
protocols, and every factor model is a Recommender anyway. The rating/implicit split is
handled by the order of the bases: ``FactorRatingModel(EpochModel, FactorModel)`` puts the
rating machinery (`RatingModel._predict_pairs` clips, `EpochModel.fit` takes validation)
before the factor hooks in the MRO and overrides the three hooks whose rating form differs
(`_score_users`, `_top_n_users`, `_score_history`).

Similarities (``similar_items`` / ``similar_users``) are cosines of the factor rows, with one
cache per model: the rows and their norms for each side, kept in ``_cosine_cache_`` under the
identity of the arrays they were computed from. Replacing an array (refit, ``partial_fit``,
load) makes the entry stale by construction; refit also drops it (`Recommender._forget`
deletes attributes ending in ``_``), ``partial_fit`` and ``_set_factor_state`` drop it
explicitly, and pickling leaves it out. Several threads may ask at once: an entry is an
immutable tuple, published by a single attribute assignment, and each caller uses the entry
it read or built for the arrays it read, so a race costs at most a recomputation. Factors
edited *in place* after fitting must be followed by `_forget_similarities()`.

One query under a selective filter (a server's ``filter=genre:...``: under `SUBSET_SHARE` of
the items allowed) is scored on a packed copy of the allowed rows, kept in ``_subset_cache_``
under the mask's digest and the identity of the arrays (the same rules as the cosines; at
most `_SUBSET_CACHE_BYTES`, oldest dropped first). Measured on a 60k x 64 catalogue filtered
to a sixth: one sgemv over the packed rows is ~3x cheaper than the numba dots over the
scattered allowed rows, which were the largest part of a request.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from likewise._util import plain
from likewise.exceptions import InvalidParameterError, NotSupportedError, PerformanceWarning
from likewise.kernels._blas import gemv_python
from likewise.kernels._threads import blas_threads
from likewise.kernels.als import factor_topk
from likewise.kernels.topk import topk_row_numpy
from likewise.models._rating import EpochModel, clip_note
from likewise.models.base import Recommender
from likewise.retrieval import ItemIndex, ItemVectors, build_index, restore_index

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = [
    "FactorModel",
    "FactorRatingModel",
    "check_factor_shapes",
    "cosine_rows",
    "factor_top_n",
    "index_top_n",
    "item_contributions",
    "ridge_user",
    "row_dots",
    "subset_top_n",
    "unit_rows",
]

_ROW_DOT_STEP = 1 << 16  # pairs per einsum block in `row_dots`
_INDEX_BLOCK = 4096  # queries per index search call (bounds the over-fetched candidate arrays)
_INDEX_FILES = {"index_": "index.bin", "similar_index_": "similar_index.bin"}
SUBSET_SHARE = 0.5  # one query with under this share of items allowed is scored on packed rows
_SUBSET_CACHE_BYTES = 64 << 20  # packed rows kept per model (a 60k x 64 genre: ~2.5 MB)


# --------------------------------------------------------------------- functions
def factor_top_n(
    U: np.ndarray,
    V: np.ndarray,
    bias: np.ndarray | None,
    uidx: np.ndarray,
    n: int,
    seen: sp.csr_matrix | None,
    allowed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Batch recommend for factor models: fused scoring + selection (`factor_topk`)."""
    return factor_topk(
        U, V, uidx, n, bias=bias, seen_indptr=None if seen is None else seen.indptr,
        seen_indices=None if seen is None else seen.indices, allowed=allowed, parallel=uidx.size > 1,
    )  # fmt: skip


def row_dots(A: np.ndarray, rows: np.ndarray, B: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``A[rows[k]] . B[cols[k]]`` for every k, float32, in memory-bounded blocks."""
    out = np.empty(rows.size, dtype=np.float32)
    for start in range(0, rows.size, _ROW_DOT_STEP):
        sel = slice(start, start + _ROW_DOT_STEP)
        out[sel] = np.einsum("ij,ij->i", A[rows[sel]], B[cols[sel]])
    return out


def cosine_rows(vectors: np.ndarray, rows: np.ndarray, norms: np.ndarray, n_threads: int | None) -> np.ndarray:
    """Cosine of `vectors[rows]` with every row of `vectors`; zero vectors have similarity 0."""
    with blas_threads(n_threads):
        sims = vectors[rows] @ vectors.T
    safe = np.where(norms > 0, norms, np.float32(np.inf))
    sims /= safe[rows][:, None]
    sims /= safe[None, :]
    return sims


def check_factor_shapes(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> None:
    """ValueError unless the factors are (n_users, f) and (n_items, f) matrices."""
    if users.ndim != 2 or items.ndim != 2 or users.shape[0] != n_users or items.shape[0] != n_items:
        raise ValueError(f"factor shapes {users.shape} / {items.shape} do not match {n_users} users x {n_items} items")
    if users.shape[1] != items.shape[1]:
        raise ValueError("user and item factors have different widths")


def item_contributions(
    model: Recommender, items: np.ndarray, contributions: np.ndarray
) -> tuple[pd.DataFrame, list[str]]:
    """An explanation by the user's items (ALS, EASE): the contributions frame, largest
    magnitude first (weights as float32), and ``"label (+w)"`` for the top three."""
    import pandas as pd

    order = np.argsort(-np.abs(contributions), kind="stable")
    items, contributions = items[order], contributions[order]
    frame = pd.DataFrame({"kind": "item", "id": model.items_.to_ids(items), "weight": contributions.astype(np.float32)})
    top = [f"{model.item_label(int(j))} ({w:+.3g})" for j, w in zip(items[:3], contributions[:3], strict=True)]
    return frame, top


def ridge_user(
    item_rows: np.ndarray, targets: np.ndarray, reg_bias: float, reg_factors: float, *, biased: bool
) -> tuple[float, np.ndarray]:
    """Bias and factors of one user by regularised least squares, item parameters fixed.

    Solves :math:`\\min_{b, p} \\sum_k (t_k - b - q_k^T p)^2 + n (\\lambda_b b^2 + \\lambda_p |p|^2)`
    (no bias when not `biased`), :math:`n` = number of ratings - the objective per-rating SGD
    regularisation amounts to.

    Parameters
    ----------
    item_rows : ndarray (n, f)
        Factors :math:`q_k` of the rated items.
    targets : ndarray (n,)
        What bias + factors must explain (rating minus the known terms).
    reg_bias, reg_factors : float
    biased : bool

    Returns
    -------
    (bias, factors) : (float, ndarray of float64 (f,))
    """
    n, n_factors = item_rows.shape
    if n == 0:
        return 0.0, np.zeros(n_factors)
    design = item_rows.astype(np.float64)
    lam = np.full(n_factors, n * reg_factors)
    if biased:
        design = np.hstack([np.ones((n, 1)), design])
        lam = np.concatenate([[n * reg_bias], lam])
    gram = design.T @ design + np.diag(lam)
    rhs = design.T @ targets.astype(np.float64)
    if np.all(lam > 0):
        solution = np.linalg.solve(gram, rhs)
    else:
        solution = np.linalg.lstsq(gram, rhs, rcond=None)[0]
    if biased:
        return float(solution[0]), solution[1:]
    return 0.0, solution


def index_top_n(
    index: ItemIndex,
    queries: np.ndarray,
    n: int,
    exclude: sp.csr_matrix | None,
    allowed: np.ndarray,
    shift: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-`n` from `index` for `queries` in blocks; `shift` (per query) is added to the scores
    (a rating model's ``mu + b_u``, which does not change the ranking)."""
    b = queries.shape[0]
    indices = np.empty((b, n), dtype=np.int32)
    scores = np.empty((b, n), dtype=np.float32)
    for start in range(0, b, _INDEX_BLOCK):
        sel = slice(start, min(start + _INDEX_BLOCK, b))
        drop = None if exclude is None else exclude[sel]
        indices[sel], scores[sel] = index.search(queries[sel], n, allowed, drop)
    if shift is not None:
        scores += np.where(indices >= 0, shift[:, None], 0).astype(np.float32)
    return indices, scores


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero): inner products of them are cosines."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0).astype(np.float32)


def _same_arrays(cached: tuple[np.ndarray, ...], current: tuple[np.ndarray, ...]) -> bool:
    return len(cached) == len(current) and all(a is b for a, b in zip(cached, current, strict=True))


def subset_top_n(
    query: np.ndarray, subset: tuple[np.ndarray, np.ndarray, np.ndarray], n: int, seen: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(1, n) top-n of one query (f,) over packed rows: ``subset`` = (items ascending, their
    rows of V, their offsets or an empty array); `seen` (sorted item indices) never returned.

    The selection is `factor_topk`'s (ties to the lower item index: `items` is ascending);
    scores come from one sgemv over the packed rows, so they may differ from the full
    product's by float32 rounding (as a batch's do).
    """
    items, rows, offsets = subset
    scores = np.empty((1, items.size), dtype=np.float32)
    gemv_python(rows, np.ascontiguousarray(query, dtype=np.float32).reshape(-1), scores[0])
    if offsets.size:
        scores[0] += offsets
    # the seen items among the allowed ones, as positions in `items`
    pos = np.minimum(np.searchsorted(items, seen), max(items.size - 1, 0))
    local_seen = pos[items[pos] == seen] if items.size else pos[:0]
    local = np.empty(n, dtype=np.int32)
    out_scores = np.empty((1, n), dtype=np.float32)
    topk_row_numpy(scores[0], n, local_seen, np.ones(items.size, dtype=np.bool_), local, out_scores[0])
    out_idx = np.full((1, n), -1, dtype=np.int32)
    hit = local >= 0
    out_idx[0, hit] = items[local[hit]]
    return out_idx, out_scores


# --------------------------------------------------------------------- base classes
class FactorModel(Recommender):
    """A model scoring ``x_u . y_i`` (+ a per-item term) from user and item factor matrices.

    Provides the scoring hooks (dense blocks, the fused top-n kernel, row dots for pairs,
    fold-in through `_history_vector`), cosine similarities of users and items (cached; see
    the module docstring) and the persistence of ``user_factors_`` / ``item_factors_`` with
    their shape checks. ALS and BPR use it as it is; `FactorRatingModel` adapts it to ratings.
    """

    supports_similar_items: ClassVar[bool] = True
    supports_similar_users: ClassVar[bool] = True
    supports_index: ClassVar[bool] = True
    """Whether `build_index` works: scores are ``query . item + item offset`` (docs/ann.md)."""

    user_factors_: np.ndarray
    item_factors_: np.ndarray

    # ------------------------------------------------------------------ item index (docs/ann.md)
    def build_index(self, kind: str = "hnsw", *, similar_items: bool = False, **params: Any) -> Self:
        """Build an item index that `recommend`, `recommend_from_history` (and, with
        ``similar_items=True``, `similar_items`) search instead of scoring every item.

        Parameters
        ----------
        kind : {"hnsw", "ivf", "exact"}
            ``"hnsw"``: faiss's HNSW graph by inner product (extra ``ann``), approximate;
            ``"ivf"``: faiss's inverted file of 4-bit product-quantised codes, re-ranked exactly
            (extra ``ann``), approximate, the faster one on large catalogues (docs/ann.md);
            ``"exact"``: brute force (the same answers as no index).
        similar_items : bool
            Also index the unit-length item factors, so `similar_items` (cosine) uses a graph too.
        **params
            For ``"hnsw"``: ``M`` (32), ``ef_construction`` (100), ``ef_search`` (128).
            For ``"ivf"``: ``nlist`` (about 2 sqrt(n_items)), ``nprobe`` (a quarter of nlist),
            ``pq_m`` (one code group per coordinate), ``rerank`` (10 candidates per result).

        Returns
        -------
        self, with ``index_`` (and ``similar_index_``) set. Saved with the model; refit drops it;
        replacing the item factors (``partial_fit(update="items")``) makes it stale, and a stale
        index is dropped with a PerformanceWarning at its next use.
        """
        self.check_is_fitted()
        if not self.supports_index:
            raise NotSupportedError(f"{type(self).__name__} does not rank by item vectors; it cannot use an item index")
        if not isinstance(similar_items, bool):
            raise InvalidParameterError(f"similar_items must be True or False, got {similar_items!r}")
        with self._threads():
            index = build_index(kind, self._index_items(), n_threads=self.n_threads, **params)
            similar = None
            if similar_items:
                similar = build_index(kind, ItemVectors.of(unit_rows(self.item_factors_)), self.n_threads, **params)
        self.drop_index()
        self.index_ = index
        if similar is not None:
            self.similar_index_ = similar
        return self

    def set_params(self, **params: Any) -> Self:
        """Also hands a new ``n_threads`` to the item indices (a server sets it after loading)."""
        super().set_params(**params)
        if "n_threads" in params:
            self._share_threads_with_indices()
        return self

    def _share_threads_with_indices(self) -> None:
        for name in _INDEX_FILES:
            if hasattr(self.__dict__.get(name), "n_threads"):
                self.__dict__[name].n_threads = self.n_threads

    def drop_index(self) -> Self:
        """Forget the item index (back to exact scoring of every item)."""
        for name in _INDEX_FILES:
            self.__dict__.pop(name, None)
        return self

    def _index_offsets(self) -> np.ndarray | None:
        """The per-item term of the ranking (BPR's item bias; a rating model's item bias)."""
        return self._item_offsets()

    def _index_items(self) -> ItemVectors:
        # The arrays themselves (no copy): `_live_index` recognises a stale index by identity.
        return ItemVectors(self.item_factors_, self._index_offsets())

    def _live_index(self, name: str = "index_") -> ItemIndex | None:
        """The index `name` while it was built from the current item arrays, else None."""
        index: ItemIndex | None = self.__dict__.get(name)
        if index is None:
            return None
        main: ItemIndex = self.__dict__["index_"]
        if main.items.vectors is not self.item_factors_ or main.items.offsets is not self._index_offsets():
            warnings.warn(
                f"{type(self).__name__}'s item index was built from item factors that have since been replaced; "
                "it is dropped and every item is scored exactly: call build_index(...) again",
                PerformanceWarning,
                stacklevel=4,
            )
            self.drop_index()
            return None
        return index

    def _index_state(self) -> tuple[dict[str, Any], dict[str, bytes]] | None:
        index = self._live_index()
        if index is None:
            return None
        files: dict[str, bytes] = {}
        for name, file in _INDEX_FILES.items():
            data = None if name not in self.__dict__ else self.__dict__[name].to_bytes()
            if data is not None:
                files[file] = data
        description = {
            "kind": index.kind,
            "params": index.params(),
            "similar_items": "similar_index_" in self.__dict__,
            "n_items": index.items.n_items,
            "dim": index.items.dim,
            "offsets": index.items.offsets is not None,
        }
        if "similar_index_" in self.__dict__:  # its own parameters (an IVF-PQ index's differ: width, digest)
            description["similar_params"] = self.__dict__["similar_index_"].params()
        return description, files

    def _restore_index(self, description: Any, files: dict[str, bytes]) -> None:
        expected = {"kind", "params", "similar_items", "n_items", "dim", "offsets"}
        if not isinstance(description, dict) or set(description) - {"similar_params"} != expected:
            raise ValueError(
                f"the index description in meta.json must have exactly the keys {sorted(expected)} "
                "(and similar_params with a similar-items index)"
            )
        items = self._index_items()
        facts = (description["n_items"], description["dim"], description["offsets"])
        if facts != (items.n_items, items.dim, items.offsets is not None):
            raise ValueError(
                f"the saved index covers {facts[0]} items of width {facts[1]} (offsets: {facts[2]}); the model has "
                f"{items.n_items} items of width {items.dim} (offsets: {items.offsets is not None})"
            )
        kind, params = description["kind"], description["params"]
        wanted = {"index.bin"} | ({"similar_index.bin"} if description["similar_items"] is True else set())
        if kind == "exact":  # brute force stores no file
            wanted = set()
        if set(files) != wanted:
            raise ValueError(
                f"a {kind!r} index needs the files {sorted(wanted) or 'none'}, found {sorted(files) or 'none'}"
            )
        self.index_ = restore_index(kind, items, params, files.get("index.bin"))
        if description["similar_items"] is True:
            unit = ItemVectors.of(unit_rows(self.item_factors_))
            # similar_params: written since the IVF-PQ index; HNSW directories written before use params
            similar_params = description.get("similar_params", params)
            self.similar_index_ = restore_index(kind, unit, similar_params, files.get("similar_index.bin"))
        self._share_threads_with_indices()

    # ------------------------------------------------------------------ hooks for subclasses
    def _item_offsets(self) -> np.ndarray | None:
        """A per-item term added to every score (BPR's item bias); None when there is none."""
        return None

    def _history_vector(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The factors of a new user who interacted with `iidx` (fold-in). Models that can fold
        in (ALS, BPR) define it; without it the model cannot score a new user, as the contract
        says for `Recommender._score_history`."""
        raise NotSupportedError(f"{type(self).__name__} cannot score a new user without retraining")

    def _user_vectors(self, uidx: np.ndarray) -> np.ndarray:
        """Effective user vectors (SVD++ adds its implicit term); `_user_vector_sources` lists
        the arrays they are computed from (the similarity cache's key)."""
        return self.user_factors_[uidx]

    def _user_vector_sources(self) -> tuple[np.ndarray, ...]:
        """Override together with `_user_vectors`: one source means the vectors are that array."""
        return (self.user_factors_,)

    # ------------------------------------------------------------------ scoring
    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        with blas_threads(self.n_threads):
            scores = self.user_factors_[uidx] @ self.item_factors_.T
        offsets = self._item_offsets()
        if offsets is not None:
            scores += offsets
        return scores

    def _top_n_users(
        self, uidx: np.ndarray, n: int, seen: sp.csr_matrix | None, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        index = self._live_index()
        if index is not None:
            return index_top_n(index, self._user_vectors(uidx), n, None if seen is None else seen[uidx], allowed)
        subset = self._packed_subset(allowed) if uidx.size == 1 else None
        if subset is not None:
            user = int(uidx[0])
            row = np.zeros(0, np.int32) if seen is None else seen.indices[seen.indptr[user] : seen.indptr[user + 1]]
            return subset_top_n(self.user_factors_[user], subset, n, np.sort(row))
        return factor_top_n(self.user_factors_, self.item_factors_, self._item_offsets(), uidx, n, seen, allowed)

    def _top_n_history(
        self, iidx: np.ndarray, weights: np.ndarray, n: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        index = self._live_index()
        query = np.asarray(self._history_vector(iidx, weights), dtype=np.float32).reshape(1, -1)
        if index is not None:
            return index_top_n(index, query, n, None, allowed)
        # The fused kernel with the folded-in vector as the one user: a selective filter scores
        # the allowed rows only (no n_items product per request). Same items and order as the
        # dense `_score_history` + full sort (its slow twin, tests/models/test_fold_in_indices.py).
        return factor_top_n(query, self.item_factors_, self._item_offsets(), np.zeros(1, np.int32), n, None, allowed)

    def _top_n_history_without(
        self, iidx: np.ndarray, weights: np.ndarray, n: int, allowed: np.ndarray, drop: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        # The history is dropped as "seen", not from the mask: the mask (a filter shared by
        # every user) then keys the same packed rows for every request.
        subset = self._packed_subset(allowed) if self._live_index() is None else None
        if subset is None:
            return super()._top_n_history_without(iidx, weights, n, allowed, drop)
        query = np.asarray(self._history_vector(iidx, weights), dtype=np.float32)
        return subset_top_n(query, subset, n, np.unique(drop))

    def _packed_subset(self, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(items, their factor rows packed, their offsets) of a selective mask, else None;
        cached under the mask's digest while the factor arrays are the same objects."""
        n_allowed = int(np.count_nonzero(allowed))
        if n_allowed >= SUBSET_SHARE * self.n_items:
            return None
        offsets = self._item_offsets()
        sources = (self.item_factors_,) if offsets is None else (self.item_factors_, offsets)
        key = hashlib.blake2b(np.packbits(allowed).tobytes(), digest_size=16).digest()
        cache: tuple[tuple[np.ndarray, ...], dict[bytes, Any]] | None = self.__dict__.get("_subset_cache_")
        entries = cache[1] if cache is not None and _same_arrays(cache[0], sources) else {}
        entry = entries.get(key)
        if entry is None:
            items = np.flatnonzero(allowed).astype(np.int32)
            rows = np.ascontiguousarray(np.take(self.item_factors_, items, axis=0), dtype=np.float32)
            packed_offsets = np.zeros(0, np.float32) if offsets is None else offsets[items].astype(np.float32)
            entry = (items, rows, packed_offsets)
            kept = {**entries, key: entry}  # a new dict, published whole (readers keep the one they read)
            while len(kept) > 1 and sum(e[1].nbytes for e in kept.values()) > _SUBSET_CACHE_BYTES:
                del kept[next(iter(kept))]  # the oldest first
            self._subset_cache_ = (sources, kept)
        return entry

    def _top_n_similar(self, iidx: np.ndarray, n: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        index = self._live_index("similar_index_")
        if index is None:
            return super()._top_n_similar(iidx, n, allowed)
        itself = sp.csr_matrix(
            (np.ones(iidx.size, np.float32), iidx, np.arange(iidx.size + 1)), shape=(iidx.size, self.n_items)
        )
        return index_top_n(index, index.items.vectors[iidx], n, itself, allowed)

    def _predict_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        dots = row_dots(self.user_factors_, uidx, self.item_factors_, iidx)
        offsets = self._item_offsets()
        return dots if offsets is None else dots + offsets[iidx]

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        scores = self.item_factors_ @ self._history_vector(iidx, weights)
        offsets = self._item_offsets()
        return scores if offsets is None else scores + offsets

    # ------------------------------------------------------------------ similarities
    def _cosine_basis(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, norms) whose row cosines are the similarities of ``side`` ("item" or
        "user"), from the cache while the arrays they come from are the same objects."""
        sources = (self.item_factors_,) if side == "item" else self._user_vector_sources()
        cache: dict[str, tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]] = self.__dict__.get(
            "_cosine_cache_", {}
        )
        entry = cache.get(side)
        if entry is None or not _same_arrays(entry[0], sources):
            if side == "item":
                vectors = self.item_factors_
            elif len(sources) == 1:
                vectors = sources[0]
            else:
                vectors = self._user_vectors(np.arange(self.n_users))
            entry = (sources, vectors, np.linalg.norm(vectors, axis=1).astype(np.float32))
            self._cosine_cache_ = {**cache, side: entry}
        return entry[1], entry[2]

    def _fill_caches(self, allowed: list[np.ndarray]) -> None:
        if self._live_index() is None:  # with an index, filters go through the index instead
            for mask in allowed:
                self._packed_subset(mask)

    def _forget_similarities(self) -> None:
        """Drop the cached norms and packed rows (needed only after editing fitted factors in place)."""
        self.__dict__.pop("_cosine_cache_", None)
        self.__dict__.pop("_subset_cache_", None)

    def _similar_items(self, iidx: np.ndarray) -> np.ndarray:
        vectors, norms = self._cosine_basis("item")
        return cosine_rows(vectors, iidx, norms, self.n_threads)

    def _similar_users(self, uidx: np.ndarray) -> np.ndarray:
        vectors, norms = self._cosine_basis("user")
        return cosine_rows(vectors, uidx, norms, self.n_threads)

    # ------------------------------------------------------------------ persistence
    def _factor_arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _set_factor_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore and check the factors (ValueError when they do not match the id maps)."""
        self.user_factors_ = np.ascontiguousarray(arrays["user_factors"], dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(arrays["item_factors"], dtype=np.float32)
        check_factor_shapes(self.user_factors_, self.item_factors_, self.n_users, self.n_items)
        self._forget_similarities()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the learned state, not the caches derived from it (an index pickles through
        its library's own serialisation, and is rebuilt around the unpickled factors)."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_cache_")}


class FactorRatingModel(EpochModel, FactorModel):
    """Rating models :math:`\\mu + b_u + b_i + q_i^T u_u` (SVD, SVD++, NMF).

    ``biased`` and ``fold_in_reg`` are declared here with the value a model without that
    constructor parameter uses (SVD++ is always biased; NMF solves a new user with its own
    penalties, `_fold_in_regs`).
    """

    biased: bool = True
    """Whether scores include :math:`\\mu + b_u + b_i` (the constructor parameter when the model has one)."""
    fold_in_reg: float = 0.1
    """Per-rating penalty of the new-user solve (the constructor parameter when the model has one)."""

    user_bias_: np.ndarray
    item_bias_: np.ndarray

    def _offset(self) -> float:
        return self.global_mean_ if self.biased else 0.0

    def _zero_unknown(self) -> None:
        self.user_factors_[~self.user_known_] = 0.0
        self.item_factors_[~self.item_known_] = 0.0

    # ------------------------------------------------------------------ scoring
    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        with blas_threads(self.n_threads):  # one BLAS product per block
            scores = self._user_vectors(uidx) @ self.item_factors_.T
        if self.biased:
            scores += (self.global_mean_ + self.user_bias_[uidx])[:, None]
            scores += self.item_bias_[None, :]
            return scores
        return self._mean_fallback(scores, uidx)

    def _top_n_users(
        self, uidx: np.ndarray, n: int, seen: sp.csr_matrix | None, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        index = self._live_index()
        if index is not None:  # biased only (build_index): mu + b_u shifts scores, not the ranking
            shift = (self.global_mean_ + self.user_bias_[uidx]).astype(np.float32)
            drop = None if seen is None else seen[uidx]
            return index_top_n(index, self._user_vectors(uidx), n, drop, allowed, shift)
        # Dense score blocks, not the fused kernel: the per-user term mu + b_u and the global-mean
        # fallback of users and items without ratings are not expressible in `factor_topk`.
        return Recommender._top_n_users(self, uidx, n, seen, allowed)

    def _top_n_history(
        self, iidx: np.ndarray, weights: np.ndarray, n: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        index = self._live_index()
        if index is None:
            return Recommender._top_n_history(self, iidx, weights, n, allowed)
        bias, vector = self._fold_in(iidx, weights)
        shift = np.array([self.global_mean_ + bias], dtype=np.float32)
        return index_top_n(index, vector.astype(np.float32).reshape(1, -1), n, None, allowed, shift)

    def _top_n_history_without(
        self, iidx: np.ndarray, weights: np.ndarray, n: int, allowed: np.ndarray, drop: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        # ratings add mu + b_u to the fold-in scores: the plain factor fast path does not apply
        return Recommender._top_n_history_without(self, iidx, weights, n, allowed, drop)

    def _index_offsets(self) -> np.ndarray | None:
        return self.item_bias_

    def build_index(self, kind: str = "hnsw", *, similar_items: bool = False, **params: Any) -> Self:
        """As `FactorModel.build_index`; only biased models (``biased=True``) rank by
        ``q_i . p_u + b_i`` alone (unbiased ones give unrated items the global mean)."""
        if self.is_fitted and not self.biased:
            raise NotSupportedError(
                f"{type(self).__name__}(biased=False) scores unrated items by the global mean, not by "
                "item vectors; build_index needs biased=True"
            )
        return super().build_index(kind, similar_items=similar_items, **params)

    def _raw_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        dots = np.einsum("ij,ij->i", self._user_vectors(uidx), self.item_factors_[iidx])
        if self.biased:
            return (self.global_mean_ + self.user_bias_[uidx] + self.item_bias_[iidx] + dots).astype(np.float32)
        known = self.user_known_[uidx] & self.item_known_[iidx]
        return np.where(known, dots, self.global_mean_).astype(np.float32)

    def _fold_in(self, iidx: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        """(bias, effective user vector) of a new user; default: `ridge_user`."""
        known = self.item_known_[iidx]
        iidx, ratings = iidx[known], ratings[known]
        targets = ratings - self._offset() - (self.item_bias_[iidx] if self.biased else 0.0)
        reg_bu, reg_pu = self._fold_in_regs()
        return ridge_user(self.item_factors_[iidx], targets, reg_bu, reg_pu, biased=self.biased)

    def _fold_in_regs(self) -> tuple[float, float]:
        """Per-rating penalties (bias, factors) of the new-user solve."""
        reg = float(self.fold_in_reg)
        return reg, reg

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        bias, vector = self._fold_in(iidx, weights)
        scores = (self.item_factors_ @ vector.astype(np.float32)).astype(np.float32)
        if self.biased:
            scores += np.float32(self.global_mean_ + bias)
            scores += self.item_bias_
            return scores
        if not self.item_known_[iidx].any():
            return np.full(self.n_items, self.global_mean_, dtype=np.float32)
        return self._mean_fallback(scores[None, :], None)[0]

    # ------------------------------------------------------------------ explanations
    def _factor_terms(self, uidx: int, iidx: int) -> tuple[list[tuple[str, Any, float]], float, str]:
        """Rows of the contributions frame, the unclipped estimate, and a text fragment."""
        user_id, item_id = plain(self.users_.ids[uidx]), plain(self.items_.ids[iidx])
        dot = float(self._user_vectors(np.array([uidx]))[0] @ self.item_factors_[iidx])
        if self.biased:
            mu, bu, bi = self.global_mean_, float(self.user_bias_[uidx]), float(self.item_bias_[iidx])
            rows = [("global_mean", "mean", mu), ("user_bias", user_id, bu), ("item_bias", item_id, bi)]
            rows.append(("factors", "user x item factors", dot))
            raw = mu + bu + bi + dot
            text = f"mean rating {mu:.2f}, user bias {bu:+.2f}, item bias {bi:+.2f}, taste match {dot:+.2f}"
        else:
            rows = [("factors", "user x item factors", dot)]
            raw = dot
            text = f"taste match {dot:.2f}"
        return rows, raw, text

    def _similar_rated(self, uidx: int, iidx: int, limit: int = 3) -> list[tuple[int, float, float]]:
        """The user's rated items closest to `iidx` in factor space: (index, cosine, rating)."""
        items, ratings = self._rated_items(uidx)
        keep = items != iidx
        items, ratings = items[keep], ratings[keep]
        if items.size == 0:
            return []
        rows = self.item_factors_[np.append(items, iidx)]
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        unit = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
        sims = unit[:-1] @ unit[-1]
        order = np.argsort(-sims, kind="stable")[:limit]
        return [(int(items[k]), float(sims[k]), float(ratings[k])) for k in order]

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        rows, raw, text = self._factor_terms(uidx, iidx)
        similar = self._similar_rated(uidx, iidx)
        rows += [("similar_rated_item", plain(self.items_.ids[j]), sim) for j, sim, _ in similar]
        sentence = f"Predicted rating {score:.2f} for {self.item_label(iidx)}: {text}{clip_note(raw, score)}."
        if similar:
            named = ", ".join(f"{self.item_label(j)} ({rating:g})" for j, _, rating in similar)
            sentence += f" Closest items the user rated: {named}."
        return self._terms_frame(rows), sentence

    # ------------------------------------------------------------------ persistence and snapshots
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            **self._factor_arrays(),
            "user_bias": self.user_bias_,
            "item_bias": self.item_bias_,
            **self._history_state(),
        }
        return arrays, self._epoch_state()

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self._set_factor_arrays(arrays)
        self.user_bias_ = np.ascontiguousarray(arrays["user_bias"], dtype=np.float32)
        self.item_bias_ = np.ascontiguousarray(arrays["item_bias"], dtype=np.float32)
        if self.user_bias_.shape != (self.n_users,) or self.item_bias_.shape != (self.n_items,):
            raise ValueError("bias shapes do not match the users and items")
        self._restore_base(state)
        self._restore_history(arrays, state)

    def _snapshot(self) -> tuple[np.ndarray, ...]:
        return tuple(a.copy() for a in self._trained_arrays())

    def _restore(self, saved: tuple[np.ndarray, ...]) -> None:
        for target, value in zip(self._trained_arrays(), saved, strict=True):
            target[...] = value

    def _trained_arrays(self) -> tuple[np.ndarray, ...]:
        return (self.user_factors_, self.item_factors_, self.user_bias_, self.item_bias_)
