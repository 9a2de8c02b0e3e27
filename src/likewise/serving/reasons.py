"""Per-row reasons of a fold-in answer (``explain=true`` for a visitor or a user with new events).

A fold-in scores items from a history, not from a trained user, so the model's `explain(user,
item)` does not apply. The reason names the history items that drove each row's score:

- a model with its own account of a history (HybridMF's ``explain_new_user``) gives it;
- any other model is asked by leave-one-out: the recommended items are scored again from the
  history without each of its items in turn (one fold-in per history item, all rows at once),
  and the items whose removal lowers a row's score most are named, with by how much.

Decision: leave-one-out works for every model that folds in (factor, neighbourhood, linear)
through the public `recommend_from_history`, and its numbers mean one thing for all of them.
It costs one fold-in per history item, so only the `MAX_EXPLAINED` heaviest history items are
weighed (explain is opt-in; the rest of the history still scores the rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from likewise.serving.runtime import Catalogue, ServedModel

__all__ = ["MAX_EXPLAINED", "history_reasons"]

MAX_EXPLAINED = 50
"""History items weighed by leave-one-out (the heaviest; ties by the lower item index)."""
NAMED = 3
"""History items named in one reason."""


def history_reasons(
    served: ServedModel, catalogue: Catalogue, rows: list[dict[str, Any]], history: np.ndarray, weights: np.ndarray
) -> None:
    """Set ``row["reason"]`` of every row of a fold-in of (`history` item indices, `weights`)."""
    if not rows:
        return
    model = served.model
    ids = model.items_.ids
    explain_new_user = getattr(model, "explain_new_user", None)
    if callable(explain_new_user):
        for row in rows:
            row["reason"] = explain_new_user(row["item"], items=ids[history], weights=weights).text
        return
    targets = served.item_indices([str(row["item"]) for row in rows])
    full = _scores(served, history, weights, targets)
    weighed = np.lexsort((history, -weights))[:MAX_EXPLAINED]
    drops = np.zeros((weighed.size, targets.size), dtype=np.float64)
    for k, j in enumerate(weighed.tolist()):
        keep = np.arange(history.size) != j
        without = _scores(served, history[keep], weights[keep], targets) if keep.any() else np.zeros(targets.size)
        drops[k] = full - without
    for r, row in enumerate(rows):
        row["reason"] = _sentence(served, catalogue, history[weighed], drops[:, r])


def _scores(served: ServedModel, history: np.ndarray, weights: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The fold-in scores of `targets` (item indices) from a history, in the order of `targets`."""
    ids = served.model.items_.ids
    recs = served.model.recommend_from_history(
        ids[history], weights=weights, n=targets.size, candidates=ids[targets], exclude_seen=False
    )
    by_index = dict(zip(recs.indices[0].tolist(), recs.scores[0].tolist(), strict=True))
    return np.array([by_index.get(int(t), np.nan) for t in targets.tolist()], dtype=np.float64)


def _sentence(served: ServedModel, catalogue: Catalogue, items: np.ndarray, drops: np.ndarray) -> str:
    order = [k for k in np.lexsort((items, -drops)).tolist() if np.isfinite(drops[k]) and drops[k] > 0][:NAMED]
    if not order:
        return f"scored from the {items.size} items of this history (no single one raises it)"
    named = ", ".join(f"{_label(served, catalogue, int(items[k]))} (+{drops[k]:.3g})" for k in order)
    return f"because of {named} in this history (score lost without each)"


def _label(served: ServedModel, catalogue: Catalogue, iidx: int) -> str:
    text = served.item_text(iidx)
    title = catalogue.title(text) or served.title(iidx)
    return f"{title!r}" if title else f"item {text}"
