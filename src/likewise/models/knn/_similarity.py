"""Similarity preparation: statistics, the prepared (centred / re-weighted) matrix, the kernels.

x is the compared entity (items for ItemKNN, users for UserKNN), y the other side. Fitting
learns `Stats` from the rating matrix, turns each rating into the value the measure compares
(`entry_values`: centring for Pearson / adjusted cosine / Pearson-baseline, BM25 or TF-IDF
weighting for cosine / dot) and hands that matrix, in both orientations, to
`likewise.kernels.similarity`: the best ``n_neighbors_stored`` neighbours of every row
(`stored_similarities`), of a new profile (`profile_similarities`, fold-in), or every
similarity of a few rows (`exact_similarities`, the orientation that is not stored).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from likewise._util import count_values
from likewise.kernels.similarity import QueryRows, all_positive, dense_similarities, topk_similarities
from likewise.models.knn._config import KNNConfig

__all__ = [
    "Prepared",
    "Stats",
    "bm25_length_norm",
    "entry_values",
    "exact_similarities",
    "inverse_frequency",
    "prepare",
    "profile_similarities",
    "sim_matrix",
    "statistics",
    "stored_rows_dense",
    "stored_similarities",
]


@dataclass
class Stats:
    """Per-user and per-item statistics learned in fit (what centring and fallbacks need)."""

    global_mean: float
    overall_std: float
    user_mean: np.ndarray
    item_mean: np.ndarray
    user_std: np.ndarray
    item_std: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    item_df: np.ndarray  # users per item (idf of user-based weighting)
    user_df: np.ndarray  # items per user (idf of item-based weighting)


@dataclass
class Prepared:
    """The compared matrix in both orientations, with what the similarity kernel needs."""

    x_major: sp.csr_matrix  # n_x x n_y, prepared values (float32, or float64 when centred)
    y_major: sp.csr_matrix  # n_y x n_x, the same values
    norm: np.ndarray
    count: np.ndarray
    mode: int
    min_support: int
    shrinkage: float
    shrink_offset: int
    positive: bool  # every value >= the kernel's POSITIVE_FLOOR (lets FULL skip its count)

    def kernel_arguments(self) -> tuple[tuple[np.ndarray, ...], dict[str, Any]]:
        """(the compared side's arrays, the measure's settings) as the similarity kernels take them."""
        y = self.y_major
        measure = {
            "mode": self.mode,
            "min_support": self.min_support,
            "shrinkage": self.shrinkage,
            "shrink_offset": self.shrink_offset,
            "positive": self.positive,
        }
        return (y.indptr, y.indices, y.data, self.norm, self.count), measure


# --------------------------------------------------------------------------------- statistics
def statistics(matrix: sp.csr_matrix, *, baseline: bool, n_epochs: int, reg_user: float, reg_item: float) -> Stats:
    """Means, population standard deviations and (optionally) Surprise's ALS baselines."""
    n_users, n_items = matrix.shape
    ratings = matrix.data.astype(np.float64)
    users = np.repeat(np.arange(n_users), np.diff(matrix.indptr))
    items = matrix.indices
    global_mean = float(ratings.mean()) if ratings.size else 0.0
    overall_std = float(ratings.std()) if ratings.size else 0.0
    if overall_std == 0.0:
        overall_std = 1.0
    user_n = np.bincount(users, minlength=n_users).astype(np.float64)
    item_n = count_values(items, n_items).astype(np.float64)

    def mean_std(index: np.ndarray, counts: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        sums = np.bincount(index, weights=ratings, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counts > 0, sums / np.maximum(counts, 1), global_mean)
        # one nnz-sized temporary, squared in place (three of them at 25M entries held 600 MB)
        centred = mean[index]
        np.subtract(ratings, centred, out=centred)
        np.square(centred, out=centred)
        var = np.bincount(index, weights=centred, minlength=size) / np.maximum(counts, 1)
        del centred
        std = np.sqrt(var)
        std[(counts == 0) | (std == 0.0)] = overall_std
        return mean, std

    user_mean, user_std = mean_std(users, user_n, n_users)
    item_mean, item_std = mean_std(items, item_n, n_items)
    user_bias = np.zeros(n_users)
    item_bias = np.zeros(n_items)
    if baseline:
        for _ in range(n_epochs):
            dev_i = np.bincount(items, weights=ratings - global_mean - user_bias[users], minlength=n_items)
            denom_i = reg_item + item_n
            item_bias = np.divide(dev_i, denom_i, out=np.zeros(n_items), where=denom_i > 0)
            dev_u = np.bincount(users, weights=ratings - global_mean - item_bias[items], minlength=n_users)
            denom_u = reg_user + user_n
            user_bias = np.divide(dev_u, denom_u, out=np.zeros(n_users), where=denom_u > 0)
    return Stats(
        global_mean=global_mean,
        overall_std=overall_std,
        user_mean=user_mean,
        item_mean=item_mean,
        user_std=user_std,
        item_std=item_std,
        user_bias=user_bias,
        item_bias=item_bias,
        item_df=item_n.astype(np.int64),
        user_df=user_n.astype(np.int64),
    )


# --------------------------------------------------------------------------------- weighting
def inverse_frequency(n_docs: int, document_frequency: np.ndarray) -> np.ndarray:
    """implicit's idf: log(N) - log1p(df), N the number of compared rows."""
    return np.log(max(n_docs, 1)) - np.log1p(document_frequency.astype(np.float64))


def bm25_length_norm(config: KNNConfig, row_sums: np.ndarray, average: float) -> np.ndarray:
    """BM25 document length normalisation (average = mean row sum of the training rows)."""
    b = config.bm25_b
    return (1.0 - b) + b * row_sums / (average if average > 0 else 1.0)


def entry_values(
    config: KNNConfig,
    ratings: np.ndarray,
    *,
    x_mean: Callable[[], np.ndarray],
    y_mean: Callable[[], np.ndarray],
    baseline: Callable[[], np.ndarray],
    idf: Callable[[], np.ndarray],
    length_norm: Callable[[], np.ndarray],
) -> np.ndarray:
    """Prepared value of each rating for the configured measure.

    The per-rating statistics are callables, evaluated only when the measure needs them
    (each is as large as the rating matrix).
    """
    measure = config.similarity
    common = config.norms == "common"
    if measure in ("cosine", "dot"):
        if config.weighting == "bm25":
            k1 = config.bm25_k1
            return ratings * (k1 + 1.0) / (k1 * length_norm() + ratings) * idf()
        if config.weighting == "tfidf":
            return np.sqrt(np.maximum(ratings, 0.0)) * idf()
        return ratings
    if measure == "pearson":
        return ratings if common else ratings - x_mean()
    if measure == "adjusted_cosine":
        return ratings - y_mean()
    if measure == "pearson_baseline":
        return ratings - baseline()
    if measure == "jaccard":
        return np.ones_like(ratings)
    return ratings  # msd


# --------------------------------------------------------------------------------- preparation
def prepare(seen: sp.csr_matrix, stats: Stats, config: KNNConfig, by_users: bool) -> Prepared:
    """The rating matrix `seen` as the compared matrix (rows = users if `by_users` else items)."""
    users = np.repeat(np.arange(seen.shape[0], dtype=np.int64), np.diff(seen.indptr))
    items = seen.indices.astype(np.int64)
    ratings = seen.data.astype(np.float64)
    x_idx, y_idx = (users, items) if by_users else (items, users)
    n_x = seen.shape[0] if by_users else seen.shape[1]
    x_mean = stats.user_mean if by_users else stats.item_mean
    y_mean = stats.item_mean if by_users else stats.user_mean
    x_count = np.diff(seen.indptr).astype(np.int64) if by_users else stats.item_df.astype(np.int64)
    values = entry_values(
        config,
        ratings,
        x_mean=lambda: x_mean[x_idx],
        y_mean=lambda: y_mean[y_idx],
        baseline=lambda: stats.global_mean + stats.user_bias[users] + stats.item_bias[items],
        idf=lambda: inverse_frequency(n_x, (stats.item_df if by_users else stats.user_df))[y_idx],
        length_norm=lambda: bm25_length_norm(
            config, np.bincount(x_idx, weights=ratings, minlength=n_x), ratings.sum() / max(n_x, 1)
        )[x_idx],
    )
    # The values in the rating matrix's own (user-major) order, then its transpose.
    # Raw values go to the kernel as float32 (exact for ratings and counts, half the memory
    # traffic); centred and re-weighted ones stay float64, so that similarities that are
    # exactly 0 or exactly tied in real arithmetic stay so (float32 rounding would order
    # ties by noise). The kernel sums in float64 either way.
    values = values if config.float64_values else values.astype(np.float32)
    user_major = sp.csr_matrix((values, seen.indices, seen.indptr), shape=seen.shape)
    item_major = user_major.T.tocsr()
    item_major.sort_indices()
    x_major, y_major = (user_major, item_major) if by_users else (item_major, user_major)
    norm = np.ones(n_x)
    if config.whole_norms:
        squares = values.astype(np.float64) ** 2
        norm = np.sqrt(np.bincount(x_idx, weights=squares, minlength=n_x))
    return Prepared(
        x_major,
        y_major,
        norm,
        x_count,
        config.similarity_kernel_mode,
        config.min_support,
        config.shrinkage,
        config.shrink_offset,
        all_positive(values),
    )


# --------------------------------------------------------------------------------- kernels
def stored_similarities(prepared: Prepared, n_keep: int) -> sp.csr_matrix:
    """The best `n_keep` neighbours of every compared row (the fitted ``similarity_``)."""
    n_x = prepared.x_major.shape[0]
    query = QueryRows(
        prepared.x_major.indptr,
        prepared.x_major.indices,
        prepared.x_major.data,
        np.arange(n_x),
        prepared.norm,
        prepared.count,
    )
    compared, measure = prepared.kernel_arguments()
    indptr, indices, sims = topk_similarities(query, *compared, n_keep=n_keep, **measure)
    return sim_matrix(indptr, indices, sims, n_x)


def profile_similarities(
    prepared: Prepared, config: KNNConfig, columns: np.ndarray, values: np.ndarray, n_keep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour list (indptr, indices, sims) of one new row with prepared `values` at `columns`."""
    values = values.astype(prepared.y_major.data.dtype)  # as the training rows were prepared
    norm = 1.0
    if config.whole_norms:
        norm = float(np.sqrt((values.astype(np.float64) ** 2).sum()))
    query = QueryRows(
        np.array([0, columns.size]), columns, values, np.array([-1]), np.array([norm]), np.array([columns.size])
    )
    compared, measure = prepared.kernel_arguments()
    return topk_similarities(query, *compared, n_keep=n_keep, parallel=False, **measure)


def exact_similarities(prepared: Prepared, rows: np.ndarray) -> np.ndarray:
    """Every similarity (dense, NaN = none) of the given compared rows (computed on demand)."""
    x = prepared.x_major
    rows = np.asarray(rows, dtype=np.int64)
    sub = x[rows]
    query = QueryRows(sub.indptr, sub.indices, sub.data, rows, prepared.norm[rows], prepared.count[rows])
    compared, measure = prepared.kernel_arguments()
    return dense_similarities(query, *compared, parallel=rows.size > 1, **measure)


# --------------------------------------------------------------------------------- stored rows
def sim_matrix(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_x: int) -> sp.csr_matrix:
    """CSR whose rows list neighbours by similarity (descending), not by index: scipy is told
    the indices are unsorted so that it never reorders them behind our back."""
    matrix = sp.csr_matrix((n_x, n_x), dtype=np.float32)
    matrix.indptr = np.asarray(indptr, dtype=np.int64)
    matrix.indices = np.asarray(indices, dtype=np.int32)
    matrix.data = np.asarray(data, dtype=np.float32)
    matrix.has_sorted_indices = False
    return matrix


def stored_rows_dense(similarity: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """The stored neighbours of `rows` as dense rows (NaN = not a stored neighbour)."""
    out = np.full((rows.size, similarity.shape[1]), np.nan, dtype=np.float32)
    for pos, row in enumerate(np.asarray(rows, dtype=np.int64)):
        start, end = similarity.indptr[row], similarity.indptr[row + 1]
        out[pos, similarity.indices[start:end]] = similarity.data[start:end]
    return out
