"""Rating prediction: likewise's Surprise menu beside Surprise itself, and fit time at scale.

Part 1 - MovieLens 100K, 5-fold CV (random folds, seed 42; 2 folds with ``--quick``): every
explicit-rating model of likewise and Surprise's algorithm with the same definition and the
same settings (Surprise's defaults), fitted on the same folds, RMSE / MAE of the test ratings
computed with likewise's metric code, fit and predict time per fold (warm), and for every
algorithm of both libraries the first fit + predict in a fresh process (kernel cache filled) and
in a cold one (empty kernel cache), imports included. Surprise is single-threaded, so likewise
runs on one thread here too (issue 11: equal threads or no ratio).

Surprise's trainset is built from the training ratings sorted by user, then item. Its SGD loop
walks ``trainset.all_ratings()``, one Python tuple per rating, user by user; built from rows in
random order those tuples lie scattered in memory and the same fit takes 2-2.5x longer on this
kind of machine (1.4-1.6 s instead of 0.6 s for SVD on an ML-100K fold; SVD++ likewise). Sorted
input is Surprise's best case and what an outside harness gets from a sorted file or
DataFrame; the random-order time is measured once (fold 1, SVD) and shown in a note.
``benchmarks/probe_surprise.py`` reproduces both outside the harness.

Part 2 - fit time against the number of ratings on synthetic explicit sets (1M / 5M / 10M
ratings, MovieLens-25M-shaped; 10M only without ``--quick``), one fresh process per size, to
show that the cost grows linearly with the ratings (``s per 1M ratings`` stays flat). In that
shape users and items grow with the ratings, so the factor matrices outgrow the CPU caches as
well; a control keeps the catalogue of the 10M set (64k users x 24k items) fixed and varies
only the number of ratings, for SVD and SVD++. Slope One is left out: its cost is quadratic in
the length of user histories by definition.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.harness import (
    BenchContext,
    Row,
    first_calls,
    ml100k,
    rating_metrics,
    run_isolated,
    scale_name,
    synthetic,
    timed,
)

SUITE = "rating"
DESCRIPTION = (
    "Explicit-rating models (NormalPredictor, Baseline by ALS and SGD, SVD, SVD++, NMF, Slope One, "
    "co-clustering) beside Surprise's same algorithms with the same settings (Surprise's defaults) on "
    "MovieLens 100K, 5-fold CV (random folds, seed 42), both on one thread (Surprise has no threads): "
    "RMSE/MAE from likewise's metric code, warm fit and predict seconds per fold, and the first fit + "
    "predict in a fresh and in a cold (empty kernel cache) process. Surprise's trainset is built from the "
    "ratings sorted by user (its fastest input order; see the notes). LensKit 2025's BiasedMF (its "
    "defaults, one thread) on the same folds for context. Then likewise's fit time on "
    "synthetic explicit sets of 1M, 5M and 10M "
    "ratings (fresh process per size) to show linear growth, and the same with the catalogue held fixed "
    "at the 10M set's 64k users x 24k items."
)
TASK_CV = "rating prediction, 5-fold CV"
TASK_SCALE = "fit time vs. number of ratings"
TASK_FIXED = "fit time vs. number of ratings, fixed catalogue"
FIXED_SHAPE = (64_000, 24_000)  # the 10M set's users x items
FIXED_MODELS = ("SVD", "SVD++")
SCALE_SIZES = (1_000_000, 5_000_000, 10_000_000)
QUICK_SCALE_SIZES = (1_000_000, 5_000_000)
SCALE_MODELS = ("Baseline (ALS)", "Baseline (SGD)", "SVD", "SVD++", "NMF", "CoClustering")
# Co-clustering's result depends much on its random initial clusters (fold-to-fold sd ~0.005
# RMSE), and the two libraries cannot share an initialisation: average it over 3 seeds per fold.
SEEDS = {"CoClustering": 3}
CV_THREADS = 1  # Surprise is single-threaded: likewise runs on one thread beside it

# name -> (pair key, Surprise class name, Surprise keyword arguments, params shown in the table)
ALGORITHMS: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = {
    "NormalPredictor": ("normalpredictor", "NormalPredictor", {}, {}),
    "Baseline (ALS)": (
        "baseline-als",
        "BaselineOnly",
        {"bsl_options": {"method": "als"}, "verbose": False},
        {"n_epochs": 10, "reg_user": 15, "reg_item": 10},
    ),
    "Baseline (SGD)": (
        "baseline-sgd",
        "BaselineOnly",
        {"bsl_options": {"method": "sgd"}, "verbose": False},
        {"n_epochs": 20, "reg": 0.02, "lr": 0.005},
    ),
    "SVD": ("svd", "SVD", {}, {"n_factors": 100, "n_epochs": 20, "lr": 0.005, "reg": 0.02}),
    "SVD++": ("svdpp", "SVDpp", {}, {"n_factors": 20, "n_epochs": 20, "lr": 0.007, "reg": 0.02}),
    "NMF": ("nmf", "NMF", {}, {"n_factors": 15, "n_epochs": 50, "reg": 0.06}),
    "SlopeOne": ("slopeone", "SlopeOne", {}, {}),
    "CoClustering": ("coclustering", "CoClustering", {}, {"clusters": "3x3", "n_epochs": 20}),
}


def _likewise_model(name: str, seed: int, threads: int | None) -> Any:
    from likewise.models import NMF, SVD, Baseline, CoClustering, NormalPredictor, SlopeOne, SVDpp

    factories: dict[str, Callable[[], Any]] = {
        "NormalPredictor": lambda: NormalPredictor(random_state=seed, n_threads=threads),
        "Baseline (ALS)": lambda: Baseline(method="als", n_threads=threads),
        "Baseline (SGD)": lambda: Baseline(method="sgd", random_state=seed, n_threads=threads),
        "SVD": lambda: SVD(random_state=seed, n_threads=threads),
        "SVD++": lambda: SVDpp(random_state=seed, n_threads=threads),
        "NMF": lambda: NMF(random_state=seed, n_threads=threads),
        "SlopeOne": lambda: SlopeOne(n_threads=threads),
        "CoClustering": lambda: CoClustering(random_state=seed, n_threads=threads),
    }
    return factories[name]()


def _surprise_model(surprise: Any, name: str, seed: int) -> Any:
    _, cls_name, kwargs, _ = ALGORITHMS[name]
    cls = getattr(surprise, cls_name)
    if cls_name in ("SVD", "SVDpp", "NMF", "CoClustering"):
        kwargs = {**kwargs, "random_state": seed}
    return cls(**kwargs)


def _surprise_frame(train: Any, order: str = "sorted", seed: int = 0) -> Any:
    """The training ratings as Surprise reads them: sorted by (user, item), or in a seeded random order."""
    frame = train.to_frame()[["user", "item", "rating"]]
    if order == "sorted":
        frame = frame.sort_values(["user", "item"], kind="stable")
    else:
        frame = frame.iloc[np.random.default_rng(seed).permutation(len(frame))]
    return frame.reset_index(drop=True)


def _surprise_fold(
    surprise: Any, train: Any, test: Any, seed: int, order: str = "sorted"
) -> tuple[Any, list[tuple[Any, Any, float]]]:
    """Surprise's trainset from our training fold (see `_surprise_frame`) and its testset (raw
    ids are the same as ours). Building them is data conversion, outside every timed region."""
    import pandas as pd

    reader = surprise.Reader(rating_scale=tuple(train.rating_scale))
    frame = pd.DataFrame(_surprise_frame(train, order, seed))
    trainset = surprise.Dataset.load_from_df(frame, reader).build_full_trainset()
    users = test.users.ids[test.user_indices]
    items = test.items.ids[test.item_indices]
    testset = list(zip(users.tolist(), items.tolist(), test.values.astype(float).tolist(), strict=True))
    return trainset, testset


def _first_fold(data_dir: str) -> tuple[Any, Any]:
    from likewise.evaluation import kfold

    return next(iter(kfold(ml100k(data_dir), 5, random_state=42)))


def _first_likewise(name: str, data_dir: str, seed: int) -> dict[str, float]:
    """In a new process: import likewise, read fold 1, then time the first fit and predict.

    ``fit_s`` includes importing likewise (timed before the data are read) and importing the
    model's module and loading (or compiling) its kernels inside the fit's clock.
    """
    start = time.perf_counter()
    import likewise  # noqa: F401  (the package import, counted)

    import_s = time.perf_counter() - start
    train, test = _first_fold(data_dir)
    users, items = test.users.ids[test.user_indices], test.items.ids[test.item_indices]
    start = time.perf_counter()
    model = _likewise_model(name, seed, CV_THREADS)
    model.fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    model.predict(users, items)
    return {"fit_s": import_s + fit_s, "predict_s": time.perf_counter() - start}


def _first_surprise(name: str, data_dir: str, seed: int) -> dict[str, float]:
    """In a new process: import Surprise, build fold 1's trainset, then time the first fit and test."""
    start = time.perf_counter()
    import surprise

    import_s = time.perf_counter() - start
    train, test = _first_fold(data_dir)
    trainset, testset = _surprise_fold(surprise, train, test, seed)
    algo = _surprise_model(surprise, name, seed)
    np.random.seed(seed)  # noqa: NPY002
    start = time.perf_counter()
    algo.fit(trainset)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    algo.test(testset)
    return {"fit_s": import_s + fit_s, "predict_s": time.perf_counter() - start}


def _cv_rows(ctx: BenchContext) -> list[Row]:
    folds = ctx.ml100k_folds()
    surprise = ctx.peer("surprise")
    names = list(ALGORITHMS)
    results: dict[tuple[str, str], dict[str, list[float]]] = {}

    def record(library: str, name: str, fit_s: float, predict_s: float, pred: Any, truth: Any) -> None:
        entry = results.setdefault((library, name), {"fit": [], "predict": [], "rmse": [], "mae": []})
        metrics = rating_metrics(pred, truth)
        entry["fit"].append(fit_s)
        entry["predict"].append(predict_s)
        entry["rmse"].append(metrics["rmse"])
        entry["mae"].append(metrics["mae"])

    for name in names:  # warm-up: compile (or load) every kernel once, outside the timings
        _likewise_model(name, ctx.seed, CV_THREADS).fit(folds[0].train)
    for number, (train, test) in enumerate(folds):
        print(f"  fold {number + 1}/{len(folds)}", flush=True)
        users = test.users.ids[test.user_indices]
        items = test.items.ids[test.item_indices]
        truth = test.values.astype(np.float64)
        sp_data = _surprise_fold(surprise, train, test, ctx.seed) if surprise is not None else None
        for name in names:
            for seed in range(ctx.seed, ctx.seed + SEEDS.get(name, 1)):
                model = _likewise_model(name, seed, CV_THREADS)
                _, fit_s = timed(model.fit, train)
                pred, predict_s = timed(model.predict, users, items)
                record("likewise", name, fit_s, predict_s, pred, truth)
                if sp_data is not None:
                    trainset, testset = sp_data
                    algo = _surprise_model(surprise, name, seed)
                    np.random.seed(seed)  # noqa: NPY002 (Surprise's NormalPredictor draws from the global RNG)
                    _, fit_s = timed(algo.fit, trainset)
                    predictions, predict_s = timed(algo.test, testset)
                    record("surprise", name, fit_s, predict_s, np.array([p.est for p in predictions]), truth)
    lenskit_row = _lenskit_row(ctx, folds) if ctx.peer("lenskit") is not None else None
    shuffled_svd = _shuffled_svd_fit(surprise, folds[0], ctx.seed) if surprise is not None else None
    first = _first_call_fields(ctx, names, surprise is not None)
    rows = []
    for (library, name), entry in results.items():
        pair, sp_name, _, shown = ALGORITHMS[name]
        rmse, mae = np.array(entry["rmse"]), np.array(entry["mae"])
        runs = SEEDS.get(name, 1)
        notes = _cv_note(library, name, runs)
        if library == "surprise" and name == "SVD" and shuffled_svd is not None:
            notes = _join(notes, f"trainset from rows in random order: fit {shuffled_svd:.2f} s (fold 1)")
        if library == "surprise" and (library, name) in first:
            notes = _join(notes, "no kernel cache: cold = fresh")
        rows.append(
            Row(
                suite=SUITE,
                task=TASK_CV,
                dataset="ml-100k",
                library=library,
                algorithm=name if library == "likewise" else sp_name + _suffix(name),
                params=shown,
                metrics={
                    "rmse": float(rmse.mean()),
                    "rmse sd": float(rmse.std(ddof=1)) if rmse.size > 1 else 0.0,
                    "mae": float(mae.mean()),
                    "folds": int(rmse.size // runs),
                },
                fit_s=float(np.mean(entry["fit"])),
                predict_s=float(np.mean(entry["predict"])),
                threads=CV_THREADS,
                notes=notes,
                pair=pair,
                **first.get((library, name), {}),
            )
        )
    return rows + ([lenskit_row] if lenskit_row is not None else [])


_LENSKIT_READY: list[bool] = []


def _lenskit_data(train: Any) -> Any:
    from lenskit.data import from_interactions_df

    frame = train.to_frame()[["user", "item", "rating"]].rename(columns={"user": "user_id", "item": "item_id"})
    return from_interactions_df(frame, user_col="user_id", item_col="item_id", rating_col="rating")


def _lenskit_queries(test: Any) -> Any:
    import pandas as pd
    from lenskit.data import ItemListCollection

    frame = pd.DataFrame({"user_id": test.users.ids[test.user_indices], "item_id": test.items.ids[test.item_indices]})
    return ItemListCollection.from_df(frame, "user_id")


def _lenskit_fit_predict(dataset: Any, queries: Any, test: Any) -> tuple[np.ndarray, float, float]:
    """LensKit's BiasedMF (its defaults) in a predict pipeline: (predictions in test order, fit s, predict s)."""
    import pandas as pd
    from lenskit import batch
    from lenskit.als import BiasedMFScorer
    from lenskit.parallel import config
    from lenskit.pipeline import predict_pipeline

    if not _LENSKIT_READY:  # LensKit's thread pools are set once per process
        config.initialize(processes=1, threads=CV_THREADS, backend_threads=1)
        _LENSKIT_READY.append(True)
    start = time.perf_counter()
    pipeline = predict_pipeline(BiasedMFScorer())
    pipeline.train(dataset)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scored = batch.predict(pipeline, queries, n_jobs=1).to_df()
    predict_s = time.perf_counter() - start
    order = pd.DataFrame({"user_id": test.users.ids[test.user_indices], "item_id": test.items.ids[test.item_indices]})
    merged = order.merge(scored[["user_id", "item_id", "score"]], on=["user_id", "item_id"], how="left")
    return merged["score"].to_numpy(dtype=np.float64), fit_s, predict_s


def _first_lenskit(data_dir: str) -> dict[str, float]:
    """In a new process: import LensKit (timed), convert fold 1, time the first fit and predict."""
    start = time.perf_counter()
    import lenskit  # noqa: F401

    import_s = time.perf_counter() - start
    train, test = _first_fold(data_dir)
    _, fit_s, predict_s = _lenskit_fit_predict(_lenskit_data(train), _lenskit_queries(test), test)
    return {"fit_s": import_s + fit_s, "predict_s": predict_s}


def _lenskit_row(ctx: BenchContext, folds: list[Any]) -> Row:
    """LensKit 2025's BiasedMF (explicit ALS with biases, its defaults) on the same folds, one thread.

    No likewise model has its definition, so it is a row of context, not a ratio.
    """
    rmse, mae, fits, predicts = [], [], [], []
    for number, (train, test) in enumerate(folds):
        print(f"  LensKit BiasedMF fold {number + 1}/{len(folds)}", flush=True)
        dataset, queries = _lenskit_data(train), _lenskit_queries(test)  # data conversion: not timed
        if number == 0:
            _lenskit_fit_predict(dataset, queries, test)  # warm-up: imports, torch start-up
        pred, fit_s, predict_s = _lenskit_fit_predict(dataset, queries, test)
        scores = rating_metrics(pred, test.values.astype(np.float64))
        rmse.append(scores["rmse"])
        mae.append(scores["mae"])
        fits.append(fit_s)
        predicts.append(predict_s)
    fresh, peak = run_isolated(_first_lenskit, str(ctx.data_dir), threads=CV_THREADS)
    return Row(
        suite=SUITE, task=TASK_CV, dataset="ml-100k", library="lenskit", algorithm="BiasedMF (ALS)",
        params={"defaults": "embedding_size=50, epochs=10, regularization=0.1"},
        metrics={
            "rmse": float(np.mean(rmse)), "rmse sd": float(np.std(rmse, ddof=1)) if len(rmse) > 1 else 0.0,
            "mae": float(np.mean(mae)), "folds": len(folds),
        },
        fit_s=float(np.mean(fits)), predict_s=float(np.mean(predicts)), threads=CV_THREADS,
        notes="LensKit 2025 predict_pipeline (bias fallback); no likewise twin; no kernel cache: cold = fresh",
        pair="lenskit-biasedmf", fit_fresh_s=fresh["fit_s"], predict_fresh_s=fresh["predict_s"],
        fit_cold_s=fresh["fit_s"], predict_cold_s=fresh["predict_s"], peak_mb=peak,
    )  # fmt: skip


def _first_call_fields(ctx: BenchContext, names: list[str], with_surprise: bool) -> dict[tuple[str, str], Any]:
    """Fresh and cold first calls of every algorithm (quick: SVD and SVD++) of both libraries."""
    chosen = names if not ctx.quick else ["SVD", "SVD++"]
    out: dict[tuple[str, str], Any] = {}
    for name in chosen:
        print(f"  first calls: {name}", flush=True)
        args = (name, str(ctx.data_dir), ctx.seed)
        out[("likewise", name)] = first_calls(_first_likewise, *args, threads=CV_THREADS).fields()
        if with_surprise:
            # Surprise compiles nothing at run time: its cold process is its fresh one.
            fresh, peak = run_isolated(_first_surprise, *args, threads=CV_THREADS)
            out[("surprise", name)] = {
                "fit_fresh_s": fresh["fit_s"], "predict_fresh_s": fresh["predict_s"],
                "fit_cold_s": fresh["fit_s"], "predict_cold_s": fresh["predict_s"], "peak_mb": peak,
            }  # fmt: skip
    return out


def _shuffled_svd_fit(surprise: Any, fold: Any, seed: int) -> float:
    """Surprise SVD's fit on fold 1 with its trainset built from the rows in a random order."""
    trainset, _ = _surprise_fold(surprise, fold.train, fold.test, seed, order="random")
    return timed(_surprise_model(surprise, "SVD", seed).fit, trainset)[1]


def _cv_note(library: str, name: str, runs: int) -> str:
    notes = ""
    if library == "likewise" and name == "SVD++":
        notes = "trains serially by design (exact Surprise algorithm in O(f) per rating)"
    if runs > 1:
        notes = _join(notes, f"mean of {runs} seeds per fold (random initial clusters)")
    return notes


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def _suffix(name: str) -> str:
    return " (ALS)" if name == "Baseline (ALS)" else " (SGD)" if name == "Baseline (SGD)" else ""


def _scale_fit(n_interactions: int, seed: int, threads: int, with_surprise: bool) -> dict[str, Any]:
    """In a fresh process: generate the set, then time one (warm) fit of each model on it."""
    import time

    from likewise.testing import tiny_ratings

    start = time.perf_counter()
    data = synthetic(n_interactions, "explicit", 0)
    out: dict[str, Any] = {"generate_s": time.perf_counter() - start, "users": data.n_users, "items": data.n_items}
    for name in SCALE_MODELS:
        _likewise_model(name, seed, threads).fit(tiny_ratings())  # compile / load the kernels first
        model = _likewise_model(name, seed, threads)
        start = time.perf_counter()
        model.fit(data)
        out[name] = time.perf_counter() - start
    if with_surprise:
        import surprise

        frame = data.to_frame()[["user", "item", "rating"]]
        start = time.perf_counter()
        trainset = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
        out["surprise_build_s"] = time.perf_counter() - start
        start = time.perf_counter()
        surprise.SVD(random_state=seed).fit(trainset)
        out["surprise SVD"] = time.perf_counter() - start
        model = _likewise_model("SVD", seed, 1)  # beside single-threaded Surprise: one thread too
        start = time.perf_counter()
        model.fit(data)
        out["SVD 1 thread"] = time.perf_counter() - start
    return out


def _fixed_fit(n_interactions: int, seed: int, threads: int) -> dict[str, Any]:
    """In a fresh process: a set of `n_interactions` ratings over the fixed 10M-set catalogue
    (64k users x 24k items), then one (warm) fit of each of `FIXED_MODELS`."""
    import time

    from likewise.datasets import synthetic as generate
    from likewise.testing import tiny_ratings

    n_users, n_items = FIXED_SHAPE
    data = generate(n_users, n_items, n_interactions, kind="explicit", n_genres=18, random_state=0)
    out: dict[str, Any] = {}
    for name in FIXED_MODELS:
        _likewise_model(name, seed, threads).fit(tiny_ratings())
        model = _likewise_model(name, seed, threads)
        start = time.perf_counter()
        model.fit(data)
        out[name] = time.perf_counter() - start
    return out


def _fixed_rows(ctx: BenchContext) -> list[Row]:
    rows = []
    for n in QUICK_SCALE_SIZES if ctx.quick else SCALE_SIZES:
        label = f"{scale_name(n, 'explicit')}, fixed {FIXED_SHAPE[0] // 1000}k x {FIXED_SHAPE[1] // 1000}k"
        print(f"  {label} ...", flush=True)
        out, peak = run_isolated(_fixed_fit, n, ctx.seed, ctx.threads, threads=ctx.threads)
        for name in FIXED_MODELS:
            fit_s = float(out[name])
            rows.append(
                Row(
                    suite=SUITE,
                    task=TASK_FIXED,
                    dataset=label,
                    library="likewise",
                    algorithm=name,
                    params=ALGORITHMS[name][3],
                    metrics={"s per 1M ratings": round(fit_s / (n / 1e6), 3)},
                    fit_s=fit_s,
                    peak_mb=peak,
                    threads=ctx.threads,
                    pair=ALGORITHMS[name][0],
                )
            )
    return rows


def _scale_rows(ctx: BenchContext) -> list[Row]:
    rows = []
    have_surprise = ctx.peer("surprise") is not None
    for n in QUICK_SCALE_SIZES if ctx.quick else SCALE_SIZES:
        print(f"  {scale_name(n, 'explicit')} ...", flush=True)
        with_surprise = have_surprise and n == SCALE_SIZES[0] and not ctx.quick
        out, peak = run_isolated(_scale_fit, n, ctx.seed, ctx.threads, with_surprise, threads=ctx.threads)
        shape = {"users": out["users"], "items": out["items"]}
        for name in SCALE_MODELS:
            fit_s = float(out[name])
            rows.append(
                Row(
                    suite=SUITE,
                    task=TASK_SCALE,
                    dataset=scale_name(n, "explicit"),
                    library="likewise",
                    algorithm=name,
                    params=ALGORITHMS[name][3],
                    metrics={**shape, "s per 1M ratings": round(fit_s / (n / 1e6), 3)},
                    fit_s=fit_s,
                    peak_mb=peak,
                    threads=ctx.threads,
                    notes="peak: the whole process (data + every model in turn)",
                    pair=ALGORITHMS[name][0],
                )
            )
        if "SVD 1 thread" in out:
            fit_s = float(out["SVD 1 thread"])
            rows.append(
                Row(
                    suite=SUITE,
                    task=TASK_SCALE,
                    dataset=scale_name(n, "explicit"),
                    library="likewise",
                    algorithm="SVD (1 thread)",
                    params=ALGORITHMS["SVD"][3],
                    metrics={**shape, "s per 1M ratings": round(fit_s / (n / 1e6), 3)},
                    fit_s=fit_s,
                    threads=1,
                    notes="beside Surprise, which has one thread",
                    pair="svd",
                )
            )
        if "surprise SVD" in out:
            fit_s = float(out["surprise SVD"])
            rows.append(
                Row(
                    suite=SUITE,
                    task=TASK_SCALE,
                    dataset=scale_name(n, "explicit"),
                    library="surprise",
                    algorithm="SVD",
                    params=ALGORITHMS["SVD"][3],
                    metrics={**shape, "s per 1M ratings": round(fit_s / (n / 1e6), 3)},
                    fit_s=fit_s,
                    threads=1,
                    notes=f"building its trainset took {out['surprise_build_s']:.1f} s more",
                    pair="svd",
                )
            )
    return rows


def run(ctx: BenchContext) -> list[Row]:
    """Both parts; see the module docstring."""
    return _cv_rows(ctx) + _scale_rows(ctx) + _fixed_rows(ctx)
