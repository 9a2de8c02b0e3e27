"""What the accuracy suites (``accuracy``, ``accuracy-latest``) share: the models and peers, one
pass over a list of folds, intervals, and the rows.

Every row runs on one thread: likewise's models with ``n_threads=1``, Surprise (single-threaded
by construction) and LensKit (``lenskit.parallel.config.initialize(threads=1)``), so the report
may put fit times side by side. RMSE comes from likewise's metric code for every library.

TimeSVDpp and Blend predict each test rating at its own timestamp (``predict_at``, Koren's
protocol for timeSVD++); every other model has no notion of time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.harness import BenchContext, Row, rating_metrics, timed

__all__ = [
    "BAYES",
    "BLEND_BASES",
    "Measured",
    "best_notes",
    "cv_rows",
    "fold_rows",
    "run_folds",
]

THREADS = 1
BAYES = {"n_factors": 10, "n_samples": 200, "burn_in": 20}
QUICK_BAYES = {"n_factors": 10, "n_samples": 50, "burn_in": 10}
BAYES_SVDPP_FORM = {"implicit_feedback": True, "flipped": True}
"""Bayesian SVD++ with the item-side ("flipped") group (Rendle et al. 2019): the best setting of
benchmarks/bayes_study.py on the random folds (0.8795 against 0.8932 for the plain model)."""
KNN = {"k": 40, "min_k": 1, "similarity": "pearson_baseline", "prediction": "baseline"}
BLEND_BASES: list[list[Any]] = [
    ["bayesian-mf", {"n_factors": 10, "n_samples": 100, "burn_in": 20}],
    ["timesvdpp", {}],
    ["itemknn", KNN],
]
"""Blend's base models here: the three best single models of fold 1 (see rating_accuracy's notes)."""
QUICK_BLEND_BASES: list[list[Any]] = [
    ["bayesian-mf", {"n_factors": 10, "n_samples": 30, "burn_in": 10}],
    ["timesvdpp", {}],
    ["itemknn", KNN],
]
BLEND_FOLDS = 3
TIMED = frozenset({"TimeSVDpp", "Blend"})
LENSKIT_KNN = {"max_nbrs": 20, "min_nbrs": 1, "feedback": "explicit"}


@dataclass
class Measured:
    """One model's results over the folds: RMSE, fit seconds and prediction errors per fold."""

    params: dict[str, Any]
    rmse: list[float] = field(default_factory=list)
    fit: list[float] = field(default_factory=list)
    errors: list[np.ndarray] = field(default_factory=list)

    def add(self, pred: np.ndarray, truth: np.ndarray, fit_s: float) -> None:
        pred = np.asarray(pred, dtype=np.float64)
        self.rmse.append(rating_metrics(pred, truth)["rmse"])
        self.fit.append(fit_s)
        self.errors.append(pred - truth)


def likewise_models(quick: bool) -> dict[str, tuple[Callable[[], Any], dict[str, Any]]]:
    """Name -> (factory of a fresh seeded model on one thread, the params shown)."""
    from likewise.models import SVD, BayesianMF, Blend, ItemKNN, SVDpp, TimeSVDpp

    bayes = QUICK_BAYES if quick else BAYES
    bases = QUICK_BLEND_BASES if quick else BLEND_BASES
    seed = 42
    blend_params = {
        "models": " + ".join(
            f"{name}({', '.join(f'{k}={v}' for k, v in params.items())})" if params else name for name, params in bases
        ),
        "n_folds": BLEND_FOLDS,
    }
    return {
        "Blend": (
            lambda: Blend(models=bases, n_folds=BLEND_FOLDS, random_state=seed, n_threads=THREADS),
            blend_params,
        ),
        "BayesianMF": (lambda: BayesianMF(**bayes, random_state=seed, n_threads=THREADS), bayes),
        "BayesianMF SVD++ form": (
            lambda: BayesianMF(**bayes, **BAYES_SVDPP_FORM, random_state=seed, n_threads=THREADS),
            {**bayes, **BAYES_SVDPP_FORM},
        ),
        "TimeSVDpp": (lambda: TimeSVDpp(random_state=seed, n_threads=THREADS), {"n_factors": 20, "n_bins": 30}),
        "SVD": (lambda: SVD(random_state=seed, n_threads=THREADS), {"n_factors": 100}),
        "SVD++": (lambda: SVDpp(random_state=seed, n_threads=THREADS), {"n_factors": 20}),
        "ItemKNN pearson_baseline": (lambda: ItemKNN(**KNN, n_threads=THREADS), {"k": 40}),
    }


def _warm_up(models: dict[str, tuple[Callable[[], Any], dict[str, Any]]], train: Any) -> None:
    """Compile (or load) every kernel outside the timings, on a small part of `train`
    (Blend uses its base models' kernels, warmed here too)."""
    small = train.subset(np.arange(min(train.nnz, 5000)))
    for name, (factory, _) in models.items():
        if name != "Blend":
            factory().fit(small)


def _predict(name: str, model: Any, test: Any) -> np.ndarray:
    users, items = test.users.ids[test.user_indices], test.items.ids[test.item_indices]
    if name in TIMED:
        return np.asarray(model.predict_at(users, items, test.timestamps))
    return np.asarray(model.predict(users, items))


def run_folds(
    ctx: BenchContext, label: str, folds: list[tuple[Any, Any]], *, surprise_svdpp: bool = True
) -> dict[tuple[str, str], Measured]:
    """Fit and score every model of every library on each (train, test) fold."""
    surprise = ctx.peer("surprise")
    lenskit = ctx.peer("lenskit")
    models = likewise_models(ctx.quick)
    _warm_up(models, folds[0][0])
    results: dict[tuple[str, str], Measured] = {}
    for number, (train, test) in enumerate(folds):
        print(f"  {label} fold {number + 1}/{len(folds)}", flush=True)
        truth = test.values.astype(np.float64)
        for name, (factory, params) in models.items():
            model = factory()
            _, fit_s = timed(model.fit, train)
            results.setdefault(("likewise", name), Measured(params)).add(_predict(name, model, test), truth, fit_s)
        if surprise is not None:
            trainset, testset = _surprise_fold(surprise, train, test, ctx.seed)
            peers = [("SVD", surprise.SVD)] + ([("SVDpp", surprise.SVDpp)] if surprise_svdpp else [])
            for name, cls in peers:
                algo = cls(random_state=ctx.seed)
                _, fit_s = timed(algo.fit, trainset)
                pred = np.array([p.est for p in algo.test(testset)])
                results.setdefault(("surprise", name), Measured({"defaults": True})).add(pred, truth, fit_s)
        if lenskit is not None:
            for name, (pred, fit_s, params) in _lenskit_fold(train, test, warm=number == 0).items():
                results.setdefault(("lenskit", name), Measured(params)).add(pred, truth, fit_s)
    return results


def _surprise_fold(surprise: Any, train: Any, test: Any, seed: int) -> tuple[Any, list[tuple[Any, Any, float]]]:
    """Surprise's trainset (training ratings in a seeded random order) and testset."""
    import pandas as pd

    frame = train.to_frame()[["user", "item", "rating"]]
    frame = frame.iloc[np.random.default_rng(seed).permutation(len(frame))].reset_index(drop=True)
    reader = surprise.Reader(rating_scale=tuple(train.rating_scale))
    trainset = surprise.Dataset.load_from_df(pd.DataFrame(frame), reader).build_full_trainset()
    users, items = test.users.ids[test.user_indices], test.items.ids[test.item_indices]
    return trainset, list(zip(users.tolist(), items.tolist(), test.values.astype(float).tolist(), strict=True))


_LENSKIT_READY: list[bool] = []


def _lenskit_fold(train: Any, test: Any, *, warm: bool) -> dict[str, tuple[np.ndarray, float, dict[str, Any]]]:
    """LensKit's explicit scorers (BiasedMF, ItemKNN; its defaults) in predict pipelines with
    its bias fallback: name -> (predictions in test order, fit seconds, params)."""
    import pandas as pd
    from lenskit import batch
    from lenskit.als import BiasedMFScorer
    from lenskit.data import ItemListCollection, from_interactions_df
    from lenskit.knn import ItemKNNScorer
    from lenskit.parallel import config
    from lenskit.pipeline import predict_pipeline

    if not _LENSKIT_READY:  # LensKit's thread pools are set once per process
        config.initialize(processes=1, threads=THREADS, backend_threads=1)
        _LENSKIT_READY.append(True)
    frame = train.to_frame()[["user", "item", "rating"]].rename(columns={"user": "user_id", "item": "item_id"})
    dataset = from_interactions_df(frame, user_col="user_id", item_col="item_id", rating_col="rating")
    order = pd.DataFrame({"user_id": test.users.ids[test.user_indices], "item_id": test.items.ids[test.item_indices]})
    queries = ItemListCollection.from_df(order, "user_id")
    scorers: dict[str, tuple[Callable[[], Any], dict[str, Any]]] = {
        "BiasedMF (ALS)": (BiasedMFScorer, {"defaults": "embedding_size=50, epochs=10, regularization=0.1"}),
        "ItemKNN": (lambda: ItemKNNScorer(**LENSKIT_KNN), LENSKIT_KNN),
    }
    out = {}
    for name, (make, params) in scorers.items():
        for _ in range(2 if warm else 1):  # the first fold runs once untimed: imports, torch start-up
            start = time.perf_counter()
            pipeline = predict_pipeline(make())
            pipeline.train(dataset)
            fit_s = time.perf_counter() - start
        scored = batch.predict(pipeline, queries, n_jobs=1).to_df()
        merged = order.merge(scored[["user_id", "item_id", "score"]], on=["user_id", "item_id"], how="left")
        out[name] = (merged["score"].to_numpy(dtype=np.float64), fit_s, params)
    return out


def t_interval(values: np.ndarray) -> float:
    """Half-width of the 95% t interval of the mean over folds."""
    from scipy import stats

    if values.size < 2:
        return 0.0
    return float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))


def bootstrap_interval(errors: np.ndarray, seed: int, n_resamples: int = 1000) -> float:
    """Half-width of the 95% percentile bootstrap interval of one test set's RMSE (resampling
    its ratings, seeded)."""
    rng = np.random.default_rng(seed)
    squared = errors**2
    rmses = np.concatenate(
        [  # 100 resamples at a time: memory stays ~100 x the test set
            np.sqrt(squared[rng.integers(0, squared.size, size=(100, squared.size))].mean(axis=1))
            for _ in range(n_resamples // 100)
        ]
    )
    low, high = np.percentile(rmses, [2.5, 97.5])
    return float((high - low) / 2)


_PAIRS = {"SVD": "svd", "SVD++": "svdpp", "SVDpp": "svdpp"}


def cv_rows(suite: str, task: str, dataset: str, results: dict[tuple[str, str], Measured]) -> list[Row]:
    """One row per model: mean RMSE over the folds with its 95% t interval, mean fit seconds."""
    rows = []
    for (library, name), measured in results.items():
        rmse = np.array(measured.rmse)
        rows.append(
            Row(
                suite=suite, task=task, dataset=dataset, library=library, algorithm=name, params=measured.params,
                metrics={"rmse": float(rmse.mean()), "rmse ±95%": t_interval(rmse), "folds": int(rmse.size)},
                fit_s=float(np.mean(measured.fit)), threads=THREADS, pair=_PAIRS.get(name),
            )
        )  # fmt: skip
    return rows


def fold_rows(
    suite: str, task: str, dataset: str, results: dict[tuple[str, str], Measured], fold: int, seed: int
) -> list[Row]:
    """One row per model for a single fold: its RMSE with a bootstrap 95% interval."""
    rows = []
    for (library, name), measured in results.items():
        rows.append(
            Row(
                suite=suite, task=task, dataset=dataset, library=library, algorithm=name, params=measured.params,
                metrics={
                    "rmse": float(measured.rmse[fold]),
                    "rmse ±95%": bootstrap_interval(measured.errors[fold], seed),
                    "folds": 1,
                },
                fit_s=float(measured.fit[fold]), threads=THREADS, pair=_PAIRS.get(name),
            )
        )  # fmt: skip
    return rows


def best_notes(rows: list[Row]) -> list[str]:
    """Per (task, data set): each library's best RMSE, likewise's first."""
    notes = []
    groups: dict[tuple[str, str], dict[str, Row]] = {}
    for row in rows:
        best = groups.setdefault((row.task, row.dataset), {})
        if row.library not in best or row.metrics["rmse"] < best[row.library].metrics["rmse"]:
            best[row.library] = row
    for (task, dataset), best in groups.items():
        order = sorted(best.values(), key=lambda r: (r.library != "likewise", r.metrics["rmse"]))
        parts = [f"{r.library} {r.algorithm} {r.metrics['rmse']:.4f} ± {r.metrics['rmse ±95%']:.4f}" for r in order]
        notes.append(f"best per library, {dataset}, {task}: " + "; ".join(parts))
    return notes
