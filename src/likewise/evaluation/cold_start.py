"""Warm and cold metrics, reported separately, for cold-start evaluation.

After `cold_item_split` (or `cold_user_split`) a test set mixes nothing warm: every test item
(user) is new. After any split, `evaluate_cold_start` splits the test interactions by whether
their item and user had training interactions and measures each part on its own:

- **cold items**: test interactions whose item has no training interaction. Lists are ranked
  over the cold items only (candidates = every item without training interactions), the
  LightFM / cold-start literature's protocol: a recommender cannot be asked to rank a new item
  against the whole catalogue it already knows the popularity of.
- **cold users**: test users without training interactions (over every item).
- **warm**: the rest - known users and known items - over the warm items.

Each part reports precision, recall and NDCG at k and AUC (over the same candidates), means
over the users with a relevant item in that part, and how many users and interactions it
held. The model is reached through its public index-level API only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from likewise.data.interactions import Interactions
from likewise.evaluation import metrics as m
from likewise.exceptions import InvalidParameterError

__all__ = ["evaluate_cold_start"]


def evaluate_cold_start(
    model: Any, train: Interactions, test: Interactions, *, k: int = 10
) -> dict[str, dict[str, float]]:
    """``{"warm": {...}, "cold_items": {...}, "cold_users": {...}}`` of metrics (parts with no
    test interaction are left out). Every part holds ``precision@k``, ``recall@k``,
    ``ndcg@k``, ``auc``, ``n_users`` and ``n_interactions``."""
    if train.items != test.items or train.users != test.users:
        raise InvalidParameterError("train and test must share id maps (as the splits make them)")
    if model.items_ != train.items or model.users_ != train.users:
        raise InvalidParameterError("the model must be fitted on train (its id maps differ)")
    warm_items = train.item_counts() > 0
    warm_users = train.user_counts() > 0
    coo = sp.coo_matrix(test.matrix)
    parts = {
        "warm": (warm_users[coo.row] & warm_items[coo.col], warm_items),
        "cold_items": (~warm_items[coo.col] & warm_users[coo.row], ~warm_items),
        "cold_users": (~warm_users[coo.row], np.ones(test.n_items, dtype=bool)),
    }
    out: dict[str, dict[str, float]] = {}
    for name, (mask, candidates) in parts.items():
        if not mask.any() or not candidates.any():
            continue
        relevant = sp.csr_matrix((np.ones(int(mask.sum())), (coo.row[mask], coo.col[mask])), shape=test.matrix.shape)
        out[name] = _measure(model, relevant, candidates, k)
    return out


def _measure(model: Any, relevant: sp.csr_matrix, candidates: np.ndarray, k: int) -> dict[str, float]:
    users = np.flatnonzero(np.diff(relevant.indptr) > 0).astype(np.int32)
    rel = relevant[users]
    indices, _ = model.recommend_indices(users, n=k, seen=True, allowed=candidates)
    result = {
        f"precision@{k}": float(np.nanmean(m.precision_at_k(indices, rel, k))),
        f"recall@{k}": float(np.nanmean(m.recall_at_k(indices, rel, k))),
        f"ndcg@{k}": float(np.nanmean(m.ndcg_at_k(indices, rel, k))),
    }
    aucs = []
    step = max(1, 4_000_000 // max(model.n_items, 1))
    for start in range(0, users.size, step):
        block = users[start : start + step]
        scores = model.score_indices(block)[:, candidates]
        seen = model.seen_[block][:, candidates]
        aucs.append(m.auc(scores, rel[start : start + step][:, candidates], exclude=seen))
    result["auc"] = float(np.nanmean(np.concatenate(aucs))) if aucs else float("nan")
    result["n_users"] = float(users.size)
    result["n_interactions"] = float(relevant.nnz)
    return result
