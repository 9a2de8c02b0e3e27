"""The benchmark harness every suite uses: context, data sets, timing, isolation, result rows.

A suite is a module ``benchmarks/suites/<name>.py`` with::

    SUITE = "<name>"
    DESCRIPTION = "one paragraph: what is measured and why"

    def run(ctx: BenchContext) -> list[Row]: ...

Inside ``run``:

- ``ctx.quick`` (smaller runs), ``ctx.threads`` (give it to every library: likewise's
  ``n_threads``, implicit's ``num_threads``, ...), ``ctx.seed``;
- data: ``ctx.ml100k()``, ``ctx.ml100k_holdout()`` (per-user 80/20, seed 42: the split every
  top-n suite shares), ``ctx.ml100k_folds()`` (5-fold random CV, seed 42),
  ``ctx.synthetic(n_interactions, kind=...)`` (scale sets shaped like MovieLens; cached per
  process). The same data are reachable from a child process through the module-level
  `ml100k` / `synthetic` functions (which is what `run_isolated` children should call);
- peers: ``ctx.peer("implicit")`` imports a peer or returns None, noting why it was skipped;
- ``timed(fn, *args)`` -> (result, seconds); ``run_isolated(fn, *args)`` -> (result, peak MB)
  runs a top-level function in a fresh process (peak memory; with ``cold=True`` an empty numba
  cache, so the first call includes JIT compilation);
- ``ranking_metrics(rec_indices, test)`` / ``rating_metrics(pred, truth)``: the same metric
  code for every library's output;
- ``Row(...)`` is one measured line of the results table.

Three times per measured call (issue 11, "fresh / warm / cold"):

- **warm** (``fit_s``, ``predict_s``): a later call in a process that has already made one;
- **fresh** (``fit_fresh_s``, ``predict_fresh_s``): the first call in a new process whose numba
  kernel cache is filled (what every run after the first pays: importing the model's modules,
  loading its compiled kernels, the call itself; interpreter start and reading the data excluded);
- **cold** (``fit_cold_s``, ``predict_cold_s``): the same in a new process with an empty numba
  cache (``NUMBA_CACHE_DIR`` a new folder), so every kernel is compiled.

`first_calls` measures fresh and cold in two `run_isolated` children. Thread counts: every row
says how many threads its library was allowed (``threads``); the report compares two rows only
when those are equal. `default_threads` (the cores this process may run on) is the default.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import math
import multiprocessing as mp
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "REPO_ROOT",
    "BenchContext",
    "BenchmarkError",
    "FirstCalls",
    "Row",
    "default_data_dir",
    "default_threads",
    "first_calls",
    "git_state",
    "machine_info",
    "ml100k",
    "peak_rss_mb",
    "ranking_metrics",
    "rating_metrics",
    "run_isolated",
    "scale_name",
    "scale_shape",
    "synthetic",
    "timed",
    "users_with_test",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository root (the folder holding ``benchmarks/`` and ``src/``)."""

DATA_ENV = "LIKEWISE_BENCH_DATA"
HOLDOUT_SEED = 42

# ML-25M: 162,541 users x 59,047 movies for 25,000,095 ratings. Scale sets keep that shape.
_ML25M_USERS_PER_INTERACTION = 160_000 / 25_000_000
_ML25M_ITEMS_PER_INTERACTION = 60_000 / 25_000_000


class BenchmarkError(RuntimeError):
    """A benchmark could not run (missing data set, a child process that failed, ...)."""


# --------------------------------------------------------------------------- rows


@dataclass
class Row:
    """One measured line: a library's algorithm on one data set for one task.

    Attributes
    ----------
    suite : str
        The suite that produced it.
    task : str
        What was measured, e.g. ``"top-10, per-user 80/20 holdout"`` or ``"rating, 5-fold CV"``.
    dataset : str
        e.g. ``"ml-100k"``, ``"synthetic-5M implicit"``.
    library : str
        ``"likewise"``, ``"implicit"``, ``"surprise"``, ``"lightfm"``, ...
    algorithm : str
        The algorithm's name. Rows of different libraries with the same algorithm name
        (case-insensitive) in the same task and data set are compared side by side
        (set `pair` when the names differ).
    params : dict
        Hyper-parameters that matter for the comparison.
    metrics : dict
        Metric name -> value, e.g. ``{"ndcg@10": 0.41, "precision@10": 0.33}``; computed
        with likewise's metric code for every library.
    fit_s : float or None
        Warm fit time in seconds (per fold for CV tasks).
    predict_s : float or None
        Time to recommend / predict the whole test set, seconds.
    fit_cold_s : float or None
        First fit in a fresh process with an empty numba cache (includes JIT compilation).
    peak_mb : float or None
        Peak resident memory of the process that fitted the model (see `run_isolated`).
    threads : int
        Threads this row's library was allowed (numba / OpenMP / BLAS / its own pool). The
        report puts two rows side by side in a ratio only when their ``threads`` are equal.
    notes : str
        Anything a reader needs to interpret the row.
    pair : str or None
        Comparison key overriding the algorithm name (e.g. ``"als"`` for likewise's ALS and
        implicit's AlternatingLeastSquares).
    fit_fresh_s, predict_fresh_s : float or None
        First fit / first predict in a new process with a filled kernel cache (`first_calls`).
    predict_cold_s : float or None
        First predict in a new process with an empty kernel cache.
    """

    suite: str
    task: str
    dataset: str
    library: str
    algorithm: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    fit_s: float | None
    predict_s: float | None = None
    fit_cold_s: float | None = None
    peak_mb: float | None = None
    threads: int = 1
    notes: str = ""
    pair: str | None = None
    fit_fresh_s: float | None = None
    predict_fresh_s: float | None = None
    predict_cold_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (NaN and infinities become None)."""
        return _jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        """Rebuild a row from `to_dict` output (unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    @property
    def compare_key(self) -> str:
        """What pairs this row with another library's row: `pair`, else the algorithm name."""
        return _normalise(self.pair if self.pair else self.algorithm)


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


# --------------------------------------------------------------------------- timing


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Call ``fn(*args, **kwargs)``; return (its result, wall-clock seconds)."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def peak_rss_mb() -> float:
    """Peak resident set size of this process's own memory so far, in MB.

    On Linux this is ``VmHWM`` from /proc/self/status, which starts afresh at exec. Not
    ``ru_maxrss``: Linux carries that over exec from the forked parent, so a spawned child that
    allocated nothing reported the parent's peak (issue 11, finding 1). Elsewhere ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:  # pragma: no cover - not Linux
        pass
    import resource  # pragma: no cover - not Linux

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # pragma: no cover
    # macOS reports bytes, the others KiB.
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0  # pragma: no cover


def _child_main(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...], threads: int | None) -> None:
    try:
        if threads is not None:
            from threadpoolctl import threadpool_limits

            threadpool_limits(threads)
        result = fn(*args)
        conn.send(("ok", result, peak_rss_mb()))
    except BaseException as exc:  # report everything to the parent, which re-raises
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}", peak_rss_mb()))
    finally:
        conn.close()


@contextlib.contextmanager
def _environ(updates: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def run_isolated(
    fn: Callable[..., Any],
    *args: Any,
    cold: bool = False,
    threads: int | None = None,
    timeout: float | None = None,
) -> tuple[Any, float]:
    """Run ``fn(*args)`` in a fresh process; return (its result, the child's peak RSS in MB).

    The child is started with the ``spawn`` method (a new interpreter: nothing inherited from
    this process's imports, caches or memory), so its peak resident memory is what ``fn``
    needed plus the interpreter and imports (~100-200 MB with numpy, scipy, pandas, numba).

    Parameters
    ----------
    fn : callable
        A picklable module-level function (not a lambda or closure); its arguments and result
        must pickle too. Load data inside it (`ml100k`, `synthetic`) rather than passing big
        arrays, so the data's memory is counted where it is used.
    *args
        Positional arguments of `fn`.
    cold : bool
        Start the child with an empty numba cache directory, so every kernel is compiled
        again: time the first call inside `fn` to get a cold time.
    threads : int, optional
        The child's thread budget: ``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``,
        ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` are set before it starts (so numba's
        pool and every BLAS / OpenMP pool are created that size) and threadpoolctl limits the
        pools again once it runs.
    timeout : float, optional
        Seconds before the child is killed and `BenchmarkError` raised.

    Returns
    -------
    (object, float)
        ``fn``'s return value and the peak RSS of the child in MB.

    Raises
    ------
    BenchmarkError
        When ``fn`` raised (its traceback is in the message), the child died, or timed out.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    env: dict[str, str] = {}
    cache_dir = tempfile.mkdtemp(prefix="likewise-numba-cold-") if cold else None
    if cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir
    if threads is not None:
        for name in _THREAD_VARIABLES:
            env[name] = str(threads)
    process = ctx.Process(target=_child_main, args=(child, fn, args, threads), daemon=True)
    try:
        with _environ(env):
            process.start()
        child.close()
        if not parent.poll(timeout):
            process.kill()
            raise BenchmarkError(f"{_name(fn)} did not finish within {timeout} s")
        try:
            status, payload, peak = parent.recv()
        except EOFError:
            process.join()
            raise BenchmarkError(
                f"{_name(fn)}: the child process died (exit code {process.exitcode}; out of memory?)"
            ) from None
        process.join()
    finally:
        parent.close()
        if process.is_alive():
            process.kill()
        if cache_dir:
            import shutil

            shutil.rmtree(cache_dir, ignore_errors=True)
    if status != "ok":
        raise BenchmarkError(f"{_name(fn)} failed in the isolated process: {payload}")
    return payload, float(peak)


_THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def default_threads() -> int:
    """The cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` elsewhere).

    A benchmark pinned to 2 of 8 cores (``taskset``, a container's cpuset) must not claim 8.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


@dataclass
class FirstCalls:
    """What `first_calls` measured: the child's own figures in a fresh and in a cold process.

    ``fresh`` and ``cold`` are the dicts the measured function returned (conventionally
    ``{"fit_s": ..., "predict_s": ...}`` timed from before the model's first import);
    ``peak_mb`` is the fresh child's peak resident memory.
    """

    fresh: dict[str, Any]
    cold: dict[str, Any]
    peak_mb: float

    def fields(self) -> dict[str, Any]:
        """Keyword arguments for `Row`: fit/predict fresh and cold times and the peak memory."""
        return {
            "fit_fresh_s": self.fresh.get("fit_s"),
            "predict_fresh_s": self.fresh.get("predict_s"),
            "fit_cold_s": self.cold.get("fit_s"),
            "predict_cold_s": self.cold.get("predict_s"),
            "peak_mb": self.peak_mb,
        }


def first_calls(
    fn: Callable[..., dict[str, Any]], *args: Any, threads: int | None = None, timeout: float | None = None
) -> FirstCalls:
    """Run ``fn(*args)`` in two new processes: one with the kernel cache as it is, one with an empty one.

    `fn` times its own first calls (import the model's module inside the clock, read the data
    before it) and returns a dict such as ``{"fit_s": ..., "predict_s": ...}``. Measure the warm
    times in this process first: that fills the on-disk kernel cache the fresh child loads.
    """
    fresh, peak = run_isolated(fn, *args, threads=threads, timeout=timeout)
    cold, _ = run_isolated(fn, *args, cold=True, threads=threads, timeout=timeout)
    return FirstCalls(fresh=dict(fresh), cold=dict(cold), peak_mb=peak)


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


# --------------------------------------------------------------------------- data


def default_data_dir() -> Path:
    """``$LIKEWISE_BENCH_DATA``, else ``<repo>/../shared/data``."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser().resolve() if env else (REPO_ROOT.parent / "shared" / "data").resolve()


@functools.cache
def ml100k(data_dir: str | Path | None = None) -> Any:
    """MovieLens 100K as likewise Interactions, read once per process.

    Looks in ``<data_dir>/ml-100k`` (default `default_data_dir`); falls back to the likewise
    data set cache (``likewise datasets fetch ml-100k``) when that copy exists.

    Raises
    ------
    BenchmarkError
        When neither copy is there (with what to do about it).
    """
    from likewise.data.movielens import read_ml100k

    root = Path(data_dir) if data_dir is not None else default_data_dir()
    folder = root / "ml-100k"
    if (folder / "u.data").exists():
        return read_ml100k(folder)
    from likewise import datasets

    if datasets.is_cached("ml-100k"):
        return datasets.load("ml-100k")
    raise BenchmarkError(
        f"MovieLens 100K not found in {folder}: pass --data-dir PATH (a folder holding ml-100k/), "
        f"set {DATA_ENV}, or run `likewise datasets fetch ml-100k`"
    )


def scale_shape(n_interactions: int) -> tuple[int, int]:
    """(n_users, n_items) of a scale set: MovieLens-25M's proportions (25M -> 160k x 60k)."""
    n_users = max(100, round(n_interactions * _ML25M_USERS_PER_INTERACTION))
    n_items = max(50, round(n_interactions * _ML25M_ITEMS_PER_INTERACTION))
    return n_users, n_items


@functools.cache
def synthetic(n_interactions: int, kind: Literal["implicit", "explicit"] = "implicit", seed: int = 0) -> Any:
    """A synthetic scale set of exactly `n_interactions` (user, item) pairs, cached per process.

    Users and items grow with the log in MovieLens-25M's proportions (`scale_shape`), with 18
    genres, power-law item popularity and heavy-tailed user activity
    (`likewise.datasets.synthetic`). Deterministic for a given seed.
    """
    from likewise.datasets import synthetic as generate

    n_users, n_items = scale_shape(n_interactions)
    return generate(n_users, n_items, n_interactions, kind=kind, n_genres=18, random_state=seed)


def scale_name(n_interactions: int, kind: str = "implicit") -> str:
    """A data set label such as ``"synthetic-5M implicit"``."""
    if n_interactions >= 1_000_000 and n_interactions % 1_000_000 == 0:
        size = f"{n_interactions // 1_000_000}M"
    elif n_interactions >= 1000 and n_interactions % 1000 == 0:
        size = f"{n_interactions // 1000}k"
    else:
        size = str(n_interactions)
    return f"synthetic-{size} {kind}"


# --------------------------------------------------------------------------- metrics


def users_with_test(test: Any) -> Any:
    """Indices of the users with at least one test interaction (int32), ascending."""
    import numpy as np

    return np.flatnonzero(np.diff(test.matrix.indptr) > 0).astype(np.int32)


def ranking_metrics(
    rec_indices: Any,
    test: Any,
    users: Any = None,
    *,
    k: int = 10,
    relevance_threshold: float | None = None,
) -> dict[str, float]:
    """Top-k metrics of any library's lists, with likewise's metric code.

    Parameters
    ----------
    rec_indices : int array (n_rows, >= k)
        Item indices (in ``test``'s item id map, which a split shares with train), best
        first, ``-1`` padding. Row r is the list of user ``users[r]``.
    test : Interactions
        The held-out interactions.
    users : int array, optional
        Test user index of each row (default: `users_with_test(test)`, i.e. rows for exactly the
        users with test items).
    k : int
        Cut-off.
    relevance_threshold : float, optional
        Test values ``>=`` this are relevant (default: every held-out interaction).

    Returns
    -------
    dict
        ``ndcg@k``, ``precision@k``, ``recall@k``, ``map@k``, ``mrr@k``, ``hit_rate@k``
        (means over users with a relevant item) and ``coverage`` (share of the catalogue
        recommended to anyone).
    """
    import numpy as np
    import scipy.sparse as sp

    from likewise.evaluation import metrics as m

    recs = np.asarray(rec_indices)[:, :k].astype(np.int64)
    rows = users_with_test(test) if users is None else np.asarray(users, dtype=np.int64)
    if rows.shape[0] != recs.shape[0]:
        raise BenchmarkError(f"{recs.shape[0]} lists for {rows.shape[0]} users")
    rel = sp.csr_matrix(test.matrix[rows], dtype=np.float64)
    if relevance_threshold is not None:
        rel.data = (rel.data >= relevance_threshold).astype(np.float64)
    else:
        rel.data[:] = 1.0
    rel.eliminate_zeros()
    out = {
        f"ndcg@{k}": m.ndcg_at_k(recs, rel, k),
        f"precision@{k}": m.precision_at_k(recs, rel, k),
        f"recall@{k}": m.recall_at_k(recs, rel, k),
        f"map@{k}": m.average_precision_at_k(recs, rel, k),
        f"mrr@{k}": m.reciprocal_rank(recs, rel, k),
        f"hit_rate@{k}": m.hit_rate_at_k(recs, rel, k),
    }
    result = {
        name: float(np.nanmean(values)) if np.isfinite(values).any() else math.nan for name, values in out.items()
    }
    result["coverage"] = m.catalogue_coverage(recs, test.n_items)
    return result


def rating_metrics(pred: Any, truth: Any) -> dict[str, float]:
    """``rmse`` and ``mae`` of predicted ratings (likewise's metric code)."""
    from likewise.evaluation import metrics as m

    return {"rmse": m.rmse(pred, truth), "mae": m.mae(pred, truth)}


# --------------------------------------------------------------------------- context


@dataclass
class BenchContext:
    """What a suite gets: settings, data sets, peers, and a place for notes.

    Attributes
    ----------
    quick : bool
        Smaller runs (fewer folds, smaller scale sets, no 25M set) for a quick check.
    threads : int
        Threads every multi-threaded library may use (default: the cores this process may
        run on, `default_threads`). Rows beside a single-threaded peer (Surprise) run on 1.
    data_dir : pathlib.Path
        Folder holding ``ml-100k/`` etc. (default ``$LIKEWISE_BENCH_DATA`` or ``../shared/data``).
    seed : int
        Seed of splits and models.
    notes : list of str
        Messages the suite wants printed with its results (skipped peers are added here).
    skipped : dict
        Peer name -> why it did not run.
    """

    quick: bool = False
    threads: int = field(default_factory=lambda: default_threads())
    data_dir: Path = field(default_factory=default_data_dir)
    seed: int = HOLDOUT_SEED
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()

    def ml100k(self) -> Any:
        """MovieLens 100K (explicit 1-5 ratings, 943 x 1,682), cached per process."""
        return ml100k(self.data_dir)

    def ml100k_holdout(self) -> tuple[Any, Any]:
        """(train, test): each user's ratings split 80/20 at random, seed 42.

        The split of every top-n comparison on ML-100K (every held-out rating is relevant).
        """
        return _holdout(str(self.data_dir))

    def ml100k_folds(self, n_folds: int = 5) -> list[Any]:
        """5 random interaction folds of ML-100K (seed 42) as `Split` objects; 2 when quick."""
        return _folds(str(self.data_dir), 2 if self.quick else n_folds)

    def synthetic(self, n_interactions: int, kind: Literal["implicit", "explicit"] = "implicit") -> Any:
        """A scale set (see the module-level `synthetic`), cached per process."""
        return synthetic(int(n_interactions), kind, 0)

    def peer(self, name: str) -> Any:
        """Import a peer library, or return None and note why it is skipped.

        Parameters
        ----------
        name : str
            Import name: ``"implicit"``, ``"surprise"``, ``"lightfm"``, ...
        """
        try:
            return importlib.import_module(name)
        except Exception as exc:  # ImportError, or a peer broken on this numpy
            reason = f"not importable ({type(exc).__name__}: {exc})"
            if name not in self.skipped:
                self.skipped[name] = reason
                print(f"  skipping {name}: {reason}", file=sys.stderr)
            return None

    def note(self, message: str) -> None:
        """Add a note printed with the suite's results."""
        if message not in self.notes:
            self.notes.append(message)


@functools.cache
def _holdout(data_dir: str) -> tuple[Any, Any]:
    from likewise.evaluation import user_split

    train, test = user_split(ml100k(Path(data_dir)), test_fraction=0.2, random_state=HOLDOUT_SEED)
    return train, test


@functools.cache
def _folds(data_dir: str, n_folds: int) -> list[Any]:
    from likewise.evaluation import kfold

    return list(kfold(ml100k(Path(data_dir)), n_splits=n_folds, random_state=HOLDOUT_SEED))


# --------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _version(module: str) -> str | None:
    from importlib import metadata

    if module == "likewise":  # also when run from a source tree that is not installed
        try:
            return str(importlib.import_module("likewise").__version__)
        except ImportError:
            return None

    for dist in (module, {"surprise": "scikit-surprise"}.get(module, module)):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


IGNORED_FOR_DIRTY = ("benchmarks/results/", "docs/benchmarks.md")
"""Paths a benchmark run itself writes: changes there do not make the measured code dirty."""


def git_state(root: Path = REPO_ROOT) -> dict[str, Any]:
    """The commit the benchmarks measure and whether the tree differs from it.

    Returns ``{"commit": short hash or None, "dirty": bool, "changes": [porcelain lines]}``;
    untracked files count (a new suite file changes what runs), results files and the page
    (`IGNORED_FOR_DIRTY`) do not. Outside a git checkout: commit None, dirty False, and a
    ``"note"`` saying why.
    """
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=all"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        return {"commit": None, "dirty": False, "changes": [], "note": f"not a git checkout ({exc})"}
    changes = [line for line in status.splitlines() if line.strip() and not _ignored(line[3:])]
    return {"commit": commit, "dirty": bool(changes), "changes": changes}


def _ignored(path: str) -> bool:
    path = path.strip().strip('"').split(" -> ")[-1]
    return any(path == prefix or path.startswith(prefix) for prefix in IGNORED_FOR_DIRTY)


def _git_commit() -> str | None:
    state = git_state()
    if state["commit"] is None:
        return None
    return str(state["commit"]) + ("+dirty" if state["dirty"] else "")


def _numba_threading_layer() -> str:
    """The layer numba's parallel kernels use here (runs a tiny parallel kernel if none has run)."""
    import numba
    import numpy as np

    try:
        return str(numba.threading_layer())
    except ValueError:  # no parallel kernel has run in this process yet
        pass
    try:

        def _touch(x: Any) -> Any:
            total = 0.0
            for i in numba.prange(x.size):
                total += x[i]
            return total

        numba.njit(parallel=True, cache=False)(_touch)(np.ones(4))
        return str(numba.threading_layer())
    except Exception as exc:  # compilation problems are not worth failing a benchmark for
        return f"{numba.config.THREADING_LAYER} ({type(exc).__name__})"


PEERS = ("likewise", "scipy", "pandas", "implicit", "surprise", "lightfm", "lenskit", "torch", "pyspark")
"""Packages whose versions every results file records."""


def machine_info() -> dict[str, Any]:
    """CPU, cores, RAM, OS, Python, numpy/BLAS pools (threadpoolctl), numba threading layer,
    and the versions of likewise and the peers."""
    import numpy as np

    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": default_threads(),
        "ram_gb": _ram_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {
                "api": pool.get("internal_api"),
                "version": pool.get("version"),
                "threads": pool.get("num_threads"),
                "threading_layer": pool.get("threading_layer"),
                "architecture": pool.get("architecture"),
            }
            for pool in threadpool_info()
            if pool.get("user_api") == "blas"
        ]
    except Exception:  # threadpoolctl missing or confused: not worth failing for
        info["blas"] = []
    try:
        import numba

        info["numba"] = numba.__version__
        info["numba_threading_layer"] = _numba_threading_layer()
        info["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    except ImportError:
        info["numba"] = None
    info["versions"] = {name: _version(name) for name in PEERS}
    info["git_commit"] = _git_commit()
    return info


def machine_summary(info: dict[str, Any]) -> str:
    """One line: CPU, cores, RAM, Python, BLAS, numba layer."""
    blas = ", ".join(
        f"{pool.get('api')} {pool.get('version')} ({pool.get('threads')} threads)" for pool in info.get("blas") or []
    )
    parts = [
        f"{info.get('cpu')}",
        f"{info.get('cores_available') or info.get('cores')} cores",
        f"{info.get('ram_gb')} GB RAM" if info.get("ram_gb") else None,
        info.get("os"),
        f"Python {info.get('python')}",
        f"numpy {info.get('numpy')}" + (f" with {blas}" if blas else ""),
        f"numba {info.get('numba')} ({info.get('numba_threading_layer')} threading layer)"
        if info.get("numba")
        else None,
    ]
    return "; ".join(p for p in parts if p)


def dumps(payload: dict[str, Any]) -> str:
    """JSON text of a results file (NaN -> null, stable key order)."""
    return json.dumps(_jsonable(payload), indent=2, sort_keys=False) + "\n"
