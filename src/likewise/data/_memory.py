"""Give back the memory a streaming read freed (private).

A 25M-row `read_csv` parses 32 MB blocks through Arrow and numpy and frees them as it goes.
The freed memory stays in the process: Arrow's memory pool (jemalloc or mimalloc) keeps
released pages for reuse, and glibc's malloc keeps freed chunks in its heap when live ones sit
above them. Measured at 25M rows (e2e suite, docs/large.md): 1.27 GB resident after the read
for 381 MB of data; after `release_freed_memory` 649 MB. Every later step (fit, recommend,
save, load) starts from that level, so the readers call this once, after the CSR is built,
and `Recommender.fit` once its model is learned (a 25M-row ALS fit leaves ~110 MB of freed
workspace in glibc's heap).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["release_freed_memory"]

_LIBC: ctypes.CDLL | None = None
_LIBC_LOOKED_UP = False


def _glibc() -> ctypes.CDLL | None:
    """glibc, when this process runs on it (malloc_trim is a glibc extension); else None."""
    global _LIBC, _LIBC_LOOKED_UP
    if not _LIBC_LOOKED_UP:
        _LIBC_LOOKED_UP = True
        if sys.platform.startswith("linux"):
            name = ctypes.util.find_library("c") or "libc.so.6"
            try:
                libc = ctypes.CDLL(name)
                libc.malloc_trim.argtypes = [ctypes.c_size_t]
                libc.malloc_trim.restype = ctypes.c_int
                _LIBC = libc
            except (OSError, AttributeError):  # musl (Alpine) has no malloc_trim: nothing to do
                _LIBC = None
    return _LIBC


def release_freed_memory() -> bool:
    """Return freed memory to the operating system; True when glibc's heap was trimmed.

    Arrow's pool first (`release_unused`; a no-op for the system allocator), then
    ``malloc_trim(0)``, which also releases free pages in the middle of glibc's heap. Costs a
    few milliseconds; never raises.
    """
    pa = sys.modules.get("pyarrow")  # never imported here: a process without Arrow has nothing pooled
    if pa is not None:
        try:
            pa.default_memory_pool().release_unused()
        except AttributeError:  # pyarrow < 9 has no release_unused
            pass
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
