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

This module holds one reader per layout; the machinery they share for metadata files (column
checks, feature matrices, joining metadata with the ratings) is in `likewise.data._metadata`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from likewise.data._build import OnError
from likewise.data._csv import ColumnSpec, Table, read_table
from likewise.data._metadata import (
    Checks,
    Meta,
    Pairs,
    age_group,
    assemble,
    folder_of,
    need_file,
    user_pairs,
    with_prefix,
)
from likewise.data._tables import interactions_from_table, logger
from likewise.data.idmap import IdMap
from likewise.data.interactions import Interactions
from likewise.exceptions import DataError, InvalidParameterError, LikewiseError

__all__ = [
    "FORMATS",
    "detect_format",
    "ml100k_official_folds",
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
    root = folder_of(folder)
    ratings = read_table(
        need_file(root, "u.data"),
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
    return assemble(inter, items, users, name=str(root))


ML100K_FOLD_ROWS = 20_000
"""Rows of u.data in each of the official test blocks u1.test .. u5.test (mku.sh)."""


def ml100k_official_folds(folder: PathLike) -> list[tuple[Interactions, Interactions]]:
    """The five (train, test) splits u1 .. u5 that papers report on MovieLens 100K.

    The distribution's ``mku.sh`` builds them from ``u.data`` in file order: ``u{i}.test`` holds
    rows ``(i - 1) * 20000`` to ``i * 20000 - 1`` and ``u{i}.base`` the other 80,000 (sorting
    them by user and item changes nothing here). When the folder holds every ``u{i}.base`` and
    ``u{i}.test`` file, those are read instead (logged on the "likewise.data" logger), and each
    pair must partition ``u.data``.

    Parameters
    ----------
    folder
        The unpacked ``ml-100k`` folder (``u.data`` required).

    Returns
    -------
    list of (Interactions, Interactions)
        Five (train, test) pairs sharing the id maps, side information and timestamps of
        `read_ml100k` (so indices agree across folds); each piece's ``report.source`` says
        which rows or file it holds.

    Raises
    ------
    DataError
        When ``u.data`` does not have 100,000 lines of distinct (user, item) pairs, or a
        ``u{i}.base`` / ``u{i}.test`` file does not split it into two disjoint parts.
    """
    root = folder_of(folder)
    data = read_ml100k(root)
    positions = _ml100k_positions(data, need_file(root, "u.data"))
    total = 5 * ML100K_FOLD_ROWS
    if positions.size != total:
        raise DataError(
            f"{root / 'u.data'}: the official folds split {total:,} ratings in blocks of {ML100K_FOLD_ROWS:,}; "
            f"this file holds {positions.size:,}"
        )
    names = [(root / f"u{i}.base", root / f"u{i}.test") for i in range(1, 6)]
    from_files = all(base.exists() and test.exists() for base, test in names)
    if from_files:
        logger.info("%s: reading the official folds from u1.base .. u5.test", root)
    folds = []
    for number, (base_path, test_path) in enumerate(names, start=1):
        if from_files:
            test_pos = _ml100k_positions(data, test_path)
            base_pos = _ml100k_positions(data, base_path)
            both = np.concatenate([test_pos, base_pos])
            if both.size != data.nnz or np.unique(both).size != data.nnz:
                raise DataError(f"{base_path} and {test_path} do not split {root / 'u.data'} into two disjoint parts")
            test_source, base_source = str(test_path), str(base_path)
        else:
            start, stop = (number - 1) * ML100K_FOLD_ROWS, number * ML100K_FOLD_ROWS
            test_pos = positions[start:stop]
            base_pos = np.concatenate([positions[:start], positions[stop:]])
            test_source = f"u{number}.test: rows {start}-{stop - 1} of {root / 'u.data'} (as mku.sh)"
            base_source = f"u{number}.base: the other rows of {root / 'u.data'} (as mku.sh)"
        train, test = data.subset(base_pos), data.subset(test_pos)
        train.report.source, test.report.source = base_source, test_source
        folds.append((train, test))
    return folds


def _ml100k_positions(data: Interactions, path: Path) -> np.ndarray:
    """CSR positions in `data` of the (user, item) pair of every line of `path`, in file order."""
    table = read_table(
        path,
        {"user": 0, "item": 1},
        delimiter="\t",
        header=False,
        names=["user_id", "item_id", "rating", "timestamp"],
        encoding="latin-1",
        quote_char=None,
    )
    try:
        users = data.users.to_index(np.asarray(table.text("user"), dtype=np.int64))
        items = data.items.to_index(np.asarray(table.text("item"), dtype=np.int64))
    except (ValueError, LikewiseError) as exc:
        raise DataError(f"{path}: a user or item id is not one of u.data's: {exc}") from exc
    keys = users.astype(np.int64) * data.n_items + items
    stored = data.user_indices.astype(np.int64) * data.n_items + data.item_indices
    found = np.searchsorted(stored, keys)  # CSR order is sorted by (user, item)
    found = np.minimum(found, stored.size - 1)
    if not (stored[found] == keys).all():
        raise DataError(f"{path}: holds (user, item) pairs that u.data does not")
    if np.unique(found).size != found.size:
        raise DataError(f"{path}: the same (user, item) pair is on several lines; the folds need one rating per line")
    return found


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
    check = Checks(table, on_error)
    index = check.integers("index", "genre index")
    keep = check.settle()
    names = table.text("name")[keep]
    index = index[keep]
    order = np.argsort(index, kind="stable")
    if not np.array_equal(index[order], np.arange(index.size)):
        raise DataError(f"{path}: genre indices must be 0..{index.size - 1}, got {sorted(index)}")
    return [str(n) for n in names[order]]


def _ml100k_items(path: Path, genres: list[str], on_error: OnError) -> Meta:
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
    check = Checks(table, on_error)
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
    pairs = (ids[rows], with_prefix("genre=", np.asarray(genres, dtype=object)[cols]), None, path)
    return Meta(path, info, [pairs])


def _ml100k_users(path: Path, on_error: OnError) -> Meta:
    table = read_table(
        path,
        {"id": 0, "age": 1, "gender": 2, "occupation": 3, "zip_code": 4},
        delimiter="|",
        header=False,
        names=["user_id", "age", "gender", "occupation", "zip_code"],
        encoding="latin-1",
        quote_char=None,
    )
    check = Checks(table, on_error)
    ids = check.ids("id", "user")
    ages = check.integers("age", "age", low=0)
    keep = check.settle()
    ids, ages = ids[keep], ages[keep]
    groups = np.array([age_group(int(a)) for a in ages], dtype=object)
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
    return Meta(path, info, user_pairs(path, ids, gender, occupation, groups))


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
    root = folder_of(folder)
    ratings = read_table(
        need_file(root, "ratings.dat"),
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
    return assemble(inter, items, users, name=str(root))


def _ml1m_users(path: Path, on_error: OnError) -> Meta:
    table = read_table(
        path,
        {"id": 0, "gender": 1, "age": 2, "occupation": 3, "zip_code": 4},
        delimiter="::",
        header=False,
        names=["user_id", "gender", "age", "occupation", "zip_code"],
        encoding="latin-1",
        quote_char=None,
    )
    check = Checks(table, on_error)
    ids = check.ids("id", "user")
    ages = check.integers("age", "age", low=0)
    codes = check.integers("occupation", "occupation", low=0, high=len(ML1M_OCCUPATIONS) - 1)
    keep = check.settle()
    ids, ages, codes = ids[keep], ages[keep], codes[keep]
    groups = np.array([age_group(int(a)) for a in ages], dtype=object)
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
    return Meta(path, info, user_pairs(path, ids, gender, occupation, groups))


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
    root = folder_of(folder)
    ratings = read_table(
        need_file(root, "ratings.csv"),
        {"user": "userId", "item": "movieId", "rating": "rating", "timestamp": "timestamp"},
    )
    inter = interactions_from_table(ratings, kind="explicit", rating_scale=(0.5, 5), on_error=on_error)
    items = None
    if (root / "movies.csv").exists():
        table = read_table(root / "movies.csv", {"id": "movieId", "title": "title", "genres": "genres"})
        items = _movies(root / "movies.csv", table, on_error)
        if (root / "links.csv").exists():
            _add_links(items, root / "links.csv", on_error)
    extra: list[Pairs] = []
    if (root / "tags.csv").exists():
        table = read_table(root / "tags.csv", {"item": "movieId", "tag": "tag"})
        check = Checks(table, on_error)
        ids = check.ids("item", "item", unique=False)
        keep = check.settle()
        tags = table.text("tag")[keep].astype(str)
        present = tags != ""
        extra.append((ids[keep][present], with_prefix("tag=", tags[present]), None, root / "tags.csv"))
    if items is None and extra:
        items = Meta(root / "tags.csv", None, [])
    if items is not None:
        items.pairs.extend(extra)
    return assemble(inter, items, None, name=str(root))


def _add_links(items: Meta, path: Path, on_error: OnError) -> None:
    table = read_table(path, {"id": "movieId", "imdb": "imdbId", "tmdb": "tmdbId"})
    check = Checks(table, on_error)
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


def _movies(path: Path, table: Table, on_error: OnError) -> Meta:
    """movies.csv / movies.dat: id, title, genres "A|B"."""
    check = Checks(table, on_error)
    ids = check.ids("id", "item")
    keep = check.settle()
    ids = ids[keep]
    raw = table.text("genres")[keep]
    lists = [[] if g in ("", NO_GENRES) else [x.strip() for x in g.split("|") if x.strip()] for g in raw]
    info = pd.DataFrame({"title": table.text("title")[keep], "genres": ["|".join(g) for g in lists]}, index=ids)
    counts = np.fromiter((len(g) for g in lists), dtype=np.int64, count=len(lists))
    names = np.asarray([f"genre={x}" for g in lists for x in g], dtype=object)
    pairs = (np.repeat(ids, counts), names, None, path)
    return Meta(path, info, [pairs])


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
    root = folder_of(folder)
    plays = read_table(
        need_file(root, "user_artists.dat"),
        {"user": "userID", "item": "artistID", "weight": "weight"},
        delimiter="\t",
        encoding="latin-1",
        quote_char=None,
    )
    inter = interactions_from_table(plays, kind="implicit", on_error=on_error)
    items: Meta | None = None
    if (root / "artists.dat").exists():
        path = root / "artists.dat"
        table = read_table(
            path,
            {"id": "id", "name": "name", "url": "url", "picture": "pictureURL"},
            delimiter="\t",
            encoding="utf-8",
            quote_char=None,
        )
        check = Checks(table, on_error)
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
        items = Meta(path, info, [])
    tag_path, assign_path = root / "tags.dat", root / "user_taggedartists.dat"
    if tag_path.exists() and assign_path.exists():
        tags = read_table(
            tag_path, {"id": "tagID", "value": "tagValue"}, delimiter="\t", encoding="latin-1", quote_char=None
        )
        check = Checks(tags, on_error)
        tag_ids = check.ids("id", "tag")
        keep = check.settle()
        # tag ids only join the two files: compare them as text, so a column read as strings
        # in one file (e.g. one malformed id) still matches integers in the other
        tag_map = IdMap(np.asarray(tag_ids[keep]).astype(str), name="tag")
        tag_names = np.empty(len(tag_map), dtype=object)
        tag_names[tag_map.to_index(np.asarray(tag_ids[keep]).astype(str))] = tags.text("value")[keep]
        assigned = read_table(
            assign_path, {"item": "artistID", "tag": "tagID"}, delimiter="\t", encoding="latin-1", quote_char=None
        )
        check = Checks(assigned, on_error)
        artist_ids = check.ids("item", "item", unique=False)
        assigned_tags = check.ids("tag", "tag", unique=False)
        keep = check.settle()
        artist_ids, assigned_tags = artist_ids[keep], assigned_tags[keep]
        tag_idx = tag_map.to_index(np.asarray(assigned_tags).astype(str), missing="negative")
        known = tag_idx >= 0
        if not known.all():
            logger.warning(
                "%s: %d tag assignments name a tag id missing from %s; dropped",
                assign_path,
                int((~known).sum()),
                tag_path.name,
            )
        prefixed = with_prefix("tag=", tag_names)  # one string per tag, then indexed
        if items is None:
            items = Meta(assign_path, None, [])
        items.pairs.append((artist_ids[known], prefixed[tag_idx[known]], None, assign_path))
    return assemble(inter, items, None, name=str(root))


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
    root = folder_of(folder)
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
