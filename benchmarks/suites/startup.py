"""Start-up: what a fresh process pays before its first answer (issue 18).

Every CLI call, every server start and every worker process is a fresh interpreter. Each
measure here runs in new processes (``python -c ...``, nothing shared with this one), several
times, and reports the median and the fastest:

- ``import likewise`` against ``import implicit``;
- a saved ALS model loaded and asked for one user's top 10: likewise's model directory
  (``likewise.load``) against implicit's ``.npz`` (``AlternatingLeastSquares.load`` plus the
  user-items matrix it needs for filtering), with a warm kernel cache, and for likewise also
  with an empty one (``NUMBA_CACHE_DIR`` pointing at a new folder: every kernel is compiled);
- ``likewise recommend DIR --user U`` as a shell user runs it;
- the first ``fit`` on MovieLens 100K in a fresh process (data read before the clock starts,
  warm kernel cache) beside a second fit in the same process, for every algorithm and for
  implicit's ALS (fitted with BLAS on one thread, implicit's own advice, as the implicit suite
  does; likewise limits BLAS itself).

A single user's top-n needs no numba at all (one sgemm through ctypes and an exact numpy
selection), so its row with an empty kernel cache measures the same path as the warm one; the
first fit and batch recommendations are what compile.

"in-process s" is measured inside the child from before its first import; "process s" is the
wall time of the whole child, interpreter start-up included, measured by this process.
Children run with Python's bytecode cache on (``PYTHONDONTWRITEBYTECODE`` removed from their
environment), as an installed package has it: without it every likewise module is compiled from
source at every start (~0.08 s here), while the peers' wheels ship compiled files.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO_ROOT, BenchContext, Row

SUITE = "startup"
DESCRIPTION = (
    "What a fresh process pays before its first answer: imports, loading a saved model, the first "
    "recommendation and the first fit, each in new processes (median and fastest of several runs), "
    "likewise beside implicit. Warm = the numba kernel cache already holds likewise's kernels (every "
    "run after the first on a machine); empty cache = a new NUMBA_CACHE_DIR, so every kernel is compiled."
)
ML100K_USER = 196  # a MovieLens 100K user id (raw id)
FIT_TASK = "first fit in a fresh process vs a later fit (warm kernel cache)"

_LOAD_LIKEWISE = """
import time, json
t0 = time.perf_counter()
import likewise
model = likewise.load({path!r})
t1 = time.perf_counter()
recs = model.recommend({user!r}, n=10)
t2 = time.perf_counter()
print(json.dumps({{"load": t1 - t0, "recommend": t2 - t1, "total": t2 - t0, "top": recs.ids()[0].tolist()}}))
"""

_LOAD_IMPLICIT = """
import time, json
t0 = time.perf_counter()
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
model = AlternatingLeastSquares.load({path!r})
user_items = sp.load_npz({seen!r})
t1 = time.perf_counter()
ids, scores = model.recommend({uidx}, user_items[{uidx}], N=10)
t2 = time.perf_counter()
print(json.dumps({{"load": t1 - t0, "recommend": t2 - t1, "total": t2 - t0, "top": ids.tolist()}}))
"""

_IMPORT = """
import time, json
t0 = time.perf_counter()
import {module}
print(json.dumps({{"total": time.perf_counter() - t0}}))
"""

_FIT_LIKEWISE = """
import time, json
from likewise.data.movielens import read_ml100k
from likewise.models import ALGORITHMS
data = read_ml100k({folder!r})
model = ALGORITHMS[{algo!r}](**{params!r})
t0 = time.perf_counter()
model.fit(data)
t1 = time.perf_counter()
model.fit(data)
t2 = time.perf_counter()
print(json.dumps({{"first": t1 - t0, "later": t2 - t1}}))
"""

_FIT_IMPLICIT = """
import time, json
from likewise.data.movielens import read_ml100k
user_items = read_ml100k({folder!r}).matrix.tocsr()
from threadpoolctl import threadpool_limits
from implicit.cpu.als import AlternatingLeastSquares
def make():
    return AlternatingLeastSquares(factors=64, iterations=15, regularization=0.01, num_threads={threads},
                                   random_state=0, calculate_training_loss=False)
t0 = time.perf_counter()
with threadpool_limits(1, "blas"):  # implicit's own advice, as in the implicit suite
    make().fit(user_items, show_progress=False)
t1 = time.perf_counter()
with threadpool_limits(1, "blas"):
    make().fit(user_items, show_progress=False)
t2 = time.perf_counter()
print(json.dumps({{"first": t1 - t0, "later": t2 - t1}}))
"""

# The algorithms fitted in the first-fit table, with the settings of the other suites.
FIT_MODELS: dict[str, dict[str, Any]] = {
    "als": {"n_factors": 64, "n_epochs": 15, "reg": 0.01, "random_state": 0},
    "bpr": {"random_state": 0},
    "ease": {"reg": 500.0},
    "popularity": {},
    "itemknn": {},
    "userknn": {},
    "baseline": {},
    "svd": {"random_state": 0},
    "svdpp": {"random_state": 0},
    "nmf": {"random_state": 0},
    "slope-one": {},
    "co-clustering": {"random_state": 0},
}


def _child(code: str, env: dict[str, str] | None = None, timeout: float = 600.0) -> tuple[dict[str, Any], float]:
    """Run `code` in a new interpreter; (the JSON it printed last, the process's wall seconds)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_child_environment(env),
        cwd=REPO_ROOT,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def _child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **(extra or {})}


def _repeat(code: str, runs: int, env: dict[str, str] | None = None) -> dict[str, float]:
    """Median and fastest of `runs` fresh processes."""
    inside, walls = [], []
    for _ in range(runs):
        out, wall = _child(code, env)
        inside.append(out["total"])
        walls.append(wall)
    return {
        "in-process s": statistics.median(inside),
        "fastest in-process s": min(inside),
        "process s": statistics.median(walls),
    }


def _saved_models(ctx: BenchContext, folder: Path) -> tuple[str, str, str, int]:
    """Fit ALS on ML-100K once with each library and save it; (likewise dir, implicit npz, seen npz, uidx)."""
    import scipy.sparse as sp

    import likewise

    data = ctx.ml100k()
    params = {"n_factors": 64, "n_epochs": 15, "reg": 0.01, "random_state": 0, "n_threads": ctx.threads}
    likewise.ALS(**params).fit(data).save(folder / "likewise-als")
    uidx = int(data.users.to_index([ML100K_USER])[0])
    implicit_npz, seen_npz = str(folder / "implicit-als.npz"), str(folder / "user-items.npz")
    implicit = ctx.peer("implicit")
    if implicit is not None:
        from implicit.cpu.als import AlternatingLeastSquares

        model = AlternatingLeastSquares(factors=64, iterations=15, regularization=0.01, random_state=0)
        model.fit(data.matrix.tocsr(), show_progress=False)
        model.save(implicit_npz)
        sp.save_npz(seen_npz, data.matrix.tocsr())
    return str(folder / "likewise-als"), implicit_npz, seen_npz, uidx


def _row(
    ctx: BenchContext,
    task: str,
    library: str,
    algorithm: str,
    measures: dict[str, float],
    *,
    fit_s: float | None = None,
    predict_s: float | None = None,
    pair: str | None = None,
    params: dict[str, Any] | None = None,
    notes: str = "",
) -> Row:
    return Row(
        suite=SUITE,
        task=task,
        dataset="ml-100k",
        library=library,
        algorithm=algorithm,
        params=params or {},
        metrics={name: round(value, 4) for name, value in measures.items()},
        fit_s=fit_s,
        predict_s=predict_s,
        threads=ctx.threads,
        pair=pair,
        notes=notes,
    )


def run(ctx: BenchContext) -> list[Row]:
    """Measure start-up; see the module docstring."""
    runs = 3 if ctx.quick else 7
    threads_env = {"NUMBA_NUM_THREADS": str(ctx.threads), "OMP_NUM_THREADS": str(ctx.threads)}
    has_implicit = ctx.peer("implicit") is not None
    rows: list[Row] = []
    task = "import"
    imports = (("likewise", "likewise"), ("likewise", "likewise.models"), ("implicit", "implicit.cpu.als"))
    for library, module in imports:
        if library == "implicit" and not has_implicit:
            continue
        measures = _repeat(_IMPORT.format(module=module), runs, threads_env)
        rows.append(_row(ctx, task, library, f"import {module}", measures))

    with tempfile.TemporaryDirectory(prefix="likewise-startup-") as tmp:
        model_dir, implicit_npz, seen_npz, uidx = _saved_models(ctx, Path(tmp))
        task = "load a saved ALS model + top-10 for one user"
        code = _LOAD_LIKEWISE.format(path=model_dir, user=ML100K_USER)
        _child(code, threads_env)  # fill the kernel cache: this row is the warm-cache one
        warm = _repeat(code, runs, threads_env)
        rows.append(_row(ctx, task, "likewise", "ALS", warm, predict_s=warm["in-process s"], pair="als"))
        cold_runs = max(1, runs // 3)
        cold = [
            _repeat(code, 1, {**threads_env, "NUMBA_CACHE_DIR": tempfile.mkdtemp(dir=tmp)}) for _ in range(cold_runs)
        ]
        cold_measures = {name: statistics.median(c[name] for c in cold) for name in cold[0]}
        note = f"every kernel compiled; {cold_runs} run(s)"
        rows.append(_row(ctx, task, "likewise", "ALS (empty kernel cache)", cold_measures, notes=note))
        if has_implicit:
            measures = _repeat(_LOAD_IMPLICIT.format(path=implicit_npz, seen=seen_npz, uidx=uidx), runs, threads_env)
            rows.append(_row(ctx, task, "implicit", "ALS", measures, predict_s=measures["in-process s"], pair="als"))

        task = "likewise recommend DIR --user U (shell command)"
        walls = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "likewise", "recommend", model_dir, "--user", str(ML100K_USER)],
                capture_output=True, check=True, env=_child_environment(threads_env), cwd=REPO_ROOT,
            )  # fmt: skip
            walls.append(time.perf_counter() - start)
        measures = {"process s": statistics.median(walls), "fastest process s": min(walls)}
        rows.append(_row(ctx, task, "likewise", "ALS", measures))

    task = FIT_TASK
    folder = str(ctx.data_dir / "ml-100k")
    for algo, params in FIT_MODELS.items():
        if "n_threads" in _constructor_params(algo):
            params = {**params, "n_threads": ctx.threads}
        code = _FIT_LIKEWISE.format(folder=folder, algo=algo, params=params)
        _child(code, threads_env)  # warm the kernel cache
        rows.append(_fit_row(ctx, "likewise", algo, [_child(code, threads_env)[0] for _ in range(max(1, runs // 2))]))
    if has_implicit:
        code = _FIT_IMPLICIT.format(folder=folder, threads=ctx.threads)
        rows.append(_fit_row(ctx, "implicit", "als", [_child(code, threads_env)[0] for _ in range(max(1, runs // 2))]))
    return rows


def _constructor_params(algo: str) -> list[str]:
    from likewise.models import ALGORITHMS

    return list(ALGORITHMS[algo]._param_names())


def _fit_row(ctx: BenchContext, library: str, algo: str, results: list[dict[str, float]]) -> Row:
    first = statistics.median(r["first"] for r in results)
    later = statistics.median(r["later"] for r in results)
    ratio = first / later if later > 0 else float("nan")
    measures = {"first fit s": first, "later fit s": later, "first / later": ratio}
    params = FIT_MODELS[algo] if library == "likewise" else {}
    return _row(ctx, FIT_TASK, library, algo, measures, fit_s=first, pair=algo, params=params)
