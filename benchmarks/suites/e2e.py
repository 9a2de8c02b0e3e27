"""End to end at MovieLens-25M scale (issue 15, item 6): one pipeline, each step timed, with the
step's own peak memory.

A ratings CSV in ML-25M's format and proportions (25M rows, 162,541 users, ~59k movies; the
generator of the `large` suite) is written once. Then, in one fresh process per library:

1. read the CSV (likewise: ``read_csv(weight="rating")``, validated, streamed into the CSR;
   implicit: ``pandas.read_csv`` + ``pandas.factorize`` + ``scipy.sparse``, what implicit's own
   examples do). Neither keeps the timestamps: no later step uses them (likewise reads them
   once before, in a row of its own, ``read with timestamps``, to show what they cost);
2. for ALS (64 factors, 15 iterations, CG) and for item-item cosine (k = 20): fit, recommend
   top-10 for every user (seen items excluded, exact scan), save, load; then for ALS build the
   HNSW item index on the loaded model (``model.build_index("hnsw")``, docs/ann.md) and recommend
   top-10 for every user through it. Save and load come before the index because implicit builds
   none: their rows then hold the same things in both libraries.

Each step's seconds and its peak resident memory: the process's high-water mark is reset
before every step (Linux ``/proc/self/clear_refs``), so a step's peak is the most the process
held during that step (data read earlier included, since it is still held). Warm: the kernels
are loaded once on a tiny slice first. Interactions are the ratings as implicit weights
(duplicate pairs summed by both libraries).

`--quick`: a 1M-row file.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from benchmarks.harness import BenchContext, Row, run_isolated
from benchmarks.suites.large import write_ratings_csv

SUITE = "e2e"
DESCRIPTION = (
    "End to end at MovieLens-25M scale: a generated ratings CSV in ML-25M's format (25M rows, "
    "162,541 users) read, then ALS (64 factors, 15 iterations) and item-item cosine (k=20) each "
    "fitted, top-10 for every user (exact), saved and loaded, then ALS's HNSW index built and top-10 again through "
    "it - likewise beside "
    "implicit (which reads with pandas + scipy). Neither keeps the timestamps, which no step uses (likewise's "
    "'read with timestamps' row reads them once, on its own). One fresh process per library; each step's time "
    "and that step's peak memory (the high-water mark is reset before every step). `--quick`: 1M rows."
)
FULL_ROWS, QUICK_ROWS = 25_000_000, 1_000_000
FACTORS, ITERATIONS, REG, K = 64, 15, 0.05, 20
TASK = "end to end: read, fit, top-10 for every user, save, load"


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:  # "5": reset the peak RSS (Linux >= 4.0)
        handle.write("5")


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return _status_mb("VmHWM:")


class _Steps:
    """Time steps and record each one's peak memory."""

    def __init__(self) -> None:
        self.out: list[dict[str, Any]] = []

    def run(self, algorithm: str, step: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        _reset_peak()
        held = _status_mb("VmRSS:")  # what earlier steps left resident: the step's own share is peak - held
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds = time.perf_counter() - start
        self.out.append(
            {"algorithm": algorithm, "step": step, "seconds": seconds, "peak_mb": _peak_mb(), "held_mb": held}
        )
        print(
            f"    {algorithm:>8} {step:<10} {seconds:8.2f} s  {self.out[-1]['peak_mb']:8.0f} MB (held {held:.0f})",
            flush=True,
        )
        return result


def _likewise_pipeline(path: str, threads: int) -> list[dict[str, Any]]:
    """Child: every step with likewise."""
    import numpy as np

    import likewise
    from likewise.models import ALS, ItemKNN
    from likewise.models.base import Recommender

    steps = _Steps()
    columns = {"user": "userId", "item": "movieId", "weight": "rating"}
    # Timestamps once, on their own: no later step uses them and implicit's read drops them, so
    # the pipeline reads what it needs (like with like); this row shows what they cost.
    steps.run("data", "read with timestamps", likewise.read_csv, path, **columns, timestamp="timestamp")
    data = steps.run("data", "read", likewise.read_csv, path, **columns)
    models = {
        "ALS": lambda: ALS(
            n_factors=FACTORS, n_epochs=ITERATIONS, reg=REG, alpha=0.0, random_state=0, n_threads=threads
        ),
        "ItemKNN": lambda: ItemKNN(k=K, similarity="cosine", n_threads=threads),
    }
    small = data.subset(np.arange(min(1000, data.n_users)))
    for name, make in models.items():
        make().fit(small).recommend(small.users.ids[:2], n=10)  # load the cached kernels
        model = steps.run(name, "fit", make().fit, data)
        recs = steps.run(name, "top-10 all", model.recommend, data.users.ids, n=10)
        assert (recs.indices >= 0).mean() > 0.99
        with tempfile.TemporaryDirectory(prefix="likewise-e2e-") as folder:
            # Save and load before the index is built: implicit builds none, so these two rows
            # compare like with like (the same model, the lists still held, as in implicit's run).
            target = os.path.join(folder, "model")
            steps.run(name, "save", model.save, target)
            del model
            model = steps.run(name, "load", Recommender.load, target)
        if isinstance(model, ALS):  # factor models take an item index; ItemKNN's lists are already top-k
            steps.run(name, "ann index", model.build_index, "hnsw")
            approximate = steps.run(name, "top-10 via index", model.recommend, data.users.ids, n=10)
            steps.out[-1]["recall@10"] = _overlap(recs.indices, approximate.indices)
            del approximate
        del model, recs
    return steps.out


def _implicit_read(path: str) -> Any:
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    frame = pd.read_csv(path)
    users, user_ids = pd.factorize(frame["userId"], sort=True)
    items, item_ids = pd.factorize(frame["movieId"], sort=True)
    values = frame["rating"].to_numpy(dtype=np.float32)
    del frame
    shape = (len(user_ids), len(item_ids))
    return sp.csr_matrix((values, (users, items)), shape=shape, dtype=np.float32)  # duplicates summed


def _implicit_pipeline(path: str, threads: int) -> list[dict[str, Any]]:
    """Child: every step with implicit (reading through pandas and scipy)."""
    import numpy as np
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import CosineRecommender
    from threadpoolctl import threadpool_limits

    steps = _Steps()
    matrix = steps.run("data", "read", _implicit_read, path)
    models = {
        "ALS": (
            AlternatingLeastSquares,
            lambda: AlternatingLeastSquares(
                factors=FACTORS,
                iterations=ITERATIONS,
                regularization=REG,
                alpha=1.0,
                use_cg=True,
                num_threads=threads,
                random_state=0,
            ),
        ),
        "ItemKNN": (CosineRecommender, lambda: CosineRecommender(K=K + 1, num_threads=threads)),
    }
    users = np.arange(matrix.shape[0])
    for name, (cls, make) in models.items():
        user_items = matrix if name == "ALS" else matrix.astype(np.float64)  # item-item kernels take doubles
        # BLAS on one thread while fitting, implicit's own advice (as in the implicit suite)
        with threadpool_limits(1, "blas"):
            make().fit(user_items[:1000], show_progress=False)  # warm-up, as for likewise
            model = make()
            steps.run(name, "fit", model.fit, user_items, show_progress=False)
        with threadpool_limits(threads, "blas"):
            ids, _ = steps.run(
                name, "top-10 all", model.recommend, users, user_items, N=10, filter_already_liked_items=True
            )
        assert (np.asarray(ids) >= 0).mean() > 0.99
        with tempfile.TemporaryDirectory(prefix="implicit-e2e-") as folder:
            target = os.path.join(folder, "model.npz")
            steps.run(name, "save", model.save, target)
            del model
            steps.run(name, "load", cls.load, target)
        del user_items
    return steps.out


def _overlap(exact: Any, approximate: Any) -> float:
    """Recall@10 of the index's lists against the exact lists: the mean share of each user's
    exact top-10 that the index also returned."""
    import numpy as np

    hits = sum(np.isin(row, ref).sum() for row, ref in zip(approximate, exact, strict=True))
    return float(hits / max(1, int((exact >= 0).sum())))


def _rows(out: list[dict[str, Any]], library: str, dataset: str, threads: int) -> list[Row]:
    names = {"data": "read the CSV", "ALS": "ALS (64 factors, 15 iterations)", "ItemKNN": "item-item cosine (k=20)"}
    rows = []
    for step in out:
        rows.append(
            Row(
                suite=SUITE,
                task=TASK,
                dataset=dataset,
                library=library,
                algorithm=f"{names[step['algorithm']]}: {step['step']}",
                params={"step": step["step"]},
                metrics={"recall@10": step["recall@10"]} if "recall@10" in step else {},
                fit_s=step["seconds"],
                peak_mb=step["peak_mb"],
                threads=threads,
                notes=(
                    "peak: the process's most resident memory during this step; "
                    f"{step['held_mb']:,.0f} MB already resident when it started"
                ),
            )
        )
    return rows


def run(ctx: BenchContext) -> list[Row]:
    """The pipeline with likewise, then with implicit; see `DESCRIPTION`."""
    n = QUICK_ROWS if ctx.quick else FULL_ROWS
    rows = []
    with tempfile.TemporaryDirectory(prefix="likewise-e2e-") as folder:
        path = os.path.join(folder, "ratings.csv")
        print(f"  writing a {n:,}-row ratings.csv ...", flush=True)
        start = time.perf_counter()
        write_ratings_csv(path, n, ctx.seed)
        written = time.perf_counter() - start
        dataset = f"ML-25M-format CSV, {n / 1e6:g}M rows, {os.path.getsize(path) / 2**20:,.0f} MB"
        rows.append(
            Row(
                suite=SUITE,
                task=TASK,
                dataset=dataset,
                library="benchmark",
                algorithm="generate the CSV",
                params={"step": "generate"},
                metrics={},
                fit_s=written,
                threads=1,
                notes="numpy + DataFrame.to_csv in 1M-row blocks",
            )
        )
        print("  likewise ...", flush=True)
        out, _ = run_isolated(_likewise_pipeline, path, ctx.threads, threads=ctx.threads, timeout=3600)
        rows += _rows(out, "likewise", dataset, ctx.threads)
        if ctx.peer("implicit") is not None:
            print("  implicit ...", flush=True)
            out, _ = run_isolated(_implicit_pipeline, path, ctx.threads, threads=ctx.threads, timeout=3600)
            rows += _rows(out, "implicit", dataset, ctx.threads)
    return rows
