"""Cross-validation and hyper-parameter search, with folds and trials in parallel processes.

- `cross_validate(model, data, folds=5)`: fit a fresh copy of the model on each fold's
  training part, evaluate it on the fold's test part, and aggregate over folds (mean,
  standard deviation and a Student-t interval of the fold means).
- `grid_search(model, space, data)` / `random_search(model, space, data, n_trials=...)`:
  every combination (or ``n_trials`` random draws) of hyper-parameters, each scored on a
  validation split (a per-user holdout by default, or k folds), the best one refitted on all
  of ``data``. `optuna_search` does the same with an Optuna study when Optuna is installed.

Parallelism: with ``n_jobs > 1`` the (trial, fold) tasks run in a pool of ``n_jobs`` worker
processes started with ``spawn`` (no inherited threads or locks). Each worker gets
``max(1, cores // n_jobs)`` threads: numba and BLAS pools are limited to that in the worker,
and models with an ``n_threads`` parameter left at None get it set — so the workers together
never ask for more threads than there are cores. Models, data and results travel between
processes by pickle (models are sent unfitted; fitted models never come back).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from likewise.data.interactions import Interactions
from likewise.evaluation._protocol import EvaluationProtocol, check_confidence, jsonable, records, resolve_protocol
from likewise.evaluation._workers import (
    Task,
    TaskProgress,
    as_splits,
    check_n_jobs,
    run_tasks,
    threads_per_worker,
    with_threads,
)
from likewise.evaluation.search import SearchResult, grid_search, optuna_search, random_search
from likewise.evaluation.split import Split
from likewise.exceptions import InvalidParameterError
from likewise.models.base import Recommender

__all__ = [
    "CrossValidationResult",
    "SearchResult",
    "cross_validate",
    "grid_search",
    "optuna_search",
    "random_search",
]

# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class CrossValidationResult:
    """What `cross_validate` measured.

    Attributes
    ----------
    per_fold : pandas.DataFrame
        One row per fold: ``fold``, ``n_train``, ``n_test``, ``fit_s``, ``evaluate_s`` and one
        column per metric (the fold's mean over users, or its batch value).
    summary : pandas.DataFrame
        One row per metric: ``metric``, ``mean`` (over folds), ``std`` (sample standard
        deviation over folds), ``ci_low`` / ``ci_high`` (Student-t interval of the mean with
        n_folds - 1 degrees of freedom), ``n_folds``.
    info : dict
        Model, k, metrics, relevance settings, folds, n_jobs, threads per worker.
    """

    per_fold: pd.DataFrame
    summary: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, metric: str) -> float:
        """The mean over folds of `metric`."""
        rows = self.summary.loc[self.summary["metric"] == metric, "mean"]
        if rows.empty:
            raise KeyError(f"no metric {metric!r}; evaluated: {list(self.summary['metric'])}")
        return float(rows.iloc[0])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (NaN becomes None)."""
        return {"per_fold": records(self.per_fold), "summary": records(self.summary), "info": jsonable(self.info)}

    def __repr__(self) -> str:
        return f"<CrossValidationResult {len(self.per_fold)} folds>\n{self.summary.to_string(index=False)}"


# --------------------------------------------------------------------------- cross-validation


def cross_validate(
    model: Recommender,
    data: Interactions | None = None,
    *,
    folds: int | Iterable[Split | tuple[Interactions, Interactions]] = 5,
    by: Literal["interaction", "user"] = "interaction",
    k: int = 10,
    metrics: Sequence[str] | str | None = None,
    relevance_threshold: float | None = None,
    relevance: Literal["binary", "graded"] = "binary",
    n_negatives: int | None = None,
    exclude_seen: bool = True,
    confidence: float = 0.95,
    n_jobs: int = 1,
    random_state: int = 0,
    progress: TaskProgress | None = None,
    protocol: EvaluationProtocol | None = None,
) -> CrossValidationResult:
    """K-fold cross-validation of a model: a fresh copy fitted and evaluated on every fold.

    Parameters
    ----------
    model : Recommender
        The model to copy (its parameters are used; it is not fitted itself).
    data : Interactions, optional
        The data to fold (needed when ``folds`` is an int).
    folds : int or iterable of Split / (train, test)
        Number of folds for `kfold` (``by``, ``random_state``), or the splits themselves.
    by : {"interaction", "user"}
        How `kfold` deals the data when ``folds`` is an int.
    k, metrics, relevance_threshold, relevance, n_negatives, exclude_seen
        As in `evaluate` (no bootstrap inside folds: the spread across folds is the interval).
    confidence : float
        Coverage of the Student-t interval over folds.
    n_jobs : int
        Folds run in this many worker processes (-1: one per core); see the module docstring.
    random_state : int
        Seed of the folds and of sampled negatives.
    progress : callable, optional
        ``progress(done, total)`` after each fold.
    protocol : EvaluationProtocol, optional
        k, metrics, relevance_threshold, relevance, n_negatives, exclude_seen, confidence and
        random_state in one object (its n_bootstrap is not used), instead of the keywords.

    Returns
    -------
    CrossValidationResult
    """
    if not isinstance(model, Recommender):
        raise InvalidParameterError(f"model must be a likewise Recommender, got {type(model).__name__}")
    check_confidence(confidence)
    settings = resolve_protocol(
        protocol,
        k=k,
        metrics=metrics,
        relevance_threshold=relevance_threshold,
        relevance=relevance,
        n_negatives=n_negatives,
        exclude_seen=exclude_seen,
        confidence=confidence,
        random_state=random_state,
    )
    n_jobs = check_n_jobs(n_jobs)
    splits = as_splits(folds, data, by, settings.random_state)
    threads = threads_per_worker(min(n_jobs, len(splits))) if n_jobs > 1 else None
    params = with_threads(model, {}, threads) if threads else model.get_params()
    tasks = [Task(i, type(model), params, s.train, s.test, settings) for i, s in enumerate(splits)]
    outputs = run_tasks(tasks, n_jobs, progress)

    metric_names = list(outputs[0]["metrics"])
    rows = []
    for split, out in zip(splits, outputs, strict=True):
        row = {
            "fold": int(split.info.get("fold", out["index"])),
            "n_train": split.train.nnz,
            "n_test": split.test.nnz,
            "fit_s": out["fit_s"],
            "evaluate_s": out["evaluate_s"],
        }
        row.update(out["metrics"])
        rows.append(row)
    per_fold = pd.DataFrame(rows)
    summary = _fold_summary(per_fold, metric_names, settings.confidence)
    info = {
        "model": repr(model),
        "k": settings.k,
        "metrics": metric_names,
        "relevance_threshold": settings.relevance_threshold,
        "relevance": settings.relevance,
        "n_negatives": settings.n_negatives,
        "n_folds": len(splits),
        "folds": by if isinstance(folds, numbers.Integral) else "given",
        "n_jobs": n_jobs,
        "threads_per_worker": threads,
        "confidence": settings.confidence,
        "random_state": settings.random_state,
    }
    return CrossValidationResult(per_fold=per_fold, summary=summary, info=info)


def _fold_summary(per_fold: pd.DataFrame, metric_names: list[str], confidence: float) -> pd.DataFrame:
    from scipy import stats

    records = []
    for metric in metric_names:
        values = per_fold[metric].to_numpy(dtype=np.float64)
        values = values[~np.isnan(values)]
        n = values.size
        mean = float(values.mean()) if n else math.nan
        std = float(values.std(ddof=1)) if n > 1 else math.nan
        if n > 1:
            half = float(stats.t.ppf(0.5 + confidence / 2, df=n - 1)) * std / math.sqrt(n)
            low, high = mean - half, mean + half
        else:
            low = high = math.nan
        records.append((metric, mean, std, low, high, n))
    return pd.DataFrame(records, columns=["metric", "mean", "std", "ci_low", "ci_high", "n_folds"])
