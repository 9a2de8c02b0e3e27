"""Brute-force twin of likewise.kernels.topk: mask, then a full stable sort."""

import numpy as np


def topk_rows_reference(scores, k, seen_sets=None, allowed=None):
    n_rows, n_items = scores.shape
    out_idx = np.full((n_rows, k), -1, dtype=np.int32)
    out_scores = np.full((n_rows, k), -np.inf, dtype=np.float32)
    for row in range(n_rows):
        eligible = [
            item
            for item in range(n_items)
            if not np.isnan(scores[row, item])
            and (allowed is None or allowed[item])
            and (seen_sets is None or item not in seen_sets[row])
        ]
        ranked = sorted(eligible, key=lambda item: (-float(scores[row, item]), item))[:k]
        out_idx[row, : len(ranked)] = ranked
        out_scores[row, : len(ranked)] = scores[row, ranked]
    return out_idx, out_scores
