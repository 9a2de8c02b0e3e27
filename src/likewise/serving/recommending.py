"""Answering a recommendation request from a model, the user's stored events and the filters.

The steps, in order (``fallback`` in the response names the step that answered):

1. a user the model knows, without newer events: the model's own top-n (``fallback: null``);
2. a user with events newer than the model (known or not): fold-in of training history plus
   those events, the event items excluded (null for a known user, ``"events"`` for a new one);
   a model that cannot fold in answers a known user from training with the new items excluded
   (``"training-history"``) and a new one by popularity (``"popularity-no-fold-in"``);
3. anybody else: the most popular training items (``"popularity"``).

Filters (``exclude``, ``candidates``, ``filter=attribute:value``) become one boolean mask of
allowed items, given to the models' public index-level API, so every step returns exactly
``n`` items when ``n`` are eligible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from likewise.exceptions import InvalidParameterError, NotSupportedError
from likewise.serving.reasons import history_reasons
from likewise.serving.runtime import Catalogue, ServedModel

__all__ = [
    "Answer",
    "Query",
    "allowed_mask",
    "parse_filters",
    "recommend_for_history",
    "recommend_for_user",
    "response_rows",
]


@dataclass(frozen=True)
class Query:
    n: int
    exclude: list[str]
    candidates: list[str] | None
    filters: list[tuple[str, frozenset[str]]]
    explain: bool


@dataclass
class Answer:
    items: list[dict[str, Any]]
    fallback: str | None


def parse_filters(raw: list[str] | None) -> list[tuple[str, frozenset[str]]]:
    """``attribute:value`` (``value|other`` for either); several filters must all hold."""
    out = []
    for text in raw or []:
        # exactly schemas.FILTER_PATTERN: no stripping, so the schema and this parser agree
        name, sep, values = text.partition(":")
        choices = frozenset(v for v in values.split("|") if v)
        if not sep or not name or not choices:
            raise InvalidParameterError(f"filter must look like attribute:value (or attribute:a|b), got {text!r}")
        out.append((name, choices))
    return out


def allowed_mask(served: ServedModel, catalogue: Catalogue, query: Query) -> np.ndarray:
    """The items `query` allows, as one boolean mask (read-only when it is a cached filter mask)."""
    if query.candidates is None and not query.exclude and len(query.filters) == 1:
        # the common request (one filter): the catalogue's cached mask itself, no n_items copy
        attribute, values = query.filters[0]
        return catalogue.mask(served, attribute, values)
    mask = np.ones(served.n_items, dtype=bool)
    if query.candidates is not None:
        mask[:] = False
        idx = served.item_indices(query.candidates)
        mask[idx[idx >= 0]] = True
    if query.exclude:
        idx = served.item_indices(query.exclude)
        mask[idx[idx >= 0]] = False
    for attribute, values in query.filters:
        mask &= catalogue.mask(served, attribute, values)
    return mask


def response_rows(
    served: ServedModel, catalogue: Catalogue, indices: np.ndarray, scores: np.ndarray
) -> list[dict[str, Any]]:
    """The response rows of top-n (indices, scores); -1 ends the list."""
    out = []
    for rank, (iidx, score) in enumerate(zip(indices.tolist(), scores.tolist(), strict=True), start=1):
        if iidx < 0:
            break
        text = served.item_text(iidx)
        title = catalogue.title(text) or served.title(iidx)
        # every key of schemas.Rec, as its pydantic serialisation would give (the app sends these as is)
        out.append({"item": served.raw_item(iidx), "score": float(score), "rank": rank, "title": title, "reason": None})
    return out


def _popular(served: ServedModel, mask: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = served.pop_order[mask[served.pop_order]][:n]
    return order, served.counts[order]


def _fold_in(
    served: ServedModel, history: np.ndarray, weights: np.ndarray, mask: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The model's fold-in with the history items excluded, by index (`recommend_indices_from_history`).

    Decision, measured: the raw-id `recommend_from_history` made every filtered request map a
    candidate list back to indices (on a 60k catalogue, most of the request's time); the mask
    goes to the model as it is (the model copies it before dropping the history items).
    """
    indices, scores = served.model.recommend_indices_from_history(
        history, weights=weights, n=n, exclude_seen=True, allowed=mask
    )
    return indices[0], scores[0]


def _merge(
    served: ServedModel, base: tuple[np.ndarray, np.ndarray], extra: dict[str, float | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Training history plus newer events (an event's value replaces the training value)."""
    weights = dict(zip(base[0].tolist(), base[1].tolist(), strict=True))
    texts = list(extra)
    for iidx, text in zip(served.item_indices(texts).tolist(), texts, strict=True):
        if iidx >= 0:
            value = extra[text]
            weights[iidx] = served.default_weight if value is None else float(value)
    order = sorted(weights)
    return np.array(order, dtype=np.int64), np.array([weights[i] for i in order], dtype=np.float32)


def _reasons(
    served: ServedModel,
    catalogue: Catalogue,
    rows: list[dict[str, Any]],
    user: Any,
    fallback: str | None,
    history: tuple[np.ndarray, np.ndarray],
) -> None:
    """Reasons: popularity counts, the model's explain for a trained user, else the history
    items that drove a fold-in (reasons.py)."""
    if fallback in ("popularity", "popularity-no-fold-in"):
        for row in rows:
            iidx = int(served.item_indices([str(row["item"])])[0])
            row["reason"] = f"popular: {int(served.counts[iidx])} users interacted with it"
    elif fallback == "training-history":
        for row in rows:
            row["reason"] = "from the model's training data (it cannot fold in the new events, which are excluded)"
    elif user is not None:
        for row in rows:
            row["reason"] = served.model.explain(user, row["item"]).text
    else:
        history_reasons(served, catalogue, rows, history[0], history[1])


def recommend_for_user(
    served: ServedModel, catalogue: Catalogue, user: str, events: dict[str, float | None], query: Query
) -> Answer:
    """Recommendations for `user` given their events newer than the model (item -> value)."""
    model = served.model
    mask = allowed_mask(served, catalogue, query)
    uidx = served.user_index(user)
    known = uidx >= 0
    history = _merge(
        served, served.training_row(uidx) if known else (np.zeros(0, np.int64), np.zeros(0, np.float32)), events
    )
    fallback: str | None = None
    if known and not events:
        indices, scores = model.recommend_indices(np.array([uidx]), query.n, seen=True, allowed=mask)
        indices, scores = indices[0], scores[0]
    elif history[0].size and model.supports_fold_in:
        try:
            indices, scores = _fold_in(served, history[0], history[1], mask, query.n)
            fallback = None if known else "events"
        except NotSupportedError:
            indices, scores, fallback = _without_fold_in(served, uidx, history[0], mask, query.n)
    elif history[0].size:
        indices, scores, fallback = _without_fold_in(served, uidx, history[0], mask, query.n)
    else:
        indices, scores = _popular(served, mask, query.n)
        fallback = "popularity"
    rows = response_rows(served, catalogue, indices, scores)
    if query.explain:
        trained_user = served.raw_user(uidx) if known and fallback is None and not events else None
        _reasons(served, catalogue, rows, trained_user, fallback, history)
    return Answer(rows, fallback)


def _without_fold_in(
    served: ServedModel, uidx: int, history: np.ndarray, mask: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """A model that cannot fold in: its training answer minus the new items, or popularity."""
    if uidx >= 0:
        drop = sp.csr_matrix(
            (np.ones(history.size, bool), history, np.array([0, history.size])), shape=(1, served.n_items)
        )
        indices, scores = served.model.recommend_indices(np.array([uidx]), n, seen=drop, allowed=mask)
        return indices[0], scores[0], "training-history"
    mask = mask.copy()
    mask[history] = False
    indices, scores = _popular(served, mask, n)
    return indices, scores, "popularity-no-fold-in"


def recommend_for_history(
    served: ServedModel, catalogue: Catalogue, history: list[tuple[str, float | None]], query: Query
) -> Answer:
    """An anonymous visitor: fold-in of the posted history (items the model does not know are ignored)."""
    return recommend_for_user_like(served, catalogue, dict(history), query)


def recommend_for_user_like(
    served: ServedModel, catalogue: Catalogue, events: dict[str, float | None], query: Query
) -> Answer:
    mask = allowed_mask(served, catalogue, query)
    items, weights = _merge(served, (np.zeros(0, np.int64), np.zeros(0, np.float32)), events)
    if items.size and served.model.supports_fold_in:
        try:
            indices, scores = _fold_in(served, items, weights, mask, query.n)
            fallback = None
        except NotSupportedError:
            indices, scores, fallback = _without_fold_in(served, -1, items, mask, query.n)
    elif items.size:
        indices, scores, fallback = _without_fold_in(served, -1, items, mask, query.n)
    else:
        indices, scores = _popular(served, mask, query.n)
        fallback = "popularity"
    rows = response_rows(served, catalogue, indices, scores)
    if query.explain:
        _reasons(served, catalogue, rows, None, fallback, (items, weights))
    return Answer(rows, fallback)
