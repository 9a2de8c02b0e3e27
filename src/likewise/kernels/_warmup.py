"""Compile (or load from cache) every kernel on tiny arrays of the production dtypes."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["warmup"]


def warmup() -> float:
    """Run each kernel once; returns the seconds it took (compile time when the cache is cold)."""
    from likewise.kernels.topk import ranked_topk, topk_rows

    start = time.perf_counter()
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
    from likewise.kernels import als, bpr

    als._warm()
    bpr._warm()
    from likewise.kernels import coclustering, nmf, sgd, slopeone

    for module in (sgd, nmf, slopeone, coclustering):
        module._warm()
    from likewise.kernels import knn, similarity

    similarity._warm()
    knn._warm()
    return time.perf_counter() - start
