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

from typing import Any

import numpy as np
import scipy.sparse as sp

from likewise.evaluation._beyond import (
    catalogue_coverage,
    gini_index,
    intra_list_diversity,
    novelty,
    personalisation,
    popularity_bias,
)
from likewise.evaluation._metric_inputs import (
    gains_at,
    n_relevant,
    prepare,
    relevance,
    undefined_where,
)
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
    recs, rel = prepare(rec_indices, relevant, k)
    width = recs.shape[1]
    hits = (gains_at(recs, rel) > 0).sum(axis=1)
    return undefined_where(hits / max(width, 1), n_relevant(rel) == 0)


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
    recs, rel = prepare(rec_indices, relevant, k)
    hits = (gains_at(recs, rel) > 0).sum(axis=1)
    n_rel = n_relevant(rel)
    with np.errstate(divide="ignore", invalid="ignore"):
        return undefined_where(hits / n_rel, n_rel == 0)


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
    recs, rel = prepare(rec_indices, relevant, k)
    hit = np.asarray((gains_at(recs, rel) > 0).any(axis=1), dtype=np.float64)
    return undefined_where(hit, n_relevant(rel) == 0)


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
    recs, rel = prepare(rec_indices, relevant, k)
    hits = gains_at(recs, rel) > 0
    if hits.shape[1] == 0:
        out = np.zeros(hits.shape[0])
    else:
        first = np.argmax(hits, axis=1)
        out = np.where(hits.any(axis=1), 1.0 / (first + 1.0), 0.0)
    return undefined_where(out, n_relevant(rel) == 0)


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
    recs, rel = prepare(rec_indices, relevant, k)
    n_rows, width = recs.shape
    discount = 1.0 / np.log2(np.arange(2, width + 2, dtype=np.float64))
    dcg = gains_at(recs, rel) @ discount
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
        return undefined_where(dcg / idcg, n_relevant(rel) == 0)


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
    recs, rel = prepare(rec_indices, relevant, k)
    width = recs.shape[1]
    hits = (gains_at(recs, rel) > 0).astype(np.float64)
    precision = np.cumsum(hits, axis=1) / np.arange(1, width + 1, dtype=np.float64)
    n_rel = n_relevant(rel)
    with np.errstate(divide="ignore", invalid="ignore"):
        ap = (precision * hits).sum(axis=1) / np.minimum(n_rel, width)
    return undefined_where(ap, n_rel == 0)


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
    rel = relevance(relevant, s.shape[0])
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
        return undefined_where(u_stat / (n_pos * n_neg), (n_pos == 0) | (n_neg == 0))


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
