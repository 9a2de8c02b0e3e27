"""numba kernels and BLAS helpers; see STYLE.md section 4. `warmup()` compiles them all."""

from likewise.kernels._threads import available_threads, resolve_threads, thread_limits
from likewise.kernels._warmup import WarmupReport, warmup, warmup_report

__all__ = ["WarmupReport", "available_threads", "resolve_threads", "thread_limits", "warmup", "warmup_report"]
