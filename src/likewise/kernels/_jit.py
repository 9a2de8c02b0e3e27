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
from collections.abc import Callable
from typing import Any

import numba

__all__ = ["serial_and_parallel"]


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
