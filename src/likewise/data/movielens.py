"""Readers for the MovieLens data sets and the HetRec 2011 Last.fm data set, as distributed.

Each reader takes the folder of an unpacked archive and returns `Interactions` with side
information attached:

* ``item_info`` / ``user_info``: DataFrames indexed by raw id, one row per index, in IdMap
  order (rows of ids without metadata hold missing values);
* ``item_features`` / ``user_features``: sparse `FeatureMatrix` objects with names such as
  ``"genre=Comedy"``, ``"tag=funny"`` (counted), ``"gender=F"``, ``"occupation=writer"``,
  ``"age=25-34"``.

The item universe is the union of rated items and catalogue items (items with metadata but no
rating are cold-start items; their number is logged), and likewise for users. Every error names
the file and physical line, as `likewise.read_csv` does; with ``on_error="skip"`` malformed
rating lines are counted in ``interactions.report`` and malformed metadata lines are dropped
and logged as warnings on the "likewise.data" logger.

`FORMATS` maps a format name (the CLI's ``--format``) to its reader; `read_movielens` detects
the layout of a folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from likewise.data._build import OnError
from likewise.data._csv import ColumnSpec, Table, read_table
from likewise.data._tables import ids_from_text, interactions_from_table, log_report, logger
from likewise.data.idmap import IdMap
from likewise.data.interactions import FeatureMatrix, Interactions
from likewise.exceptions import DataError, InvalidParameterError

__all__ = [
    "FORMATS",
    "detect_format",
    "read_lastfm_hetrec",
    "read_ml1m",
    "read_ml100k",
    "read_ml_latest",
    "read_movielens",
]

PathLike = str | os.PathLike[str]

ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
ML1M_OCCUPATIONS = (
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
)
NO_GENRES = "(no genres listed)"


# --------------------------------------------------------------------------- MovieLens 100K
def read_ml100k(folder: PathLike, *, on_error: OnError = "raise") -> Interactions:
    """Read MovieLens 100K (``u.data``, ``u.item``, ``u.genre``, ``u.user``).

    Parameters
    ----------
    folder
        The unpacked ``ml-100k`` folder. ``u.data`` is required; the others are optional.
    on_error
        "raise" (default) or "skip" malformed lines.

    Returns
    -------
    Interactions
        Explicit ratings on the scale (1, 5) with timestamps; ``item_info`` (title,
        release_date, genres as "A|B", imdb_url) and genre features; ``user_info`` (age,
        age_group, gender, occupation, zip_code) and gender/occupation/age-group features.
    """
    root = _folder(folder)
    ratings = read_table(
        _need(root, "u.data"),
        {"user": 0, "item": 1, "rating": 2, "timestamp": 3},
        delimiter="\t",
        header=False,
        names=["user_id", "item_id", "rating", "timestamp"],
        encoding="latin-1",
        quote_char=None,
    )
    inter = interactions_from_table(ratings, kind="explicit", rating_scale=(1, 5), on_error=on_error)

    genres = list(ML100K_GENRES)
    if (root / "u.genre").exists():
        genres = _ml100k_genres(root / "u.genre", on_error)
    items = users = None
    if (root / "u.item").exists():
        items = _ml100k_items(root / "u.item", genres, on_error)
    if (root / "u.user").exists():
        users = _ml100k_users(root / "u.user", on_error)
    return _assemble(inter, items, users, name=str(root))


def _ml100k_genres(path: Path, on_error: OnError) -> list[str]:
    table = read_table(
        path,
        {"name": 0, "index": 1},
        delimiter="|",
        header=False,
        names=["genre", "index"],
        encoding="latin-1",
        quote_char=None,
    )
    check = _Checks(table, on_error)
    index = check.integers("index", "genre index")
    keep = check.settle()
    names = table.text("name")[keep]
    index = index[keep]
    order = np.argsort(index, kind="stable")
    if not np.array_equal(index[order], np.arange(index.size)):
        raise DataError(f"{path}: genre indices must be 0..{index.size - 1}, got {sorted(index)}")
    return [str(n) for n in names[order]]


def _ml100k_items(path: Path, genres: list[str], on_error: OnError) -> _Meta:
    roles: dict[str, ColumnSpec] = {"id": 0, "title": 1, "release_date": 2, "imdb_url": 4}
    roles.update({f"genre {k}": 5 + k for k in range(len(genres))})
    table = read_table(
        path,
        roles,
        delimiter="|",
        header=False,
        names=["item_id", "title", "release_date", "video_release_date", "imdb_url", *genres],
        encoding="latin-1",
        quote_char=None,
    )
    check = _Checks(table, on_error)
    ids = check.ids("id", "item")
    columns = [check.flags(f"genre {k}", f"genre {g}") for k, g in enumerate(genres)]
    flags = np.column_stack(columns) if columns else np.zeros((table.n_rows, 0), dtype=bool)
    dates = check.dates("release_date", "%d-%b-%Y")
    keep = check.settle()
    ids, flags, dates = ids[keep], flags[keep], dates[keep]
    genre_names = np.asarray(genres, dtype=object)
    info = pd.DataFrame(
        {
            "title": table.text("title")[keep],
            "release_date": dates,
            "genres": ["|".join(genre_names[row]) for row in flags],
            "imdb_url": table.text("imdb_url")[keep],
        },
        index=ids,
    )
    rows, cols = np.nonzero(flags)
    pairs = (ids[rows], _prefixed("genre=", np.asarray(genres, dtype=object)[cols]), None, path)
    return _Meta(path, info, [pairs])


def _ml100k_users(path: Path, on_error: OnError) -> _Meta:
    table = read_table(
        path,
        {"id": 0, "age": 1, "gender": 2, "occupation": 3, "zip_code": 4},
        delimiter="|",
        header=False,
        names=["user_id", "age", "gender", "occupation", "zip_code"],
        encoding="latin-1",
        quote_char=None,
    )
    check = _Checks(table, on_error)
    ids = check.ids("id", "user")
    ages = check.integers("age", "age", low=0)
    keep = check.settle()
    ids, ages = ids[keep], ages[keep]
    groups = np.array([_age_group(int(a)) for a in ages], dtype=object)
    gender = table.text("gender")[keep]
    occupation = table.text("occupation")[keep]
    info = pd.DataFrame(
        {
            "age": pd.array(ages, dtype="Int64"),
            "age_group": groups,
            "gender": gender,
            "occupation": occupation,
            "zip_code": table.text("zip_code")[keep],
        },
        index=ids,
    )
    return _Meta(path, info, _user_pairs(path, ids, gender, occupation, groups))


# --------------------------------------------------------------------------- MovieLens 1M
def read_ml1m(folder: PathLike, *, on_error: OnError = "raise") -> Interactions:
    """Read MovieLens 1M (``ratings.dat``, ``movies.dat``, ``users.dat``; ``::``-separated).

    Parameters
    ----------
    folder
        The unpacked ``ml-1m`` folder. ``ratings.dat`` is required; the others are optional.
    on_error
        "raise" (default) or "skip" malformed lines.

    Returns
    -------
    Interactions
        Explicit ratings on the scale (1, 5) with timestamps; ``item_info`` (title, genres)
        and genre features; ``user_info`` (gender, age_group, occupation, zip_code) and
        gender/occupation/age-group features (occupation codes are turned into names).
    """
    root = _folder(folder)
    ratings = read_table(
        _need(root, "ratings.dat"),
        {"user": 0, "item": 1, "rating": 2, "timestamp": 3},
        delimiter="::",
        header=False,
        names=["user_id", "item_id", "rating", "timestamp"],
        encoding="latin-1",
        quote_char=None,
    )
    inter = interactions_from_table(ratings, kind="explicit", rating_scale=(1, 5), on_error=on_error)
    items = users = None
    if (root / "movies.dat").exists():
        table = read_table(
            root / "movies.dat",
            {"id": 0, "title": 1, "genres": 2},
            delimiter="::",
            header=False,
            names=["item_id", "title", "genres"],
            encoding="latin-1",
            quote_char=None,
        )
        items = _movies(root / "movies.dat", table, on_error)
    if (root / "users.dat").exists():
        users = _ml1m_users(root / "users.dat", on_error)
    return _assemble(inter, items, users, name=str(root))


def _ml1m_users(path: Path, on_error: OnError) -> _Meta:
    table = read_table(
        path,
        {"id": 0, "gender": 1, "age": 2, "occupation": 3, "zip_code": 4},
        delimiter="::",
        header=False,
        names=["user_id", "gender", "age", "occupation", "zip_code"],
        encoding="latin-1",
        quote_char=None,
    )
    check = _Checks(table, on_error)
    ids = check.ids("id", "user")
    ages = check.integers("age", "age", low=0)
    codes = check.integers("occupation", "occupation", low=0, high=len(ML1M_OCCUPATIONS) - 1)
    keep = check.settle()
    ids, ages, codes = ids[keep], ages[keep], codes[keep]
    groups = np.array([_age_group(int(a)) for a in ages], dtype=object)
    occupation = np.asarray(ML1M_OCCUPATIONS, dtype=object)[codes]
    gender = table.text("gender")[keep]
    info = pd.DataFrame(
        {
            "gender": gender,
            "age_group": groups,
            "occupation": occupation,
            "zip_code": table.text("zip_code")[keep],
        },
        index=ids,
    )
    return _Meta(path, info, _user_pairs(path, ids, gender, occupation, groups))


# --------------------------------------------------------------------------- MovieLens latest
def read_ml_latest(folder: PathLike, *, on_error: OnError = "raise") -> Interactions:
    """Read the CSV MovieLens layout (ml-latest-small, ml-latest, ml-20m, ml-25m, ml-32m).

    Parameters
    ----------
    folder
        Folder with ``ratings.csv`` (required) and optionally ``movies.csv``, ``tags.csv``
        and ``links.csv``.
    on_error
        "raise" (default) or "skip" malformed lines.

    Returns
    -------
    Interactions
        Explicit half-star ratings on the scale (0.5, 5) with timestamps; ``item_info``
        (title, genres as "A|B" — empty for "(no genres listed)" —, imdb_id, tmdb_id) and
        item features "genre=..." (0/1) plus "tag=..." (how many times the tag was applied;
        tags are kept verbatim apart from surrounding spaces).
    """
    root = _folder(folder)
    ratings = read_table(
        _need(root, "ratings.csv"),
        {"user": "userId", "item": "movieId", "rating": "rating", "timestamp": "timestamp"},
    )
    inter = interactions_from_table(ratings, kind="explicit", rating_scale=(0.5, 5), on_error=on_error)
    items = None
    if (root / "movies.csv").exists():
        table = read_table(root / "movies.csv", {"id": "movieId", "title": "title", "genres": "genres"})
        items = _movies(root / "movies.csv", table, on_error)
        if (root / "links.csv").exists():
            _add_links(items, root / "links.csv", on_error)
    extra: list[_Pairs] = []
    if (root / "tags.csv").exists():
        table = read_table(root / "tags.csv", {"item": "movieId", "tag": "tag"})
        check = _Checks(table, on_error)
        ids = check.ids("item", "item", unique=False)
        keep = check.settle()
        tags = table.text("tag")[keep].astype(str)
        present = tags != ""
        extra.append((ids[keep][present], _prefixed("tag=", tags[present]), None, root / "tags.csv"))
    if items is None and extra:
        items = _Meta(root / "tags.csv", None, [])
    if items is not None:
        items.pairs.extend(extra)
    return _assemble(inter, items, None, name=str(root))


def _add_links(items: _Meta, path: Path, on_error: OnError) -> None:
    table = read_table(path, {"id": "movieId", "imdb": "imdbId", "tmdb": "tmdbId"})
    check = _Checks(table, on_error)
    ids = check.ids("id", "item")
    tmdb = check.integers("tmdb", "tmdbId", low=0, allow_empty=True)
    keep = check.settle()
    assert items.info is not None
    links = pd.DataFrame(
        {
            "imdb_id": table.text("imdb")[keep],
            "tmdb_id": pd.array(tmdb[keep], dtype="Int64"),
        },
        index=ids[keep],
    )
    joined = items.info.join(links, how="left")
    items.info = joined


def _movies(path: Path, table: Table, on_error: OnError) -> _Meta:
    """movies.csv / movies.dat: id, title, genres "A|B"."""
    check = _Checks(table, on_error)
    ids = check.ids("id", "item")
    keep = check.settle()
    ids = ids[keep]
    raw = table.text("genres")[keep]
    lists = [[] if g in ("", NO_GENRES) else [x.strip() for x in g.split("|") if x.strip()] for g in raw]
    info = pd.DataFrame({"title": table.text("title")[keep], "genres": ["|".join(g) for g in lists]}, index=ids)
    counts = np.fromiter((len(g) for g in lists), dtype=np.int64, count=len(lists))
    names = np.asarray([f"genre={x}" for g in lists for x in g], dtype=object)
    pairs = (np.repeat(ids, counts), names, None, path)
    return _Meta(path, info, [pairs])


# --------------------------------------------------------------------------- HetRec Last.fm
def read_lastfm_hetrec(folder: PathLike, *, on_error: OnError = "raise") -> Interactions:
    """Read the HetRec 2011 Last.fm 2K data set (``hetrec2011-lastfm-2k``).

    Parameters
    ----------
    folder
        Folder with ``user_artists.dat`` (required) and optionally ``artists.dat``,
        ``tags.dat`` and ``user_taggedartists.dat`` (tab-separated, with a header; CRLF or
        LF line endings; ``tags.dat`` is ISO-8859-1).
    on_error
        "raise" (default) or "skip" malformed lines.

    Returns
    -------
    Interactions
        Implicit feedback whose weights are play counts (no timestamps); ``item_info``
        (title = artist name, url, picture_url) and item features "tag=<tag>" counting how
        many users applied the tag to the artist. Tag assignments naming an artist outside
        the universe (rated or in ``artists.dat``; the original data has 390 such artist
        ids) or an unknown tag id are dropped, and their number is logged.
    """
    root = _folder(folder)
    plays = read_table(
        _need(root, "user_artists.dat"),
        {"user": "userID", "item": "artistID", "weight": "weight"},
        delimiter="\t",
        encoding="latin-1",
        quote_char=None,
    )
    inter = interactions_from_table(plays, kind="implicit", on_error=on_error)
    items: _Meta | None = None
    if (root / "artists.dat").exists():
        path = root / "artists.dat"
        table = read_table(
            path,
            {"id": "id", "name": "name", "url": "url", "picture": "pictureURL"},
            delimiter="\t",
            encoding="utf-8",
            quote_char=None,
        )
        check = _Checks(table, on_error)
        ids = check.ids("id", "item")
        keep = check.settle()
        info = pd.DataFrame(
            {
                "title": table.text("name")[keep],
                "url": table.text("url")[keep],
                "picture_url": table.text("picture")[keep],
            },
            index=ids[keep],
        )
        items = _Meta(path, info, [])
    tag_path, assign_path = root / "tags.dat", root / "user_taggedartists.dat"
    if tag_path.exists() and assign_path.exists():
        tags = read_table(
            tag_path, {"id": "tagID", "value": "tagValue"}, delimiter="\t", encoding="latin-1", quote_char=None
        )
        check = _Checks(tags, on_error)
        tag_ids = check.ids("id", "tag")
        keep = check.settle()
        tag_map = IdMap(tag_ids[keep], name="tag")
        tag_names = np.empty(len(tag_map), dtype=object)
        tag_names[tag_map.to_index(tag_ids[keep])] = tags.text("value")[keep]
        assigned = read_table(
            assign_path, {"item": "artistID", "tag": "tagID"}, delimiter="\t", encoding="latin-1", quote_char=None
        )
        check = _Checks(assigned, on_error)
        artist_ids = check.ids("item", "item", unique=False)
        assigned_tags = check.ids("tag", "tag", unique=False)
        keep = check.settle()
        artist_ids, assigned_tags = artist_ids[keep], assigned_tags[keep]
        tag_idx = tag_map.to_index(assigned_tags, missing="negative")
        known = tag_idx >= 0
        if not known.all():
            logger.warning(
                "%s: %d tag assignments name a tag id missing from %s; dropped",
                assign_path,
                int((~known).sum()),
                tag_path.name,
            )
        prefixed = _prefixed("tag=", tag_names)  # one string per tag, then indexed
        if items is None:
            items = _Meta(assign_path, None, [])
        items.pairs.append((artist_ids[known], prefixed[tag_idx[known]], None, assign_path))
    return _assemble(inter, items, None, name=str(root))


# --------------------------------------------------------------------------- dispatch
FORMATS: dict[str, Callable[..., Interactions]] = {
    "ml-100k": read_ml100k,
    "ml-1m": read_ml1m,
    "ml-latest": read_ml_latest,
    "ml-latest-small": read_ml_latest,
    "ml-20m": read_ml_latest,
    "ml-25m": read_ml_latest,
    "lastfm-hetrec": read_lastfm_hetrec,
}

_MARKERS = (
    ("u.data", "ml-100k"),
    ("ratings.dat", "ml-1m"),
    ("ratings.csv", "ml-latest"),
    ("user_artists.dat", "lastfm-hetrec"),
)


def detect_format(folder: PathLike) -> str:
    """Name (a key of `FORMATS`) of the data set layout found in `folder`.

    Raises
    ------
    DataError
        When no known layout is recognised.
    """
    root = _folder(folder)
    for marker, name in _MARKERS:
        if (root / marker).is_file():
            return name
    present = sorted(p.name for p in root.iterdir())[:20]
    raise DataError(
        f"{root}: not a known data set layout (looked for "
        f"{', '.join(m for m, _ in _MARKERS)}); the folder holds {present}"
    )


def read_movielens(folder: PathLike, *, format: str | None = None, on_error: OnError = "raise") -> Interactions:
    """Read a MovieLens (or HetRec Last.fm) folder, detecting its layout unless `format` is given.

    Parameters
    ----------
    folder
        The unpacked data set folder.
    format
        A key of `FORMATS` ("ml-100k", "ml-1m", "ml-latest", "ml-25m", "lastfm-hetrec", ...);
        None detects it from the files present.
    on_error
        "raise" (default) or "skip" malformed lines.

    Returns
    -------
    Interactions
    """
    name = detect_format(folder) if format is None else format
    if name not in FORMATS:
        raise InvalidParameterError(f"unknown format {name!r}; choose one of {', '.join(sorted(FORMATS))}")
    return FORMATS[name](folder, on_error=on_error)


# --------------------------------------------------------------------------- helpers
# (entity ids, feature names, values or None for ones, file they come from)
_Pairs = tuple[np.ndarray, np.ndarray, np.ndarray | None, Path]


class _Meta:
    """Metadata read from one file: an info frame indexed by raw id, and feature pairs."""

    def __init__(self, path: Path, info: pd.DataFrame | None, pairs: list[_Pairs]) -> None:
        self.path = path
        self.info = info
        self.pairs = pairs

    def ids(self) -> np.ndarray:
        return np.asarray(self.info.index) if self.info is not None else np.zeros(0, np.int64)


class _Checks:
    """Validates metadata columns; problems from all columns are settled together.

    With on_error="raise" the problem on the earliest line (malformed line or bad value) is
    raised; with "skip" the offending lines are dropped and logged.
    """

    def __init__(self, table: Table, on_error: OnError) -> None:
        self.table = table
        self.on_error = on_error
        self.bad = np.zeros(table.n_rows, dtype=bool)
        self.found: list[tuple[int, str]] = [(p[0], p[2]) for p in table.problems]

    def _flag(self, mask: np.ndarray, message: Callable[[int], str]) -> None:
        mask = mask & ~self.bad
        for pos in np.flatnonzero(mask)[: 1 if self.on_error == "raise" else 5]:
            self.found.append((int(self.table.lines[pos]), message(int(pos))))
        self.found.extend((int(self.table.lines[p]), "") for p in np.flatnonzero(mask)[5:])
        self.bad |= mask

    def _where(self, pos: int) -> str:
        return f"{self.table.source}, line {int(self.table.lines[pos])}"

    def ids(self, role: str, what: str, *, unique: bool = True) -> np.ndarray:
        raw = ids_from_text(self.table.columns[role])
        text = self.table.text(role)
        if raw.dtype == object:
            missing = np.array([v is None or v == "" for v in raw], dtype=bool)
        else:
            missing = np.zeros(raw.size, dtype=bool)
        self._flag(missing, lambda p: f"{self._where(p)}: {what} id is missing")
        if raw.dtype == object:
            present = raw[~missing]
            if present.size and not isinstance(present[0], str):  # integers with gaps
                raw = np.where(missing, 0, raw).astype(np.int64)
            else:
                raw = raw.astype(str)
        if unique and raw.size:
            order = np.argsort(raw, kind="stable")
            ordered = raw[order]
            repeat = np.zeros(raw.size, dtype=bool)
            repeat[order[1:]] = ordered[1:] == ordered[:-1]
            repeat &= ~missing
            first_pos: dict[Any, int] = {}
            if repeat.any():
                for pos in order:
                    first_pos.setdefault(raw[pos], int(pos))
            self._flag(
                repeat,
                lambda p: (
                    f"{self._where(p)}: duplicate {what} id {text[p]!r} "
                    f"(first on line {int(self.table.lines[first_pos[raw[p]]])})"
                ),
            )
        return raw

    def integers(
        self,
        role: str,
        what: str,
        *,
        low: int | None = None,
        high: int | None = None,
        allow_empty: bool = False,
    ) -> np.ndarray:
        text = self.table.text(role)
        values = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
        empty = np.array([v == "" for v in text], dtype=bool)
        whole = np.isfinite(values) & (values == np.round(np.nan_to_num(values)))
        ok = whole.copy()
        if low is not None:
            ok &= values >= low
        if high is not None:
            ok &= values <= high
        if allow_empty:
            ok |= empty
        span = f" in [{low}, {high}]" if high is not None else (" >= 0" if low == 0 else "")
        self._flag(~ok, lambda p: f"{self._where(p)}: {what}: expected an integer{span} (got {text[p]!r})")
        if allow_empty:
            return np.array(
                [None if e or not k else int(v) for v, e, k in zip(values, empty, ok, strict=True)], dtype=object
            )
        return np.where(ok, values, 0).astype(np.int64)

    def flags(self, role: str, what: str) -> np.ndarray:
        text = self.table.text(role)
        ok = np.isin(text, ["0", "1"])
        self._flag(~ok, lambda p: f"{self._where(p)}: {what}: expected 0 or 1 (got {text[p]!r})")
        return text == "1"

    def dates(self, role: str, fmt: str) -> np.ndarray:
        text = self.table.text(role)
        parsed = pd.to_datetime(pd.Series(text, dtype=object), format=fmt, errors="coerce")
        bad = (text != "") & parsed.isna().to_numpy()
        self._flag(
            bad,
            lambda p: (
                f"{self._where(p)}: {role}: not a date like "
                f"{pd.Timestamp('1995-01-01').strftime(fmt)!r} (got {text[p]!r})"
            ),
        )
        return parsed.to_numpy()

    def settle(self) -> np.ndarray:
        """Raise or log the problems; return the mask of rows to keep."""
        if self.found:
            self.found.sort(key=lambda f: f[0])
            if self.on_error == "raise":
                raise DataError(next(m for _, m in self.found if m))
            examples = [m for _, m in self.found if m][:5]
            logger.warning(
                "%s: skipped %d bad line%s, e.g.\n  %s",
                self.table.source,
                len(self.found),
                "" if len(self.found) == 1 else "s",
                "\n  ".join(examples),
            )
        return ~self.bad


def _folder(folder: PathLike) -> Path:
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    return root


def _need(root: Path, name: str) -> Path:
    path = root / name
    if not path.is_file():
        present = sorted(p.name for p in root.iterdir())[:20]
        raise DataError(f"{root}: {name} not found; the folder holds {present}")
    return path


def _age_group(age: int) -> str:
    """MovieLens 1M age groups (its codes 1, 18, 25, ... map onto the same labels)."""
    for limit, label in ((18, "<18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"), (56, "50-55")):
        if age < limit:
            return label
    return "56+"


def _user_pairs(
    path: Path, ids: np.ndarray, gender: np.ndarray, occupation: np.ndarray, groups: np.ndarray
) -> list[_Pairs]:
    pairs: list[_Pairs] = []
    for prefix, values in (("gender", gender), ("occupation", occupation), ("age", groups)):
        text = np.asarray(values, dtype=str)
        present = text != ""
        pairs.append((ids[present], _prefixed(f"{prefix}=", text[present]), None, path))
    return pairs


def _union(idmap: IdMap, extra: np.ndarray, what: str, ratings: str, meta: Path) -> IdMap:
    if extra.size == 0:
        return idmap
    extra_is_str = extra.dtype.kind in "UO"
    if len(idmap) and extra_is_str != idmap.is_str:
        kinds = ("text", "integers") if extra_is_str else ("integers", "text")
        raise DataError(f"{meta}: {what} ids are {kinds[0]} but in {ratings} they are {kinds[1]}")
    extra = extra.astype(str) if extra_is_str else extra.astype(np.int64)
    return IdMap(np.concatenate([idmap.ids, extra]), name=what)


def _with_universe(inter: Interactions, users: IdMap, items: IdMap) -> Interactions:
    """The same interactions indexed over larger (superset) id maps; empty rows/columns added."""
    if users == inter.users and items == inter.items:
        return inter
    row_at = users.to_index(inter.users.ids)
    col_at = items.to_index(inter.items.ids)
    old = inter.matrix
    counts = np.zeros(len(users), dtype=np.int64)
    counts[row_at] = np.diff(old.indptr)
    indptr = np.zeros(len(users) + 1, dtype=old.indptr.dtype)
    np.cumsum(counts, out=indptr[1:])
    matrix = sp.csr_matrix((old.data, col_at[old.indices].astype(np.int32), indptr), shape=(len(users), len(items)))
    report = inter.report
    report.n_users, report.n_items = len(users), len(items)
    return Interactions(
        users,
        items,
        matrix,
        timestamps=inter.timestamps,
        kind=inter.kind,
        rating_scale=inter.rating_scale,
        report=report,
    )


def _features(idmap: IdMap, pairs: Sequence[_Pairs]) -> FeatureMatrix | None:
    """One FeatureMatrix from (ids, names, values, source) pairs; names sorted like from_pairs."""
    if not pairs:
        return None
    rows_parts, names_parts, values_parts = [], [], []
    for ids, names, values, source in pairs:
        rows = idmap.to_index(ids, missing="negative") if len(ids) else np.zeros(0, np.int32)
        known = rows >= 0
        if not known.all():
            logger.warning(
                "%s: %d feature assignments name an id outside the data set; dropped", source, int((~known).sum())
            )
        rows_parts.append(rows[known])
        names_parts.append(np.asarray(names, dtype=object)[known])
        vals = np.ones(len(ids), np.float32) if values is None else np.asarray(values, np.float32)
        values_parts.append(vals[known])
    rows = np.concatenate(rows_parts)
    codes, uniques = pd.factorize(np.concatenate(names_parts))
    uniques = np.asarray(uniques, dtype=str)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    matrix = sp.csr_matrix(
        (np.concatenate(values_parts), (rows, rank[codes])),
        shape=(len(idmap), uniques.size),
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    return FeatureMatrix(matrix, uniques[order])


def _prefixed(prefix: str, values: Any) -> np.ndarray:
    return np.asarray([prefix + str(v) for v in values], dtype=object)


def _info(idmap: IdMap, meta: _Meta, index_name: str) -> pd.DataFrame | None:
    if meta.info is None:
        return None
    return meta.info.reindex(pd.Index(idmap.ids, name=index_name))


def _assemble(inter: Interactions, items: _Meta | None, users: _Meta | None, *, name: str) -> Interactions:
    """Grow the universes to include catalogue ids, attach info and features, log the report."""
    source = inter.report.source
    item_map, user_map = inter.items, inter.users
    if items is not None:
        item_map = _union(item_map, items.ids(), "item", source, items.path)
    if users is not None:
        user_map = _union(user_map, users.ids(), "user", source, users.path)
    cold_items = len(item_map) - inter.n_items
    cold_users = len(user_map) - inter.n_users
    inter = _with_universe(inter, user_map, item_map)
    kwargs: dict[str, Any] = {}
    if items is not None:
        kwargs["item_info"] = _info(item_map, items, "item_id")
        kwargs["item_features"] = _features(item_map, items.pairs)
    if users is not None:
        kwargs["user_info"] = _info(user_map, users, "user_id")
        kwargs["user_features"] = _features(user_map, users.pairs)
    if kwargs:
        inter = inter.with_features(**kwargs)
    log_report(inter.report)
    if cold_items:
        logger.info("%s: %d items have metadata but no interactions (cold-start)", name, cold_items)
    if cold_users:
        logger.info("%s: %d users have metadata but no interactions", name, cold_users)
    return inter
