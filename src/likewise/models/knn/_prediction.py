"""Prediction modes: the offsets and scales each mode centres on, for training rows and for a new user.

`likewise.kernels.knn` estimates ``base + scale_x * sum s (r - off_x' - off_y) / scale_x' / sum s``
(CENTERED, base = off_x + off_y), a plain weighted mean (BASIC) or a sum of similarities
(SUM), x the target, x' its neighbours and y the other side (the context). The modes differ
only in the offsets and scales they give it:

- "means":    off_x = mean of x, scale 1                        (KNNWithMeans)
- "zscore":   off_x = mean of x, scale_x = deviation of x       (KNNWithZScore)
- "baseline": off_x = mu + b_x, off_y = b_y, scale 1            (KNNBaseline)
- "basic", "sum": no offsets
"""

from __future__ import annotations

import numpy as np

from likewise.models.knn._config import KNNConfig
from likewise.models.knn._similarity import Stats

__all__ = ["context_offsets", "history", "new_user_bias", "profile_offset", "x_offsets"]


def x_offsets(config: KNNConfig, stats: Stats, *, user_based: bool, n_x: int) -> tuple[np.ndarray, np.ndarray]:
    """Per compared x, the (offset, scale) of the prediction mode."""
    mode = config.prediction
    mean = stats.user_mean if user_based else stats.item_mean
    std = stats.user_std if user_based else stats.item_std
    bias = stats.user_bias if user_based else stats.item_bias
    if mode == "means":
        return mean, np.ones(n_x)
    if mode == "zscore":
        return mean, std
    if mode == "baseline":
        return stats.global_mean + bias, np.ones(n_x)
    return np.zeros(n_x), np.ones(n_x)


def context_offsets(config: KNNConfig, stats: Stats, *, user_based: bool, n_y: int) -> np.ndarray:
    """Per y of the other side, the offset its ratings carry (its bias in "baseline" mode)."""
    if config.prediction != "baseline":
        return np.zeros(n_y)
    return stats.item_bias if user_based else stats.user_bias


def profile_offset(config: KNNConfig, stats: Stats, *, mean: float, std: float, bias: float) -> tuple[float, float]:
    """(offset, scale) of a new user (user-based fold-in) with the given mean, deviation, bias."""
    if config.prediction == "means":
        return mean, 1.0
    if config.prediction == "zscore":
        return mean, std
    if config.prediction == "baseline":
        return stats.global_mean + bias, 1.0
    return 0.0, 1.0


def new_user_bias(stats: Stats, reg_user: float, iidx: np.ndarray, ratings: np.ndarray) -> float:
    """The user bias Surprise's ALS would give this history (its last half-step)."""
    if iidx.size == 0:
        return 0.0
    residual = ratings - stats.global_mean - stats.item_bias[iidx]
    return float(residual.sum() / (reg_user + iidx.size))


def history(iidx: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A new user's history, deduplicated (the last value of a repeated item wins), sorted."""
    iidx = np.asarray(iidx, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    if iidx.size == 0:
        return iidx, weights
    reverse_unique, first = np.unique(iidx[::-1], return_index=True)
    return reverse_unique, weights[::-1][first]
