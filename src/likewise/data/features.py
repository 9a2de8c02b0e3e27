"""Side-feature readers and weighting: named sparse feature matrices aligned with an IdMap.

A `FeatureMatrix` (``likewise.data.FeatureMatrix``) is a CSR matrix with one row per user (or
item) index of an `IdMap` and one named column per feature (``"genre=Comedy"``,
``"tag=funny"``, ``"price=low"``). Models add their own identity features; they are never
stored here. The MovieLens and Last.fm readers (`likewise.data.movielens`) attach genres and
tags to `Interactions` already; this module adds

- `features_from_frame`: any DataFrame of (id, feature[, value]) rows,
- `read_features_csv`: the same from a CSV file, naming file, line and field of every problem,
- `read_uci_restaurants`: the UCI "Restaurant & consumer" data set with restaurant and user
  attributes,
- `weight_features`: TF-IDF or BM25 weighting of a feature matrix (tags applied many times
  weigh more, tags applied to every item weigh nothing).

Ids a feature table names that the IdMap does not know are counted and reported (a
`DataWarning` with the count and examples, or a DataError with ``unknown="raise"``), never
dropped silently.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from likewise._util import plain
from likewise.data._build import OnError
from likewise.data._csv import read_table
from likewise.data._metadata import Checks, Meta, Pairs, assemble, folder_of, need_file, with_prefix
from likewise.data._tables import interactions_from_table
from likewise.data.idmap import IdMap
from likewise.data.interactions import FeatureMatrix, Interactions
from likewise.exceptions import DataError, DataWarning, InvalidParameterError

__all__ = ["features_from_frame", "read_features_csv", "read_uci_restaurants", "weight_features"]

PathLike = str | os.PathLike[str]
Weighting = Literal["none", "binary", "tfidf", "bm25"]


def weight_features(
    features: FeatureMatrix, scheme: Weighting = "tfidf", *, k1: float = 1.2, b: float = 0.75
) -> FeatureMatrix:
    """Re-weight the entries of a feature matrix.

    With tf the stored value (a tag count, 1 for a genre), N the number of rows with any
    feature and df the number of rows holding the feature, idf = ln(N / df):

    - ``"none"``: unchanged; ``"binary"``: every stored entry 1;
    - ``"tfidf"``: ``tf * idf``;
    - ``"bm25"``: ``tf (k1 + 1) / (tf + k1 (1 - b + b len / avglen)) * idf`` with len the
      row's sum of tf (Robertson & Zaragoza 2009).

    A feature every row has gets weight 0 under tfidf / bm25 (it tells rows apart not at all).
    """
    if scheme not in ("none", "binary", "tfidf", "bm25"):
        raise InvalidParameterError(f"scheme must be 'none', 'binary', 'tfidf' or 'bm25', got {scheme!r}")
    matrix = sp.csr_matrix(features.matrix, dtype=np.float32, copy=True)
    if scheme == "none":
        return FeatureMatrix(matrix, features.names)
    if scheme == "binary":
        matrix.data[:] = 1.0
        return FeatureMatrix(matrix, features.names)
    tf = matrix.data.astype(np.float64)
    if (tf < 0).any():
        raise DataError(f"{scheme} weighting needs non-negative feature values")
    n_docs = int(np.count_nonzero(np.diff(matrix.indptr)))
    df = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float64)
    idf = np.log(np.divide(max(n_docs, 1), df, out=np.ones_like(df), where=df > 0))
    if scheme == "tfidf":
        values = tf * idf[matrix.indices]
    else:
        lengths = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
        average = lengths[lengths > 0].mean() if (lengths > 0).any() else 1.0
        norm = (1.0 - b) + b * np.repeat(lengths, np.diff(matrix.indptr)) / average
        values = tf * (k1 + 1.0) / (tf + k1 * norm) * idf[matrix.indices]
    matrix.data = values.astype(np.float32)
    return FeatureMatrix(matrix, features.names)


def features_from_frame(
    frame: Any,
    ids: IdMap,
    *,
    id: str = "id",
    feature: str = "feature",
    value: str | None = None,
    unknown: Literal["warn", "raise"] = "warn",
    source: str = "DataFrame",
) -> FeatureMatrix:
    """A FeatureMatrix from a long table of (id, feature[, value]) rows.

    Parameters
    ----------
    frame : pandas (or polars) DataFrame
    ids : IdMap
        The users or items the rows must align with (``data.items`` for item features).
    id, feature, value : str
        Column names; without ``value`` every row counts 1. Repeated (id, feature) pairs add up.
    unknown : {"warn", "raise"}
        An id not in `ids`: counted and reported in a DataWarning (its rows left out), or a
        DataError naming the first one.
    source : str
        Named in messages.
    """
    if hasattr(frame, "to_pandas") and not isinstance(frame, pd.DataFrame):
        frame = frame.to_pandas()
    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(f"expected a pandas or polars DataFrame, got {type(frame).__name__}")
    missing = [c for c in (id, feature, value) if c is not None and c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; columns are {list(map(str, frame.columns))}")
    names = frame[feature].to_numpy(dtype=object)
    bad = np.array([not isinstance(v, str) or v == "" for v in names], dtype=bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{source}: row {row}: {feature}: expected a non-empty feature name, got {names[row]!r}")
    values = None
    if value is not None:
        values = pd.to_numeric(frame[value], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{source}: row {row}: {value}: expected a finite number, got {frame[value].iloc[row]!r}")
    rows = ids.to_index(frame[id].to_numpy(), missing="lenient")
    return _matrix(ids, rows, names, values, unknown, source, lambda k: f"row {k}", frame[id].to_numpy())


def _matrix(
    ids: IdMap,
    rows: np.ndarray,
    names: np.ndarray,
    values: np.ndarray | None,
    unknown: str,
    source: str,
    where: Any,
    raw_ids: np.ndarray,
) -> FeatureMatrix:
    if unknown not in ("warn", "raise"):
        raise InvalidParameterError(f"unknown must be 'warn' or 'raise', got {unknown!r}")
    known = rows >= 0
    if not known.all():
        first = int(np.flatnonzero(~known)[0])
        if unknown == "raise":
            raise DataError(f"{source}, {where(first)}: {ids.name} id {plain(raw_ids[first])!r} is not in the data")
        examples = ", ".join(repr(plain(v)) for v in pd.unique(raw_ids[~known])[:5])
        warnings.warn(
            f"{source}: {int((~known).sum())} feature rows name {ids.name} ids not in the data "
            f"(e.g. {examples}); they were left out",
            DataWarning,
            stacklevel=3,
        )
    uniques, cols = np.unique(np.asarray(names[known], dtype=str), return_inverse=True)
    data = np.ones(int(known.sum()), np.float32) if values is None else values[known].astype(np.float32)
    matrix = sp.csr_matrix((data, (rows[known], cols)), shape=(len(ids), uniques.size), dtype=np.float32)
    matrix.sum_duplicates()
    return FeatureMatrix(matrix, uniques)


def read_features_csv(
    path: PathLike,
    ids: IdMap,
    *,
    id: str = "id",
    feature: str = "feature",
    value: str | None = None,
    delimiter: str = ",",
    unknown: Literal["warn", "raise"] = "warn",
    on_error: OnError = "raise",
) -> FeatureMatrix:
    """`features_from_frame` for a delimited file with a header; problems name file and line."""
    roles: dict[str, str] = {"id": id, "feature": feature}
    if value is not None:
        roles["value"] = value
    table = read_table(path, roles, delimiter=delimiter)
    check = Checks(table, on_error)
    raw = check.ids("id", ids.name, unique=False)
    text = table.text("feature")
    check.flag(text == "", lambda p: f"{feature}: the feature name is empty")
    numbers = None
    if value is not None:
        vtext = table.text("value")
        numbers = pd.to_numeric(pd.Series(vtext, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
        check.flag(~np.isfinite(numbers), lambda p: f"{value}: expected a number (got {vtext[p]!r})")
    keep = check.settle()
    raw = raw[keep]
    rows = ids.to_index(raw, missing="lenient")
    lines = table.lines[keep]
    return _matrix(
        ids, rows, text[keep].astype(object), None if numbers is None else numbers[keep], unknown, str(path),
        lambda k: f"line {int(lines[k])}", raw,
    )  # fmt: skip


# --------------------------------------------------------------------------- UCI restaurants
_PLACE_COLUMNS = (
    "alcohol", "smoking_area", "dress_code", "accessibility", "price", "Rambience", "franchise", "area",
    "other_services",
)  # fmt: skip
_USER_COLUMNS = (
    "smoker", "drink_level", "dress_preference", "ambience", "transport", "marital_status", "hijos",
    "interest", "personality", "religion", "activity", "color", "budget",
)  # fmt: skip
_MISSING = "?"


def read_uci_restaurants(
    folder: PathLike, *, rating: Literal["rating", "food_rating", "service_rating"] = "rating",
    on_error: OnError = "raise",
) -> Interactions:  # fmt: skip
    """Read the UCI "Restaurant & consumer data" set (Vargas-Govea et al. 2011).

    Parameters
    ----------
    folder
        Folder with ``rating_final.csv`` (required) and optionally ``geoplaces2.csv``,
        ``chefmozcuisine.csv``, ``chefmozaccepts.csv``, ``chefmozparking.csv`` (restaurant
        attributes), ``userprofile.csv``, ``usercuisine.csv``, ``userpayment.csv`` (user
        attributes).
    rating
        Which of the three 0-2 ratings is the interaction value.
    on_error
        "raise" (default) or "skip" malformed lines.

    Returns
    -------
    Interactions
        Explicit ratings on the scale (0, 2); item features ``"<attribute>=<value>"`` (e.g.
        ``"price=low"``, ``"cuisine=Mexican"``, ``"payment=cash"``, ``"parking=public"``),
        ``item_info`` with the restaurant's name and city; user features likewise
        (``"budget=medium"``, ``"cuisine=American"``, ``"payment=cash"``...). ``?`` (the set's
        missing value) gives no feature. Attribute rows for ids outside the data set are
        counted and logged (as for every metadata reader).
    """
    if rating not in ("rating", "food_rating", "service_rating"):
        raise InvalidParameterError(f"rating must be 'rating', 'food_rating' or 'service_rating', got {rating!r}")
    root = folder_of(folder)
    table = read_table(need_file(root, "rating_final.csv"), {"user": "userID", "item": "placeID", "rating": rating})
    inter = interactions_from_table(table, kind="explicit", rating_scale=(0, 2), on_error=on_error)
    items = _attributes(root, "geoplaces2.csv", "placeID", _PLACE_COLUMNS, "item", on_error, info=("name", "city"))
    for name, column, prefix in (
        ("chefmozcuisine.csv", "Rcuisine", "cuisine"),
        ("chefmozaccepts.csv", "Rpayment", "payment"),
        ("chefmozparking.csv", "parking_lot", "parking"),
    ):
        items = _add_pairs(items, root, name, "placeID", column, prefix, "item", on_error)
    users = _attributes(root, "userprofile.csv", "userID", _USER_COLUMNS, "user", on_error)
    for name, column, prefix in (
        ("usercuisine.csv", "Rcuisine", "cuisine"),
        ("userpayment.csv", "Upayment", "payment"),
    ):
        users = _add_pairs(users, root, name, "userID", column, prefix, "user", on_error)
    return assemble(inter, items, users, name=str(root))


def _attributes(
    root: Path, name: str, id_column: str, columns: tuple[str, ...], what: str, on_error: OnError,
    info: tuple[str, ...] = (),
) -> Meta | None:  # fmt: skip
    path = root / name
    if not path.exists():
        return None
    roles = {"id": id_column, **{c: c for c in columns}, **{c: c for c in info}}
    table = read_table(path, roles)
    check = Checks(table, on_error)
    ids = check.ids("id", what)
    keep = check.settle()
    ids = ids[keep]
    pairs: list[Pairs] = []
    for column in columns:
        text = table.text(column)[keep].astype(str)
        present = (text != _MISSING) & (text != "")
        prefix = "ambience" if column == "Rambience" else column
        pairs.append((ids[present], with_prefix(f"{prefix}=", text[present]), None, path))
    frame = pd.DataFrame({c: table.text(c)[keep] for c in info}, index=ids) if info else pd.DataFrame(index=ids)
    if "name" in frame.columns:
        frame = frame.rename(columns={"name": "title"})
    return Meta(path, frame, pairs)


def _add_pairs(
    meta: Meta | None, root: Path, name: str, id_column: str, column: str, prefix: str, what: str,
    on_error: OnError,
) -> Meta | None:  # fmt: skip
    path = root / name
    if not path.exists():
        return meta
    table = read_table(path, {"id": id_column, "value": column})
    check = Checks(table, on_error)
    ids = check.ids("id", what, unique=False)
    keep = check.settle()
    text = table.text("value")[keep].astype(str)
    present = (text != _MISSING) & (text != "")
    pair = (ids[keep][present], with_prefix(f"{prefix}=", text[present]), None, path)
    if meta is None:
        return Meta(path, None, [pair])
    meta.pairs.append(pair)
    return meta
