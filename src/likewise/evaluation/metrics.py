"""Ranking, rating and beyond-accuracy metrics, vectorised over all users at once.

Notation
--------
For one user :math:`u`: :math:`L_u = (l_1, \\dots, l_k)` is the recommended list (item
indices, best first; ``-1`` pads a list shorter than ``k`` and never matches anything),
:math:`R_u` the set of relevant items and :math:`g_{ui} > 0` the gain of relevant item
:math:`i` (1 for binary relevance), :math:`h_j = 1` when :math:`l_j \\in R_u`.

Inputs of the ranking metrics
-----------------------------
- ``rec_indices``: int array (n_users, width), ``-1`` padding, no item twice in a row. ``k``
  defaults to ``width``; a smaller ``k`` uses the first ``k`` columns, a larger one treats the
  missing positions as padding (a short list is never rewarded for being short).
- ``relevant``: a sparse (or dense) n_users x n_items matrix for the SAME users, row by row.
  Stored positive values are gains; zeros are "not relevant"; negative or non-finite values
  raise `InvalidParameterError`.

Every per-user metric returns a float64 array of length n_users with NaN for users it is not
defined for (no relevant item for the ranking metrics, an empty list for the list metrics).
Callers take ``np.nanmean`` and report how many users were left out (`evaluate` does).

No Python loop runs over users: hits are found with one ``searchsorted`` of (row, item)
keys, ideal DCGs with one sort of the relevance entries, AUC with one row-wise sort, and the
pairwise list metrics (personalisation, intra-list diversity) with sparse products. Slow
per-user twins written straight from the formulas live in ``tests/reference/metrics.py``.
"""

from __future__ import annotations

import numbers
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from likewise.exceptions import InvalidParameterError

__all__ = [
    "auc",
    "average_precision_at_k",
    "catalogue_coverage",
    "gini_index",
    "hit_rate_at_k",
    "intra_list_diversity",
    "mae",
    "ndcg_at_k",
    "novelty",
    "personalisation",
    "popularity_bias",
    "precision_at_k",
    "recall_at_k",
    "reciprocal_rank",
    "rmse",
]

# Cells of one intermediate block (pairwise intersections in `personalisation`).
_BLOCK_CELLS = 4_000_000


# --------------------------------------------------------------------------- validation


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or int(k) < 1:
        raise InvalidParameterError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _rec_matrix(rec_indices: Any, k: int | None = None, n_items: int | None = None) -> np.ndarray:
    """Validate a recommendation matrix; return it as int64 (n_users, k)."""
    recs = np.asarray(rec_indices)
    if recs.ndim != 2:
        raise InvalidParameterError(f"rec_indices must be a 2-D array (n_users, k), got shape {recs.shape}")
    if recs.size and recs.dtype.kind not in "iu":
        raise InvalidParameterError(f"rec_indices must hold integer item indices, got dtype {recs.dtype}")
    recs = recs.astype(np.int64, copy=False)
    if k is not None:
        k = _check_k(k)
        if k <= recs.shape[1]:
            recs = recs[:, :k]
        else:
            pad = np.full((recs.shape[0], k - recs.shape[1]), -1, dtype=np.int64)
            recs = np.hstack([recs, pad])
    if recs.size:
        low = int(recs.min())
        if low < -1:
            raise InvalidParameterError(f"rec_indices must be item indices >= 0 or -1 for padding, got {low}")
        if n_items is not None and int(recs.max()) >= n_items:
            raise InvalidParameterError(
                f"rec_indices hold item index {int(recs.max())} but there are only {n_items} items"
            )
        ordered = np.sort(recs, axis=1)
        dup = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
        if dup.any():
            row = int(np.flatnonzero(dup.any(axis=1))[0])
            item = int(ordered[row, 1:][dup[row]][0])
            raise InvalidParameterError(f"rec_indices row {row} recommends item {item} more than once")
    return recs


def _relevance(relevant: Any, n_rows: int) -> sp.csr_matrix:
    """Validate a relevance matrix; return CSR float64, positive entries only, sorted indices."""
    if sp.issparse(relevant):
        rel = sp.csr_matrix(relevant, dtype=np.float64, copy=True)
    else:
        dense = np.asarray(relevant, dtype=np.float64)
        if dense.ndim != 2:
            raise InvalidParameterError(f"relevant must be a 2-D (n_users, n_items) matrix, got shape {dense.shape}")
        rel = sp.csr_matrix(dense)
    if rel.shape[0] != n_rows:
        raise InvalidParameterError(
            f"relevant has {rel.shape[0]} rows but rec_indices has {n_rows}; row r of both must be the same user"
        )
    rel.sum_duplicates()
    if not np.isfinite(rel.data).all():
        raise InvalidParameterError("relevant holds NaN or infinite gains")
    if rel.nnz and rel.data.min() < 0:
        raise InvalidParameterError(f"relevant holds a negative gain ({rel.data.min():g}); gains must be >= 0")
    rel.eliminate_zeros()
    rel.sort_indices()
    return rel


def _prepare(rec_indices: Any, relevant: Any, k: int | None) -> tuple[np.ndarray, sp.csr_matrix]:
    recs = _rec_matrix(rec_indices, k)
    rel = _relevance(relevant, recs.shape[0])
    if recs.size and int(recs.max()) >= rel.shape[1]:
        raise InvalidParameterError(
            f"rec_indices hold item index {int(recs.max())} but there are only {rel.shape[1]} items"
        )
    return recs, rel


def _gains_at(recs: np.ndarray, rel: sp.csr_matrix) -> np.ndarray:
    """Gain of the item at each list position (0 for a miss or padding), float64 (n, k)."""
    n_rows, width = recs.shape
    n_cols = rel.shape[1]
    out = np.zeros((n_rows, width), dtype=np.float64)
    if rel.nnz == 0 or recs.size == 0:
        return out
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(rel.indptr))
    keys = rows * n_cols + rel.indices  # ascending: CSR rows in order, indices sorted
    valid = recs >= 0
    query = np.nonzero(valid)[0].astype(np.int64) * n_cols + recs[valid]
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    out[valid] = np.where(keys[pos] == query, rel.data[pos], 0.0)
    return out


def _n_relevant(rel: sp.csr_matrix) -> np.ndarray:
    return np.diff(rel.indptr).astype(np.float64)


def _undefined_where(values: np.ndarray, undefined: np.ndarray) -> np.ndarray:
    values = values.astype(np.float64, copy=False)
    values[undefined] = np.nan
    return values


# --------------------------------------------------------------------------- ranking


def precision_at_k(rec_indices: Any, relevant: Any, k: int | None = None) -> np.ndarray:
    """Precision@k per user: the share of the k list positions holding a relevant item.

    .. math:: P@k(u) = \\frac{1}{k} \\sum_{j=1}^{k} h_j

    The denominator is always ``k`` (padding counts as a miss). NaN when :math:`R_u` is empty.

    Parameters
    ----------
    rec_indices : array (n_users, width) of int
        Recommended item indices, best first, ``-1`` padding.
    relevant : sparse or dense matrix (n_users, n_items)
        Relevance of each item for each user (positive = relevant).
    k : int, optional
        Cut-off; defaults to ``width``.

    Returns
    -------
    numpy.ndarray
        float64 (n_users,), NaN for users without relevant items.
    """
    recs, rel = _prepare(rec_indices, relevant, k)
    width = recs.shape[1]
    hits = (_gains_at(recs, rel) > 0).sum(axis=1)
    return _undefined_where(hits / max(width, 1), _n_relevant(rel) == 0)


def recall_at_k(rec_indices: Any, relevant: Any, k: int | None = None) -> np.ndarray:
    """Recall@k per user: the share of the user's relevant items found in the top k.

    .. math:: R@k(u) = \\frac{1}{|R_u|} \\sum_{j=1}^{k} h_j

    The denominator is :math:`|R_u|`, not :math:`\\min(k, |R_u|)`: a user with more relevant
    items than ``k`` cannot reach 1. NaN when :math:`R_u` is empty.

    Parameters
    ----------
    rec_indices, relevant, k
        As in `precision_at_k`.

    Returns
    -------
    numpy.ndarray
        float64 (n_users,).
    """
    recs, rel = _prepare(rec_indices, relevant, k)
    hits = (_gains_at(recs, rel) > 0).sum(axis=1)
    n_rel = _n_relevant(rel)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _undefined_where(hits / n_rel, n_rel == 0)


def hit_rate_at_k(rec_indices: Any, relevant: Any, k: int | None = None) -> np.ndarray:
    """Hit rate@k per user: 1 when at least one of the top k items is relevant, else 0.

    .. math:: HR@k(u) = [\\sum_{j=1}^{k} h_j > 0]

    NaN when :math:`R_u` is empty.

    Parameters
    ----------
    rec_indices, relevant, k
        As in `precision_at_k`.

    Returns
    -------
    numpy.ndarray
        float64 (n_users,).
    """
    recs, rel = _prepare(rec_indices, relevant, k)
    hit = np.asarray((_gains_at(recs, rel) > 0).any(axis=1), dtype=np.float64)
    return _undefined_where(hit, _n_relevant(rel) == 0)


def reciprocal_rank(rec_indices: Any, relevant: Any, k: int | None = None) -> np.ndarray:
    """Reciprocal rank per user (its mean over users is MRR@k).

    .. math:: RR@k(u) = 1 / \\min\\{j \\le k : h_j = 1\\}, \\text{ or 0 without a hit}

    NaN when :math:`R_u` is empty.

    Parameters
    ----------
    rec_indices, relevant, k
        As in `precision_at_k`.

    Returns
    -------
    numpy.ndarray
        float64 (n_users,).
    """
    recs, rel = _prepare(rec_indices, relevant, k)
    hits = _gains_at(recs, rel) > 0
    if hits.shape[1] == 0:
        out = np.zeros(hits.shape[0])
    else:
        first = np.argmax(hits, axis=1)
        out = np.where(hits.any(axis=1), 1.0 / (first + 1.0), 0.0)
    return _undefined_where(out, _n_relevant(rel) == 0)


def ndcg_at_k(rec_indices: Any, relevant: Any, k: int | None = None) -> np.ndarray:
    """Normalised discounted cumulative gain@k per user, binary or graded.

    .. math::
        DCG@k(u) = \\sum_{j=1}^{k} \\frac{g_{u l_j}}{\\log_2(j + 1)}, \\qquad
        NDCG@k(u) = \\frac{DCG@k(u)}{IDCG@k(u)}

    where :math:`g_{u l_j} = 0` for a miss and :math:`IDCG@k(u)` is the DCG of the user's
    relevant items sorted by gain, best first, truncated at ``k`` (linear gains, not
    :math:`2^g - 1`). With 0/1 gains this is binary NDCG. NaN when :math:`R_u` is empty.

    Parameters
    ----------
    rec_indices, relevant, k
        As in `precision_at_k`; the values of ``relevant`` are the gains.

    Returns
    -------
    numpy.ndarray
        float64 (n_users,) in [0, 1].
    """
    recs, rel = _prepare(rec_indices, relevant, k)
    n_rows, width = recs.shape
    discount = 1.0 / np.log2(np.arange(2, width + 2, dtype=np.float64))
    dcg = _gains_at(recs, rel) @ discount
    # Ideal DCG: sort each row's gains descending, keep the first `width`.
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(rel.indptr))
    order = np.lexsort((-rel.data, rows))
    rank = np.arange(rel.nnz, dtype=np.int64) - rel.indptr[rows].astype(np.int64)  # rows sorted
    keep = rank < width
    idcg = np.bincount(
        rows[keep],
        weights=rel.data[order][keep] * discount[rank[keep]],
        minlength=n_rows,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return _undefined_where(dcg / idcg, _n_relevant(rel) == 0)


def average_precision_at_k(rec_indices: Any, relevant: Any, k: int | None = None) -> np.ndarray:
    """Average precision@k per user (its mean over users is MAP@k).

    .. math:: AP@k(u) = \\frac{1}{\\min(k, |R_u|)} \\sum_{j=1}^{k} h_j \\, P@j(u)

    with :math:`P@j(u)` the precision of the first j positions. Gains are ignored (any
    positive gain is a hit). NaN when :math:`R_u` is empty.

    Parameters
    ----------
    rec_indices, relevant, k
        As in `precision_at_k`.

    Returns
    -------
    numpy.ndarray
        float64 (n_users,) in [0, 1].
    """
    recs, rel = _prepare(rec_indices, relevant, k)
    width = recs.shape[1]
    hits = (_gains_at(recs, rel) > 0).astype(np.float64)
    precision = np.cumsum(hits, axis=1) / np.arange(1, width + 1, dtype=np.float64)
    n_rel = _n_relevant(rel)
    with np.errstate(divide="ignore", invalid="ignore"):
        ap = (precision * hits).sum(axis=1) / np.minimum(n_rel, width)
    return _undefined_where(ap, n_rel == 0)


def auc(scores: Any, relevant: Any, *, exclude: Any = None) -> np.ndarray:
    """Area under the ROC curve per user, exact, from full score rows.

    Over the user's candidate items :math:`C_u` (every item, minus ``exclude``), with
    :math:`P_u = R_u \\cap C_u` and :math:`N_u = C_u \\setminus R_u`:

    .. math::
        AUC(u) = \\frac{1}{|P_u| |N_u|} \\sum_{p \\in P_u} \\sum_{n \\in N_u}
        \\left([s_{up} > s_{un}] + \\tfrac12 [s_{up} = s_{un}]\\right)

    computed through mid-ranks (Mann-Whitney U), one sort per row. NaN scores (items the
    model cannot score) count as :math:`-\\infty`, i.e. ranked last and tied with each other.
    NaN when :math:`P_u` or :math:`N_u` is empty.

    Parameters
    ----------
    scores : array (n_users, n_items)
        Dense scores of every item for each user (a block of users, for memory).
    relevant : sparse or dense matrix (n_users, n_items)
        Positive entries mark the relevant items.
    exclude : sparse or dense matrix (n_users, n_items), optional
        Non-zero entries (stored entries, for a sparse matrix) are not candidates, e.g. the
        items each user interacted with in training.

    Returns
    -------
    numpy.ndarray
        float64 (n_users,) in [0, 1].
    """
    s = np.array(scores, dtype=np.float64)
    if s.ndim != 2:
        raise InvalidParameterError(f"scores must be a 2-D array (n_users, n_items), got shape {s.shape}")
    rel = _relevance(relevant, s.shape[0])
    if rel.shape[1] != s.shape[1]:
        raise InvalidParameterError(f"relevant has {rel.shape[1]} items but scores has {s.shape[1]} columns")
    n_rows, n_cols = s.shape
    candidate = np.ones(s.shape, dtype=bool)
    if exclude is not None:
        if sp.issparse(exclude):
            excl = sp.csr_matrix(exclude)
            if excl.shape != s.shape:
                raise InvalidParameterError(f"exclude has shape {excl.shape}, expected {s.shape}")
            rows = np.repeat(np.arange(n_rows), np.diff(excl.indptr))
            candidate[rows, excl.indices] = False
        else:
            dense_excl = np.asarray(exclude)
            if dense_excl.shape != s.shape:
                raise InvalidParameterError(f"exclude has shape {dense_excl.shape}, expected {s.shape}")
            candidate &= dense_excl == 0
    s[np.isnan(s)] = -np.inf
    s[~candidate] = np.nan  # sorts after everything: ranks of candidates are 1..|C_u|
    positive = (rel.toarray() > 0) & candidate
    if n_cols == 0:
        return np.full(n_rows, np.nan)
    order = np.argsort(s, axis=1, kind="stable")
    ordered = np.take_along_axis(s, order, axis=1)
    position = np.broadcast_to(np.arange(n_cols), s.shape)
    starts = np.ones(s.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends = np.ones(s.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, position, n_cols)[:, ::-1], axis=1)[:, ::-1]
    midrank = np.empty(s.shape, dtype=np.float64)
    np.put_along_axis(midrank, order, (first + last) / 2.0 + 1.0, axis=1)
    n_pos = positive.sum(axis=1).astype(np.float64)
    n_neg = candidate.sum(axis=1) - n_pos
    u_stat = np.where(positive, midrank, 0.0).sum(axis=1) - n_pos * (n_pos + 1) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return _undefined_where(u_stat / (n_pos * n_neg), (n_pos == 0) | (n_neg == 0))


# --------------------------------------------------------------------------- rating


def _rating_pair(pred: Any, truth: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    t = np.asarray(truth, dtype=np.float64).reshape(-1)
    if p.shape != t.shape:
        raise InvalidParameterError(f"pred and truth must have the same length, got {p.size} and {t.size}")
    if p.size == 0:
        raise InvalidParameterError("pred and truth are empty: no rating to compare")
    bad = ~np.isfinite(p)
    if bad.any():
        raise InvalidParameterError(
            f"pred holds {int(bad.sum())} NaN or infinite values (unknown users or items?); drop or fill them first"
        )
    if not np.isfinite(t).all():
        raise InvalidParameterError("truth holds NaN or infinite values")
    return p, t


def rmse(pred: Any, truth: Any) -> float:
    """Root mean squared error of predicted ratings.

    .. math:: RMSE = \\sqrt{\\frac{1}{n} \\sum_{m=1}^{n} (\\hat r_m - r_m)^2}

    Parameters
    ----------
    pred, truth : array-like of float, same length
        Predicted and true ratings; non-finite predictions raise `InvalidParameterError`.

    Returns
    -------
    float
    """
    p, t = _rating_pair(pred, truth)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def mae(pred: Any, truth: Any) -> float:
    """Mean absolute error of predicted ratings.

    .. math:: MAE = \\frac{1}{n} \\sum_{m=1}^{n} |\\hat r_m - r_m|

    Parameters
    ----------
    pred, truth : array-like of float, same length
        Predicted and true ratings; non-finite predictions raise `InvalidParameterError`.

    Returns
    -------
    float
    """
    p, t = _rating_pair(pred, truth)
    return float(np.mean(np.abs(p - t)))


# --------------------------------------------------------------------------- beyond accuracy


def _check_n_items(n_items: Any) -> int:
    if isinstance(n_items, bool) or not isinstance(n_items, numbers.Integral) or int(n_items) < 1:
        raise InvalidParameterError(f"n_items must be a positive integer, got {n_items!r}")
    return int(n_items)


def _popularity(item_popularity: Any) -> np.ndarray:
    pop = np.asarray(item_popularity, dtype=np.float64)
    if pop.ndim != 1 or pop.size == 0:
        raise InvalidParameterError(
            f"item_popularity must be a non-empty 1-D array (one count per item), got shape {pop.shape}"
        )
    if not np.isfinite(pop).all() or pop.min() < 0:
        raise InvalidParameterError("item_popularity must hold finite counts >= 0")
    return pop


def _incidence(recs: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Binary users x items matrix of the lists (padding dropped), float64."""
    valid = recs >= 0
    indptr = np.zeros(recs.shape[0] + 1, dtype=np.int64)
    np.cumsum(valid.sum(axis=1), out=indptr[1:])
    return sp.csr_matrix((np.ones(int(indptr[-1])), recs[valid], indptr), shape=(recs.shape[0], n_items))


def catalogue_coverage(rec_indices: Any, n_items: int) -> float:
    """Share of the catalogue recommended to at least one user.

    .. math:: \\text{coverage} = |\\bigcup_u L_u| / |I|

    Parameters
    ----------
    rec_indices : array (n_users, k) of int
        The lists, ``-1`` padding.
    n_items : int
        Catalogue size :math:`|I|`.

    Returns
    -------
    float in [0, 1].
    """
    n_items = _check_n_items(n_items)
    recs = _rec_matrix(rec_indices, n_items=n_items)
    return float(np.unique(recs[recs >= 0]).size / n_items)


def gini_index(rec_indices: Any, n_items: int) -> float:
    """Gini index of how often each catalogue item is recommended (0 = evenly, →1 = few items).

    With :math:`c_{(1)} \\le \\dots \\le c_{(n)}` the recommendation counts of all
    :math:`n = |I|` items (unrecommended items count 0), sorted ascending:

    .. math:: G = \\frac{\\sum_{i=1}^{n} (2i - n - 1)\\, c_{(i)}}{n \\sum_i c_{(i)}}

    Parameters
    ----------
    rec_indices : array (n_users, k) of int
        The lists, ``-1`` padding.
    n_items : int
        Catalogue size.

    Returns
    -------
    float in [0, (n-1)/n]; NaN when nothing is recommended.
    """
    n_items = _check_n_items(n_items)
    recs = _rec_matrix(rec_indices, n_items=n_items)
    counts = np.sort(np.bincount(recs[recs >= 0], minlength=n_items).astype(np.float64))
    total = counts.sum()
    if total == 0:
        return float("nan")
    weights = 2.0 * np.arange(1, n_items + 1) - n_items - 1
    return float(weights @ counts / (n_items * total))


def novelty(rec_indices: Any, item_popularity: Any, n_users: int) -> np.ndarray:
    """Mean self-information of each list's items.

    .. math::
        \\text{novelty}(u) = \\frac{1}{|L_u|} \\sum_{i \\in L_u} -\\log_2 \\frac{\\max(|U_i|, 1)}{|U|}

    where :math:`|U_i|` is the number of training users who interacted with item i and
    :math:`|U|` the number of training users (with at least one interaction). Items nobody
    interacted with count as if one user had (the highest self-information observed).

    Parameters
    ----------
    rec_indices : array (n_users, k) of int
        The lists, ``-1`` padding.
    item_popularity : array (n_items,)
        :math:`|U_i|` per item.
    n_users : int
        :math:`|U|`; at least the largest :math:`|U_i|`.

    Returns
    -------
    numpy.ndarray
        float64 (n_rows,) in [0, log2 |U|]; NaN for empty lists.
    """
    pop = _popularity(item_popularity)
    if isinstance(n_users, bool) or not isinstance(n_users, numbers.Integral) or n_users < max(1, pop.max()):
        raise InvalidParameterError(
            f"n_users must be a positive integer >= the largest item popularity ({pop.max():g}), got {n_users!r}"
        )
    recs = _rec_matrix(rec_indices, n_items=pop.size)
    info = -np.log2(np.maximum(pop, 1.0) / float(n_users))
    return _list_mean(recs, info)


def popularity_bias(rec_indices: Any, item_popularity: Any) -> np.ndarray:
    """Mean training popularity of each list's items relative to the catalogue mean.

    .. math::
        \\text{popularity bias}(u) = \\frac{\\frac{1}{|L_u|}\\sum_{i \\in L_u} |U_i|}
        {\\frac{1}{|I|}\\sum_{i \\in I} |U_i|}

    1 means "as popular as an average catalogue item"; above 1, the lists lean to popular items.

    Parameters
    ----------
    rec_indices : array (n_users, k) of int
        The lists, ``-1`` padding.
    item_popularity : array (n_items,)
        Training popularity :math:`|U_i|` of every catalogue item.

    Returns
    -------
    numpy.ndarray
        float64 (n_rows,) >= 0; NaN for empty lists (and everywhere when no item is popular).
    """
    pop = _popularity(item_popularity)
    recs = _rec_matrix(rec_indices, n_items=pop.size)
    mean_pop = pop.mean()
    if mean_pop == 0:
        return np.full(recs.shape[0], np.nan)
    return _list_mean(recs, pop / mean_pop)


def _list_mean(recs: np.ndarray, item_values: np.ndarray) -> np.ndarray:
    valid = recs >= 0
    values = np.where(valid, item_values[np.where(valid, recs, 0)], 0.0)
    length = valid.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _undefined_where(values.sum(axis=1) / length, length == 0)


def personalisation(
    rec_indices: Any,
    n_items: int | None = None,
    *,
    similarity: Literal["cosine", "jaccard"] = "cosine",
) -> float:
    """One minus the mean pairwise overlap of users' lists (1 = nobody shares an item).

    .. math::
        \\text{personalisation} = 1 - \\frac{2}{m(m-1)} \\sum_{u < v} \\text{sim}(L_u, L_v),
        \\quad \\text{cosine: } \\frac{|L_u \\cap L_v|}{\\sqrt{|L_u||L_v|}},
        \\quad \\text{jaccard: } \\frac{|L_u \\cap L_v|}{|L_u \\cup L_v|}

    over the m non-empty lists. Cosine costs O(total list length): with :math:`x_u` the
    binary row of list u over :math:`\\sqrt{|L_u|}`, :math:`\\sum_{u<v} x_u \\cdot x_v =
    (\\lVert \\sum_u x_u \\rVert^2 - m) / 2`. Jaccard uses blocked sparse products (it is
    quadratic in the worst case, when every list shares items).

    Parameters
    ----------
    rec_indices : array (n_users, k) of int
        The lists, ``-1`` padding.
    n_items : int, optional
        Catalogue size (default: largest index + 1).
    similarity : {"cosine", "jaccard"}
        Overlap measure.

    Returns
    -------
    float in [0, 1]; NaN with fewer than two non-empty lists.
    """
    if similarity not in ("cosine", "jaccard"):
        raise InvalidParameterError(f"similarity must be 'cosine' or 'jaccard', got {similarity!r}")
    recs = _rec_matrix(rec_indices, n_items=None if n_items is None else _check_n_items(n_items))
    if n_items is None:
        n_items = int(recs.max()) + 1 if recs.size and recs.max() >= 0 else 1
    x = _incidence(recs, n_items)
    sizes = np.diff(x.indptr).astype(np.float64)
    x = x[sizes > 0]
    sizes = sizes[sizes > 0]
    m = sizes.size
    if m < 2:
        return float("nan")
    n_pairs = m * (m - 1) / 2.0
    if similarity == "cosine":
        summed = np.asarray((sp.diags(1.0 / np.sqrt(sizes)) @ x).sum(axis=0)).ravel()
        total = (summed @ summed - m) / 2.0
    else:
        total = 0.0
        xt = sp.csr_matrix(x.T)
        step = max(1, _BLOCK_CELLS // m)
        for start in range(0, m, step):
            stop = min(start + step, m)
            inter = (x[start:stop] @ xt).tocoo()
            row = inter.row + start
            upper = inter.col > row
            common = inter.data[upper]
            total += float((common / (sizes[row[upper]] + sizes[inter.col[upper]] - common)).sum())
    return float(min(1.0, max(0.0, 1.0 - total / n_pairs)))


def intra_list_diversity(rec_indices: Any, item_features: Any) -> np.ndarray:
    """Mean pairwise cosine distance between the items of each list.

    .. math::
        ILD(u) = \\frac{2}{|L_u|(|L_u| - 1)} \\sum_{i < j \\in L_u}
        \\left(1 - \\frac{f_i \\cdot f_j}{\\lVert f_i \\rVert \\lVert f_j \\rVert}\\right)

    An item without features (zero row) has similarity 0 to every item. Computed in
    O(total list length x features): with unit rows :math:`\\hat f`, the pair sum is
    :math:`(\\lVert \\sum_{i \\in L_u} \\hat f_i \\rVert^2 - \\#\\{\\text{non-zero rows}\\}) / 2`.

    Parameters
    ----------
    rec_indices : array (n_users, k) of int
        The lists, ``-1`` padding.
    item_features : sparse or dense matrix (n_items, n_features)
        One row of features per catalogue item.

    Returns
    -------
    numpy.ndarray
        float64 (n_rows,) in [0, 2] ([0, 1] for non-negative features); NaN for lists with
        fewer than two items.
    """
    feats = sp.csr_matrix(item_features, dtype=np.float64)
    if not np.isfinite(feats.data).all():
        raise InvalidParameterError("item_features hold NaN or infinite values")
    n_items = feats.shape[0]
    recs = _rec_matrix(rec_indices, n_items=n_items)
    norms = np.sqrt(np.asarray(feats.multiply(feats).sum(axis=1)).ravel())
    has = norms > 0
    unit = sp.diags(np.where(has, 1.0 / np.where(has, norms, 1.0), 0.0)) @ feats
    x = _incidence(recs, n_items)
    summed = sp.csr_matrix(x @ unit)
    squared = np.asarray(summed.multiply(summed).sum(axis=1)).ravel()
    n_with = x @ has.astype(np.float64)
    length = np.diff(x.indptr).astype(np.float64)
    pairs = length * (length - 1) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ild = 1.0 - (squared - n_with) / 2.0 / pairs
    return _undefined_where(np.clip(ild, 0.0, 2.0), length < 2)
