"""Synthetic interaction logs with planted structure, and the small named `sample` data set.

`synthetic` generates a log that looks like real collaborative-filtering data and whose
structure is known, so models can be checked against the truth:

* **Genres and items.** Each item has 1-3 genres (exposed as ``item_features`` with names
  ``"genre=<name>"`` and in ``item_info``) and a hidden latent "style" vector.
* **Taste groups.** Every user belongs mostly to one taste group (and a little to a second
  one); a group likes a couple of genres, dislikes one, and has its own style direction.
  A user's latent vector is the mix of their groups' vectors plus an individual part, so
  the user x item affinity ``a(u, i) = p_u . q_i`` is low rank.
* **Who interacts with what.** Item popularity follows a power law (Zipf exponent
  ``popularity_exponent``, with a flattened head); a user's choices are drawn from
  popularity times ``exp(taste_strength * group affinity)`` of their two groups, without
  repeating an item. (The individual part of a user's vector shows in their values, not in
  which items they pick: per-user choice distributions would not scale to 160k users.)
* **How much.** User activity is heavy tailed (Pareto with tail index
  ``activity_exponent``); every user has at least ``min(5, n_interactions // n_users)``
  interactions and at most half of the catalogue.
* **Values.** Explicit ratings are integers 1-5 from ``3.5 + user bias + item bias +
  0.75 * standardised affinity + noise``; implicit weights are positive play counts
  ``1 + Poisson(exp(...))`` driven by the same terms.
* **When.** Timestamps are integer seconds; each user joins at some time in
  ``[start, end)`` and their interactions are spread over an active period after that.

Everything is vectorised with numpy; the pair sampler deduplicates with one sort per
round, so 1M interactions take about a second and 25M (160k users x 60k items) about 30 s
with a peak of about 2 GB (measured on a shared 2-core machine). The result is
deterministic for a given ``random_state``.

`sample` is a fixed, small instance (600 users, 400 items, 30,000 interactions) with
invented film titles, string user ids (``"u0001"``) and non-contiguous integer item ids,
used by the demo, the docs and the tests.

The numpy engine that plants this structure (and `SyntheticTruth`, `GENRES`) is in
`likewise.data._planted`; this module checks arguments, assembles and caches.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import date, datetime
from typing import Literal, overload

import numpy as np
import pandas as pd
import scipy.sparse as sp

from likewise._util import check_int
from likewise.data._planted import GENRES, Generated, SyntheticTruth, generate
from likewise.data.idmap import IdMap
from likewise.data.interactions import FeatureMatrix, Interactions
from likewise.data.report import LoadReport
from likewise.exceptions import InvalidParameterError

__all__ = ["GENRES", "SyntheticTruth", "sample", "sample_truth", "synthetic"]

Kind = Literal["explicit", "implicit"]
TimeLike = int | float | str | date | datetime | np.datetime64 | pd.Timestamp


# --------------------------------------------------------------------------------- public API
@overload
def synthetic(
    n_users: int = ...,
    n_items: int = ...,
    n_interactions: int = ...,
    *,
    kind: Kind = ...,
    n_genres: int = ...,
    n_taste_groups: int = ...,
    popularity_exponent: float = ...,
    activity_exponent: float = ...,
    taste_strength: float = ...,
    noise: float = ...,
    start: TimeLike = ...,
    end: TimeLike = ...,
    random_state: int | np.random.Generator | None = ...,
    return_truth: Literal[False] = ...,
) -> Interactions: ...


@overload
def synthetic(
    n_users: int = ...,
    n_items: int = ...,
    n_interactions: int = ...,
    *,
    kind: Kind = ...,
    n_genres: int = ...,
    n_taste_groups: int = ...,
    popularity_exponent: float = ...,
    activity_exponent: float = ...,
    taste_strength: float = ...,
    noise: float = ...,
    start: TimeLike = ...,
    end: TimeLike = ...,
    random_state: int | np.random.Generator | None = ...,
    return_truth: Literal[True],
) -> tuple[Interactions, SyntheticTruth]: ...


def synthetic(
    n_users: int = 1000,
    n_items: int = 500,
    n_interactions: int = 20000,
    *,
    kind: Kind = "explicit",
    n_genres: int = 8,
    n_taste_groups: int = 6,
    popularity_exponent: float = 0.8,
    activity_exponent: float = 1.5,
    taste_strength: float = 2.0,
    noise: float = 0.6,
    start: TimeLike = "2015-01-01",
    end: TimeLike = "2020-01-01",
    random_state: int | np.random.Generator | None = 0,
    return_truth: bool = False,
) -> Interactions | tuple[Interactions, SyntheticTruth]:
    """Generate a realistic interaction log with planted taste structure.

    Parameters
    ----------
    n_users, n_items
        Size of the population and of the catalogue. User ids are ``1..n_users`` and item ids
        ``1..n_items`` (integers that differ from the dense indices by one).
    n_interactions
        Exact number of distinct (user, item) pairs. Must be at least ``n_users`` and at most
        ``n_users * n_items / 2``.
    kind
        ``"explicit"``: integer ratings 1-5 (``rating_scale=(1, 5)``); ``"implicit"``:
        positive integer counts (plays, clicks).
    n_genres
        Number of genres; items carry 1-3 of them.
    n_taste_groups
        Number of taste groups users are drawn from (the rank of the planted structure is
        about ``n_genres + 4``).
    popularity_exponent
        Zipf exponent of the base item popularity (0 = uniform; about 1 for real catalogues).
    activity_exponent
        Tail index of the Pareto distribution of user activity (smaller = heavier tail).
    taste_strength
        How strongly group taste steers choices, relative to popularity (0 = not at all).
    noise
        Standard deviation of the per-interaction noise in ratings / log counts.
    start, end
        Time range of the log: Unix seconds, an ISO date string, a date/datetime, a numpy
        datetime64 or a pandas Timestamp (naive values are UTC).
    random_state
        Seed or Generator; the same seed always gives the same data.
    return_truth
        Also return the planted `SyntheticTruth`.

    Returns
    -------
    Interactions, or (Interactions, SyntheticTruth) with ``return_truth=True``.
        With ``item_features`` (genres) and ``item_info`` (title, genres, year).

    Raises
    ------
    InvalidParameterError
        For sizes that are not positive, a log too dense to fill without repeating pairs,
        or ``end <= start``.

    Examples
    --------
    >>> data = synthetic(200, 100, 3000, random_state=1)
    >>> data.nnz, data.rating_scale
    (3000, (1.0, 5.0))
    """
    check_int(n_users, "n_users", 1)
    check_int(n_items, "n_items", 1)
    check_int(n_interactions, "n_interactions", 1)
    check_int(n_genres, "n_genres", 1)
    check_int(n_taste_groups, "n_taste_groups", 1)
    if kind not in ("explicit", "implicit"):
        raise InvalidParameterError(f"kind must be 'explicit' or 'implicit', got {kind!r}")
    for pname, pvalue, low in (
        ("popularity_exponent", popularity_exponent, 0.0),
        ("taste_strength", taste_strength, 0.0),
        ("noise", noise, 0.0),
    ):
        if not (isinstance(pvalue, (int, float)) and np.isfinite(pvalue) and pvalue >= low):
            raise InvalidParameterError(f"{pname} must be a finite number >= {low:g}, got {pvalue!r}")
    if not (isinstance(activity_exponent, (int, float)) and np.isfinite(activity_exponent) and activity_exponent > 0):
        raise InvalidParameterError(f"activity_exponent must be a number > 0, got {activity_exponent!r}")
    t0, t1 = _to_seconds(start, "start"), _to_seconds(end, "end")
    if t1 <= t0:
        raise InvalidParameterError(f"end must be after start, got start={start!r}, end={end!r}")
    rng = np.random.default_rng(random_state)
    gen = generate(
        rng,
        n_users,
        n_items,
        n_interactions,
        kind=kind,
        n_genres=n_genres,
        n_groups=n_taste_groups,
        popularity_exponent=float(popularity_exponent),
        activity_exponent=float(activity_exponent),
        taste_strength=float(taste_strength),
        noise=float(noise),
        t0=t0,
        t1=t1,
    )
    users = IdMap.from_sorted_unique(np.arange(1, n_users + 1, dtype=np.int64), name="user")
    items = IdMap.from_sorted_unique(np.arange(1, n_items + 1, dtype=np.int64), name="item")
    source = (
        f"synthetic(n_users={n_users}, n_items={n_items}, n_interactions={n_interactions}, "
        f"kind={kind!r}, random_state={random_state!r})"
    )
    data = _assemble(gen, users, items, kind, source)
    return (data, gen.truth) if return_truth else data


def sample(kind: Kind = "explicit") -> Interactions:
    """The small built-in data set used by the demo, the docs and the tests.

    600 users x 400 films, 30,000 interactions (at least 5 and at most 200 per user), 8 genres
    in 6 taste groups, timestamps from 2019 to 2023, invented but plausible film titles such as
    "The Detective of Lisbon (2002)". User ids are strings ``"u0001".."u0600"`` and item ids are
    integers with gaps (``106, 112, 114, ...``), so code that confuses ids with indices fails
    on it. Its planted structure is `sample_truth()`.

    The data set is generated once per process and cached; every call returns a fresh copy,
    so changing the returned object (it is meant to be treated as immutable, like every
    Interactions) cannot affect later calls.

    Parameters
    ----------
    kind
        ``"explicit"`` (ratings 1-5) or ``"implicit"`` (positive play counts). Both kinds
        share users, items, pairs and timestamps; only the values differ.

    Returns
    -------
    Interactions
        With ``item_features`` (genres) and ``item_info`` (title, genres, year).

    Examples
    --------
    >>> data = sample()
    >>> data.n_users, data.n_items, data.nnz
    (600, 400, 30000)
    """
    if kind not in ("explicit", "implicit"):
        raise InvalidParameterError(f"kind must be 'explicit' or 'implicit', got {kind!r}")
    return _copy(_sample_cached(kind))


def sample_truth() -> SyntheticTruth:
    """The planted structure of `sample` (same for both kinds), for tests and docs.

    Returns
    -------
    SyntheticTruth
        Shared and cached: its arrays are read-only.
    """
    return _sample_with_truth("explicit")[1]


# --------------------------------------------------------------------------------- sample
_SAMPLE_SEED = 20240611
_SAMPLE_SIZE = (600, 400, 30000)


@functools.cache
def _sample_with_truth(kind: Kind) -> tuple[Interactions, SyntheticTruth]:
    n_users, n_items, n_interactions = _SAMPLE_SIZE
    # The pairs and timestamps do not depend on `kind`: the value draws come last.
    rng = np.random.default_rng(_SAMPLE_SEED)
    gen = generate(
        rng,
        n_users,
        n_items,
        n_interactions,
        kind=kind,
        n_genres=8,
        n_groups=6,
        popularity_exponent=0.8,
        activity_exponent=1.5,
        taste_strength=2.0,
        noise=0.6,
        t0=_to_seconds("2019-01-01", "start"),
        t1=_to_seconds("2024-01-01", "end"),
    )
    user_ids = np.array([f"u{k:04d}" for k in range(1, n_users + 1)])
    gaps = np.random.default_rng(_SAMPLE_SEED + 1).integers(1, 7, size=n_items)
    item_ids = 100 + np.cumsum(gaps)
    users = IdMap.from_sorted_unique(user_ids, name="user")
    items = IdMap.from_sorted_unique(item_ids.astype(np.int64), name="item")
    data = _assemble(gen, users, items, kind, f"likewise sample ({kind})")
    _freeze(data, gen.truth)
    return data, gen.truth


def _sample_cached(kind: Kind) -> Interactions:
    return _sample_with_truth(kind)[0]


def _freeze(data: Interactions, truth: SyntheticTruth) -> None:
    """Make the cached objects' arrays read-only, as a second line of defence."""
    arrays = [data.matrix.data, data.matrix.indices, data.matrix.indptr, data.timestamps]
    arrays += [value for value in vars(truth).values() if isinstance(value, np.ndarray)]
    for arr in arrays:
        if arr is not None:
            arr.flags.writeable = False


def _copy(data: Interactions) -> Interactions:
    """A deep copy whose arrays the caller owns (IdMaps are immutable and shared)."""
    feats = data.item_features
    return Interactions(
        data.users,
        data.items,
        data.matrix.copy(),
        timestamps=None if data.timestamps is None else data.timestamps.copy(),
        kind=data.kind,
        rating_scale=data.rating_scale,
        item_features=None if feats is None else FeatureMatrix(feats.matrix.copy(), feats.names.copy()),
        item_info=None if data.item_info is None else data.item_info.copy(deep=True),
        report=dataclasses.replace(data.report, skipped=dict(data.report.skipped), examples=list(data.report.examples)),
    )


# --------------------------------------------------------------------------------- assembly
def _assemble(gen: Generated, users: IdMap, items: IdMap, kind: Kind, source: str) -> Interactions:
    n_users, n_items = len(users), len(items)
    counts = np.bincount(gen.user_idx, minlength=n_users)
    nnz = gen.item_idx.size
    indptr = np.zeros(n_users + 1, dtype=np.int64 if nnz > np.iinfo(np.int32).max else np.int32)
    np.cumsum(counts, out=indptr[1:])
    matrix = sp.csr_matrix((gen.values, gen.item_idx, indptr), shape=(n_users, n_items))
    matrix.has_sorted_indices = True  # the sampler returns pairs sorted by (user, item)

    order = np.argsort(np.array(gen.genres))
    names = np.array([f"genre={gen.genres[g]}" for g in order])
    features = FeatureMatrix(sp.csr_matrix(gen.genre_matrix[:, order], dtype=np.float32), names)
    genre_lists = [
        "|".join(gen.genres[g] for g in gen.genre_matrix.indices[a:b])
        for a, b in zip(gen.genre_matrix.indptr[:-1], gen.genre_matrix.indptr[1:], strict=True)
    ]
    item_info = pd.DataFrame(
        {"title": gen.titles, "genres": genre_lists, "year": gen.years.astype(np.int64)},
        index=pd.Index(items.ids, name="item"),
    )
    report = LoadReport(source=source, rows_read=nnz, n_users=n_users, n_items=n_items, n_interactions=nnz)
    return Interactions(
        users,
        items,
        matrix,
        timestamps=gen.timestamps,
        kind=kind,
        rating_scale=(1.0, 5.0) if kind == "explicit" else None,
        item_features=features,
        item_info=item_info,
        report=report,
    )


# --------------------------------------------------------------------------------- helpers
def _to_seconds(value: TimeLike, name: str) -> int:
    if isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be a time, got {value!r}")
    if isinstance(value, (int, np.integer, float, np.floating)):
        if not np.isfinite(value):
            raise InvalidParameterError(f"{name} must be finite, got {value!r}")
        return int(value)
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidParameterError(f"{name} is not a time: {value!r} ({exc})") from exc
    if pd.isna(stamp):
        raise InvalidParameterError(f"{name} is not a time: {value!r}")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.timestamp())
