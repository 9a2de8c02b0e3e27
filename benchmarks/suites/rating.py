"""Rating prediction: likewise's Surprise menu beside Surprise itself, and fit time at scale.

Part 1 - MovieLens 100K, 5-fold CV (random folds, seed 42; 2 folds with ``--quick``): every
explicit-rating model of likewise and Surprise's algorithm with the same definition and the
same settings (Surprise's defaults), fitted on the same folds, RMSE / MAE of the test ratings
computed with likewise's metric code, fit and predict time per fold (likewise warm; its cold
first fit, JIT compilation included, is measured once in a fresh process). Surprise is
single-threaded; likewise gets ``--threads``.

Part 2 - fit time against the number of ratings on synthetic explicit sets (1M / 5M / 10M
ratings, MovieLens-25M-shaped; 10M only without ``--quick``), one fresh process per size, to
show that the cost grows linearly with the ratings (``s per 1M ratings`` stays flat). In that
shape users and items grow with the ratings, so the factor matrices outgrow the CPU caches as
well; a control keeps the catalogue of the 10M set (64k users x 24k items) fixed and varies
only the number of ratings, for SVD and SVD++. Slope One is left out: its cost is quadratic in
the length of user histories by definition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.harness import BenchContext, Row, ml100k, rating_metrics, run_isolated, scale_name, synthetic, timed

SUITE = "rating"
DESCRIPTION = (
    "Explicit-rating models (NormalPredictor, Baseline by ALS and SGD, SVD, SVD++, NMF, Slope One, "
    "co-clustering) beside Surprise's same algorithms with the same settings (Surprise's defaults) on "
    "MovieLens 100K, 5-fold CV (random folds, seed 42): RMSE/MAE from likewise's metric code, fit and "
    "predict seconds per fold. Then likewise's fit time on synthetic explicit sets of 1M, 5M and 10M "
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
        "NormalPredictor": lambda: NormalPredictor(random_state=seed),
        "Baseline (ALS)": lambda: Baseline(method="als"),
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


def _surprise_fold(surprise: Any, train: Any, test: Any, seed: int) -> tuple[Any, list[tuple[Any, Any, float]]]:
    """Surprise's trainset from our training fold (rows in a seeded random order, as a file
    would give them) and its testset (raw ids are the same as ours)."""
    import pandas as pd

    frame = train.to_frame()[["user", "item", "rating"]]
    frame = frame.iloc[np.random.default_rng(seed).permutation(len(frame))].reset_index(drop=True)
    reader = surprise.Reader(rating_scale=tuple(train.rating_scale))
    trainset = surprise.Dataset.load_from_df(pd.DataFrame(frame), reader).build_full_trainset()
    users = test.users.ids[test.user_indices]
    items = test.items.ids[test.item_indices]
    testset = list(zip(users.tolist(), items.tolist(), test.values.astype(float).tolist(), strict=True))
    return trainset, testset


def _cold_fit(name: str, data_dir: str, seed: int, threads: int) -> float:
    """In a fresh process with an empty numba cache: the first fit on fold 1 (JIT included)."""
    import time

    from likewise.evaluation import kfold

    train, _ = next(iter(kfold(ml100k(data_dir), 5, random_state=42)))
    start = time.perf_counter()
    _likewise_model(name, seed, threads).fit(train)
    return time.perf_counter() - start


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
        _likewise_model(name, ctx.seed, ctx.threads).fit(folds[0].train)
    for number, (train, test) in enumerate(folds):
        print(f"  fold {number + 1}/{len(folds)}", flush=True)
        users = test.users.ids[test.user_indices]
        items = test.items.ids[test.item_indices]
        truth = test.values.astype(np.float64)
        sp_data = _surprise_fold(surprise, train, test, ctx.seed) if surprise is not None else None
        for name in names:
            for seed in range(ctx.seed, ctx.seed + SEEDS.get(name, 1)):
                model = _likewise_model(name, seed, ctx.threads)
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
    cold_names = names if not ctx.quick else ["SVD", "SVD++"]
    cold: dict[str, tuple[float, float]] = {}
    for name in cold_names:
        cold[name] = run_isolated(_cold_fit, name, str(ctx.data_dir), ctx.seed, ctx.threads, cold=True)
    rows = []
    for (library, name), entry in results.items():
        pair, sp_name, _, shown = ALGORITHMS[name]
        rmse, mae = np.array(entry["rmse"]), np.array(entry["mae"])
        runs = SEEDS.get(name, 1)
        fit_cold, peak = cold.get(name, (None, None)) if library == "likewise" else (None, None)
        notes = ""
        if library == "likewise" and name == "SVD++":
            notes = "trains serially by design (exact Surprise algorithm in O(f) per rating)"
        if library == "likewise" and name in ("NormalPredictor", "Baseline (ALS)"):
            notes = "no SGD epochs: threads only for scoring"
        if runs > 1:
            notes = (notes + "; " if notes else "") + f"mean of {runs} seeds per fold (random initial clusters)"
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
                fit_cold_s=fit_cold,
                peak_mb=peak,
                threads=ctx.threads if library == "likewise" else 1,
                notes=notes,
                pair=pair,
            )
        )
    return rows


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
