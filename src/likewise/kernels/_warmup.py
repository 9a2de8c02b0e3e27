"""Compile (or load from cache) every kernel on tiny arrays of the production dtypes."""

from __future__ import annotations

import importlib
import pkgutil
import time
from dataclasses import dataclass
from types import ModuleType

__all__ = ["WarmupReport", "kernel_modules", "warmup", "warmup_report"]


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


def kernel_modules() -> list[ModuleType]:
    """Every kernel family module (``likewise/kernels/<family>.py``), found on disk: a new
    family is warmed up by defining ``_warm()`` in its module, with no list to edit."""
    import likewise.kernels

    found = pkgutil.iter_modules(likewise.kernels.__path__)
    names = sorted(info.name for info in found if not info.name.startswith("_"))
    return [importlib.import_module(f"likewise.kernels.{name}") for name in names]


def _run_every_kernel() -> None:
    for module in kernel_modules():
        warm = getattr(module, "_warm", None)
        if warm is not None:
            warm()
