"""numba kernels and BLAS helpers; see STYLE.md section 4. `warmup()` compiles them all."""

from likewise.kernels._threads import available_threads, resolve_threads, thread_limits
from likewise.kernels._warmup import warmup

__all__ = ["available_threads", "resolve_threads", "thread_limits", "warmup"]
