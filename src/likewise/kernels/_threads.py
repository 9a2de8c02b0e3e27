"""Thread counts for numba and BLAS: set per block of work, safe when many threads call at once.

The rules (docs/models.md, "Concurrency", explains them for users):

- **numba** thread counts are per calling thread (``numba.set_num_threads`` is thread-local),
  so `thread_limits` sets and restores them with no global state.
- **One parallel slot.** At most one Python thread at a time runs numba-parallel kernels: the
  one holding the slot. Others entering `thread_limits` meanwhile run the *serial* builds of
  the same kernels (every kernel wrapper asks `parallel_allowed()`), so concurrent calls never
  enter numba's thread pool together (the workqueue layer aborts the process when they do, and
  on two cores it would only oversubscribe them) and still compute exactly what a serial call
  computes. The slot is never waited for: a request thread is never blocked by a long fit.
- **BLAS** thread counts are process-global (threadpoolctl). They change only through one
  locked, reference-counted governor: each thread inside a section states what it wants (1
  inside `thread_limits`, whose numba threads would oversubscribe a threaded BLAS; ``n`` inside
  `blas_threads(n)`), BLAS runs on the smallest wish of all threads, and when the last section
  in the process ends the counts found before the first began are restored. Overlapping calls
  from several threads therefore never leave BLAS changed, and never run numba-parallel
  kernels beside a multi-threaded BLAS. Every change is made from one dedicated thread:
  OpenBLAS (0.3.30 here) ignores a request to raise its thread count from a thread other than
  the one that lowered it, which is how the old per-call limits left BLAS on one thread for good.

A server that answers requests from many threads should give its models ``n_threads=1`` and
start with BLAS on one thread (``OPENBLAS_NUM_THREADS=1``): every request then runs serial
kernels on its own thread and, BLAS being at its target already, changes no setting (the
governor touches only libraries not at the target; otherwise a call from idle lowers and
restores BLAS through the control thread, ~0.15 ms).
"""

from __future__ import annotations

import numbers
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numba

from likewise.exceptions import InvalidParameterError

__all__ = ["available_threads", "blas_threads", "parallel_allowed", "resolve_threads", "thread_limits"]


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


def parallel_allowed() -> bool:
    """Whether a kernel called from this thread now may use its numba-parallel build."""
    return bool(numba.get_num_threads() > 1)


class _Local(threading.local):
    slot_depth = 0  # > 0 while this thread holds the parallel slot (nested sections count)
    blas_wishes: list[int]

    def __init__(self) -> None:
        self.blas_wishes = []


_local = _Local()
_parallel_slot = threading.Lock()


class _BlasGovernor:
    """The process's BLAS thread count as the smallest wish of all threads in a section."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wishes: dict[int, int] = {}  # thread ident -> its innermost wish
        self._original: dict[str, tuple[Any, int]] = {}  # library path -> (controller, threads before)
        self._current: dict[str, int] = {}  # library path -> threads it runs on now
        self._controller: Any = None
        self._scanned_with: tuple[int, ...] = ()
        self._control: ThreadPoolExecutor | None = None

    def _on_control_thread(self, change: Callable[[], None]) -> None:
        """Run `change` (reads and writes of BLAS thread counts) on the one control thread."""
        if self._control is None:
            self._control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="likewise-blas")
        self._control.submit(change).result()

    def wish(self, threads: int | None) -> None:
        """Record this thread's innermost wish (None: it left its last section) and apply."""
        with self._lock:
            ident = threading.get_ident()
            if threads is None:
                self._wishes.pop(ident, None)
            else:
                self._wishes[ident] = threads
            self._apply()

    def libraries_changed(self) -> None:
        with self._lock:
            self._controller = None

    def _libraries(self) -> list[Any]:
        # A scan costs about a millisecond, so it is cached. BLAS libraries arrive with imports
        # (numpy's, scipy's with scipy.linalg, a peer's own), so any import since the last scan
        # triggers a fresh one; kernels/_blas.py, which loads scipy's BLAS without an import,
        # says so through `blas_libraries_changed`.
        marker = (len(sys.modules),)
        if self._controller is None or marker != self._scanned_with:
            from threadpoolctl import ThreadpoolController

            self._controller = ThreadpoolController().select(user_api="blas")
            self._scanned_with = marker
        # An OpenMP-threaded BLAS (faiss-cpu bundles one) takes its thread count per calling
        # thread, so setting it from the control thread would change nothing anyone runs on;
        # it serves only the library that bundled it, never likewise's own products.
        return [lib for lib in self._controller.lib_controllers if getattr(lib, "threading_layer", None) != "openmp"]

    def _apply(self) -> None:
        libraries = self._libraries()
        if not self._wishes:
            restore = [
                (library, threads)
                for path, (library, threads) in self._original.items()
                if self._current.get(path, threads) != threads
            ]
            self._original, self._current = {}, {}
            if restore:
                self._on_control_thread(lambda: _set_each(restore))
            return
        target = min(self._wishes.values())
        for library in libraries:  # first section, or a library loaded during one: remember its setting
            if library.filepath not in self._original:
                threads = library.get_num_threads()
                self._original[library.filepath] = (library, threads)
                self._current[library.filepath] = threads
        # Only libraries not at the target already are touched: with BLAS started on one thread
        # (OPENBLAS_NUM_THREADS=1, as a server should) a one-thread call needs no hand-off at all.
        changes = [(library, target) for library in libraries if self._current[library.filepath] != target]
        if changes:
            self._on_control_thread(lambda: _set_each(changes))
            for library, _ in changes:
                self._current[library.filepath] = target


def _set_each(settings: list[tuple[Any, int]]) -> None:
    for library, threads in settings:
        library.set_num_threads(threads)


_governor = _BlasGovernor()


def blas_libraries_changed() -> None:
    """Tell the governor that a BLAS library may have been loaded (it rescans on next use)."""
    _governor.libraries_changed()


@contextmanager
def _blas_wish(threads: int) -> Iterator[None]:
    wishes = _local.blas_wishes
    wishes.append(threads)
    _governor.wish(threads)
    try:
        yield
    finally:
        wishes.pop()
        _governor.wish(wishes[-1] if wishes else None)


@contextmanager
def thread_limits(n_threads: int | None) -> Iterator[int]:
    """Run numba kernels on `n_threads` threads with BLAS on one thread; restore both after.

    Yields the resolved thread count, which callers use to partition work (and seed streams)
    the same way whether this thread got the parallel slot or runs serial kernels meanwhile.
    """
    wanted = resolve_threads(n_threads)
    holds_slot = _local.slot_depth > 0 or (wanted > 1 and _parallel_slot.acquire(blocking=False))
    previous = numba.get_num_threads()
    if holds_slot:
        _local.slot_depth += 1
    numba.set_num_threads(wanted if holds_slot else 1)
    try:
        with _blas_wish(1):
            yield wanted
    finally:
        numba.set_num_threads(previous)
        if holds_slot:
            _local.slot_depth -= 1
            if _local.slot_depth == 0:
                _parallel_slot.release()


@contextmanager
def blas_threads(n_threads: int | None) -> Iterator[int]:
    """Let BLAS use `n_threads` threads for a BLAS-bound section (batched scoring), then restore.

    Meant to be entered inside `thread_limits` for the dense products only; no numba-parallel
    kernel may run inside it. While another thread runs numba kernels, BLAS stays on one thread.
    """
    wanted = resolve_threads(n_threads)
    with _blas_wish(wanted):
        yield wanted
