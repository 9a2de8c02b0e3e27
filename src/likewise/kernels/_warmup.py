"""Compile (or load from cache) every kernel on tiny arrays of the production dtypes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

__all__ = ["WarmupReport", "warmup", "warmup_report"]


@dataclass(frozen=True)
class WarmupReport:
    """What `warmup_report` did: wall seconds, of which compiling (the rest is cache loading)."""

    seconds: float
    compile_seconds: float
    parallel: bool

    def summary(self) -> str:
        variants = "serial and parallel" if self.parallel else "serial"
        loaded = self.seconds - self.compile_seconds
        return (
            f"{variants} kernels ready in {self.seconds:.2f} s: {self.compile_seconds:.2f} s compiling, "
            f"{loaded:.2f} s loading from the cache and running"
        )


def warmup(parallel: bool = True) -> float:
    """Run each kernel once; returns the seconds it took (compile time when the cache is cold)."""
    return warmup_report(parallel).seconds


def warmup_report(parallel: bool = True) -> WarmupReport:
    """Run each kernel once, and say how much of the time went to compiling.

    Parameters
    ----------
    parallel : bool
        Also build the numba-parallel variants. A server whose models run with
        ``n_threads=1`` (docs/models.md, "Concurrency") uses only the serial ones.
    """
    from likewise.kernels._jit import compile_time
    from likewise.kernels._threads import thread_limits

    start = time.perf_counter()
    # With one thread every wrapper picks its serial build (`parallel_allowed`), so nothing
    # parallel is compiled; with more, both builds run.
    with compile_time() as compiling, thread_limits(None if parallel else 1):
        _run_every_kernel()
    return WarmupReport(time.perf_counter() - start, compiling.seconds, parallel)


def _run_every_kernel() -> None:
    from likewise.kernels.topk import ranked_topk, topk_rows

    scores = np.arange(12, dtype=np.float32).reshape(3, 4)
    seen_indptr = np.array([0, 1, 1, 2])
    seen_indices = np.array([0, 3], dtype=np.int32)
    for parallel in (False, True):
        topk_rows(
            scores, 2, seen_indptr=seen_indptr, seen_indices=seen_indices, seen_rows=np.arange(3), parallel=parallel
        )
        ranked_topk(
            scores[0], 2, n_rows=3, seen_indptr=seen_indptr, seen_indices=seen_indices, seen_rows=np.arange(3),
            parallel=parallel,
        )  # fmt: skip
    from likewise.kernels import als, bpr, coclustering, knn, nmf, sgd, similarity, slopeone

    for module in (als, bpr, sgd, nmf, slopeone, coclustering, similarity, knn):
        module._warm()
