"""Slow, obviously-right twin of ScoreBlend's scoring: loops over users, plain numpy."""

from __future__ import annotations

import numpy as np


def blended_scores(base: list[np.ndarray], weights: list[float], columns: np.ndarray | None = None) -> np.ndarray:
    """Dense (users, items) blended scores: per user and model, standardise the row over `columns`."""
    n_users = base[0].shape[0]
    cols = np.arange(base[0].shape[1]) if columns is None else np.asarray(columns)
    out = np.zeros((n_users, cols.size))
    for u in range(n_users):
        for scores, w in zip(base, weights, strict=True):
            row = scores[u, cols].astype(np.float64)
            mean = row.mean()
            sd = np.sqrt(((row - mean) ** 2).mean())
            out[u] += w * ((row - mean) / sd if sd > 0 else np.zeros_like(row))
    return out
