"""The arithmetic of the splits, apart from the split functions (`likewise.evaluation.split`):
argument checks, hold-out sizes, per-user ranks of interactions, temporal cutoffs.
"""

from __future__ import annotations

import datetime as _dt
import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from likewise.data.interactions import Interactions
from likewise.exceptions import InvalidParameterError

__all__ = [
    "check_fraction",
    "cutoff_seconds",
    "fraction_count",
    "holdout_info",
    "holdout_sizes",
    "iso",
    "no_eligible_user",
    "rank_in_rows",
    "user_rows",
    "utc",
]


def check_fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    fraction = float(value)
    if not (0.0 < fraction < 1.0):  # also refuses NaN
        raise InvalidParameterError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    return fraction


def fraction_count(fraction: float, n: np.ndarray | int) -> np.ndarray:
    """``max(1, floor(fraction * n + 0.5))`` elementwise (see the module docstring)."""
    counts = np.floor(fraction * np.asarray(n, dtype=np.float64) + 0.5).astype(np.int64)
    return np.maximum(counts, 1)


def user_rows(data: Interactions) -> np.ndarray:
    """User index of each interaction, int64, in CSR order (hence sorted)."""
    return np.repeat(np.arange(data.n_users, dtype=np.int64), np.diff(data.matrix.indptr))


def rank_in_rows(data: Interactions, rows: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rank of each interaction within its user, given an ordering sorted by user first."""
    indptr = data.matrix.indptr.astype(np.int64)
    rank = np.empty(data.nnz, dtype=np.int64)
    rank[order] = np.arange(data.nnz, dtype=np.int64) - indptr[rows[order]]
    return rank


def holdout_sizes(counts: np.ndarray, fraction: float | None, count: int | None, min_train: int) -> np.ndarray:
    """Per-user number of test interactions; 0 for users with too few to spare."""
    wanted = fraction_count(fraction, counts) if fraction is not None else np.full_like(counts, count)
    eligible = (counts > 0) & (counts - wanted >= min_train)
    return np.where(eligible, wanted, 0)


def holdout_info(counts: np.ndarray, sizes: np.ndarray) -> dict[str, Any]:
    n_test_users = int(np.count_nonzero(sizes))
    return {
        "n_test_users": n_test_users,
        "n_skipped_users": int(np.count_nonzero(counts)) - n_test_users,
    }


def no_eligible_user(what: str, fraction: float | None, count: int | None, min_train: int) -> str:
    asked = f"test_fraction={fraction}" if fraction is not None else f"test_count={count}"
    return f"{what}: no user has enough interactions to hold out {asked} and keep min_train={min_train} in train"


def cutoff_seconds(cutoff: Any) -> int:
    """A cutoff as integer seconds since the epoch; ``ts >= cutoff`` is test."""
    if isinstance(cutoff, bool):
        raise InvalidParameterError(f"cutoff must be a timestamp or a date, got {cutoff!r}")
    if isinstance(cutoff, numbers.Integral):
        return int(cutoff)
    if isinstance(cutoff, numbers.Real):
        if not math.isfinite(float(cutoff)):
            raise InvalidParameterError(f"cutoff must be finite, got {cutoff!r}")
        return math.ceil(float(cutoff))  # integer ts >= 10.5  <=>  ts >= 11
    if isinstance(cutoff, str | _dt.date | np.datetime64 | pd.Timestamp):
        try:
            stamp = pd.Timestamp(cutoff)
        except (ValueError, TypeError) as exc:
            raise InvalidParameterError(
                f"cutoff must be a timestamp or a date, could not parse {cutoff!r}: {exc}"
            ) from exc
        if stamp is pd.NaT:
            raise InvalidParameterError(f"cutoff must be a timestamp or a date, got {cutoff!r}")
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        nanos = int(stamp.as_unit("ns").value)
        return -(-nanos // 1_000_000_000)  # ceil to whole seconds
    raise InvalidParameterError(f"cutoff must be seconds since the epoch, a datetime or a date string, got {cutoff!r}")


def utc(seconds: int) -> str | None:
    """ISO 8601 UTC form of a timestamp, or None outside pandas' datetime range."""
    try:
        return str(pd.Timestamp(seconds, unit="s", tz="UTC").isoformat())
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        return None


def iso(seconds: int) -> str:
    stamp = utc(seconds)
    return str(seconds) if stamp is None else f"{seconds} ({stamp})"
