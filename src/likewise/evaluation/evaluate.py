"""`evaluate(model, train, test)`: every metric for every test user, with bootstrap intervals.

The metrics are those of the registry (`likewise.evaluation._registry`); the settings are an
`EvaluationProtocol` (or the same keywords); the model is reached through its public API only
(`likewise.evaluation._steps`).

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
- **Lists.** One call of ``model.recommend_indices(users, n=k, seen=exclude_seen)`` for all users
  (the model batches internally; with sampled negatives, one call per block of users with
  every non-candidate dropped). With ``exclude_seen=True`` a relevant test item the user
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

from likewise._util import check_int, check_random_state
from likewise.data.interactions import Interactions
from likewise.evaluation import _steps as steps
from likewise.evaluation._protocol import EvaluationProtocol, Lists, jsonable, records, resolve_protocol
from likewise.evaluation._registry import DEFAULT_METRICS, METRICS, RATING_METRICS, REGISTRY, ListContext
from likewise.exceptions import DataWarning, InvalidParameterError
from likewise.models.base import Recommender

__all__ = ["METRICS", "EvaluationProtocol", "EvaluationResult", "evaluate", "run_evaluation"]

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
            "summary": records(self.summary),
            "info": jsonable(self.info),
        }
        if per_user:
            out["per_user"] = records(self.per_user)
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
    protocol: EvaluationProtocol | None = None,
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
    protocol : EvaluationProtocol, optional
        All of the settings above (k ... random_state) in one object, instead of the
        keywords (which must then stay at their defaults).

    Returns
    -------
    EvaluationResult

    Examples
    --------
    >>> protocol = EvaluationProtocol(k=20, metrics=["ndcg", "recall"])  # doctest: +SKIP
    >>> evaluate(model, train, test, protocol=protocol)["ndcg"]  # doctest: +SKIP
    """
    _check_inputs(model, train, test)
    settings = resolve_protocol(
        protocol,
        k=k,
        metrics=metrics,
        relevance_threshold=relevance_threshold,
        relevance=relevance,
        n_negatives=n_negatives,
        exclude_seen=exclude_seen,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        random_state=random_state,
    )
    return run_evaluation(model, train, test, settings, users=users)[0]


def run_evaluation(
    model: Recommender,
    train: Interactions,
    test: Interactions,
    protocol: EvaluationProtocol,
    *,
    users: Any = None,
    list_length: int | None = None,
) -> tuple[EvaluationResult, Lists | None]:
    """`evaluate` under `protocol`, also returning the lists (``list_length`` >= k of them)
    for curves and plots (None when no metric needed lists and no ``list_length`` was asked)."""
    _check_inputs(model, train, test)
    k = protocol.k
    width = k if list_length is None else max(k, check_int(list_length, "list_length", 1))
    rng = check_random_state(protocol.random_state)
    names = _resolve_metrics(protocol.metrics, model, train, test)
    wanted = [REGISTRY[name] for name in names]

    evaluated = steps.select_test_users(
        model, test, users, protocol.relevance_threshold, graded=protocol.relevance == "graded"
    )
    has_relevant = evaluated.n_relevant > 0
    ranking_wanted = any(metric.uses_relevance for metric in wanted)
    if ranking_wanted:
        evaluated.skipped[steps.SKIP_NO_RELEVANT] = int(np.count_nonzero(~has_relevant))

    needs_lists = any(metric.source == "lists" for metric in wanted) or list_length is not None
    recs, auc_values, candidates_info = _rank(model, test, evaluated, protocol, width, needs_lists, names, rng)
    per_user: dict[str, np.ndarray] = {} if auc_values is None else {"auc": auc_values}
    batch: dict[str, tuple[float, int]] = {}
    pop, n_train_users = steps.train_popularity(train, model)
    if needs_lists:
        _list_metrics(recs, k, evaluated, pop, n_train_users, model, train, wanted, per_user, batch)

    info_extra: dict[str, Any] = {}
    if ranking_wanted:
        info_extra["n_relevant_in_train"] = steps.count_relevant_in_train(model, evaluated.muidx, evaluated.relevant)
    ratio = _rating_metrics(model, test, evaluated, names, per_user, info_extra)

    summary = _summary(names, per_user, batch, ratio, protocol, rng)
    frame = pd.DataFrame(
        {"user": test.users.ids[evaluated.rows], "n_test": evaluated.n_test, "n_relevant": evaluated.n_relevant}
    )
    for name in names:
        if name in per_user:
            frame[name] = per_user[name]

    n_evaluated = int(np.count_nonzero(has_relevant)) if ranking_wanted else evaluated.rows.size
    if n_evaluated == 0:
        warnings.warn(
            f"evaluate: no user could be evaluated (skipped: {_describe(evaluated.skipped)})",
            DataWarning,
            stacklevel=3,
        )
    info = _info(model, protocol, names, candidates_info, n_evaluated, evaluated, info_extra)
    result = EvaluationResult(per_user=frame, summary=summary, info=info)
    lists_out = None
    if needs_lists:
        lists_out = Lists(
            recs=recs[has_relevant],
            relevant=sp.csr_matrix(evaluated.relevant[has_relevant]),
            gains=sp.csr_matrix(evaluated.gains[has_relevant]),
            popularity=pop,
            n_items=model.n_items,
        )
    return result, lists_out


# --------------------------------------------------------------------------- steps


def _rank(
    model: Recommender,
    test: Interactions,
    evaluated: steps.TestUsers,
    protocol: EvaluationProtocol,
    width: int,
    needs_lists: bool,
    names: list[str],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The lists (and AUC, which ranks the same candidates) and how the candidates were chosen."""
    want_auc = "auc" in names
    recs = np.empty((0, width), dtype=np.int32)
    auc_values = None
    muidx, exclude_seen = evaluated.muidx, protocol.exclude_seen
    if protocol.n_negatives is not None:
        if needs_lists or want_auc:
            neg_rng = np.random.default_rng(rng.integers(0, 2**63))
            every_test_item = steps.relevance_matrix(model, test, evaluated.sub, evaluated.entry_rows, None)[0]
            recs, sampled_auc = steps.sampled_lists(
                model,
                muidx,
                every_test_item[:, : model.n_items],
                evaluated.relevant,
                width,
                protocol.n_negatives,
                exclude_seen,
                want_auc,
                neg_rng,
            )
            auc_values = sampled_auc if want_auc else None
        return recs, auc_values, f"each user's relevant test items + {protocol.n_negatives} sampled negatives"
    if needs_lists and muidx.size:
        recs = steps.full_catalogue_lists(model, muidx, width, exclude_seen)
    if want_auc:
        auc_values = steps.auc_full_catalogue(model, muidx, evaluated.relevant[:, : model.n_items], exclude_seen)
    return recs, auc_values, "all items" + (" not seen in training" if exclude_seen else "")


def _list_metrics(
    recs: np.ndarray,
    k: int,
    evaluated: steps.TestUsers,
    pop: np.ndarray,
    n_train_users: int,
    model: Recommender,
    train: Interactions,
    wanted: list[Any],
    per_user: dict[str, np.ndarray],
    batch: dict[str, tuple[float, int]],
) -> None:
    """Every list metric of `wanted`, into `per_user` or (batch metrics) `batch`."""
    lists = recs[:, :k]
    n_lists = int(np.count_nonzero((lists >= 0).any(axis=1)))
    context = ListContext(
        lists=lists,
        k=k,
        relevant=evaluated.relevant,
        gains=evaluated.gains,
        popularity=pop,
        n_train_users=n_train_users,
        n_items=model.n_items,
        item_features=lambda: steps.train_item_features(train, model),
    )
    for metric in wanted:
        if metric.source != "lists" or metric.compute is None:
            continue
        if metric.per_user:
            per_user[metric.name] = metric.compute(context)
        else:
            batch[metric.name] = (metric.compute(context), n_lists)


def _rating_metrics(
    model: Recommender,
    test: Interactions,
    evaluated: steps.TestUsers,
    names: list[str],
    per_user: dict[str, np.ndarray],
    info_extra: dict[str, Any],
) -> dict[str, tuple[np.ndarray, np.ndarray, bool]]:
    """RMSE / MAE per user (into `per_user`) and the (numerator, denominator, sqrt) of their
    global values."""
    ratio: dict[str, tuple[np.ndarray, np.ndarray, bool]] = {}
    if not any(name in RATING_METRICS for name in names):
        return ratio
    sq, ab, count, unpredicted = steps.rating_sums(model, test, evaluated)
    info_extra["n_ratings_unpredicted"] = unpredicted
    info_extra["n_users_rated"] = int(np.count_nonzero(count))
    rated = count > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if "rmse" in names:
            per_user["rmse"] = np.where(rated, np.sqrt(sq / count), np.nan)
            ratio["rmse"] = (sq[rated], count[rated], True)
        if "mae" in names:
            per_user["mae"] = np.where(rated, ab / count, np.nan)
            ratio["mae"] = (ab[rated], count[rated], False)
    return ratio


def _summary(
    names: list[str],
    per_user: dict[str, np.ndarray],
    batch: dict[str, tuple[float, int]],
    ratio: dict[str, tuple[np.ndarray, np.ndarray, bool]],
    protocol: EvaluationProtocol,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """One row per metric: mean and bootstrap interval (none for batch metrics)."""
    rows = []
    for name in names:
        if name in batch:
            value, n_users = batch[name]
            rows.append((name, value, math.nan, math.nan, n_users))
            continue
        if name in ratio:
            num, den, root = ratio[name]
        else:
            values = per_user[name]
            num = values[~np.isnan(values)]
            den = np.ones_like(num)
            root = False
        mean, low, high = _bootstrap(num, den, root, protocol.n_bootstrap, protocol.confidence, rng)
        rows.append((name, mean, low, high, int(num.size)))
    summary = pd.DataFrame(rows, columns=["metric", "mean", "ci_low", "ci_high", "n_users"])
    summary["n_users"] = summary["n_users"].astype(np.int64)
    return summary


def _info(
    model: Recommender,
    protocol: EvaluationProtocol,
    names: list[str],
    candidates_info: str,
    n_evaluated: int,
    evaluated: steps.TestUsers,
    info_extra: dict[str, Any],
) -> dict[str, Any]:
    random_state = protocol.random_state
    return {
        "model": type(model).__name__,
        "k": protocol.k,
        "metrics": list(names),
        "relevance_threshold": protocol.relevance_threshold,
        "relevance": protocol.relevance,
        "candidates": candidates_info,
        "n_negatives": protocol.n_negatives,
        "exclude_seen": bool(protocol.exclude_seen),
        "n_users_evaluated": n_evaluated,
        "n_users_skipped": {reason: n for reason, n in evaluated.skipped.items() if n},
        "n_test_interactions": int(evaluated.sub.nnz),
        "n_relevant": int(evaluated.relevant.nnz),
        "n_test_items_unknown": evaluated.n_unknown_items,
        **info_extra,
        "n_bootstrap": protocol.n_bootstrap,
        "confidence": protocol.confidence,
        "random_state": random_state if isinstance(random_state, numbers.Integral) else None,
    }


# --------------------------------------------------------------------------- validation


def _check_inputs(model: Any, train: Any, test: Any) -> None:
    if not isinstance(model, Recommender):
        raise InvalidParameterError(f"model must be a likewise Recommender, got {type(model).__name__}")
    model.check_is_fitted()
    for name, data in (("train", train), ("test", test)):
        if not isinstance(data, Interactions):
            raise InvalidParameterError(f"{name} must be a likewise Interactions, got {type(data).__name__}")


def _resolve_metrics(
    metrics: Sequence[str] | str | None, model: Recommender, train: Interactions, test: Interactions
) -> list[str]:
    """The protocol's metric names (or the defaults) checked against the model and the data."""
    rating_ok = bool(model.predicts_ratings) and test.kind == "explicit"
    if metrics is None:
        names = list(DEFAULT_METRICS) + (list(RATING_METRICS) if rating_ok else [])
    else:
        names = list(metrics)
    for name in names:
        metric = REGISTRY[name]
        if metric.needs_ratings and not model.predicts_ratings:
            raise InvalidParameterError(
                f"metric {name!r} needs a model that predicts ratings; {type(model).__name__} does not"
            )
        if metric.needs_ratings and test.kind != "explicit":
            raise InvalidParameterError(f"metric {name!r} needs explicit ratings; the test data is {test.kind}")
        if metric.needs_item_features and train.item_features is None:
            raise InvalidParameterError("metric 'diversity' needs item features on train (Interactions.with_features)")
    return names


# --------------------------------------------------------------------------- statistics


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
