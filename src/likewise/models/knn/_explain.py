"""Explanations: the neighbours behind one kNN score, their shares of it, and a sentence.

The neighbours are found as the scoring kernels find them (`likewise.kernels.knn`): for a
rating estimate the first ``k`` stored neighbours of the target that the context rated; for
item-based "sum" scoring every item of the user's history whose first ``k`` neighbours hold the
target. Each neighbour's weight is its share of the estimate, so the weights plus the base
term (global mean, mean or baseline) add up to the unclipped estimate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from likewise._util import plain

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

if TYPE_CHECKING:
    from likewise.models.knn._model import _NeighborhoodModel

__all__ = ["explain_item_based", "explain_user_based"]


def explain_item_based(model: _NeighborhoodModel, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
    """ItemKNN: the user's items that are neighbours of item `iidx`."""
    seen = model.seen_
    start, end = seen.indptr[uidx], seen.indptr[uidx + 1]
    rated, ratings = seen.indices[start:end], seen.data[start:end].astype(np.float64)
    s = model.similarity_
    user = plain(model.users_.ids[uidx])
    target = model.item_label(iidx)
    if model.config_.prediction == "sum":
        neighbours, sims, values = [], [], []
        for j, value in zip(rated, ratings, strict=True):
            row = slice(s.indptr[j], min(s.indptr[j] + model.k, s.indptr[j + 1]))
            hit = np.nonzero(s.indices[row] == iidx)[0]
            if hit.size:
                neighbours.append(j)
                sims.append(float(s.data[row][hit[0]]))
                values.append(value)
        nb = np.array(neighbours, dtype=np.int64)
        sim_arr, val_arr = np.array(sims, dtype=np.float64), np.array(values, dtype=np.float64)
        _, _, weights, _ = _contributions(model, nb, sim_arr, val_arr, iidx, 0.0)
        frame = _frame(None, 0.0, "item", model.items_.to_ids(nb), sim_arr, val_arr, weights)
        text = _sum_text(score, target, user, [model.item_label(j) for j in nb], sim_arr, "item", model.k)
        return frame, text
    row_idx = s.indices[s.indptr[iidx] : s.indptr[iidx + 1]]
    row_sim = s.data[s.indptr[iidx] : s.indptr[iidx + 1]].astype(np.float64)
    position = np.full(model.n_items, -1, dtype=np.int64)
    position[rated] = np.arange(rated.size)
    hit = position[row_idx] >= 0
    nb = row_idx[hit][: model.k].astype(np.int64)
    sim_arr = row_sim[hit][: model.k]
    val_arr = ratings[position[nb]]
    ctx_off = float(model._y_offsets()[uidx])
    base_kind, base_value, weights, base_text = _contributions(model, nb, sim_arr, val_arr, iidx, ctx_off)
    frame = _frame(base_kind, base_value, "item", model.items_.to_ids(nb), sim_arr, val_arr, weights)
    text = _rating_text(
        score, target, user, [model.item_label(j) for j in nb], sim_arr, val_arr, base_text, "item", model.min_k
    )
    return frame, text + _clip_note(float(frame["weight"].sum()), score)


def explain_user_based(
    model: _NeighborhoodModel, by_item: sp.csr_matrix, uidx: int, iidx: int, score: float
) -> tuple[pd.DataFrame, str]:
    """UserKNN: the user's neighbours who rated item `iidx` (`by_item`: ratings item-major)."""
    start, end = by_item.indptr[iidx], by_item.indptr[iidx + 1]
    raters, ratings = by_item.indices[start:end], by_item.data[start:end].astype(np.float64)
    s = model.similarity_
    row_idx = s.indices[s.indptr[uidx] : s.indptr[uidx + 1]]
    row_sim = s.data[s.indptr[uidx] : s.indptr[uidx + 1]].astype(np.float64)
    position = np.full(model.n_users, -1, dtype=np.int64)
    position[raters] = np.arange(raters.size)
    hit = position[row_idx] >= 0
    nb = row_idx[hit][: model.k].astype(np.int64)
    sim_arr = row_sim[hit][: model.k]
    val_arr = ratings[position[nb]]
    user = plain(model.users_.ids[uidx])
    target = model.item_label(iidx)
    labels = [str(plain(v)) for v in model.users_.to_ids(nb)]
    ctx_off = float(model._y_offsets()[iidx])
    base_kind, base_value, weights, base_text = _contributions(model, nb, sim_arr, val_arr, uidx, ctx_off)
    frame = _frame(base_kind, base_value, "user", model.users_.to_ids(nb), sim_arr, val_arr, weights)
    if model.config_.prediction == "sum":
        text = _sum_text(score, target, user, labels, sim_arr, "user", model.k)
    else:
        text = _rating_text(score, target, user, labels, sim_arr, val_arr, base_text, "user", model.min_k)
        text += _clip_note(float(frame["weight"].sum()), score)
    return frame, text


# --------------------------------------------------------------------------------- shares
def _contributions(
    model: _NeighborhoodModel,
    neighbours: np.ndarray,
    sims: np.ndarray,
    values: np.ndarray,
    target: int,
    context_off: float,
) -> tuple[str | None, float, np.ndarray, str]:
    """(base kind, base value, per-neighbour weights, base description) of a gathered estimate."""
    mode = model.config_.prediction
    stats = model.stats_
    used = neighbours.size
    if mode == "sum":
        weights = sims * (values if model.weighted else 1.0)
        if used < model.min_k:
            weights = np.zeros_like(sims)
        return None, 0.0, weights, ""
    x_off, x_scale = model._x_offsets()
    den = float(sims.sum())
    enough = used >= max(model.min_k, 1) and den > 0
    if mode == "basic":
        if not enough:
            return "global_mean", stats.global_mean, np.zeros_like(sims), f"the global mean {stats.global_mean:.3g}"
        return None, 0.0, sims * values / den, ""
    base = float(x_off[target] + context_off)
    name = "baseline" if mode == "baseline" else "mean"
    if not enough:
        return name, base, np.zeros_like(sims), f"the {name} {base:.3g}"
    dev = (values - x_off[neighbours] - context_off) / x_scale[neighbours]
    return name, base, float(x_scale[target]) * sims * dev / den, f"the {name} {base:.3g}"


def _frame(
    base_kind: str | None,
    base_value: float,
    kind: str,
    ids: np.ndarray,
    sims: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray,
) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "kind": [kind] * len(ids),
            "id": [plain(v) for v in ids],
            "weight": weights.astype(np.float64),
            "similarity": sims.astype(np.float64),
            "value": values.astype(np.float64),
        }
    )
    if base_kind is not None:
        base = pd.DataFrame(
            {"kind": [base_kind], "id": [None], "weight": [base_value], "similarity": [np.nan], "value": [np.nan]}
        )
        frame = pd.concat([base, frame], ignore_index=True) if len(frame) else base
    order = np.argsort(-np.abs(frame["weight"].to_numpy()), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------------- text
def _listing(labels: list[str], sims: np.ndarray, values: np.ndarray | None, limit: int = 3) -> str:
    parts = []
    for pos, label in enumerate(labels[:limit]):
        extra = f", rated {values[pos]:g}" if values is not None else ""
        parts.append(f"{label} (similarity {sims[pos]:.2f}{extra})")
    more = len(labels) - limit
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _rating_text(
    score: float,
    target: str,
    user: Any,
    labels: list[str],
    sims: np.ndarray,
    values: np.ndarray,
    base_text: str,
    kind: str,
    min_k: int,
) -> str:
    who = "items user" if kind == "item" else "users who rated it, like user"
    if len(labels) < max(min_k, 1):
        reason = f"fewer than {max(min_k, 1)} similar {kind}s available, so {base_text or 'the fallback'}"
        return f"Predicted {score:.3g} for {target}: {reason}."
    lead = f"{base_text} adjusted by " if base_text else ""
    if kind == "item":
        source = f"{len(labels)} similar {who} {user} rated: "
    else:
        source = f"{len(labels)} similar users who rated it: "
    return f"Predicted {score:.3g} for {target} from {lead}{source}{_listing(labels, sims, values)}."


def _clip_note(raw: float, score: float) -> str:
    if abs(raw - score) > 1e-4 * max(1.0, abs(raw)):
        return f" (The raw estimate {raw:.3g} is clipped to the rating scale.)"
    return ""


def _sum_text(score: float, target: str, user: Any, labels: list[str], sims: np.ndarray, kind: str, k: int) -> str:
    if not labels:
        return f"{target} is not among the {k} nearest neighbours of anything user {user} has; score {score:.3g}."
    if kind == "item":
        return (
            f"Score {score:.3g} for {target}: it is close to {len(labels)} of user {user}'s items: "
            + _listing(labels, sims, None)
            + "."
        )
    return f"Score {score:.3g} for {target}: {len(labels)} similar users have it: " + _listing(labels, sims, None) + "."
