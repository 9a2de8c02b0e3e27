"""Evaluation: train/test splits (metrics and drivers are added alongside)."""

from likewise.evaluation.split import (
    Split,
    cold_item_split,
    cold_user_split,
    kfold,
    last_k_split,
    make_split,
    random_split,
    temporal_split,
    user_split,
)

__all__ = [
    "Split",
    "cold_item_split",
    "cold_user_split",
    "kfold",
    "last_k_split",
    "make_split",
    "random_split",
    "temporal_split",
    "user_split",
]
