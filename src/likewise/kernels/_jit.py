"""Build a kernel body twice — parallel and serial — with separate on-disk caches.

numba keys its on-disk cache by the Python function's qualified name and first line, not by
compile options: ``njit(cache=True, parallel=True)(f)`` and ``njit(cache=True)(f)`` share one
cache entry per signature, and once either variant is cached the other loads it. The result
is a "parallel" kernel that silently runs on one thread (or a serial one that starts a thread
pool), depending on which ran first on that machine. `serial_and_parallel` gives the serial
build a renamed copy of the function so each variant has its own cache file.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numba
from numba.core import event

__all__ = ["CompileTime", "compile_time", "serial_and_parallel"]


def serial_and_parallel(impl: Callable[..., Any], **options: Any) -> tuple[Any, Any]:
    """(parallel, serial) numba dispatchers of `impl`, each cached under its own name.

    Parameters
    ----------
    impl : function
        The kernel body (``prange`` on its outermost loop; a plain ``range`` in the serial build).
    **options
        Extra ``numba.njit`` options; ``cache=True`` and ``nogil=True`` are the defaults.
    """
    options = {"cache": True, "nogil": True, **options}
    parallel = numba.njit(parallel=True, **options)(impl)
    clone = types.FunctionType(
        impl.__code__, impl.__globals__, impl.__name__ + "_serial", impl.__defaults__, impl.__closure__
    )
    clone.__qualname__ = impl.__qualname__ + "_serial"
    clone.__module__ = impl.__module__
    clone.__doc__ = impl.__doc__
    serial = numba.njit(**options)(clone)
    return parallel, serial


class CompileTime:
    """Seconds spent compiling numba kernels inside a `compile_time` block (filled in on exit)."""

    seconds: float = 0.0


@contextmanager
def compile_time() -> Iterator[CompileTime]:
    """Measure how much of a block's wall time went to numba compiling (first runs, cold caches).

    numba reports every compilation, nested ones included, as start/end events; the time during
    which at least one is open is counted once.
    """
    result = CompileTime()
    with event.install_recorder("numba:compile") as recorder:
        yield result
    depth = 0
    opened = 0.0
    for stamp, ev in recorder.buffer:
        if ev.is_start:
            if depth == 0:
                opened = stamp
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                result.seconds += stamp - opened
