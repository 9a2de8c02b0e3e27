"""The BLAS thread pools likewise's thread governor sets (kernels/_threads.py), as tests see them."""

from __future__ import annotations

from threadpoolctl import threadpool_info


def governed_blas_threads() -> list[int]:
    """Thread counts of the loaded BLAS pools the governor controls. OpenMP-threaded builds
    (faiss-cpu's bundled OpenBLAS, once faiss is imported) keep a count per calling thread, so the
    governor leaves them alone (kernels/_threads.py says why) and they are not counted here."""
    return [
        pool["num_threads"]
        for pool in threadpool_info()
        if pool["user_api"] == "blas" and pool.get("threading_layer") != "openmp"
    ]
