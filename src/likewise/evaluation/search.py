"""Hyper-parameter search: `grid_search`, `random_search` and `optuna_search` (see
`likewise.evaluation.tuning` for how trials run in parallel processes).

Every trial is scored on a validation split of ``data`` (a per-user holdout by default, or
k folds), the best one refitted on all of ``data``.
"""

from __future__ import annotations

import itertools
import math
import numbers
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from likewise.data.interactions import Interactions
from likewise.evaluation._protocol import EvaluationProtocol, jsonable, records, resolve_protocol
from likewise.evaluation._registry import LOWER_IS_BETTER, METRICS
from likewise.evaluation._workers import (
    Task,
    TaskProgress,
    as_splits,
    check_n_jobs,
    run_tasks,
    threads_per_worker,
    with_threads,
)
from likewise.evaluation.evaluate import evaluate
from likewise.evaluation.split import user_split
from likewise.exceptions import InvalidParameterError
from likewise.models.base import Recommender

__all__ = ["SearchResult", "grid_search", "optuna_search", "random_search"]


@dataclass(frozen=True, eq=False)
class SearchResult:
    """What `grid_search` / `random_search` / `optuna_search` found.

    Attributes
    ----------
    results : pandas.DataFrame
        One row per trial: ``trial``, one ``param_<name>`` column per searched parameter,
        ``mean_<metric>`` and ``std_<metric>`` (over folds; 0 with one validation split) for
        every metric, ``fit_s`` (mean per fold), ``rank`` (1 = best by ``metric``).
    metric : str
        The metric that ranks the trials.
    best_params : dict
        The searched parameters of the best trial.
    best_score : float
        Its mean ``metric``.
    best_model : Recommender or None
        A copy of the model with the best parameters, refitted on all of ``data``
        (None with ``refit=False``).
    info : dict
        Settings: k, validation scheme, n_trials, n_jobs, threads per worker, direction.
    """

    results: pd.DataFrame
    metric: str
    best_params: dict[str, Any]
    best_score: float
    best_model: Recommender | None
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (no model)."""
        return {
            "metric": self.metric,
            "best_params": jsonable(self.best_params),
            "best_score": jsonable(self.best_score),
            "results": records(self.results),
            "info": jsonable(self.info),
        }

    def __repr__(self) -> str:
        return (
            f"<SearchResult {len(self.results)} trials, best {self.metric}={self.best_score:.4g} "
            f"with {self.best_params}>"
        )


# --------------------------------------------------------------------------- search


def _check_space(model: Recommender, space: Any) -> dict[str, Any]:
    if not isinstance(space, Mapping) or not space:
        raise InvalidParameterError("space must be a non-empty mapping of parameter name -> values")
    valid = set(model.get_params())
    unknown = sorted(set(space) - valid)
    if unknown:
        raise InvalidParameterError(
            f"{type(model).__name__} has no parameter {', '.join(map(repr, unknown))}; parameters are {sorted(valid)}"
        )
    return dict(space)


def _direction(metric: str) -> bool:
    """True when larger is better."""
    if metric not in METRICS:
        raise InvalidParameterError(f"unknown metric {metric!r}; metrics are {', '.join(METRICS)}")
    return metric not in LOWER_IS_BETTER


def _search(
    model: Recommender,
    trials: list[dict[str, Any]],
    data: Interactions,
    *,
    metric: str,
    protocol: EvaluationProtocol | None,
    settings: dict[str, Any],
    folds: int | None,
    test_fraction: float,
    refit: bool,
    n_jobs: int,
    progress: TaskProgress | None,
    method: str,
) -> SearchResult:
    """Score every trial (on a holdout or folds) and refit the best; `settings` are the
    evaluation keywords of the public search function (``metrics``: the extra ones)."""
    if not isinstance(model, Recommender):
        raise InvalidParameterError(f"model must be a likewise Recommender, got {type(model).__name__}")
    if not isinstance(data, Interactions):
        raise InvalidParameterError(f"data must be a likewise Interactions, got {type(data).__name__}")
    larger_better = _direction(metric)
    n_jobs = check_n_jobs(n_jobs)
    chosen = resolve_protocol(protocol, **settings)
    names = list(dict.fromkeys([metric, *(chosen.metrics or [])]))
    chosen = chosen.replace(metrics=tuple(names))
    random_state = chosen.random_state
    if folds is None:
        splits = [user_split(data, test_fraction, random_state=random_state)]
        scheme = f"per-user holdout, test_fraction={test_fraction}"
    else:
        splits = as_splits(folds, data, "interaction", random_state)
        scheme = f"{len(splits)}-fold cross-validation"
    n_tasks = len(trials) * len(splits)
    threads = threads_per_worker(min(n_jobs, n_tasks)) if n_jobs > 1 else None
    tasks = []
    for t, params in enumerate(trials):
        full = with_threads(model, params, threads) if threads else {**model.get_params(), **params}
        model.clone().set_params(**params)  # unknown names raise here, before any work
        for f, split in enumerate(splits):
            tasks.append(Task(t * len(splits) + f, type(model), full, split.train, split.test, chosen))
    outputs = run_tasks(tasks, n_jobs, progress)

    rows = []
    for t, params in enumerate(trials):
        chunk = outputs[t * len(splits) : (t + 1) * len(splits)]
        row: dict[str, Any] = {"trial": t}
        row.update({f"param_{name}": value for name, value in params.items()})
        for name in names:
            values = np.array([out["metrics"][name] for out in chunk], dtype=np.float64)
            row[f"mean_{name}"] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
            row[f"std_{name}"] = float(np.nanstd(values)) if np.isfinite(values).any() else math.nan
        row["fit_s"] = float(np.mean([out["fit_s"] for out in chunk]))
        rows.append(row)
    results = pd.DataFrame(rows)
    score = results[f"mean_{metric}"]
    results["rank"] = score.rank(ascending=not larger_better, method="min", na_option="bottom").astype(np.int64)
    if score.isna().all():
        raise InvalidParameterError(f"no trial produced a {metric!r} value (no evaluable users?)")
    best = int(np.nanargmax(score.to_numpy()) if larger_better else np.nanargmin(score.to_numpy()))
    best_params = dict(trials[best])
    best_model = None
    if refit:
        best_model = model.clone().set_params(**best_params)
        best_model.fit(data)
    info = {
        "method": method,
        "model": repr(model),
        "k": chosen.k,
        "metric": metric,
        "larger_is_better": larger_better,
        "validation": scheme,
        "n_trials": len(trials),
        "n_jobs": n_jobs,
        "threads_per_worker": threads,
        "relevance_threshold": chosen.relevance_threshold,
        "relevance": chosen.relevance,
        "n_negatives": chosen.n_negatives,
        "random_state": random_state,
    }
    return SearchResult(
        results=results,
        metric=metric,
        best_params=best_params,
        best_score=float(score.iloc[best]),
        best_model=best_model,
        info=info,
    )


def grid_search(
    model: Recommender,
    space: Mapping[str, Sequence[Any]],
    data: Interactions,
    *,
    metric: str = "ndcg",
    metrics: Sequence[str] | None = None,
    k: int = 10,
    folds: int | None = None,
    test_fraction: float = 0.2,
    relevance_threshold: float | None = None,
    relevance: Literal["binary", "graded"] = "binary",
    n_negatives: int | None = None,
    exclude_seen: bool = True,
    refit: bool = True,
    n_jobs: int = 1,
    random_state: int = 0,
    progress: TaskProgress | None = None,
    protocol: EvaluationProtocol | None = None,
) -> SearchResult:
    """Try every combination of the given hyper-parameter values.

    Parameters
    ----------
    model : Recommender
        The model whose other parameters stay as they are.
    space : mapping of str -> sequence
        Parameter name -> values to try, e.g. ``{"n_factors": [32, 64], "reg": [0.01, 0.1]}``.
    data : Interactions
        Split for validation (a per-user holdout with ``test_fraction``, or ``folds`` folds)
        and, with ``refit``, used whole to fit the best model.
    metric : str
        The metric to optimise (rmse, mae, gini, popularity_bias: smaller is better; others larger).
    metrics : sequence of str, optional
        More metrics to record for every trial.
    k, relevance_threshold, relevance, n_negatives, exclude_seen
        As in `evaluate`.
    folds : int, optional
        Cross-validate every trial over this many folds instead of one holdout.
    test_fraction : float
        Held-out share of each user's interactions (without ``folds``).
    refit : bool
        Fit a copy with the best parameters on all of ``data`` (``best_model``).
    n_jobs : int
        (trial, fold) tasks run in this many worker processes (-1: one per core).
    random_state : int
        Seed of the split(s) and of sampled negatives.
    progress : callable, optional
        ``progress(done, total)`` after each (trial, fold).
    protocol : EvaluationProtocol, optional
        k, metrics (the extra ones), relevance_threshold, relevance, n_negatives, exclude_seen
        and random_state in one object (its n_bootstrap is not used), instead of the keywords.

    Returns
    -------
    SearchResult
    """
    space = _check_space(model, space)
    values = []
    for name, options in space.items():
        if isinstance(options, (str, bytes)) or not isinstance(options, Iterable):
            raise InvalidParameterError(f"space[{name!r}] must be a list of values, got {options!r}")
        options = list(options)
        if not options:
            raise InvalidParameterError(f"space[{name!r}] is empty")
        values.append(options)
    trials = [dict(zip(space, combo, strict=True)) for combo in itertools.product(*values)]
    return _search(
        model,
        trials,
        data,
        metric=metric,
        protocol=protocol,
        settings={
            "k": k,
            "metrics": metrics,
            "relevance_threshold": relevance_threshold,
            "relevance": relevance,
            "n_negatives": n_negatives,
            "exclude_seen": exclude_seen,
            "random_state": random_state,
        },
        folds=folds,
        test_fraction=test_fraction,
        refit=refit,
        n_jobs=n_jobs,
        progress=progress,
        method="grid",
    )


def _draw(name: str, spec: Any, rng: np.random.Generator) -> Any:
    if hasattr(spec, "rvs"):
        value = spec.rvs(random_state=rng)
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(spec, (str, bytes)) or not isinstance(spec, Sequence) or len(spec) == 0:
        raise InvalidParameterError(
            f"space[{name!r}] must be a non-empty list of values or a distribution with .rvs "
            f"(e.g. scipy.stats.loguniform(1e-3, 1)), got {spec!r}"
        )
    value = spec[int(rng.integers(len(spec)))]
    return value.item() if isinstance(value, np.generic) else value


def random_search(
    model: Recommender,
    space: Mapping[str, Any],
    data: Interactions,
    *,
    n_trials: int = 20,
    metric: str = "ndcg",
    metrics: Sequence[str] | None = None,
    k: int = 10,
    folds: int | None = None,
    test_fraction: float = 0.2,
    relevance_threshold: float | None = None,
    relevance: Literal["binary", "graded"] = "binary",
    n_negatives: int | None = None,
    exclude_seen: bool = True,
    refit: bool = True,
    n_jobs: int = 1,
    random_state: int = 0,
    progress: TaskProgress | None = None,
    protocol: EvaluationProtocol | None = None,
) -> SearchResult:
    """Try ``n_trials`` random hyper-parameter settings.

    Parameters
    ----------
    model : Recommender
    space : mapping of str -> list or distribution
        Parameter name -> a list (drawn uniformly) or an object with ``rvs(random_state=)``,
        such as ``scipy.stats.loguniform(1e-4, 1e-1)`` or ``scipy.stats.randint(8, 129)``.
    data : Interactions
    n_trials : int
        Number of settings drawn (seeded by ``random_state``; repeats are possible).
    metric, metrics, k, folds, test_fraction, relevance_threshold, relevance, n_negatives,
    exclude_seen, refit, n_jobs, random_state, progress, protocol
        As in `grid_search`.

    Returns
    -------
    SearchResult
    """
    space = _check_space(model, space)
    if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1:
        raise InvalidParameterError(f"n_trials must be a positive integer, got {n_trials!r}")
    rng = np.random.default_rng(random_state)
    trials = [{name: _draw(name, spec, rng) for name, spec in space.items()} for _ in range(int(n_trials))]
    return _search(
        model,
        trials,
        data,
        metric=metric,
        protocol=protocol,
        settings={
            "k": k,
            "metrics": metrics,
            "relevance_threshold": relevance_threshold,
            "relevance": relevance,
            "n_negatives": n_negatives,
            "exclude_seen": exclude_seen,
            "random_state": random_state,
        },
        folds=folds,
        test_fraction=test_fraction,
        refit=refit,
        n_jobs=n_jobs,
        progress=progress,
        method="random",
    )


def optuna_search(
    model: Recommender,
    space: Callable[[Any], dict[str, Any]],
    data: Interactions,
    *,
    n_trials: int = 20,
    metric: str = "ndcg",
    k: int = 10,
    test_fraction: float = 0.2,
    relevance_threshold: float | None = None,
    refit: bool = True,
    random_state: int = 0,
    protocol: EvaluationProtocol | None = None,
) -> SearchResult:
    """Search with an Optuna study (TPE sampler) when Optuna is installed.

    Trials run one after another in this process (Optuna proposes each setting from the
    results so far), each scored on one per-user holdout of ``data``.

    Parameters
    ----------
    model : Recommender
    space : callable
        ``space(trial) -> dict`` proposing parameters with Optuna's ``trial.suggest_*``, e.g.
        ``lambda t: {"reg": t.suggest_float("reg", 1e-4, 1, log=True)}``.
    data : Interactions
    n_trials, metric, k, test_fraction, relevance_threshold, refit, random_state
        As in `random_search`.
    protocol : EvaluationProtocol, optional
        The evaluation settings in one object (its metrics and n_bootstrap are not used; its
        random_state seeds the split, the sampler and the evaluation), instead of k,
        relevance_threshold and random_state. Without it every trial is evaluated with
        `evaluate`'s defaults for the other settings (seed 0).

    Returns
    -------
    SearchResult

    Raises
    ------
    NotSupportedError
        When Optuna is not installed (``pip install optuna``).
    """
    from likewise.exceptions import NotSupportedError

    try:
        import optuna
    except ImportError as exc:
        raise NotSupportedError("optuna_search needs Optuna: pip install optuna") from exc
    larger_better = _direction(metric)
    if protocol is None:
        chosen = EvaluationProtocol(k=k, metrics=(metric,), relevance_threshold=relevance_threshold, n_bootstrap=0)
    else:
        chosen = resolve_protocol(protocol, k=k, relevance_threshold=relevance_threshold, random_state=random_state)
        chosen = chosen.replace(metrics=(metric,), n_bootstrap=0)
        random_state = chosen.random_state  # type: ignore[assignment]
    train, test = user_split(data, test_fraction, random_state=random_state)
    trials: list[dict[str, Any]] = []
    scores: list[float] = []
    fit_times: list[float] = []

    def objective(trial: Any) -> float:
        params = dict(space(trial))
        candidate = model.clone().set_params(**params)
        start = time.perf_counter()
        candidate.fit(train)
        fit_times.append(time.perf_counter() - start)
        result = evaluate(candidate, train, test, protocol=chosen)
        trials.append(params)
        scores.append(result[metric])
        return result[metric]

    study = optuna.create_study(
        direction="maximize" if larger_better else "minimize",
        sampler=optuna.samplers.TPESampler(seed=random_state),
    )
    study.optimize(objective, n_trials=n_trials)
    rows = []
    for t, (params, value, fit_s) in enumerate(zip(trials, scores, fit_times, strict=True)):
        rows.append(
            {"trial": t, **{f"param_{n}": v for n, v in params.items()}, f"mean_{metric}": value, "fit_s": fit_s}
        )
    results = pd.DataFrame(rows)
    results["rank"] = (
        results[f"mean_{metric}"].rank(ascending=not larger_better, method="min", na_option="bottom").astype(np.int64)
    )
    best = int(np.nanargmax(scores) if larger_better else np.nanargmin(scores))
    best_model = model.clone().set_params(**trials[best]).fit(data) if refit else None
    info = {"method": "optuna", "model": repr(model), "k": chosen.k, "metric": metric, "n_trials": n_trials}
    return SearchResult(results, metric, dict(trials[best]), float(scores[best]), best_model, info)
