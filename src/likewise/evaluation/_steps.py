"""The steps of one evaluation that touch the model and the data (used by `evaluate`).

Everything here goes through the model's public API: `Recommender.recommend_indices` for
the lists, `Recommender.score_indices` for AUC, `Recommender.predict` for ratings, and the
learned ``users_`` / ``items_`` / ``seen_`` state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from likewise._util import as_1d
from likewise.data.idmap import IdMap
from likewise.data.interactions import Interactions
from likewise.evaluation import metrics as m
from likewise.exceptions import InvalidParameterError
from likewise.models.base import Recommender

__all__ = [
    "SKIP_NO_RELEVANT",
    "SKIP_NO_TEST",
    "SKIP_UNKNOWN",
    "TestUsers",
    "auc_full_catalogue",
    "count_relevant_in_train",
    "full_catalogue_lists",
    "map_ids",
    "rating_sums",
    "relevance_matrix",
    "sampled_lists",
    "select_test_users",
    "train_item_features",
    "train_popularity",
]

SKIP_NO_TEST = "no test interactions"
SKIP_UNKNOWN = "unknown to the model"
SKIP_NO_RELEVANT = "no relevant test items"
SCORE_CELLS = 4_000_000  # dense score cells per block (AUC, sampled candidates)


@dataclass(frozen=True, eq=False)
class TestUsers:
    """The evaluated users and their test data.

    ``rows``: test rows; ``n_test``: their test interactions; ``muidx``: model user indices;
    ``sub``: their test CSR rows and ``entry_rows`` the evaluated-user position of each
    stored entry; ``gains`` / ``relevant``: graded / binary relevance over model items plus
    one column per test item the model does not know; ``n_unknown_items``: test
    interactions with such an item; ``skipped``: users left out, by reason.
    """

    rows: np.ndarray
    n_test: np.ndarray
    muidx: np.ndarray
    sub: sp.csr_matrix
    entry_rows: np.ndarray
    gains: sp.csr_matrix
    relevant: sp.csr_matrix
    n_unknown_items: int
    skipped: dict[str, int]

    @property
    def n_relevant(self) -> np.ndarray:
        return np.diff(self.relevant.indptr).astype(np.int64)


def select_test_users(
    model: Recommender, test: Interactions, users: Any, threshold: float | None, *, graded: bool
) -> TestUsers:
    """Who is evaluated (skips counted by reason) and what is relevant to them."""
    skipped = {SKIP_NO_TEST: 0, SKIP_UNKNOWN: 0, SKIP_NO_RELEVANT: 0}
    rows = _candidate_rows(test, users, skipped)
    n_test = np.diff(test.matrix.indptr)[rows].astype(np.int64)
    skipped[SKIP_NO_TEST] += int(np.count_nonzero(n_test == 0))
    rows, n_test = rows[n_test > 0], n_test[n_test > 0]
    muidx = map_ids(test.users, model.users_, test.users.ids[rows])
    known = muidx >= 0
    skipped[SKIP_UNKNOWN] += int(np.count_nonzero(~known))
    rows, n_test, muidx = rows[known], n_test[known], muidx[known]
    n_eval = rows.size
    sub = sp.csr_matrix(test.matrix[rows]) if n_eval else sp.csr_matrix((0, test.n_items), dtype=np.float32)
    entry_rows = np.repeat(np.arange(n_eval, dtype=np.int64), np.diff(sub.indptr))
    gains, n_unknown = relevance_matrix(model, test, sub, entry_rows, threshold, graded=graded)
    relevant = gains.copy()
    relevant.data[:] = 1.0
    return TestUsers(rows, n_test, muidx, sub, entry_rows, gains, relevant, n_unknown, skipped)


def _candidate_rows(test: Interactions, users: Any, skipped: dict[str, int]) -> np.ndarray:
    """Test rows to consider; ids not in the test data are counted as having no test."""
    if users is None:
        return np.arange(test.n_users, dtype=np.int64)
    raw = as_1d(users)
    idx = test.users.to_index(raw, missing="negative").astype(np.int64)
    idx_known = np.unique(idx[idx >= 0])
    skipped[SKIP_NO_TEST] += int(np.unique(np.asarray(raw)[idx < 0]).size)
    return idx_known


def map_ids(source: IdMap, target: IdMap, ids: np.ndarray) -> np.ndarray:
    """Indices in `target` of raw `ids` (which come from `source`); -1 when unknown."""
    if source == target:
        return source.to_index(ids) if ids.size else np.zeros(0, dtype=np.int32)
    if ids.size == 0:
        return np.zeros(0, dtype=np.int32)
    if len(target) and (source.is_str != target.is_str):
        return np.full(ids.size, -1, dtype=np.int32)
    return target.to_index(ids, missing="negative")


def relevance_matrix(
    model: Recommender,
    test: Interactions,
    sub: sp.csr_matrix,
    entry_rows: np.ndarray,
    threshold: float | None,
    *,
    graded: bool = False,
) -> tuple[sp.csr_matrix, int]:
    """Relevance (evaluated users x model items, plus one extra column per test item the
    model does not know) and the number of test interactions with such an item.

    Entries are 1 (binary) or the test values (``graded``, which must then be positive)."""
    item_map = map_ids(test.items, model.items_, test.items.ids).astype(np.int64)
    unknown = item_map < 0
    n_unknown = int(unknown.sum())
    item_map[unknown] = model.n_items + np.arange(n_unknown)
    keep = np.ones(sub.nnz, dtype=bool) if threshold is None else sub.data >= threshold
    if graded:
        values = sub.data[keep].astype(np.float64)
        if values.size and not (np.isfinite(values).all() and values.min() > 0):
            raise InvalidParameterError(
                f"relevance='graded' uses test values as gains, which must be positive; got {values.min():g} "
                "(set relevance_threshold to keep only positive values relevant)"
            )
    else:
        values = np.ones(int(keep.sum()))
    relevant = sp.csr_matrix(
        (values, (entry_rows[keep], item_map[sub.indices][keep])),
        shape=(sub.shape[0], model.n_items + n_unknown),
    )
    relevant.sum_duplicates()
    relevant.sort_indices()
    if not graded:
        relevant.data[:] = 1.0
    return relevant, int(np.count_nonzero(unknown[sub.indices]))


def full_catalogue_lists(model: Recommender, muidx: np.ndarray, width: int, exclude_seen: bool) -> np.ndarray:
    """Top-`width` item indices of every user over the whole catalogue (one batch call)."""
    if muidx.size == 0:
        return np.empty((0, width), dtype=np.int32)
    return model.recommend_indices(muidx, width, seen=exclude_seen)[0]


def sampled_lists(
    model: Recommender,
    muidx: np.ndarray,
    test_items: sp.csr_matrix,
    relevant: sp.csr_matrix,
    width: int,
    n_negatives: int,
    exclude_seen: bool,
    want_auc: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-`width` lists and AUC over each user's candidates: their relevant known test
    items (minus training items when `exclude_seen`) plus `n_negatives` items drawn
    uniformly from those the user has no training or test interaction with.

    `test_items` marks every test interaction of the evaluated users over model items.
    Works on dense blocks of users: a random key per (user, item), forbidden items set to
    infinity, the `n_negatives` smallest keys kept; the model ranks each block with every
    non-candidate dropped (`recommend_indices` with a per-row ``seen`` matrix).
    """
    n_eval, n_items = muidx.size, model.n_items
    recs = np.full((n_eval, width), -1, dtype=np.int32)
    auc_values = np.full(n_eval, np.nan)
    if n_eval == 0 or n_items == 0:
        return recs, auc_values
    rel_known = sp.csr_matrix(relevant[:, :n_items])
    take = min(n_negatives, n_items)
    step = max(1, SCORE_CELLS // n_items)
    for start in range(0, n_eval, step):
        block = slice(start, min(start + step, n_eval))
        b = block.stop - block.start
        seen = _dense_rows(model.seen_[muidx[block]], n_items)
        forbidden = seen | _dense_rows(test_items[block], n_items)
        keys = rng.random((b, n_items))
        keys[forbidden] = np.inf
        chosen = np.argpartition(keys, take - 1, axis=1)[:, :take] if take < n_items else None
        if chosen is None:
            candidate = ~forbidden
        else:
            candidate = np.zeros((b, n_items), dtype=bool)
            rows = np.repeat(np.arange(b), take)
            picked = chosen.reshape(-1)
            ok = np.isfinite(keys[rows, picked])
            candidate[rows[ok], picked[ok]] = True
        positive = _dense_rows(rel_known[block], n_items)
        if exclude_seen:
            positive &= ~seen
        candidate |= positive
        recs[block] = model.recommend_indices(muidx[block], width, seen=sp.csr_matrix(~candidate))[0]
        if want_auc:
            scores = model.score_indices(muidx[block])
            scores[~candidate] = np.nan
            auc_values[block] = m.auc(scores, positive, exclude=~candidate)
    return recs, auc_values


def _dense_rows(matrix: sp.csr_matrix, n_cols: int) -> np.ndarray:
    """Boolean dense rows marking the stored entries of a CSR block."""
    n_rows = matrix.shape[0]
    out = np.zeros((n_rows, n_cols), dtype=bool)
    out[np.repeat(np.arange(n_rows), np.diff(matrix.indptr)), matrix.indices] = True
    return out


def auc_full_catalogue(
    model: Recommender, muidx: np.ndarray, relevant: sp.csr_matrix, exclude_seen: bool
) -> np.ndarray:
    """AUC of every user over the whole catalogue (minus training items with `exclude_seen`)."""
    out = np.full(muidx.size, np.nan)
    if muidx.size == 0:
        return out
    step = max(1, SCORE_CELLS // max(model.n_items, 1))
    for start in range(0, muidx.size, step):
        block = slice(start, min(start + step, muidx.size))
        scores = model.score_indices(muidx[block]).astype(np.float64)
        exclude = model.seen_[muidx[block]] if exclude_seen else None
        out[block] = m.auc(scores, relevant[block], exclude=exclude)
    return out


def train_popularity(train: Interactions, model: Recommender) -> tuple[np.ndarray, int]:
    """Number of training users per model item, and the number of training users."""
    binary = sp.csr_matrix(train.matrix, copy=True)
    binary.sum_duplicates()
    counts = np.bincount(binary.indices, minlength=train.n_items).astype(np.float64)
    n_users = int(np.count_nonzero(np.diff(binary.indptr)))
    target = map_ids(train.items, model.items_, train.items.ids)
    pop = np.zeros(model.n_items, dtype=np.float64)
    found = target >= 0
    np.add.at(pop, target[found], counts[found])
    return pop, n_users


def train_item_features(train: Interactions, model: Recommender) -> sp.csr_matrix:
    """The training item features, one row per model item (zero rows for items without)."""
    assert train.item_features is not None
    feats = sp.csr_matrix(train.item_features.matrix)
    if train.items == model.items_:
        return feats
    source = map_ids(model.items_, train.items, model.items_.ids).astype(np.int64)
    selector = sp.csr_matrix(
        (np.ones(int((source >= 0).sum())), (np.flatnonzero(source >= 0), source[source >= 0])),
        shape=(model.n_items, train.n_items),
    )
    return sp.csr_matrix(selector @ feats)


def count_relevant_in_train(model: Recommender, muidx: np.ndarray, relevant: sp.csr_matrix) -> int:
    """Relevant test items the user also had in training (leakage; unrecommendable when
    ``exclude_seen``)."""
    if muidx.size == 0:
        return 0
    seen = sp.csr_matrix(model.seen_[muidx], dtype=np.float64, copy=True)
    seen.data[:] = 1.0  # a stored 0 rating is an interaction too
    return int(relevant[:, : model.n_items].multiply(seen).nnz)


def rating_sums(
    model: Recommender, test: Interactions, users: TestUsers
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per evaluated user: sum of squared errors, of absolute errors, count; and #unpredicted."""
    sub, entry_rows, muidx = users.sub, users.entry_rows, users.muidx
    n_eval = muidx.size
    if sub.nnz == 0:
        zeros = np.zeros(n_eval)
        return zeros, zeros.copy(), zeros.copy(), 0
    user_ids = model.users_.ids[muidx[entry_rows]]
    pred = model.predict(user_ids, test.items.ids[sub.indices]).astype(np.float64)
    err = pred - sub.data.astype(np.float64)
    ok = np.isfinite(err)
    rows = entry_rows[ok]
    sq = np.bincount(rows, weights=err[ok] ** 2, minlength=n_eval)
    ab = np.bincount(rows, weights=np.abs(err[ok]), minlength=n_eval)
    count = np.bincount(rows, minlength=n_eval).astype(np.float64)
    return sq, ab, count, int(np.count_nonzero(~ok))
