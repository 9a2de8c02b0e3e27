"""Beyond-accuracy metrics (coverage, Gini, novelty, popularity bias, personalisation,
intra-list diversity); re-exported by `likewise.evaluation.metrics`, whose module docstring
describes the inputs.
"""

from __future__ import annotations

import numbers
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from likewise.evaluation._metric_inputs import (
    rec_matrix,
    undefined_where,
)
from likewise.exceptions import InvalidParameterError

__all__ = ["catalogue_coverage", "gini_index", "intra_list_diversity", "novelty", "personalisation", "popularity_bias"]

# Cells of one intermediate block (pairwise intersections in `personalisation`).
_BLOCK_CELLS = 4_000_000


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
    recs = rec_matrix(rec_indices, n_items=n_items)
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
    recs = rec_matrix(rec_indices, n_items=n_items)
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
    recs = rec_matrix(rec_indices, n_items=pop.size)
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
    recs = rec_matrix(rec_indices, n_items=pop.size)
    mean_pop = pop.mean()
    if mean_pop == 0:
        return np.full(recs.shape[0], np.nan)
    return _list_mean(recs, pop / mean_pop)


def _list_mean(recs: np.ndarray, item_values: np.ndarray) -> np.ndarray:
    valid = recs >= 0
    values = np.where(valid, item_values[np.where(valid, recs, 0)], 0.0)
    length = valid.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return undefined_where(values.sum(axis=1) / length, length == 0)


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
    recs = rec_matrix(rec_indices, n_items=None if n_items is None else _check_n_items(n_items))
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
    recs = rec_matrix(rec_indices, n_items=n_items)
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
    return undefined_where(np.clip(ild, 0.0, 2.0), length < 2)
