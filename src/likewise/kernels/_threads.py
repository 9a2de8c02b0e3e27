"""One place that sets numba's and BLAS's thread counts for a block of work and restores them.

numba-parallel kernels and a multi-threaded BLAS inside them would oversubscribe the cores,
so while our parallel kernels run BLAS is limited to one thread (threadpoolctl). Sections that
are mostly BLAS (batched scoring) use `blas_threads` instead and leave numba alone.
"""

from __future__ import annotations

import functools
import numbers
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numba
from threadpoolctl import ThreadpoolController

from likewise.exceptions import InvalidParameterError

__all__ = ["available_threads", "blas_threads", "resolve_threads", "thread_limits"]


def available_threads() -> int:
    """Cores this process may use (affinity-aware), capped by numba's configured maximum."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        cores = os.cpu_count() or 1
    numba_max = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    return max(1, min(cores, numba_max))


def resolve_threads(n_threads: int | None) -> int:
    """None or 0 -> all available cores; a positive int is capped at what is available."""
    if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral)):
        raise InvalidParameterError(f"n_threads must be None or a positive integer, got {n_threads!r}")
    if n_threads is None or n_threads == 0:
        return available_threads()
    if n_threads < 0:
        raise InvalidParameterError(f"n_threads must be None or a positive integer, got {n_threads!r}")
    return min(int(n_threads), available_threads())


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """One threadpoolctl controller per process: scanning the loaded BLAS libraries costs
    milliseconds, and every fit / recommend call enters these contexts. Imported here are
    numpy's and scipy's BLAS (scipy.sparse pulls in scipy's), which is what likewise calls."""
    import scipy.linalg  # noqa: F401  (make sure scipy's BLAS is loaded before the scan)

    return ThreadpoolController()


@contextmanager
def thread_limits(n_threads: int | None) -> Iterator[int]:
    """Run numba kernels on `n_threads` threads with BLAS on one thread; restore both after."""
    wanted = resolve_threads(n_threads)
    previous = numba.get_num_threads()
    numba.set_num_threads(wanted)
    try:
        with _blas_controller().limit(limits=1, user_api="blas"):
            yield wanted
    finally:
        numba.set_num_threads(previous)


@contextmanager
def blas_threads(n_threads: int | None) -> Iterator[int]:
    """Let BLAS use `n_threads` threads for a BLAS-bound section (batched scoring), then restore.

    Meant to be entered inside `thread_limits` (which pins BLAS to one thread around numba
    kernels) for the dense products only; no numba-parallel kernel may run inside it.
    """
    wanted = resolve_threads(n_threads)
    with _blas_controller().limit(limits=wanted, user_api="blas"):
        yield wanted
