"""The metric registry: every metric `evaluate` knows, in one place, with what it needs.

Each `Metric` names the public function of `likewise.evaluation.metrics` it stands for and
says where its values come from (``source``):

- ``"lists"``: computed from the top-k lists (`Metric.compute` on a `ListContext`), per user
  or, for batch metrics (``per_user=False``), one number for the whole set of lists;
- ``"scores"``: AUC, from the dense scores of each user's candidates;
- ``"ratings"``: RMSE / MAE, from `Recommender.predict` on the test ratings (per-user sums of
  squared / absolute errors; the summary is the global value).

The metadata drives `evaluate` (what to compute, which users to skip), `compare` (which
metrics are tested, which have curves, which are better when smaller) and the reports
(labels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from likewise.evaluation import metrics as m

__all__ = [
    "BATCH_METRICS",
    "CURVE_METRICS",
    "DEFAULT_METRICS",
    "LOWER_IS_BETTER",
    "METRICS",
    "RATING_METRICS",
    "REGISTRY",
    "ListContext",
    "Metric",
]


@dataclass(frozen=True)
class ListContext:
    """What a list metric reads: the lists and the relevance of their users.

    ``lists``: model item indices (n_users, width), ``-1`` padding; ``k``: the cut-off;
    ``relevant`` / ``gains``: binary / graded relevance (columns past ``n_items`` are test
    items the model does not know); ``popularity``: training users per model item;
    ``item_features``: called (once per metric that needs them) for the item features.
    """

    lists: np.ndarray
    k: int
    relevant: sp.csr_matrix
    gains: sp.csr_matrix
    popularity: np.ndarray
    n_train_users: int
    n_items: int
    item_features: Callable[[], sp.csr_matrix]


@dataclass(frozen=True)
class Metric:
    """One registered metric.

    Attributes
    ----------
    name : str
        The name `evaluate` accepts.
    function : callable
        The public function of `likewise.evaluation.metrics` it is.
    source : {"lists", "scores", "ratings"}
        Where its values come from (see the module docstring).
    per_user : bool
        One value per user (False: one number for the whole set of lists).
    uses_k : bool
        Depends on the list length ``k``.
    uses_relevance : bool
        Depends on which test items are relevant (``relevance_threshold``); users with no
        relevant test item are skipped when such a metric is asked for.
    needs_ratings : bool
        Needs a model that predicts ratings and explicit test data.
    needs_item_features : bool
        Needs item features on the training data.
    lower_is_better : bool
        Smaller values are better.
    curve : bool
        Drawn against k in `compare`'s curves.
    label : str
        Display name in reports.
    compute : callable, optional
        ``compute(ListContext) -> per-user array or float`` for ``source="lists"``.
    """

    name: str
    function: Callable[..., Any]
    source: Literal["lists", "scores", "ratings"]
    label: str
    per_user: bool = True
    uses_k: bool = True
    uses_relevance: bool = False
    needs_ratings: bool = False
    needs_item_features: bool = False
    lower_is_better: bool = False
    curve: bool = False
    compute: Callable[[ListContext], Any] | None = None


def _ranking(name: str, function: Callable[..., np.ndarray], label: str, *, graded: bool = False) -> Metric:
    def compute(ctx: ListContext) -> np.ndarray:
        return function(ctx.lists, ctx.gains if graded else ctx.relevant, ctx.k)

    return Metric(name, function, "lists", label, uses_relevance=True, curve=True, compute=compute)


def _novelty(ctx: ListContext) -> np.ndarray:
    return m.novelty(ctx.lists, ctx.popularity, max(ctx.n_train_users, int(ctx.popularity.max(initial=0)), 1))


_ENTRIES = (
    _ranking("precision", m.precision_at_k, "precision"),
    _ranking("recall", m.recall_at_k, "recall"),
    _ranking("ndcg", m.ndcg_at_k, "NDCG", graded=True),
    _ranking("map", m.average_precision_at_k, "MAP"),
    _ranking("mrr", m.reciprocal_rank, "MRR"),
    _ranking("hit_rate", m.hit_rate_at_k, "hit rate"),
    Metric("auc", m.auc, "scores", "AUC", uses_k=False, uses_relevance=True),
    Metric("rmse", m.rmse, "ratings", "RMSE", uses_k=False, needs_ratings=True, lower_is_better=True),
    Metric("mae", m.mae, "ratings", "MAE", uses_k=False, needs_ratings=True, lower_is_better=True),
    Metric("novelty", m.novelty, "lists", "novelty", compute=_novelty),
    Metric(
        "diversity",
        m.intra_list_diversity,
        "lists",
        "diversity",
        needs_item_features=True,
        compute=lambda ctx: m.intra_list_diversity(ctx.lists, ctx.item_features()),
    ),
    Metric(
        "popularity_bias",
        m.popularity_bias,
        "lists",
        "popularity bias",
        lower_is_better=True,
        compute=lambda ctx: m.popularity_bias(ctx.lists, ctx.popularity),
    ),
    Metric(
        "coverage",
        m.catalogue_coverage,
        "lists",
        "coverage",
        per_user=False,
        compute=lambda ctx: m.catalogue_coverage(ctx.lists, ctx.n_items),
    ),
    Metric(
        "gini",
        m.gini_index,
        "lists",
        "Gini",
        per_user=False,
        lower_is_better=True,
        compute=lambda ctx: m.gini_index(ctx.lists, ctx.n_items),
    ),
    Metric(
        "personalisation",
        m.personalisation,
        "lists",
        "personalisation",
        per_user=False,
        compute=lambda ctx: m.personalisation(ctx.lists, ctx.n_items),
    ),
)

REGISTRY: dict[str, Metric] = {metric.name: metric for metric in _ENTRIES}
"""Metric name -> `Metric`, in the order `METRICS` lists them."""

METRICS: tuple[str, ...] = tuple(REGISTRY)
"""Every metric name `evaluate` accepts."""

DEFAULT_METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "coverage")
"""`evaluate`'s metrics when none are named (plus `RATING_METRICS` for rating models on explicit data)."""

RATING_METRICS: tuple[str, ...] = tuple(name for name, metric in REGISTRY.items() if metric.needs_ratings)
BATCH_METRICS: tuple[str, ...] = tuple(name for name, metric in REGISTRY.items() if not metric.per_user)
CURVE_METRICS: tuple[str, ...] = tuple(name for name, metric in REGISTRY.items() if metric.curve)
LOWER_IS_BETTER: frozenset[str] = frozenset(name for name, metric in REGISTRY.items() if metric.lower_is_better)
"""Metrics for which a smaller value is better (the others: larger is better)."""
