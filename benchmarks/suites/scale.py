"""Scale sets: generate the 1M / 5M / 25M synthetic logs, time Popularity on them, and ALS beside Spark.

Every scale comparison (ALS, BPR, item-kNN ...) runs on these sets through
``ctx.synthetic(n, kind=...)``; this suite records what producing them costs and the
cheapest possible model on them (fit + top-10 for every user), each in a fresh process so
the peak memory is the set's own.

Then ALS at 1M and 5M interactions: likewise's ALS (conjugate gradient) and Spark MLlib's
ALS (``pyspark``, ``implicitPrefs=True``, ``local[N]`` with N = ``--threads``) at the same
rank (64), iterations (15), regularisation and confidence, each in its own fresh process, fit
on every interaction + top-10 for every user. Spark scales its regularisation by each row's
number of ratings (ALS-WR), so the two objectives are not identical: the pair compares the
cost of the same amount of work, not identical models. Spark's JVM runs in a separate process,
so its peak memory is not measured (the column is left empty rather than show the Python
driver's).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from typing import Any

from benchmarks.harness import BenchContext, Row, run_isolated, scale_name, synthetic

SUITE = "scale"
DESCRIPTION = (
    "Synthetic implicit logs shaped like MovieLens (users and items grow with the log in ML-25M's "
    "proportions: 25M interactions -> 160k users x 60k items; power-law item popularity, heavy-tailed "
    "user activity, 18 genres). Each size runs in a fresh process: generate the set, fit Popularity, "
    "recommend top-10 for every user. Peak memory is that process's. `--quick` stops at 5M. Then ALS "
    "(64 factors, 15 iterations) fit + top-10 for every user at 1M and 5M: likewise beside Spark "
    "MLlib's ALS (implicitPrefs, local[threads]), each in a fresh process."
)
TASK = "generate + Popularity fit + top-10 for every user"
TASK_ALS = "ALS 64 factors x 15 iterations: fit on all + top-10 for every user"
SIZES = (1_000_000, 5_000_000, 25_000_000)
QUICK_SIZES = (1_000_000, 5_000_000)
ALS_SIZES = (1_000_000, 5_000_000)
QUICK_ALS_SIZES = (1_000_000,)
RANK, ITERATIONS, REG = 64, 15, 0.05
ALPHA = 0.0  # likewise's confidence 1 + alpha*r; Spark's is 1 + alpha*r too: alpha = 0 on both
SPARK_ALPHA = 0.0


def _measure(n_interactions: int, threads: int) -> dict[str, Any]:
    """In a fresh process: generate the set, fit Popularity, recommend for everyone."""
    from likewise.models import Popularity

    start = time.perf_counter()
    data = synthetic(n_interactions, "implicit", 0)
    generate_s = time.perf_counter() - start
    model = Popularity(n_threads=threads)
    start = time.perf_counter()
    model.fit(data)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    recs = model.recommend(data.users.ids, n=10)
    predict_s = time.perf_counter() - start
    return {
        "users": data.n_users,
        "items": data.n_items,
        "interactions": data.nnz,
        "generate_s": generate_s,
        "fit_s": fit_s,
        "predict_s": predict_s,
        "filled": float((recs.indices >= 0).mean()),
    }


def _write_set(n_interactions: int, path: str) -> dict[str, int]:
    """In a fresh process: generate the set and store its binary matrix for the ALS children."""
    import scipy.sparse as sp

    data = synthetic(n_interactions, "implicit", 0)
    matrix = data.matrix.copy()
    matrix.data[:] = 1.0
    sp.save_npz(path, matrix.tocsr(), compressed=False)
    return {"users": data.n_users, "items": data.n_items}


def _als_likewise(path: str, threads: int, seed: int) -> dict[str, float]:
    """In a fresh process: load the matrix, warm up on a slice, fit ALS, top-10 for every user."""
    import numpy as np
    import scipy.sparse as sp

    from likewise.data.interactions import Interactions
    from likewise.models import ALS

    data = Interactions.from_scipy(sp.load_npz(path))
    params = {"n_factors": RANK, "n_epochs": ITERATIONS, "reg": REG, "alpha": ALPHA, "random_state": seed}
    small = Interactions.from_scipy(data.matrix[:200])
    ALS(**params, n_threads=threads).fit(small).recommend(np.arange(2), n=10)  # load the kernels
    model = ALS(**params, n_threads=threads)
    start = time.perf_counter()
    model.fit(data)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    model.recommend(data.users.ids, n=10)
    return {"fit_s": fit_s, "predict_s": time.perf_counter() - start}


def _als_spark(path: str, threads: int, seed: int) -> dict[str, float]:
    """In a fresh process: start Spark local[threads], load the pairs, fit ALS, top-10 for every user."""
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession

    matrix = sp.load_npz(path).tocoo()
    checkpoints = tempfile.mkdtemp(prefix="likewise-bench-spark-")
    start = time.perf_counter()
    spark = (
        SparkSession.builder.master(f"local[{threads}]")
        .appName("likewise-bench")
        .config("spark.driver.memory", "6g")
        .config("spark.sql.shuffle.partitions", str(2 * threads))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(checkpoints)
    start_s = time.perf_counter() - start
    try:
        frame = pd.DataFrame(
            {"user": matrix.row.astype(np.int32), "item": matrix.col.astype(np.int32), "rating": np.ones(matrix.nnz)}
        )
        ratings = spark.createDataFrame(frame).repartition(2 * threads).cache()
        ratings.count()  # materialise before the clock: data loading is not the fit
        als = ALS(
            rank=RANK, maxIter=ITERATIONS, regParam=REG, implicitPrefs=True, alpha=SPARK_ALPHA,
            userCol="user", itemCol="item", ratingCol="rating", seed=seed, checkpointInterval=10,
            numUserBlocks=2 * threads, numItemBlocks=2 * threads,
        )  # fmt: skip
        start = time.perf_counter()
        model = als.fit(ratings)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        # Spark's recommendForAllUsers does not exclude training items; count() forces the work.
        model.recommendForAllUsers(10).count()
        predict_s = time.perf_counter() - start
    finally:
        spark.stop()
        shutil.rmtree(checkpoints, ignore_errors=True)
    return {"fit_s": fit_s, "predict_s": predict_s, "start_s": start_s}


def _popularity_rows(ctx: BenchContext) -> list[Row]:
    rows = []
    for n in QUICK_SIZES if ctx.quick else SIZES:
        print(f"  {scale_name(n)} ...", flush=True)
        out, peak_mb = run_isolated(_measure, n, ctx.threads, threads=ctx.threads)
        rows.append(
            Row(
                suite=SUITE,
                task=TASK,
                dataset=scale_name(n),
                library="likewise",
                algorithm="Popularity",
                params={"by": "count"},
                metrics={
                    "users": out["users"],
                    "items": out["items"],
                    "interactions": out["interactions"],
                    "density %": round(100.0 * out["interactions"] / (out["users"] * out["items"]), 3),
                    "generate s": round(out["generate_s"], 2),
                },
                fit_s=out["fit_s"],
                predict_s=out["predict_s"],
                peak_mb=peak_mb,
                threads=ctx.threads,
                notes="peak includes generating the set",
            )
        )
    return rows


def _als_rows(ctx: BenchContext) -> list[Row]:
    have_spark = ctx.peer("pyspark") is not None
    rows = []
    folder = tempfile.mkdtemp(prefix="likewise-bench-scale-")
    try:
        for n in QUICK_ALS_SIZES if ctx.quick else ALS_SIZES:
            path = f"{folder}/set{n}.npz"
            shape, _ = run_isolated(_write_set, n, path)
            params = {"n_factors": RANK, "n_epochs": ITERATIONS, "reg": REG, "alpha": ALPHA}
            print(f"  {scale_name(n)} ALS likewise ...", flush=True)
            out, peak = run_isolated(_als_likewise, path, ctx.threads, ctx.seed, threads=ctx.threads, timeout=3600)
            rows.append(
                Row(
                    suite=SUITE,
                    task=TASK_ALS,
                    dataset=scale_name(n),
                    library="likewise",
                    algorithm="ALS (CG)",
                    params=params,
                    metrics=dict(shape),
                    fit_s=out["fit_s"],
                    predict_s=out["predict_s"],
                    peak_mb=peak,
                    threads=ctx.threads,
                    pair="als-spark",
                    notes="fresh process: loads the matrix, warms up on 200 users, then fit + top-10 (seen excluded)",
                )
            )
            if not have_spark:
                continue
            print(f"  {scale_name(n)} ALS Spark ...", flush=True)
            try:
                out, _ = run_isolated(_als_spark, path, ctx.threads, ctx.seed, threads=ctx.threads, timeout=3600)
            except Exception as exc:  # no Java, a JVM that cannot start: skip the peer, say why
                reason = str(exc).strip().splitlines()[0][:300]
                ctx.skipped.setdefault("pyspark", f"Spark ALS did not run ({reason})")
                have_spark = False
                continue
            spark_params = {
                "rank": RANK, "maxIter": ITERATIONS, "regParam": REG, "alpha": SPARK_ALPHA,
                "implicitPrefs": True, "master": f"local[{ctx.threads}]",
            }  # fmt: skip
            rows.append(
                Row(
                    suite=SUITE,
                    task=TASK_ALS,
                    dataset=scale_name(n),
                    library="spark",
                    algorithm="ALS (MLlib)",
                    params=spark_params,
                    metrics=dict(shape),
                    fit_s=out["fit_s"],
                    predict_s=out["predict_s"],
                    threads=ctx.threads,
                    pair="als-spark",
                    notes=(
                        f"fresh process; session start {out['start_s']:.1f} s and loading the pairs not timed; "
                        "regParam scaled by each row's count (ALS-WR); recommendForAllUsers keeps seen items; "
                        "JVM memory not measured"
                    ),
                )
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def run(ctx: BenchContext) -> list[Row]:
    """Popularity on every scale set, then ALS beside Spark; see `DESCRIPTION`."""
    return _popularity_rows(ctx) + _als_rows(ctx)
