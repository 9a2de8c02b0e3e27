"""Folds and trials as tasks, run inline or in a pool of spawned worker processes.

See `likewise.evaluation.tuning` for the threading rule: each worker gets
``max(1, cores // n_jobs)`` threads, models with an unset ``n_threads`` get that many, so the
workers together never ask for more threads than there are cores.
"""

from __future__ import annotations

import numbers
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from likewise.data.interactions import Interactions
from likewise.evaluation._protocol import EvaluationProtocol
from likewise.evaluation.evaluate import evaluate
from likewise.evaluation.split import Split, kfold
from likewise.exceptions import InvalidParameterError
from likewise.models.base import Recommender

__all__ = ["Task", "TaskProgress", "as_splits", "check_n_jobs", "run_tasks", "threads_per_worker", "with_threads"]

TaskProgress = Callable[[int, int], None]
"""Called with (tasks done, tasks in all) after each fold / trial finishes."""


@dataclass(frozen=True)
class Task:
    """Fit a fresh ``model_class(**params)`` on ``train`` and evaluate it on ``test``."""

    index: int
    model_class: type[Recommender]
    params: dict[str, Any]
    train: Interactions
    test: Interactions
    protocol: EvaluationProtocol


def init_worker(n_threads: int) -> None:
    """Limit every thread pool of a worker process to `n_threads`."""
    import numba
    from threadpoolctl import threadpool_limits

    from likewise.kernels._threads import resolve_threads

    threadpool_limits(n_threads)
    numba.set_num_threads(resolve_threads(n_threads))


def run_task(task: Task) -> dict[str, Any]:
    """Fit a fresh model on the task's train part and evaluate it on its test part (no bootstrap)."""
    model = task.model_class(**task.params)
    start = time.perf_counter()
    model.fit(task.train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    result = evaluate(model, task.train, task.test, protocol=task.protocol.replace(n_bootstrap=0))
    evaluate_s = time.perf_counter() - start
    values = {str(r["metric"]): float(r["mean"]) for r in result.summary.to_dict("records")}
    return {
        "index": task.index,
        "metrics": values,
        "fit_s": fit_s,
        "evaluate_s": evaluate_s,
        "n_users": int(result.info["n_users_evaluated"]),
    }


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_n_jobs(n_jobs: Any) -> int:
    """`n_jobs` as a number of processes (-1: one per core)."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0 or n_jobs < -1:
        raise InvalidParameterError(f"n_jobs must be a positive integer or -1 (all cores), got {n_jobs!r}")
    return cores() if n_jobs == -1 else int(n_jobs)


def threads_per_worker(n_jobs: int) -> int:
    return max(1, cores() // n_jobs)


def with_threads(model: Recommender, params: dict[str, Any], n_threads: int) -> dict[str, Any]:
    """Give models with an unset ``n_threads`` parameter the worker's share of the cores."""
    out = {**model.get_params(), **params}
    if "n_threads" in out and out["n_threads"] is None:
        out["n_threads"] = n_threads
    return out


def run_tasks(tasks: list[Task], n_jobs: int, progress: TaskProgress | None) -> list[dict[str, Any]]:
    """Run tasks inline (n_jobs == 1) or in a spawn process pool; results in task order."""
    out: list[dict[str, Any] | None] = [None] * len(tasks)
    if n_jobs == 1 or len(tasks) <= 1:
        for done, task in enumerate(tasks, start=1):
            out[task.index] = run_task(task)
            if progress:
                progress(done, len(tasks))
        return [r for r in out if r is not None]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = min(n_jobs, len(tasks))
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp.get_context("spawn"),
        initializer=init_worker,
        initargs=(threads_per_worker(workers),),
    ) as pool:
        futures = [pool.submit(run_task, task) for task in tasks]
        for done, future in enumerate(as_completed(futures), start=1):
            result = future.result()
            out[result["index"]] = result
            if progress:
                progress(done, len(tasks))
    return [r for r in out if r is not None]


def as_splits(
    folds: Any, data: Interactions | None, by: str, random_state: int | np.random.Generator | None
) -> list[Split]:
    """`folds` as a list of splits: `kfold` of `data` for an int, else the given splits."""
    if isinstance(folds, numbers.Integral) and not isinstance(folds, bool):
        if data is None:
            raise InvalidParameterError("an integer number of folds needs data to split")
        return list(kfold(data, n_splits=int(folds), by=by, random_state=random_state))  # type: ignore[arg-type]
    if isinstance(folds, (str, bytes)) or not isinstance(folds, Iterable):
        raise InvalidParameterError(f"folds must be an int or an iterable of splits, got {type(folds).__name__}")
    splits = []
    for number, split in enumerate(folds):
        if isinstance(split, Split):
            splits.append(split)
        elif isinstance(split, tuple) and len(split) == 2 and all(isinstance(p, Interactions) for p in split):
            splits.append(Split(split[0], split[1], {"method": "given", "fold": number}))
        else:
            raise InvalidParameterError(f"fold {number} is not a Split or a (train, test) pair of Interactions")
    if not splits:
        raise InvalidParameterError("folds is empty")
    return splits
