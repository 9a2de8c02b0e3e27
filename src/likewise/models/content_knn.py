"""ContentKNN: item-item similarity from item metadata (genres, tags, attributes, tokens).

Each item is its row of ``Interactions.item_features``, weighted by ``weighting`` (TF-IDF or
BM25 over the features, `likewise.data.features.weight_features`); the similarity of two items
is the cosine of their rows, kept for the ``k`` most similar items of each item (sparse, never
an items x items dense matrix; `likewise.kernels.similarity`, the kernel ItemKNN uses). A user
(or a new user's history H) scores item i as

    s_i = sum_{j in H} w_j sim(j, i)

over the neighbour lists of the history items (w_j = 1, or the given weights). Interactions
play no part in the similarities, so an item nobody interacted with is recommendable as soon
as it has features; `add_items(ids, features)` adds new ones without refitting the rest (the
weights and neighbour lists are recomputed from the stored features, which is the fit itself).

Blending with a collaborative model: both speak `score_indices`, so a blend is
``a * z(cf.score_indices(u)) + (1 - a) * z(content.score_indices(u))`` with z a per-user
standardisation; HybridMF is the model that learns that blend (its item features play the
part of ContentKNN's metadata).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp

from likewise._util import join_words
from likewise.data.interactions import FeatureMatrix, Interactions
from likewise.exceptions import DataError
from likewise.kernels.similarity import FULL, QueryRows, topk_similarities
from likewise.models._features import feature_rows, grow_items, new_ids
from likewise.models._params import NONE, Interval, Options
from likewise.models.base import FitCallback, Recommender

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["ContentKNN"]


def content_similarities(weighted: sp.csr_matrix, n_keep: int, *, parallel: bool = True) -> sp.csr_matrix:
    """Top-`n_keep` cosine neighbours of every row of `weighted` (rows = items), CSR whose rows
    list neighbours by similarity, descending."""
    x = sp.csr_matrix(weighted, dtype=np.float32)
    x.sort_indices()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1), dtype=np.float64).ravel())
    counts = np.diff(x.indptr)
    y = sp.csr_matrix(x.T)
    y.sort_indices()
    query = QueryRows(x.indptr, x.indices, x.data, np.arange(x.shape[0]), norms, counts)
    indptr, indices, sims = topk_similarities(
        query, y.indptr, y.indices, y.data, norms, counts, mode=FULL, n_keep=n_keep, parallel=parallel
    )
    matrix = sp.csr_matrix((x.shape[0], x.shape[0]), dtype=np.float32)
    matrix.indptr, matrix.indices, matrix.data = indptr, indices, sims
    matrix.has_sorted_indices = False
    return matrix


class ContentKNN(Recommender):
    """Content-based item kNN: cosine of TF-IDF / BM25-weighted item features.

    Parameters
    ----------
    k : int, default 50
        Neighbours kept per item.
    weighting : {"tfidf", "bm25", "binary", "none"}, default "tfidf"
    bm25_k1, bm25_b : float, default 1.2, 0.75
    n_threads : int or None

    Attributes
    ----------
    similarity_ : CSR (n_items, n_items), row j = the k items most similar to j
    item_features_ : CSR of the unweighted features, ``item_feature_names_`` their names
    """

    algorithm = "content-knn"
    label = "ContentKNN"
    supports_features: ClassVar[bool] = True
    supports_similar_items: ClassVar[bool] = True

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "k": [Interval(int, 1, None)],
        "weighting": [Options(("tfidf", "bm25", "binary", "none"))],
        "bm25_k1": [Interval(float, 0, None)],
        "bm25_b": [Interval(float, 0, 1)],
        "n_threads": [Interval(int, 0, None), NONE],
    }

    def __init__(
        self,
        *,
        k: int = 50,
        weighting: Literal["tfidf", "bm25", "binary", "none"] = "tfidf",
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        n_threads: int | None = None,
    ) -> None:
        self.k = k
        self.weighting = weighting
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.n_threads = n_threads

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        if data.item_features is None:
            raise DataError(
                "ContentKNN needs item features (Interactions.item_features): read a data set with "
                "metadata or attach them with interactions.with_features(item_features=...)"
            )
        self.item_features_ = sp.csr_matrix(data.item_features.matrix, dtype=np.float32)
        self.item_feature_names_ = np.asarray(data.item_features.names, dtype=str)
        self._build()

    def _build(self) -> None:
        # the readers' module (pandas, pyarrow) loads only when similarities are computed:
        # loading a saved model and recommending must stay light (tests/test_startup_imports.py)
        from likewise.data.features import weight_features

        weighted = weight_features(
            FeatureMatrix(self.item_features_, self.item_feature_names_), self.weighting,
            k1=float(self.bm25_k1), b=float(self.bm25_b),
        )  # fmt: skip
        with self._threads():
            self.similarity_ = content_similarities(weighted.matrix, int(self.k))

    def add_items(self, ids: Any, features: Any) -> Self:
        """Add items unseen at fit time, from their features (as `HybridMF.add_items`)."""
        self.check_is_fitted()
        raw = new_ids(self.items_, ids, "item")
        rows = feature_rows(features, self.item_feature_names_, raw.size, "add_items")
        stacked = sp.csr_matrix(sp.vstack([self.item_features_, rows], format="csr"))
        order = grow_items(self, raw)
        self.item_features_ = sp.csr_matrix(stacked[order], dtype=np.float32)
        self._build()
        return self

    # ------------------------------------------------------------------ scoring
    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        history = sp.csr_matrix(self.seen_[uidx], dtype=np.float32)
        history.data[:] = 1.0
        return np.asarray((history @ self.similarity_).todense(), dtype=np.float32)

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        row = sp.csr_matrix(
            (weights.astype(np.float32), (np.zeros(iidx.size, np.int64), iidx)), shape=(1, self.n_items)
        )
        return np.asarray((row @ self.similarity_).todense(), dtype=np.float32).ravel()

    def _similar_items(self, iidx: np.ndarray) -> np.ndarray:
        dense = np.full((iidx.size, self.n_items), np.nan, dtype=np.float32)
        for pos, item in enumerate(iidx):
            start, end = self.similarity_.indptr[item], self.similarity_.indptr[item + 1]
            dense[pos, self.similarity_.indices[start:end]] = self.similarity_.data[start:end]
        return dense

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        import pandas as pd

        history = self.seen_.indices[self.seen_.indptr[uidx] : self.seen_.indptr[uidx + 1]]
        sims = np.array([self._sim(int(j), iidx) for j in history], dtype=np.float32)
        keep = sims > 0
        history, sims = history[keep], sims[keep]
        order = np.argsort(-sims, kind="stable")
        frame = pd.DataFrame(
            {"kind": "item", "id": self.items_.to_ids(history[order]), "weight": sims[order].astype(np.float32)}
        )
        start, end = self.item_features_.indptr[iidx], self.item_features_.indptr[iidx + 1]
        names = [str(n) for n in self.item_feature_names_[self.item_features_.indices[start:end]][:5]]
        text = f"{self.item_label(iidx)} scores {score:.3g}"
        text += f" ({join_words(names)})" if names else " (no features)"
        if order.size:
            text += "; most alike of the user's items: " + join_words(
                [self.item_label(int(history[k])) for k in order[:3]]
            )  # fmt: skip
        return frame, text + "."

    def _sim(self, j: int, i: int) -> float:
        start, end = self.similarity_.indptr[j], self.similarity_.indptr[j + 1]
        hit = np.flatnonzero(self.similarity_.indices[start:end] == i)
        return float(self.similarity_.data[start + hit[0]]) if hit.size else 0.0

    # ------------------------------------------------------------------ persistence
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        f, s = self.item_features_, self.similarity_
        arrays = {
            "features_indptr": f.indptr.astype(np.int64), "features_indices": f.indices.astype(np.int32),
            "features_data": f.data.astype(np.float32), "feature_names": self.item_feature_names_,
            "similarity_indptr": s.indptr.astype(np.int64), "similarity_indices": s.indices.astype(np.int32),
            "similarity_data": s.data.astype(np.float32),
        }  # fmt: skip
        return arrays, {"n_features": int(f.shape[1])}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        n_features = int(state["n_features"])
        names = np.asarray(arrays["feature_names"])
        if names.dtype.kind != "U" or names.shape != (n_features,):
            raise ValueError("feature names do not match the feature matrix")
        self.item_feature_names_ = names
        self.item_features_ = sp.csr_matrix(
            (arrays["features_data"], arrays["features_indices"], arrays["features_indptr"]),
            shape=(self.n_items, n_features),
        )
        self.item_features_.check_format(full_check=True)
        sim = sp.csr_matrix((self.n_items, self.n_items), dtype=np.float32)
        indptr, indices = arrays["similarity_indptr"], arrays["similarity_indices"]
        if indptr.shape != (self.n_items + 1,) or indptr[0] != 0 or indptr[-1] != indices.size:
            raise ValueError("similarity_indptr does not match the items")
        if indices.size and (indices.min() < 0 or indices.max() >= self.n_items):
            raise ValueError("similarity_indices out of range")
        sim.indptr, sim.indices, sim.data = indptr, indices, arrays["similarity_data"]
        sim.has_sorted_indices = False
        self.similarity_ = sim
