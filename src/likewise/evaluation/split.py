"""Train/test splits of an `Interactions` log without leakage.

Every split marks each stored interaction as train or test and returns the two halves built
with `Interactions.subset`, so train and test share the SAME user and item IdMaps: indices
stay comparable between them, and a user (item) with nothing left on one side simply has an
empty row (column) there. Values, timestamps, features and info travel with the interactions.

Conventions shared by every function here
-----------------------------------------
- **Randomness.** ``random_state`` is an int seed, a `numpy.random.Generator` or None (fresh
  entropy). The same int seed gives the same split; a Generator is advanced by the call.
- **Fractions to counts.** A fraction ``f`` of ``n`` things becomes the count
  ``max(1, floor(f * n + 0.5))``: rounded half up, and never zero (a holdout that holds out
  nothing is never what was asked for). 0.2 of 7 ratings is 1, of 8 ratings 2 (1.6), of 3
  ratings 1 (0.6), of 2 ratings 1 (0.4 rounds to 0, raised to the minimum of one).
- **Per-user holdouts** (`user_split`, `last_k_split`, ``kfold(by="user")``) hold out from
  a user only when the user keeps at least ``min_train`` interactions in train; other users
  keep everything in train and are counted in ``Split.info["n_skipped_users"]`` (users with
  no interaction at all are neither tested nor counted).
- **Validation.** A bad fraction, count or option raises `InvalidParameterError` naming the
  parameter and the value; a split that would leave train or test empty raises `DataError`
  saying why.
- **Vectorised.** No Python loop over users: group ranks come from one sort of
  (user, random key) or (user, timestamp, item) and the CSR row offsets.
"""

from __future__ import annotations

import datetime as _dt
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from likewise._util import check_int, check_random_state
from likewise.data.interactions import Interactions
from likewise.evaluation._split_rules import (
    check_fraction,
    cutoff_seconds,
    fraction_count,
    holdout_info,
    holdout_sizes,
    iso,
    no_eligible_user,
    rank_in_rows,
    user_rows,
    utc,
)
from likewise.exceptions import DataError, InvalidParameterError

__all__ = [
    "RandomState",
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

RandomState = int | np.random.Generator | None
Cutoff = int | float | str | _dt.datetime | _dt.date | np.datetime64 | pd.Timestamp


@dataclass(frozen=True, eq=False)
class Split:
    """One train/test split; unpacks as ``train, test = split``.

    Attributes
    ----------
    train, test : Interactions
        The two halves. They share the id maps of the data they came from.
    info : dict
        What the split did: always ``"method"``, plus method-specific entries such as
        ``"n_test_users"``, ``"n_skipped_users"`` (per-user holdouts), ``"cutoff"``
        (temporal, seconds since the epoch) or ``"fold"`` (k-fold).
    """

    train: Interactions
    test: Interactions
    info: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Interactions]:
        yield self.train
        yield self.test

    def __repr__(self) -> str:
        return f"<Split {self.info.get('method', '?')}: train {self.train.nnz:,}, test {self.test.nnz:,} interactions>"


# --------------------------------------------------------------------------- validation


def _check_data(data: Any, what: str) -> Interactions:
    if not isinstance(data, Interactions):
        raise InvalidParameterError(f"data must be an Interactions, got {type(data).__name__}")
    if data.nnz == 0:
        raise DataError(f"cannot split {what}: the data holds no interactions")
    return data


def _fraction_or_count(test_fraction: float | None, test_count: int | None) -> tuple[float | None, int | None]:
    if test_fraction is not None and test_count is not None:
        raise InvalidParameterError(
            f"give test_fraction or test_count, not both (got test_fraction={test_fraction!r}, "
            f"test_count={test_count!r})"
        )
    if test_count is not None:
        return None, check_int(test_count, "test_count", 1)
    return check_fraction(0.2 if test_fraction is None else test_fraction, "test_fraction"), None


def _make(data: Interactions, test_mask: np.ndarray, info: dict[str, Any]) -> Split:
    n_test = int(np.count_nonzero(test_mask))
    if n_test == 0:
        raise DataError(f"{info['method']} split would leave the test set empty")
    if n_test == data.nnz:
        raise DataError(f"{info['method']} split would leave the training set empty")
    return Split(data.subset(~test_mask), data.subset(test_mask), info)


# --------------------------------------------------------------------------- group ranks


_COMBINED_KEY_LIMIT = 2**62


def _order_within_rows(data: Interactions, rows: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Positions sorted by (user, key), for distinct integer keys in ``[0, nnz)``.

    One argsort of the combined key ``user * nnz + key`` (several times faster than
    `numpy.lexsort` on millions of rows); lexsort only if that key could overflow int64.
    """
    nnz = data.nnz
    if data.n_users * nnz < _COMBINED_KEY_LIMIT:
        return np.argsort(rows * nnz + key)
    return np.lexsort((key, rows))


def _random_ranks(data: Interactions, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random rank 0..n_u-1 for each interaction within its user's row."""
    keys = rng.permutation(data.nnz)  # distinct keys: no ties to break
    return rank_in_rows(data, rows, _order_within_rows(data, rows, keys))


def _time_ranks(data: Interactions, rows: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """Rank 0..n_u-1 of each interaction within its user by (timestamp, item index).

    A stable sort of the timestamps keeps CSR order among ties, and CSR rows are sorted by
    item index, so within a user equal timestamps are ordered by item index.
    """
    by_time = np.argsort(timestamps, kind="stable")
    key = np.empty(data.nnz, dtype=np.int64)
    key[by_time] = np.arange(data.nnz, dtype=np.int64)
    return rank_in_rows(data, rows, _order_within_rows(data, rows, key))


# --------------------------------------------------------------------------- splits


def random_split(data: Interactions, test_fraction: float = 0.2, *, random_state: RandomState = None) -> Split:
    """Hold out a uniformly random fraction of all interactions, regardless of user.

    Parameters
    ----------
    data : Interactions
    test_fraction : float, default 0.2
        Strictly between 0 and 1; the test set holds ``max(1, floor(test_fraction * nnz + 0.5))``
        interactions.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    Split
        ``info = {"method": "random", "test_fraction": ...}``.

    Raises
    ------
    InvalidParameterError
        For a fraction outside (0, 1).
    DataError
        When the data has fewer than two interactions (train or test would be empty).
    """
    data = _check_data(data, "randomly")
    fraction = check_fraction(test_fraction, "test_fraction")
    rng = check_random_state(random_state)
    n_test = int(fraction_count(fraction, data.nnz))
    mask = np.zeros(data.nnz, dtype=bool)
    mask[rng.permutation(data.nnz)[:n_test]] = True
    return _make(data, mask, {"method": "random", "test_fraction": fraction})


def user_split(
    data: Interactions,
    test_fraction: float | None = None,
    *,
    test_count: int | None = None,
    min_train: int = 1,
    random_state: RandomState = None,
) -> Split:
    """Per-user random holdout: each user gives a fraction or a fixed count of their interactions.

    A user with ``n`` interactions holds out ``max(1, floor(test_fraction * n + 0.5))`` of them
    (or ``test_count``), chosen uniformly at random, provided ``n - held_out >= min_train``;
    otherwise all ``n`` stay in train and the user is counted in ``info["n_skipped_users"]``.

    Parameters
    ----------
    data : Interactions
    test_fraction : float, optional
        Strictly between 0 and 1. Defaults to 0.2 when ``test_count`` is not given.
    test_count : int, optional
        A fixed number (>= 1) of test interactions per user; exclusive with ``test_fraction``.
    min_train : int, default 1
        Interactions (>= 0) a user must keep in train to be tested at all.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    Split
        ``info`` holds ``method``, ``n_test_users`` and ``n_skipped_users``.

    Raises
    ------
    InvalidParameterError
        For bad fractions or counts, or both ``test_fraction`` and ``test_count``.
    DataError
        When no user has enough interactions, or train would be empty.
    """
    data = _check_data(data, "by user")
    fraction, count = _fraction_or_count(test_fraction, test_count)
    min_train = check_int(min_train, "min_train", 0)
    rng = check_random_state(random_state)
    counts = data.user_counts()
    sizes = holdout_sizes(counts, fraction, count, min_train)
    if not sizes.any():
        raise DataError(no_eligible_user("user split", fraction, count, min_train))
    rows = user_rows(data)
    mask = _random_ranks(data, rows, rng) < sizes[rows]
    info: dict[str, Any] = {"method": "user", "test_fraction": fraction, "test_count": count}
    info.update(holdout_info(counts, sizes))
    return _make(data, mask, info)


def last_k_split(data: Interactions, k: int = 1, *, min_train: int = 1) -> Split:
    """Leave-last-k-out: each user's ``k`` most recent interactions go to test.

    Interactions are ordered per user by timestamp; among interactions with the SAME
    timestamp the one with the larger item index counts as later. This tie rule is
    deterministic and independent of the order the data was read in (Interactions keep
    no input order), so the split needs no ``random_state``. Users with fewer than
    ``k + min_train`` interactions stay whole in train (``info["n_skipped_users"]``).

    Parameters
    ----------
    data : Interactions
        Must carry timestamps.
    k : int, default 1
        Test interactions per user (>= 1).
    min_train : int, default 1
        Interactions (>= 0) a user must keep in train to be tested.

    Returns
    -------
    Split
        ``info`` holds ``method``, ``k``, ``n_test_users`` and ``n_skipped_users``.

    Raises
    ------
    DataError
        When ``data.timestamps`` is None, no user has enough interactions, or train would
        be empty.
    InvalidParameterError
        For a bad ``k`` or ``min_train``.
    """
    data = _check_data(data, "by last interactions")
    k = check_int(k, "k", 1)
    min_train = check_int(min_train, "min_train", 0)
    if data.timestamps is None:
        raise DataError("last_k_split needs timestamps, but the data has none (read it with a timestamp column)")
    counts = data.user_counts()
    sizes = holdout_sizes(counts, None, k, min_train)
    if not sizes.any():
        raise DataError(no_eligible_user("last-k split", None, k, min_train))
    rows = user_rows(data)
    rank = _time_ranks(data, rows, data.timestamps)
    from_end = counts[rows] - 1 - rank
    mask = from_end < sizes[rows]
    info: dict[str, Any] = {"method": "last_k", "k": k}
    info.update(holdout_info(counts, sizes))
    return _make(data, mask, info)


def temporal_split(
    data: Interactions,
    cutoff: Cutoff | None = None,
    *,
    test_fraction: float | None = None,
) -> Split:
    """Global time cut-off: every interaction at or after ``cutoff`` goes to test.

    Give either ``cutoff`` or ``test_fraction``. With ``test_fraction``, the cut-off is the
    timestamp of the ``m``-th latest interaction, ``m = max(1, floor(test_fraction * nnz + 0.5))``;
    interactions tied with it go to test too, so the test set can be a little larger than
    the fraction asks. Either way every train timestamp is strictly earlier than every test
    timestamp.

    Parameters
    ----------
    data : Interactions
        Must carry timestamps (integer seconds since the epoch, UTC).
    cutoff : int, float, str, datetime, date, numpy.datetime64 or pandas.Timestamp, optional
        Seconds since the epoch, or a date/time; naive datetimes and strings without an
        offset are read as UTC, as the readers store timestamps.
    test_fraction : float, optional
        Strictly between 0 and 1.

    Returns
    -------
    Split
        ``info = {"method": "temporal", "cutoff": <int seconds>, "cutoff_utc": <ISO string>}``
        (``cutoff_utc`` is None for a cut-off outside pandas' datetime range).

    Raises
    ------
    DataError
        When the data has no timestamps or the cut-off leaves train or test empty.
    InvalidParameterError
        For a bad fraction, an unparseable cut-off, or neither/both of the two.
    """
    data = _check_data(data, "by time")
    if (cutoff is None) == (test_fraction is None):
        raise InvalidParameterError(
            f"give exactly one of cutoff or test_fraction (got cutoff={cutoff!r}, test_fraction={test_fraction!r})"
        )
    if data.timestamps is None:
        raise DataError("temporal_split needs timestamps, but the data has none (read it with a timestamp column)")
    ts = data.timestamps
    if cutoff is not None:
        seconds = cutoff_seconds(cutoff)
    else:
        fraction = check_fraction(test_fraction, "test_fraction")
        n_test = min(int(fraction_count(fraction, data.nnz)), data.nnz)
        seconds = int(np.partition(ts, data.nnz - n_test)[data.nnz - n_test])
    mask = ts >= seconds
    shown = iso(seconds)
    if not mask.any():
        raise DataError(
            f"temporal split: cutoff {shown} would leave the test set empty "
            f"(the latest interaction is at {iso(int(ts.max()))})"
        )
    if mask.all():
        raise DataError(
            f"temporal split: cutoff {shown} would leave the training set empty "
            f"(the earliest interaction is at {iso(int(ts.min()))}"
            + (", and it is tied with the cut-off)" if cutoff is None else ")")
        )
    info = {"method": "temporal", "cutoff": seconds, "cutoff_utc": utc(seconds)}
    return _make(data, mask, info)


def kfold(
    data: Interactions,
    n_splits: int = 5,
    *,
    by: Literal["interaction", "user"] = "interaction",
    test_fraction: float | None = None,
    test_count: int | None = None,
    min_train: int = 1,
    random_state: RandomState = None,
) -> Iterator[Split]:
    """K-fold cross-validation splits, produced lazily one fold at a time.

    ``by="interaction"``: the interactions are shuffled and dealt into ``n_splits`` folds of
    sizes differing by at most one; fold ``f`` tests on fold ``f`` and trains on the rest,
    so the test sets partition the data.

    ``by="user"`` (LensKit's "crossfold users, sample ratings"): the users eligible for a
    per-user holdout (see `user_split`: ``test_fraction`` defaulting to 0.2, or
    ``test_count``, and ``min_train``) are shuffled and dealt into ``n_splits`` groups. Fold
    ``f`` tests on the held-out interactions of the users in group ``f`` and trains on
    everything else (including the remaining interactions of those users). Every eligible
    user is tested in exactly one fold; the others are always in train.

    All randomness is drawn before the first fold is produced, and parameters are checked
    immediately, so errors surface at the call, not at iteration. Use ``list(kfold(...))``
    to hold every fold at once.

    Parameters
    ----------
    data : Interactions
    n_splits : int, default 5
        Number of folds (>= 2).
    by : {"interaction", "user"}
    test_fraction, test_count, min_train
        Per-user holdout for ``by="user"``; not allowed with ``by="interaction"``.
    random_state : int, numpy.random.Generator or None

    Yields
    ------
    Split
        ``info`` holds ``method="kfold"``, ``by``, ``fold`` (0-based) and ``n_splits``
        (plus ``n_test_users``/``n_skipped_users`` for ``by="user"``).

    Raises
    ------
    InvalidParameterError
        For a bad ``n_splits``, ``by`` or holdout parameter.
    DataError
        When there are fewer interactions (or eligible users) than folds.
    """
    data = _check_data(data, "into folds")
    n_splits = check_int(n_splits, "n_splits", 2)
    rng = check_random_state(random_state)
    if by == "interaction":
        if test_fraction is not None or test_count is not None or min_train != 1:
            raise InvalidParameterError(
                "test_fraction, test_count and min_train apply to kfold(by='user') only, got "
                f"test_fraction={test_fraction!r}, test_count={test_count!r}, "
                f"min_train={min_train!r}"
            )
        if data.nnz < n_splits:
            raise DataError(f"cannot make n_splits={n_splits} folds from {data.nnz} interactions")
        folds = np.empty(data.nnz, dtype=np.int64)
        folds[rng.permutation(data.nnz)] = np.arange(data.nnz) % n_splits
        extra: dict[str, Any] = {}
    elif by == "user":
        fraction, count = _fraction_or_count(test_fraction, test_count)
        min_train = check_int(min_train, "min_train", 0)
        counts = data.user_counts()
        sizes = holdout_sizes(counts, fraction, count, min_train)
        eligible = np.flatnonzero(sizes)
        if eligible.size < n_splits:
            raise DataError(
                f"cannot make n_splits={n_splits} folds of users: only {eligible.size} users "
                f"have enough interactions to hold out "
                + (f"test_fraction={fraction}" if fraction is not None else f"test_count={count}")
                + f" and keep min_train={min_train}"
            )
        group = np.full(data.n_users, -1, dtype=np.int64)
        group[rng.permutation(eligible)] = np.arange(eligible.size) % n_splits
        rows = user_rows(data)
        held = _random_ranks(data, rows, rng) < sizes[rows]
        folds = np.where(held, group[rows], -1)
        extra = {"test_fraction": fraction, "test_count": count}
        extra["n_skipped_users"] = int(np.count_nonzero(counts)) - eligible.size
        group_sizes = np.bincount(group[eligible], minlength=n_splits)
    else:
        raise InvalidParameterError(f"by must be 'interaction' or 'user', got {by!r}")

    def generate() -> Iterator[Split]:
        for fold in range(n_splits):
            info = {"method": "kfold", "by": by, "fold": fold, "n_splits": n_splits, **extra}
            if by == "user":
                info["n_test_users"] = int(group_sizes[fold])
            yield _make(data, folds == fold, info)

    return generate()


def _cold_split(
    data: Interactions,
    test_fraction: float,
    random_state: RandomState,
    entity: Literal["user", "item"],
) -> Split:
    data = _check_data(data, f"by {entity}")
    fraction = check_fraction(test_fraction, "test_fraction")
    rng = check_random_state(random_state)
    counts = data.user_counts() if entity == "user" else data.item_counts()
    active = np.flatnonzero(counts)
    n_test = int(fraction_count(fraction, active.size))
    if n_test >= active.size:
        raise DataError(
            f"cold-{entity} split: holding out {n_test} of the {active.size} {entity}s with "
            f"interactions (test_fraction={fraction}) would leave the training set empty"
        )
    held = np.zeros(counts.size, dtype=bool)
    held[rng.choice(active, size=n_test, replace=False)] = True
    column = user_rows(data) if entity == "user" else data.matrix.indices
    info = {"method": f"cold_{entity}", "test_fraction": fraction, f"n_test_{entity}s": n_test}
    return _make(data, held[column], info)


def cold_user_split(data: Interactions, test_fraction: float = 0.2, *, random_state: RandomState = None) -> Split:
    """Hold out whole users: every interaction of a test user goes to test.

    ``max(1, floor(test_fraction * m + 0.5))`` of the ``m`` users that have interactions are
    drawn uniformly; train keeps their (empty) rows, so models see them as unknown-in-practice
    users (cold start).

    Parameters
    ----------
    data : Interactions
    test_fraction : float, default 0.2
        Fraction of users (with at least one interaction), strictly between 0 and 1.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    Split
        ``info`` holds ``method="cold_user"``, ``test_fraction`` and ``n_test_users``.

    Raises
    ------
    InvalidParameterError
        For a fraction outside (0, 1).
    DataError
        When every user would be held out (e.g. only one user has interactions).
    """
    return _cold_split(data, test_fraction, random_state, "user")


def cold_item_split(data: Interactions, test_fraction: float = 0.2, *, random_state: RandomState = None) -> Split:
    """Hold out whole items: every interaction with a test item goes to test.

    The item counterpart of `cold_user_split`: ``max(1, floor(test_fraction * m + 0.5))`` of
    the ``m`` items that have interactions are drawn uniformly; train keeps their (empty)
    columns.

    Parameters
    ----------
    data : Interactions
    test_fraction : float, default 0.2
        Fraction of items (with at least one interaction), strictly between 0 and 1.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    Split
        ``info`` holds ``method="cold_item"``, ``test_fraction`` and ``n_test_items``.

    Raises
    ------
    InvalidParameterError
        For a fraction outside (0, 1).
    DataError
        When every item would be held out.
    """
    return _cold_split(data, test_fraction, random_state, "item")


_METHODS: dict[str, Callable[..., Split]] = {
    "random": random_split,
    "user": user_split,
    "last_k": last_k_split,
    "temporal": temporal_split,
    "cold_user": cold_user_split,
    "cold_item": cold_item_split,
}


def make_split(data: Interactions, method: str = "user", **kwargs: Any) -> Split:
    """Split by method name (for the CLI and configuration files).

    Parameters
    ----------
    data : Interactions
    method : str, default "user"
        One of "random", "user", "last_k", "temporal", "cold_user", "cold_item"
        (hyphens are accepted for underscores, e.g. "last-k"). K-fold gives several splits
        and is called as `kfold`.
    **kwargs
        Passed to the chosen function (e.g. ``test_fraction``, ``k``, ``cutoff``,
        ``random_state``).

    Returns
    -------
    Split

    Raises
    ------
    InvalidParameterError
        For an unknown method or an argument the method does not take.
    """
    name = method.replace("-", "_").lower() if isinstance(method, str) else method
    func = _METHODS.get(name)
    if func is None:
        raise InvalidParameterError(f"method must be one of {', '.join(map(repr, _METHODS))}, got {method!r}")
    try:
        inspect.signature(func).bind(data, **kwargs)
    except TypeError as exc:
        raise InvalidParameterError(f"split method {method!r}: {exc}") from exc
    return func(data, **kwargs)
