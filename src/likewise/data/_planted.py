"""The engine behind `likewise.data.synthetic` (private): hidden factors, taste groups,
popularity, pair sampling, values, timestamps and invented titles, as plain numpy.

The structure it plants is described in `likewise.data.synthetic`, which checks the arguments,
assembles the `Interactions` and caches the `sample`; `SyntheticTruth` and `GENRES` are
defined here (the engine builds the former) and re-exported there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import scipy.sparse as sp

from likewise.exceptions import InvalidParameterError

__all__ = ["GENRES", "Generated", "SyntheticTruth", "generate", "pair_dots"]

Kind = Literal["explicit", "implicit"]

#: Genre names used in order; past the end of this list genres are called "Genre <k>".
GENRES: tuple[str, ...] = (
    "Drama", "Comedy", "Action", "Thriller", "Romance", "Adventure", "Crime", "Sci-Fi",
    "Horror", "Fantasy", "Animation", "Documentary", "Mystery", "Family", "War", "Musical",
    "Western", "Film-Noir",
)  # fmt: skip

_N_STYLE = 4  # hidden latent dimensions beyond the genres
_MIN_PER_USER = 5
_MAX_SHARE_OF_CATALOGUE = 0.5
_CHUNK = 1 << 20


@dataclass(frozen=True, eq=False)
class SyntheticTruth:
    """The structure `synthetic` planted, aligned with the returned Interactions' indices.

    Attributes
    ----------
    user_factors, item_factors : float32 arrays, shapes (n_users, d) and (n_items, d)
        Latent vectors; the first ``len(genres)`` dimensions are the genres, the rest the
        hidden style. ``affinity(u, i) = user_factors[u] @ item_factors[i]``.
    user_bias, item_bias : float32 arrays
        Standard-normal biases (the item bias is correlated with popularity).
    user_groups : int32 array, shape (n_users,)
        Each user's main taste group; ``secondary_groups`` the minor one and
        ``group_weights`` the weight of the main one.
    group_factors : float32 array, shape (n_taste_groups, d)
    item_popularity : float64 array, shape (n_items,)
        The base (taste-free) popularity weights; they sum to 1.
    genres : tuple of str
    affinity_mean, affinity_std : float
        Statistics used to standardise the affinity of observed pairs.
    """

    user_factors: np.ndarray
    item_factors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_groups: np.ndarray
    secondary_groups: np.ndarray
    group_weights: np.ndarray
    group_factors: np.ndarray
    item_popularity: np.ndarray
    genres: tuple[str, ...]
    affinity_mean: float
    affinity_std: float

    def affinity(self, uidx: np.ndarray, iidx: np.ndarray, *, standardize: bool = True) -> np.ndarray:
        """Planted affinity of the (user index, item index) pairs, float32.

        Parameters
        ----------
        uidx, iidx
            Dense indices of equal length.
        standardize
            Subtract ``affinity_mean`` and divide by ``affinity_std`` (the scale the values
            were generated from).
        """
        out = pair_dots(self.user_factors, self.item_factors, np.asarray(uidx), np.asarray(iidx))
        if standardize:
            out -= self.affinity_mean
            out /= self.affinity_std
        return out

    def scores(self, uidx: np.ndarray) -> np.ndarray:
        """Dense planted affinity of the given users with every item, shape (len(uidx), n_items)."""
        return np.asarray(self.user_factors[np.asarray(uidx)] @ self.item_factors.T, dtype=np.float32)


# --------------------------------------------------------------------------------- engine
@dataclass
class Generated:
    user_idx: np.ndarray  # int32, CSR order (sorted by user, then item)
    item_idx: np.ndarray  # int32
    values: np.ndarray  # float32
    timestamps: np.ndarray  # int64
    genre_matrix: sp.csr_matrix  # n_items x n_genres, columns in `genres` order
    genres: tuple[str, ...]
    titles: list[str]
    years: np.ndarray
    truth: SyntheticTruth


def generate(
    rng: np.random.Generator,
    n_users: int,
    n_items: int,
    n_interactions: int,
    *,
    kind: Kind,
    n_genres: int,
    n_groups: int,
    popularity_exponent: float,
    activity_exponent: float,
    taste_strength: float,
    noise: float,
    t0: int,
    t1: int,
) -> Generated:
    genres = tuple(GENRES[g] if g < len(GENRES) else f"Genre {g + 1}" for g in range(n_genres))
    counts = _user_counts(rng, n_users, n_items, n_interactions, activity_exponent)

    # Items: genres (frequent genres first), latent vectors and base popularity.
    genre_freq = 1.0 / np.arange(1, n_genres + 1) ** 0.7
    genre_matrix = _item_genres(rng, n_items, genre_freq)
    n_item_genres = np.diff(genre_matrix.indptr).astype(np.float64)
    dim = n_genres + _N_STYLE
    item_factors = np.zeros((n_items, dim))
    item_factors[:, :n_genres] = genre_matrix.toarray() / np.sqrt(n_item_genres)[:, None]
    item_factors[:, n_genres:] = rng.normal(0.0, 0.6, size=(n_items, _N_STYLE))
    head = 1.0 + 0.01 * n_items  # flattens the very top so no item is seen by everyone
    popularity = (rng.permutation(n_items) + head) ** -popularity_exponent
    popularity /= popularity.sum()

    # Taste groups: like two genres, dislike one, lean towards a style direction.
    group_factors = rng.normal(0.0, 0.2, size=(n_groups, dim))
    for g in range(n_groups):
        picks = rng.choice(n_genres, size=min(3, n_genres), replace=False)
        group_factors[g, picks[0]] = 1.2
        if picks.size > 1:
            group_factors[g, picks[1]] = 0.8
        if picks.size > 2:
            group_factors[g, picks[2]] = -0.7
    group_factors[:, n_genres:] = rng.normal(0.0, 0.9, size=(n_groups, _N_STYLE))
    group_sizes = rng.dirichlet(np.full(n_groups, 3.0))
    primary = rng.choice(n_groups, size=n_users, p=group_sizes).astype(np.int32)
    if n_groups > 1:
        secondary = ((primary + rng.integers(1, n_groups, size=n_users)) % n_groups).astype(np.int32)
    else:
        secondary = primary.copy()
    weight = rng.beta(8.0, 3.0, size=n_users)
    user_factors = (
        weight[:, None] * group_factors[primary]
        + (1.0 - weight)[:, None] * group_factors[secondary]
        + rng.normal(0.0, 0.35, size=(n_users, dim))
    )

    # Choice distributions: one per group, popularity x exp(taste).
    group_aff = group_factors @ item_factors.T  # n_groups x n_items
    group_aff = (group_aff - group_aff.mean(axis=1, keepdims=True)) / (group_aff.std(axis=1, keepdims=True) + 1e-12)
    choice = popularity[None, :] * np.exp(taste_strength * group_aff)
    cdf = np.cumsum(choice, axis=1)
    cdf /= cdf[:, -1:]

    keys = _sample_pairs(rng, counts, n_items, cdf, primary, secondary, weight)
    user_idx = (keys // n_items).astype(np.int32)
    item_idx = (keys % n_items).astype(np.int32)
    del keys

    uf32 = user_factors.astype(np.float32)
    if_32 = item_factors.astype(np.float32)
    aff = pair_dots(uf32, if_32, user_idx, item_idx)
    aff_mean, aff_std = float(aff.mean(dtype=np.float64)), float(aff.std(dtype=np.float64)) or 1.0
    aff -= aff_mean
    aff /= aff_std

    user_bias = rng.standard_normal(n_users)
    log_pop = np.log(popularity)
    pop_z = (log_pop - log_pop.mean()) / (log_pop.std() or 1.0)
    item_bias = 0.5 * pop_z + np.sqrt(0.75) * rng.standard_normal(n_items)

    timestamps = _timestamps(rng, counts, t0, t1)
    titles, years = _titles(rng, n_items, t1)
    values = _values(rng, kind, aff, user_bias, item_bias, user_idx, item_idx, noise)

    truth = SyntheticTruth(
        user_factors=uf32,
        item_factors=if_32,
        user_bias=user_bias.astype(np.float32),
        item_bias=item_bias.astype(np.float32),
        user_groups=primary,
        secondary_groups=secondary,
        group_weights=weight.astype(np.float32),
        group_factors=group_factors.astype(np.float32),
        item_popularity=popularity,
        genres=genres,
        affinity_mean=aff_mean,
        affinity_std=aff_std,
    )
    return Generated(user_idx, item_idx, values, timestamps, genre_matrix, genres, titles, years, truth)


def _user_counts(rng: np.random.Generator, n_users: int, n_items: int, total: int, exponent: float) -> np.ndarray:
    """Heavy-tailed interactions per user, summing exactly to `total`."""
    if total < n_users:
        raise InvalidParameterError(
            f"n_interactions must be at least n_users ({n_users}) so every user has one, got {total}"
        )
    cap = min(n_items, max(min(_MIN_PER_USER, total // n_users), int(_MAX_SHARE_OF_CATALOGUE * n_items)))
    low = min(_MIN_PER_USER, total // n_users, cap)
    if total > cap * n_users:
        raise InvalidParameterError(
            f"n_interactions={total} is too dense for {n_users} users x {n_items} items: at most "
            f"{cap * n_users} (each user can have at most {cap} of the {n_items} items)"
        )
    weights = rng.pareto(exponent, size=n_users) + 0.05  # Lomax: many light users, a long tail
    counts = np.full(n_users, low, dtype=np.int64)
    remaining = total - low * n_users
    while remaining > 0:
        room = cap - counts
        share = np.where(room > 0, weights, 0.0)
        alloc = np.minimum(np.floor(remaining * share / share.sum()).astype(np.int64), room)
        if alloc.sum() == 0:
            open_ = np.flatnonzero(room > 0)
            take = min(remaining, open_.size)
            p = weights[open_] / weights[open_].sum()
            alloc = np.zeros(n_users, dtype=np.int64)
            alloc[rng.choice(open_, size=take, replace=False, p=p)] = 1
        counts += alloc
        remaining -= int(alloc.sum())
    return counts


def _item_genres(rng: np.random.Generator, n_items: int, freq: np.ndarray) -> sp.csr_matrix:
    """1-3 distinct genres per item, frequent genres more likely (Gumbel top-k)."""
    n_genres = freq.size
    k = rng.choice([1, 2, 3], size=n_items, p=[0.45, 0.38, 0.17])
    k = np.minimum(k, n_genres)
    keys = np.log(freq)[None, :] + rng.gumbel(size=(n_items, n_genres))
    ranked = np.argsort(-keys, axis=1)
    mask = np.arange(n_genres)[None, :] < k[:, None]
    rows = np.repeat(np.arange(n_items), k)
    cols = ranked[mask]
    matrix = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_items, n_genres))
    matrix.sort_indices()
    return matrix


def _sample_pairs(
    rng: np.random.Generator,
    counts: np.ndarray,
    n_items: int,
    cdf: np.ndarray,
    primary: np.ndarray,
    secondary: np.ndarray,
    weight: np.ndarray,
) -> np.ndarray:
    """Distinct (user, item) pairs as sorted int64 keys ``user * n_items + item``.

    Each round draws candidates for the users still short of their count (taste-driven
    first, uniform in the last round), keeps each user's earliest distinct draws, and
    repeats; a final exact pass fills whatever is left from the unseen items.
    """
    n_users = counts.size
    kept = np.empty(0, dtype=np.int64)
    have = np.zeros(n_users, dtype=np.int64)
    for round_ in range(5):
        need = counts - have
        short = np.flatnonzero(need > 0)
        if short.size == 0:
            break
        factor = 1.25 * 2.0**round_
        n_cand = np.ceil(need[short] * factor).astype(np.int64) + 2
        cand_users = np.repeat(short, n_cand)
        if round_ < 4:
            cand_items = _draw_items(rng, cand_users, cdf, primary, secondary, weight)
        else:
            cand_items = rng.integers(0, n_items, size=cand_users.size)
        new = cand_users * np.int64(n_items) + cand_items
        del cand_users, cand_items
        is_short = np.zeros(n_users, dtype=bool)
        is_short[short] = True
        mask = is_short[kept // n_items]
        chosen = _first_distinct(np.concatenate([kept[mask], new]), counts, n_items)
        kept = np.sort(np.concatenate([kept[~mask], chosen]))
        have = np.bincount(kept // n_items, minlength=n_users).astype(np.int64)
    short = np.flatnonzero(counts > have)
    if short.size:
        extra = []
        for user in short:
            lo, hi = np.searchsorted(kept, [user * n_items, (user + 1) * n_items])
            free = np.setdiff1d(np.arange(n_items), kept[lo:hi] - user * n_items)
            pick = rng.choice(free, size=int(counts[user] - have[user]), replace=False)
            extra.append(user * np.int64(n_items) + pick)
        kept = np.sort(np.concatenate([kept, *extra]))
    return kept


def _draw_items(
    rng: np.random.Generator,
    cand_users: np.ndarray,
    cdf: np.ndarray,
    primary: np.ndarray,
    secondary: np.ndarray,
    weight: np.ndarray,
) -> np.ndarray:
    use_primary = rng.random(cand_users.size) < weight[cand_users]
    group = np.where(use_primary, primary[cand_users], secondary[cand_users])
    out = np.empty(cand_users.size, dtype=np.int64)
    n_items = cdf.shape[1]
    for g in range(cdf.shape[0]):
        where = np.flatnonzero(group == g)
        if where.size:
            drawn = np.searchsorted(cdf[g], rng.random(where.size), side="right")
            out[where] = np.minimum(drawn, n_items - 1)
    return out


def _first_distinct(keys: np.ndarray, counts: np.ndarray, n_items: int) -> np.ndarray:
    """Per user, the first ``counts[user]`` distinct keys in array order; returned sorted."""
    uniq, first = np.unique(keys, return_index=True)
    users = uniq // n_items
    order = np.argsort(users * np.int64(keys.size) + first)  # by user, then first draw
    per_user = np.bincount(users, minlength=counts.size)
    starts = np.cumsum(per_user) - per_user
    sorted_users = users[order]
    rank = np.arange(order.size) - starts[sorted_users]
    keep = np.empty(uniq.size, dtype=bool)
    keep[order] = rank < counts[sorted_users]
    return uniq[keep]


def pair_dots(left: np.ndarray, right: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Row-wise dot products ``left[rows[k]] @ right[cols[k]]``, chunked to bound memory."""
    out = np.empty(rows.size, dtype=np.float32)
    for lo in range(0, rows.size, _CHUNK):
        hi = min(lo + _CHUNK, rows.size)
        out[lo:hi] = np.einsum("ij,ij->i", left[rows[lo:hi]], right[cols[lo:hi]])
    return out


def _values(
    rng: np.random.Generator,
    kind: Kind,
    aff: np.ndarray,
    user_bias: np.ndarray,
    item_bias: np.ndarray,
    user_idx: np.ndarray,
    item_idx: np.ndarray,
    noise: float,
) -> np.ndarray:
    out = np.empty(aff.size, dtype=np.float32)
    for lo in range(0, aff.size, _CHUNK):
        hi = min(lo + _CHUNK, aff.size)
        eps = rng.standard_normal(hi - lo)
        ub, ib, a = user_bias[user_idx[lo:hi]], item_bias[item_idx[lo:hi]], aff[lo:hi]
        if kind == "explicit":
            raw = 3.5 + 0.4 * ub + 0.35 * ib + 0.75 * a + noise * eps
            out[lo:hi] = np.clip(np.rint(raw), 1.0, 5.0)
        else:
            lam = np.exp(0.6 + 0.9 * a + 0.5 * ub + 0.3 * ib + noise * eps)
            out[lo:hi] = 1.0 + rng.poisson(np.minimum(lam, 1e6))
    return out


def _timestamps(rng: np.random.Generator, counts: np.ndarray, t0: int, t1: int) -> np.ndarray:
    """Per user: a join time, an activity span growing with activity, uniform times inside.

    Times are drawn independently per interaction, so within a user they carry no relation
    to the item order in which pairs are stored.
    """
    n_users = counts.size
    join = t0 + (t1 - t0) * 0.95 * rng.random(n_users) ** 1.3
    room = t1 - join
    frac = rng.beta(1.0 + np.log1p(counts) / 2.0, 3.0)
    span = np.maximum(room * frac, np.minimum(room, 3600.0))
    user_of = np.repeat(np.arange(n_users), counts)
    times = join[user_of] + rng.random(user_of.size) * span[user_of]
    out: np.ndarray = np.minimum(np.floor(times), t1 - 1).astype(np.int64)
    return out


# --------------------------------------------------------------------------------- titles
_ADJ = (
    "Silent", "Crimson", "Broken", "Hidden", "Last", "Golden", "Distant", "Midnight", "Frozen",
    "Burning", "Forgotten", "Electric", "Wild", "Lonely", "Secret", "Northern", "Savage", "Quiet",
    "Endless", "Hollow", "Velvet", "Iron", "Scarlet", "Shattered", "Restless", "Sleeping", "Dark",
    "Bright", "Lost", "Eternal", "Fallen", "Painted", "Wandering", "Bitter", "Gentle", "Final",
    "Invisible", "Sacred", "Twisted", "Wicked", "Emerald", "Silver", "Fragile", "Haunted",
    "Reckless", "Brave", "Strange", "Perfect", "Little", "Howling", "Glass", "Stolen", "Falling",
    "Rising", "Desperate", "Blue", "Black", "White", "Southern", "Sweet",
)  # fmt: skip
_NOUN = (
    "Harbor", "Horizon", "River", "Kingdom", "Garden", "Shadow", "Empire", "Highway", "Mirror",
    "Island", "Forest", "Voyage", "Summer", "Winter", "Road", "Tide", "Storm", "Valley", "Station",
    "Letter", "Promise", "Frontier", "Canyon", "Orchard", "Lighthouse", "Carnival", "Circus",
    "Diary", "Hotel", "Machine", "Planet", "Signal", "Witness", "Stranger", "Heart", "Dream",
    "Melody", "Labyrinth", "Citadel", "Desert", "Ocean", "Moon", "Crown", "Sword", "Dragon",
    "Detective", "Bandit", "Sheriff", "Prophet", "Gambler", "Dancer", "Soldier", "Daughter",
    "Brother", "Widow", "Orphan", "Captain", "Queen", "King", "Thief", "Ghost", "Angel", "Hunter",
    "Pilot", "Doctor", "Professor", "Spy", "Bridge", "Tower", "Train", "Village", "Symphony",
    "Assassin", "Rebel", "Lantern", "Compass", "Archive", "Orchid", "Wolf", "Raven",
)  # fmt: skip
_PLACE = (
    "Paris", "Berlin", "Tokyo", "Havana", "Cairo", "Memphis", "Brooklyn", "Venice", "Marrakesh",
    "Lisbon", "Alaska", "Texas", "Vienna", "Shanghai", "Casablanca", "Bombay", "Dublin", "Montana",
    "Sicily", "Rio", "Oslo", "Istanbul", "Santa Fe", "Tangier", "Budapest", "Kyoto", "Manhattan",
    "Naples", "the Yukon", "Saint Louis",
)  # fmt: skip
# (template, uses adjective, uses second noun, uses place); templates differ in fixed words,
# so two different fillings never give the same text.
_TEMPLATES = (
    ("The {a} {n}", 0.20),
    ("{a} {n}", 0.12),
    ("The {n} of {p}", 0.10),
    ("{a} {n} in {p}", 0.12),
    ("A {n} for the {m}", 0.08),
    ("The {n}'s {m}", 0.10),
    ("{p} {n}", 0.08),
    ("Return of the {a} {n}", 0.08),
    ("{n} and {m}", 0.12),
)


def _titles(rng: np.random.Generator, n_items: int, t1: int) -> tuple[list[str], np.ndarray]:
    """Unique invented film titles with a release year no later than the log's end."""
    last_year = datetime.fromtimestamp(t1 - 1, tz=UTC).year
    probs = np.array([p for _, p in _TEMPLATES])
    titles = [""] * n_items
    years = np.zeros(n_items, dtype=np.int64)
    todo = np.arange(n_items)
    seen: set[str] = set()
    for attempt in range(50):
        k = todo.size
        tpl = rng.choice(len(_TEMPLATES), size=k, p=probs / probs.sum())
        adj = rng.integers(0, len(_ADJ), size=k)
        noun = rng.integers(0, len(_NOUN), size=k)
        other = (noun + rng.integers(1, len(_NOUN), size=k)) % len(_NOUN)
        place = rng.integers(0, len(_PLACE), size=k)
        year = np.maximum(last_year - np.floor(rng.exponential(14.0, size=k)), 1925).astype(np.int64)
        retry = []
        for pos, item in enumerate(todo):
            text = _TEMPLATES[tpl[pos]][0].format(
                a=_ADJ[adj[pos]], n=_NOUN[noun[pos]], m=_NOUN[other[pos]], p=_PLACE[place[pos]]
            )
            if text.startswith("A ") and text[2] in "AEIOU":
                text = "An " + text[2:]
            if attempt >= 40:  # an enormous catalogue: number the remakes
                text = f"{text} {attempt - 38}"
            full = f"{text} ({year[pos]})"
            if full in seen:
                retry.append(item)
                continue
            seen.add(full)
            titles[item] = full
            years[item] = year[pos]
        todo = np.asarray(retry, dtype=np.int64)
        if todo.size == 0:
            break
    if todo.size:  # pragma: no cover - only for catalogues far beyond the word lists
        for item in todo:
            titles[item] = f"Untitled Project No. {item + 1} ({last_year})"
            years[item] = last_year
    return titles, years
