"""Brute-force twin of likewise.retrieval: every score by numpy, the filters, a full stable sort."""

import numpy as np


def search_reference(vectors, offsets, queries, k, allowed=None, exclude_sets=None):
    """Top-`k` of ``queries @ vectors.T + offsets`` (float64 sums), ties by the lower index."""
    scores = queries.astype(np.float64) @ vectors.astype(np.float64).T
    if offsets is not None:
        scores += offsets.astype(np.float64)
    n_items = vectors.shape[0]
    out_idx = np.full((queries.shape[0], k), -1, dtype=np.int32)
    out_scores = np.full((queries.shape[0], k), -np.inf, dtype=np.float32)
    for row in range(queries.shape[0]):
        ok = np.ones(n_items, dtype=bool) if allowed is None else allowed.copy()
        if exclude_sets is not None:
            ok[list(exclude_sets[row])] = False
        eligible = np.flatnonzero(ok)
        order = eligible[np.lexsort((eligible, -scores[row, eligible]))][:k]
        out_idx[row, : order.size] = order
        out_scores[row, : order.size] = scores[row, order]
    return out_idx, out_scores
