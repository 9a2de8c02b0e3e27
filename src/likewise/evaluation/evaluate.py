"""`evaluate(model, train, test)`: every metric for every test user, with bootstrap intervals.

What is evaluated
-----------------
- **Users.** The test users are the rows of ``test`` with at least one interaction (or the
  raw ids given in ``users=``). A user is skipped, and counted in ``info["n_users_skipped"]``
  under its reason, when they have no test interaction ("no test interactions"), when the
  model does not know them ("unknown to the model"), or — for the ranking metrics only —
  when none of their test items is relevant ("no relevant test items"). Nobody is dropped
  silently.
- **Relevance.** Every test interaction is relevant (gain 1), or only those whose value is
  ``>= relevance_threshold`` (a rating threshold for explicit data, a weight threshold for
  implicit data). Test items the model does not know stay relevant (the model cannot
  recommend them, which is its loss) and are counted in ``info["n_test_items_unknown"]``.
  With ``relevance="graded"`` NDCG uses the relevant test values as gains (which must be
  positive); the other ranking metrics stay binary.
- **Candidates.** By default every item the model knows (minus the user's training items
  with ``exclude_seen``). With ``n_negatives=N``, each user's candidates are their relevant
  test items plus N items sampled uniformly (seeded by ``random_state``) from the items
  they have no training or test interaction with; lists and AUC rank only those, and
  ``info["candidates"]`` says so (such numbers are not comparable with full-catalogue ones).
- **Lists.** One call of ``model.recommend(users, n=k, exclude_seen=...)`` for all users
  (the model batches internally; with sampled negatives, blocks of dense scores masked to
  each user's candidates). With ``exclude_seen=True`` a relevant test item the user
  also had in training can never be recommended: ``info["n_relevant_in_train"]``
  counts them (0 after a split without leakage).
- **Ratings.** ``rmse`` / ``mae`` compare ``model.predict`` with every test rating of the
  evaluated users (no threshold); pairs the model cannot score (NaN) are left out and
  counted in ``info["n_ratings_unpredicted"]``.

Summary statistics
------------------
``summary.mean`` is the mean over users of the per-user values (NaN users excluded and
``n_users`` says how many remained), except for ``rmse`` / ``mae`` where it is the usual
global value over all test ratings (per-user columns hold each user's own RMSE / MAE), and
for the batch metrics (``coverage``, ``gini``, ``personalisation``) which are one number for
the whole set of lists and have no interval (NaN).

Intervals are percentile bootstrap intervals over users: ``n_bootstrap`` resamples of the
evaluated users with replacement (a matrix of resampled positions, processed in chunks so
memory stays bounded), the statistic recomputed on each, and the ``(1 - confidence) / 2``
and ``(1 + confidence) / 2`` quantiles taken. ``random_state`` makes them reproducible.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from likewise.data.idmap import IdMap
from likewise.data.interactions import Interactions
from likewise.evaluation import metrics as _m
from likewise.exceptions import DataWarning, InvalidParameterError
from likewise.kernels.topk import topk_rows
from likewise.models.base import Recommender

__all__ = ["METRICS", "EvaluationResult", "evaluate"]

_RANKING = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "auc")
_LIST = ("novelty", "diversity", "popularity_bias")
_BATCH = ("coverage", "gini", "personalisation")
_RATING = ("rmse", "mae")
METRICS: tuple[str, ...] = _RANKING + _RATING + _LIST + _BATCH
"""Every metric name `evaluate` accepts."""

_DEFAULT = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "coverage")
_RANK_FUNCS = {
    "precision": _m.precision_at_k,
    "recall": _m.recall_at_k,
    "ndcg": _m.ndcg_at_k,
    "map": _m.average_precision_at_k,
    "mrr": _m.reciprocal_rank,
    "hit_rate": _m.hit_rate_at_k,
}
_SKIP_NO_TEST = "no test interactions"
_SKIP_UNKNOWN = "unknown to the model"
_SKIP_NO_RELEVANT = "no relevant test items"
_SCORE_CELLS = 4_000_000  # dense score cells per block for AUC
_BOOT_CELLS = 4_000_000  # resampled positions per bootstrap chunk


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """What `evaluate` measured.

    Attributes
    ----------
    per_user : pandas.DataFrame
        One row per evaluated user: ``user`` (raw id), ``n_test`` (test interactions),
        ``n_relevant``, then one column per per-user metric (NaN where undefined).
    summary : pandas.DataFrame
        One row per metric: ``metric``, ``mean``, ``ci_low``, ``ci_high``, ``n_users``.
    info : dict
        Settings and counts: users evaluated, users skipped by reason, unknown test items, ...
    """

    per_user: pd.DataFrame
    summary: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, metric: str) -> float:
        """The summary mean of `metric` (``result["ndcg"]``)."""
        rows = self.summary.loc[self.summary["metric"] == metric, "mean"]
        if rows.empty:
            raise KeyError(f"no metric {metric!r}; evaluated: {list(self.summary['metric'])}")
        return float(rows.iloc[0])

    def to_dict(self, *, per_user: bool = False) -> dict[str, Any]:
        """A JSON-able dict: ``summary`` (list of rows), ``info`` and, optionally, ``per_user``.

        NaN becomes None; numpy scalars become Python numbers.

        Parameters
        ----------
        per_user : bool
            Include the per-user table (as a list of rows).

        Returns
        -------
        dict
        """
        out: dict[str, Any] = {
            "summary": _records(self.summary),
            "info": _jsonable(self.info),
        }
        if per_user:
            out["per_user"] = _records(self.per_user)
        return out

    def __repr__(self) -> str:
        n = self.info.get("n_users_evaluated", "?")
        k = self.info.get("k", "?")
        return f"<EvaluationResult k={k}, {n} users>\n{self.summary.to_string(index=False)}"


def evaluate(
    model: Recommender,
    train: Interactions,
    test: Interactions,
    *,
    k: int = 10,
    metrics: Sequence[str] | str | None = None,
    relevance_threshold: float | None = None,
    relevance: Literal["binary", "graded"] = "binary",
    n_negatives: int | None = None,
    exclude_seen: bool = True,
    users: Any = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
) -> EvaluationResult:
    """Measure a fitted model on a test set (see the module docstring for every rule).

    Parameters
    ----------
    model : Recommender
        A fitted model (normally fitted on ``train``).
    train : Interactions
        The training data: its item popularity feeds ``novelty`` and ``popularity_bias``, its
        item features ``diversity``.
    test : Interactions
        Held-out interactions (usually sharing id maps with ``train``, as splits produce).
    k : int
        Length of the recommendation lists (the cut-off of every ranking metric).
    metrics : sequence of str, optional
        Names from `METRICS`. Default: precision, recall, ndcg, map, mrr, hit_rate and
        coverage, plus rmse and mae when the model predicts ratings and ``test`` is explicit.
    relevance_threshold : float, optional
        Test interactions with a value ``>=`` this are relevant; default: all of them.
    relevance : {"binary", "graded"}
        ``"graded"``: NDCG uses each relevant test value (rating, count) as its gain, with
        the ideal DCG over the user's relevant items sorted by gain; the other ranking
        metrics stay binary. Gains must be positive.
    n_negatives : int, optional
        Candidate set. None (default): every item the model knows, minus the user's
        training items when ``exclude_seen``. An integer: each user's relevant test items
        plus this many items sampled uniformly (seeded by ``random_state``) from the items
        the user has no training or test interaction with; lists and AUC rank only those
        candidates. ``info["candidates"]`` records which.
    exclude_seen : bool
        Do not recommend (nor rank, for ``auc``) items the user had in training.
    users : array-like, optional
        Raw user ids to evaluate (default: every test user).
    n_bootstrap : int
        Bootstrap resamples for the intervals (0: no intervals).
    confidence : float
        Interval coverage, strictly between 0 and 1.
    random_state : int, numpy Generator or None
        Seed of the bootstrap (and of the sampled negatives).

    Returns
    -------
    EvaluationResult
    """
    return _evaluate(
        model,
        train,
        test,
        k=k,
        metrics=metrics,
        relevance_threshold=relevance_threshold,
        relevance=relevance,
        n_negatives=n_negatives,
        exclude_seen=exclude_seen,
        users=users,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        random_state=random_state,
    )[0]


@dataclass(frozen=True, eq=False)
class _Lists:
    """What `_evaluate` ranked, for curves and plots (`compare`, reports).

    ``recs``: model item indices (n_evaluated, width >= k), ``-1`` padding, for the users
    evaluated by the ranking metrics; ``relevant`` / ``gains`` their relevance (binary /
    graded; columns past ``n_items`` are test items the model does not know);
    ``popularity``: training users per model item.
    """

    recs: np.ndarray
    relevant: sp.csr_matrix
    gains: sp.csr_matrix
    popularity: np.ndarray
    n_items: int


def _evaluate(
    model: Recommender,
    train: Interactions,
    test: Interactions,
    *,
    k: int = 10,
    metrics: Sequence[str] | str | None = None,
    relevance_threshold: float | None = None,
    relevance: str = "binary",
    n_negatives: int | None = None,
    exclude_seen: bool = True,
    users: Any = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
    list_length: int | None = None,
) -> tuple[EvaluationResult, _Lists | None]:
    """`evaluate`, also returning the lists (``list_length`` >= k of them) for curves."""
    _check_inputs(model, train, test)
    k = _check_int(k, "k", 1)
    width = k if list_length is None else max(k, _check_int(list_length, "list_length", 1))
    n_bootstrap = _check_int(n_bootstrap, "n_bootstrap", 0)
    confidence = _check_confidence(confidence)
    threshold = _check_threshold(relevance_threshold)
    if relevance not in ("binary", "graded"):
        raise InvalidParameterError(f"relevance must be 'binary' or 'graded', got {relevance!r}")
    if n_negatives is not None:
        n_negatives = _check_int(n_negatives, "n_negatives", 1)
    rng = _rng(random_state)
    names = _resolve_metrics(metrics, model, train, test)

    # ---- who is evaluated, and what is relevant to them
    skipped = {_SKIP_NO_TEST: 0, _SKIP_UNKNOWN: 0, _SKIP_NO_RELEVANT: 0}
    rows, n_test, muidx = _select_users(model, test, users, skipped)
    n_eval = rows.size
    sub = sp.csr_matrix(test.matrix[rows]) if n_eval else sp.csr_matrix((0, test.n_items), dtype=np.float32)
    entry_rows = np.repeat(np.arange(n_eval, dtype=np.int64), np.diff(sub.indptr))
    gains, n_unknown_items = _relevance_matrix(model, test, sub, entry_rows, threshold, graded=relevance == "graded")
    relevant = gains.copy()
    relevant.data[:] = 1.0
    n_relevant = np.diff(relevant.indptr).astype(np.int64)
    has_relevant = n_relevant > 0

    ranking_wanted = any(name in _RANKING for name in names)
    if ranking_wanted:
        skipped[_SKIP_NO_RELEVANT] = int(np.count_nonzero(~has_relevant))

    per_user: dict[str, np.ndarray] = {}
    batch: dict[str, tuple[float, int]] = {}
    ratio: dict[str, tuple[np.ndarray, np.ndarray, bool]] = {}
    info_extra: dict[str, Any] = {}

    # ---- lists (and AUC, which ranks the same candidates)
    needs_lists = any(name != "auc" and name not in _RATING for name in names) or list_length is not None
    recs = np.empty((0, width), dtype=np.int32)
    if n_negatives is not None:
        if needs_lists or "auc" in names:
            neg_rng = np.random.default_rng(rng.integers(0, 2**63))
            every_test_item = _relevance_matrix(model, test, sub, entry_rows, None)[0][:, : model.n_items]
            recs, auc_values = _sampled_lists(
                model, muidx, every_test_item, relevant, width, n_negatives, exclude_seen, "auc" in names, neg_rng
            )
            if "auc" in names:
                per_user["auc"] = auc_values
        candidates_info = f"each user's relevant test items + {n_negatives} sampled negatives"
    else:
        if needs_lists and n_eval:
            recs = model.recommend(model.users_.ids[muidx], n=width, exclude_seen=exclude_seen).indices
        if "auc" in names:
            per_user["auc"] = _auc(model, muidx, relevant[:, : model.n_items], exclude_seen)
        candidates_info = "all items" + (" not seen in training" if exclude_seen else "")
    pop, n_train_users = _train_popularity(train, model)
    if needs_lists:
        lists = recs[:, :k]
        n_lists = int(np.count_nonzero((lists >= 0).any(axis=1)))
        for name in names:
            if name == "ndcg":
                per_user[name] = _m.ndcg_at_k(lists, gains, k)
            elif name in _RANK_FUNCS:
                per_user[name] = _RANK_FUNCS[name](lists, relevant, k)
            elif name == "novelty":
                per_user[name] = _m.novelty(lists, pop, max(n_train_users, int(pop.max(initial=0)), 1))
            elif name == "popularity_bias":
                per_user[name] = _m.popularity_bias(lists, pop)
            elif name == "diversity":
                per_user[name] = _m.intra_list_diversity(lists, _train_item_features(train, model))
            elif name == "coverage":
                batch[name] = (_m.catalogue_coverage(lists, model.n_items), n_lists)
            elif name == "gini":
                batch[name] = (_m.gini_index(lists, model.n_items), n_lists)
            elif name == "personalisation":
                batch[name] = (_m.personalisation(lists, model.n_items), n_lists)

    if ranking_wanted:
        info_extra["n_relevant_in_train"] = _count_relevant_in_train(model, muidx, relevant)

    # ---- ratings
    rating_names = [name for name in names if name in _RATING]
    if rating_names:
        sq, ab, count, unpredicted = _rating_sums(model, test, sub, entry_rows, muidx)
        info_extra["n_ratings_unpredicted"] = unpredicted
        info_extra["n_users_rated"] = int(np.count_nonzero(count))
        with np.errstate(divide="ignore", invalid="ignore"):
            if "rmse" in names:
                per_user["rmse"] = np.where(count > 0, np.sqrt(sq / count), np.nan)
                ratio["rmse"] = (sq[count > 0], count[count > 0], True)
            if "mae" in names:
                per_user["mae"] = np.where(count > 0, ab / count, np.nan)
                ratio["mae"] = (ab[count > 0], count[count > 0], False)

    # ---- summary with bootstrap intervals
    records = []
    for name in names:
        if name in batch:
            value, n_users = batch[name]
            records.append((name, value, math.nan, math.nan, n_users))
            continue
        if name in ratio:
            num, den, root = ratio[name]
        else:
            values = per_user[name]
            num = values[~np.isnan(values)]
            den = np.ones_like(num)
            root = False
        mean, low, high = _bootstrap(num, den, root, n_bootstrap, confidence, rng)
        records.append((name, mean, low, high, int(num.size)))
    summary = pd.DataFrame(records, columns=["metric", "mean", "ci_low", "ci_high", "n_users"])
    summary["n_users"] = summary["n_users"].astype(np.int64)

    frame = pd.DataFrame({"user": test.users.ids[rows], "n_test": n_test, "n_relevant": n_relevant})
    for name in names:
        if name in per_user:
            frame[name] = per_user[name]

    n_evaluated = int(np.count_nonzero(has_relevant)) if ranking_wanted else n_eval
    if n_evaluated == 0:
        warnings.warn(
            f"evaluate: no user could be evaluated (skipped: {_describe(skipped)})",
            DataWarning,
            stacklevel=3,
        )
    info: dict[str, Any] = {
        "model": type(model).__name__,
        "k": k,
        "metrics": list(names),
        "relevance_threshold": threshold,
        "relevance": relevance,
        "candidates": candidates_info,
        "n_negatives": n_negatives,
        "exclude_seen": bool(exclude_seen),
        "n_users_evaluated": n_evaluated,
        "n_users_skipped": {reason: n for reason, n in skipped.items() if n},
        "n_test_interactions": int(sub.nnz),
        "n_relevant": int(relevant.nnz),
        "n_test_items_unknown": n_unknown_items,
        **info_extra,
        "n_bootstrap": n_bootstrap,
        "confidence": confidence,
        "random_state": random_state if isinstance(random_state, numbers.Integral) else None,
    }
    result = EvaluationResult(per_user=frame, summary=summary, info=info)
    lists_out = None
    if needs_lists:
        keep = has_relevant
        lists_out = _Lists(
            recs=recs[keep],
            relevant=sp.csr_matrix(relevant[keep]),
            gains=sp.csr_matrix(gains[keep]),
            popularity=pop,
            n_items=model.n_items,
        )
    return result, lists_out


# --------------------------------------------------------------------------- validation


def _check_inputs(model: Any, train: Any, test: Any) -> None:
    if not isinstance(model, Recommender):
        raise InvalidParameterError(f"model must be a likewise Recommender, got {type(model).__name__}")
    model.check_is_fitted()
    for name, data in (("train", train), ("test", test)):
        if not isinstance(data, Interactions):
            raise InvalidParameterError(f"{name} must be a likewise Interactions, got {type(data).__name__}")


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise InvalidParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < float(value) < 1.0:
        raise InvalidParameterError(f"confidence must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def _check_threshold(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InvalidParameterError(f"relevance_threshold must be a finite number or None, got {value!r}")
    return float(value)


def _rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral) or int(random_state) < 0:
        raise InvalidParameterError(
            f"random_state must be a non-negative int, a numpy.random.Generator or None, got {random_state!r}"
        )
    return np.random.default_rng(int(random_state))


def _resolve_metrics(
    metrics: Sequence[str] | str | None, model: Recommender, train: Interactions, test: Interactions
) -> list[str]:
    rating_ok = bool(model.predicts_ratings) and test.kind == "explicit"
    if metrics is None:
        names = list(_DEFAULT) + (list(_RATING) if rating_ok else [])
    else:
        requested = [metrics] if isinstance(metrics, str) else list(metrics)
        if not requested:
            raise InvalidParameterError("metrics is empty; give at least one name or None")
        unknown = [m for m in requested if m not in METRICS]
        if unknown:
            raise InvalidParameterError(
                f"unknown metric{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"metrics are {', '.join(METRICS)}"
            )
        names = list(dict.fromkeys(requested))
    for name in names:
        if name in _RATING and not model.predicts_ratings:
            raise InvalidParameterError(
                f"metric {name!r} needs a model that predicts ratings; {type(model).__name__} does not"
            )
        if name in _RATING and test.kind != "explicit":
            raise InvalidParameterError(f"metric {name!r} needs explicit ratings; the test data is {test.kind}")
        if name == "diversity" and train.item_features is None:
            raise InvalidParameterError("metric 'diversity' needs item features on train (Interactions.with_features)")
    return names


# --------------------------------------------------------------------------- helpers


def _select_users(
    model: Recommender, test: Interactions, users: Any, skipped: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test rows to evaluate, their test counts and model user indices; skips are counted."""
    rows = _candidate_rows(test, users, skipped)
    n_test = np.diff(test.matrix.indptr)[rows].astype(np.int64)
    skipped[_SKIP_NO_TEST] += int(np.count_nonzero(n_test == 0))
    rows, n_test = rows[n_test > 0], n_test[n_test > 0]
    muidx = _map_ids(test.users, model.users_, test.users.ids[rows])
    known = muidx >= 0
    skipped[_SKIP_UNKNOWN] += int(np.count_nonzero(~known))
    return rows[known], n_test[known], muidx[known]


def _relevance_matrix(
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
    item_map = _map_ids(test.items, model.items_, test.items.ids).astype(np.int64)
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


def _sampled_lists(
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
    Works on dense blocks of users (the blocks the scores come in anyway): a random key per
    (user, item), forbidden items set to infinity, the `n_negatives` smallest keys kept.
    """
    n_eval, n_items = muidx.size, model.n_items
    recs = np.full((n_eval, width), -1, dtype=np.int32)
    auc_values = np.full(n_eval, np.nan)
    if n_eval == 0 or n_items == 0:
        return recs, auc_values
    rel_known = sp.csr_matrix(relevant[:, :n_items])
    take = min(n_negatives, n_items)
    step = max(1, _SCORE_CELLS // n_items)
    with model._threads():
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
            scores = np.array(model._score_users(muidx[block].astype(np.int32)), dtype=np.float32)
            scores[~candidate] = np.nan
            recs[block], _ = topk_rows(scores, width)
            if want_auc:
                auc_values[block] = _m.auc(scores, positive, exclude=~candidate)
    return recs, auc_values


def _dense_rows(matrix: sp.csr_matrix, n_cols: int) -> np.ndarray:
    """Boolean dense rows marking the stored entries of a CSR block."""
    n_rows = matrix.shape[0]
    out = np.zeros((n_rows, n_cols), dtype=bool)
    out[np.repeat(np.arange(n_rows), np.diff(matrix.indptr)), matrix.indices] = True
    return out


def _candidate_rows(test: Interactions, users: Any, skipped: dict[str, int]) -> np.ndarray:
    """Test rows to consider; ids not in the test data are counted as having no test."""
    if users is None:
        return np.arange(test.n_users, dtype=np.int64)
    raw = np.asarray(users).reshape(-1) if np.ndim(users) == 0 else users
    idx = test.users.to_index(raw, missing="negative").astype(np.int64)
    idx_known = np.unique(idx[idx >= 0])
    skipped[_SKIP_NO_TEST] += int(np.unique(np.asarray(raw)[idx < 0]).size)
    return idx_known


def _map_ids(source: IdMap, target: IdMap, ids: np.ndarray) -> np.ndarray:
    """Indices in `target` of raw `ids` (which come from `source`); -1 when unknown."""
    if source == target:
        return source.to_index(ids) if ids.size else np.zeros(0, dtype=np.int32)
    if ids.size == 0:
        return np.zeros(0, dtype=np.int32)
    if len(target) and (source.is_str != target.is_str):
        return np.full(ids.size, -1, dtype=np.int32)
    return target.to_index(ids, missing="negative")


def _train_popularity(train: Interactions, model: Recommender) -> tuple[np.ndarray, int]:
    """Number of training users per model item, and the number of training users."""
    binary = sp.csr_matrix(train.matrix, copy=True)
    binary.sum_duplicates()
    counts = np.bincount(binary.indices, minlength=train.n_items).astype(np.float64)
    n_users = int(np.count_nonzero(np.diff(binary.indptr)))
    target = _map_ids(train.items, model.items_, train.items.ids)
    pop = np.zeros(model.n_items, dtype=np.float64)
    found = target >= 0
    np.add.at(pop, target[found], counts[found])
    return pop, n_users


def _train_item_features(train: Interactions, model: Recommender) -> sp.csr_matrix:
    assert train.item_features is not None
    feats = sp.csr_matrix(train.item_features.matrix)
    if train.items == model.items_:
        return feats
    source = _map_ids(model.items_, train.items, model.items_.ids).astype(np.int64)
    selector = sp.csr_matrix(
        (np.ones(int((source >= 0).sum())), (np.flatnonzero(source >= 0), source[source >= 0])),
        shape=(model.n_items, train.n_items),
    )
    return sp.csr_matrix(selector @ feats)


def _count_relevant_in_train(model: Recommender, muidx: np.ndarray, relevant: sp.csr_matrix) -> int:
    """Relevant test items the user also had in training (leakage; unrecommendable when
    ``exclude_seen``)."""
    if muidx.size == 0:
        return 0
    seen = sp.csr_matrix(model.seen_[muidx], dtype=np.float64, copy=True)
    seen.data[:] = 1.0  # a stored 0 rating is an interaction too
    return int(relevant[:, : model.n_items].multiply(seen).nnz)


def _auc(model: Recommender, muidx: np.ndarray, relevant: sp.csr_matrix, exclude_seen: bool) -> np.ndarray:
    out = np.full(muidx.size, np.nan)
    if muidx.size == 0:
        return out
    step = max(1, _SCORE_CELLS // max(model.n_items, 1))
    with model._threads():
        for start in range(0, muidx.size, step):
            block = slice(start, min(start + step, muidx.size))
            scores = np.asarray(model._score_users(muidx[block].astype(np.int32)), dtype=np.float64)
            exclude = model.seen_[muidx[block]] if exclude_seen else None
            out[block] = _m.auc(scores, relevant[block], exclude=exclude)
    return out


def _rating_sums(
    model: Recommender,
    test: Interactions,
    sub: sp.csr_matrix,
    entry_rows: np.ndarray,
    muidx: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per evaluated user: sum of squared errors, of absolute errors, count; and #unpredicted."""
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


def _bootstrap(
    num: np.ndarray,
    den: np.ndarray,
    root: bool,
    n_bootstrap: int,
    confidence: float,
    rng: np.random.Generator,
) -> tuple[float, float, float]:
    """Point estimate sum(num)/sum(den) (sqrt'd when `root`) and its percentile interval."""
    n = num.size
    if n == 0:
        return math.nan, math.nan, math.nan
    point = float(num.sum() / den.sum())
    if n_bootstrap == 0:
        low = high = math.nan
    else:
        stats = np.empty(n_bootstrap)
        chunk = max(1, _BOOT_CELLS // n)
        for start in range(0, n_bootstrap, chunk):
            stop = min(start + chunk, n_bootstrap)
            idx = rng.integers(0, n, size=(stop - start, n))
            stats[start:stop] = num[idx].sum(axis=1) / den[idx].sum(axis=1)
        alpha = 1.0 - confidence
        low, high = (float(q) for q in np.quantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0]))
        # Resampled sums run in another order than the point estimate's: absorb the
        # last-bit differences so a degenerate interval (all values equal) still holds it.
        if low > point and math.isclose(low, point, rel_tol=1e-12, abs_tol=1e-15):
            low = point
        if high < point and math.isclose(high, point, rel_tol=1e-12, abs_tol=1e-15):
            high = point
        if root:
            low, high = math.sqrt(low), math.sqrt(high)
    if root:
        point = math.sqrt(point)
    return point, low, high


def _describe(skipped: dict[str, int]) -> str:
    parts = [f"{n} {reason}" for reason, n in skipped.items() if n]
    return ", ".join(parts) if parts else "no users in the test data"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(col): _jsonable(val) for col, val in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
