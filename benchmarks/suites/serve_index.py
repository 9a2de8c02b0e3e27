"""The service over a million-item catalogue, with and without an item index (issue 15, item 2).

One ALS model (64 factors, 10 iterations) is fitted on a synthetic implicit log with a catalogue
of `N_ITEMS` items (`--quick`: `QUICK_ITEMS`), and saved three ways: without an index (every
request scores every item: likewise's exact fused kernel), with faiss's HNSW graph and, where
likewise has it, with the IVF-PQ index (`model.build_index(kind)`, default parameters; the index
is saved in the model directory and the server searches it with no setting of its own). For each,
a real ``likewise serve`` with `WORKERS` uvicorn workers (one compute thread each, a SQLite
store) on loopback answers ``GET /v1/users/{user}/recommendations?n=10`` for users drawn at
random (seed 42), seen items excluded, no attribute filter:

- **answers**: `N_CHECKED` users asked one at a time; recall@10 of the indexed server's lists
  against the exact server's lists for the same users (what an index costs in quality, measured
  through the whole service);
- **open loop** at `OPEN_RATE` requests/s (a rate the exact server sustains on 2 cores, so both
  are compared at the same offered load; latency from each request's scheduled send time);
- **closed loop**, `CONCURRENCY` connections back to back (the Python asyncio generator): the
  most each server sustains.

The synthetic log follows MovieLens's power-law popularity, so a third of the catalogue has no
interaction at all (zero factors: those items score 0 and never reach a top-10 of positive
scores) and most items have fewer than five. Server memory is the largest peak (VmHWM) among its
worker processes; build time is `build_index` in the suite's own process, `ctx.threads` threads.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmarks.harness import BenchContext, BenchmarkError, Row
from benchmarks.suites._http_load import load_generator, served

SUITE = "serve-index"
DESCRIPTION = (
    "likewise serve over a 1M-item ALS catalogue without an index (exact scoring of every item) and "
    "with an item index saved in the model directory: recall@10 of the served lists against the exact "
    "server's, p50/p99 latency at a fixed offered load, and the most each sustains; 2 uvicorn workers, "
    "one compute thread each, the load generator on the same machine."
)
TASK = "GET user recommendations, n=10, seen items excluded"
N = 10
N_ITEMS, QUICK_ITEMS = 1_000_000, 100_000
N_USERS, N_INTERACTIONS = 50_000, 4_000_000
ALS_PARAMS: dict[str, Any] = {"n_factors": 64, "n_epochs": 10, "reg": 0.05, "random_state": 0}
INDEXES: tuple[tuple[str, dict[str, Any]], ...] = (("hnsw", {}), ("ivf", {}))
WORKERS = 2
CONCURRENCY = 8
OPEN_RATE = 20.0
N_CHECKED = 200
TOKEN = "bench-token"


def _model_dirs(ctx: BenchContext, folder: Path) -> tuple[list[tuple[str, Path, float | None]], list[Any], int]:
    """[(path name, model dir, index build s)], the model's users, the catalogue size."""
    import likewise
    from likewise.datasets import synthetic
    from likewise.retrieval import INDEX_KINDS

    n_items = QUICK_ITEMS if ctx.quick else N_ITEMS
    scale = n_items / N_ITEMS
    data = synthetic(
        int(N_USERS * max(scale, 0.2)), n_items, int(N_INTERACTIONS * max(scale, 0.2)),
        kind="implicit", n_genres=18, random_state=0,
    )  # fmt: skip
    model = likewise.ALS(**ALS_PARAMS, n_threads=ctx.threads).fit(data)
    dirs: list[tuple[str, Path, float | None]] = [("exact", folder / "exact", None)]
    model.save(dirs[0][1])
    for kind, params in INDEXES:
        if kind not in INDEX_KINDS:
            ctx.skipped[kind] = f"likewise has no {kind!r} index in this version: its rows are left out"
            continue
        start = time.perf_counter()
        model.build_index(kind, **params)
        build_s = time.perf_counter() - start
        path = folder / kind
        model.save(path)
        model.drop_index()
        dirs.append((kind, path, build_s))
    users = [u.item() if hasattr(u, "item") else u for u in model.users_.ids.tolist()]
    return dirs, users, n_items


def _paths(users: list[Any], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"/v1/users/{rng.choice(users)}/recommendations?n={N}" for _ in range(count)]


def _answers(base: str, paths: list[str]) -> list[list[str]]:
    """The item lists for `paths`, asked one at a time."""
    import httpx

    lists = []
    with httpx.Client(base_url=base, timeout=60.0) as client:
        for path in paths:
            response = client.get(path)
            if response.status_code != 200:
                raise BenchmarkError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
            lists.append([str(entry["item"]) for entry in response.json()["items"]])
    return lists


def _recall(truth: list[list[str]], found: list[list[str]]) -> float:
    hits = sum(len(set(t) & set(f)) for t, f in zip(truth, found, strict=True))
    return hits / max(1, sum(len(t) for t in truth))


def _measure(pool: ProcessPoolExecutor, model_dir: Path, folder: Path, users: list[Any], duration: float) -> Any:
    """One server: its answers for the checked users, an open-loop and a closed-loop run, its peak."""
    folder.mkdir()
    with served(model_dir, folder, WORKERS, TOKEN) as server:
        answers = _answers(server.base, _paths(users, N_CHECKED, 7))
        loads = {}
        for name, rate in (("open", OPEN_RATE), ("closed", None)):
            start_at = time.time() + 2.0
            job = (server.base, _paths(users, 4096, 42), N, duration, start_at, rate, CONCURRENCY)
            loads[name] = pool.submit(load_generator, *job).result()
        return answers, loads, server.peak_mb()


def _row(path: str, build_s: float | None, n_items: int, recall: float, loads: dict[str, Any], peak: float) -> Row:
    open_loop, closed_loop = loads["open"], loads["closed"]
    metrics = {
        "recall@10 vs exact": round(recall, 4),
        f"p50 ms at {OPEN_RATE:.0f}/s": round(open_loop["p50 ms"], 2),
        f"p99 ms at {OPEN_RATE:.0f}/s": round(open_loop["p99 ms"], 2),
        f"errors at {OPEN_RATE:.0f}/s": open_loop["errors"],
        "most req/s": round(closed_loop["req/s"], 1),
        "p99 ms at most": round(closed_loop["p99 ms"], 2),
        "errors at most": closed_loop["errors"],
        "build s": None if build_s is None else round(build_s, 1),
        "worker peak MB": round(peak, 1),
    }
    return Row(
        suite=SUITE,
        task=TASK,
        dataset=f"synthetic {n_items // 1000}k items",
        library="likewise",
        algorithm="ALS, no index (exact)" if path == "exact" else f"ALS + {path} index",
        params={**ALS_PARAMS, "index": path, "workers": WORKERS, "concurrency": CONCURRENCY},
        metrics=metrics,
        fit_s=None,
        threads=1,
        notes=f"open-loop statuses {open_loop['statuses']}; closed-loop statuses {closed_loop['statuses']}",
    )


def run(ctx: BenchContext) -> list[Row]:
    """Measure the service with and without an index; see the module docstring."""
    duration = 5.0 if ctx.quick else 10.0
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="likewise-serve-index-") as tmp,
        ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool,
    ):
        dirs, users, n_items = _model_dirs(ctx, Path(tmp))
        truth: list[list[str]] = []
        for path, model_dir, build_s in dirs:
            answers, loads, peak = _measure(pool, model_dir, Path(tmp) / f"run-{path}", users, duration)
            truth = truth or answers  # the exact server is measured first
            rows.append(_row(path, build_s, n_items, _recall(truth, answers), loads, peak))
            shutil.rmtree(model_dir)  # a million-item model directory per path: keep the disk free
    ctx.note(
        f"serve-index: {duration:.0f} s per load run; {WORKERS} workers, one compute thread each, "
        f"OPENBLAS_NUM_THREADS=1; index builds with {ctx.threads} thread(s)"
    )
    return rows
