"""Metadata files of the public data sets, joined with their ratings (private).

Shared by the readers in `likewise.data.movielens`: `Checks` validates the text columns of a
metadata file (ids, integers, 0/1 flags, dates) and settles all their problems together, naming
file and line; `Meta` holds what one file gave (an info frame and feature pairs); `assemble`
grows the id universes to the catalogue, attaches info frames and feature matrices, and logs
the report.
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
from likewise.data._csv import Table
from likewise.data._tables import ids_from_text, log_report, logger
from likewise.data.idmap import IdMap
from likewise.data.interactions import FeatureMatrix, Interactions
from likewise.exceptions import DataError

__all__ = ["Checks", "Meta", "Pairs", "age_group", "assemble", "folder_of", "need_file", "user_pairs", "with_prefix"]

PathLike = str | os.PathLike[str]

# (entity ids, feature names, values or None for ones, file they come from)
Pairs = tuple[np.ndarray, np.ndarray, np.ndarray | None, Path]


class Meta:
    """Metadata read from one file: an info frame indexed by raw id, and feature pairs."""

    def __init__(self, path: Path, info: pd.DataFrame | None, pairs: list[Pairs]) -> None:
        self.path = path
        self.info = info
        self.pairs = pairs

    def ids(self) -> np.ndarray:
        return np.asarray(self.info.index) if self.info is not None else np.zeros(0, np.int64)


class Checks:
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

    def flag(self, mask: np.ndarray, reason: Callable[[int], str]) -> None:
        """Mark the rows in `mask` bad; ``reason(pos)`` says why (after "<file>, line <n>: ")."""
        self._flag(mask, lambda p: f"{self._where(p)}: {reason(p)}")

    def ids(self, role: str, what: str, *, unique: bool = True) -> np.ndarray:
        raw = ids_from_text(self.table.columns[role])
        text = self.table.text(role)
        if raw.dtype == object:
            missing = np.array([v is None or v == "" for v in raw], dtype=bool)
        else:
            missing = np.zeros(raw.size, dtype=bool)
        self._flag(missing, lambda p: f"{self._where(p)}: {what} id is missing")
        # astype(str) below would drop a trailing NUL and merge the id with another one
        nul = np.array([isinstance(v, str) and v.endswith("\x00") for v in raw], dtype=bool)
        self._flag(nul, lambda p: f"{self._where(p)}: {what} id ends with a NUL character (got {text[p]!r})")
        if raw.dtype == object:
            present = raw[~missing]
            if present.size and not isinstance(present[0], str):  # integers with gaps
                raw = np.where(missing, 0, raw).astype(np.int64)
            else:
                raw = raw.astype(str)
        if unique and raw.size:
            # Only ids that are themselves valid can repeat: the placeholder of a missing id (0 or
            # "None") and a NUL-stripped id must not make a good id a "duplicate".
            candidates = np.flatnonzero(~(missing | nul))
            order = candidates[np.argsort(raw[candidates], kind="stable")]
            ordered = raw[order]
            repeat = np.zeros(raw.size, dtype=bool)
            repeat[order[1:]] = ordered[1:] == ordered[:-1]
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
        ok = whole & (values >= -(2.0**63)) & (values < 2.0**63)  # int64, as the result is
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


def folder_of(folder: PathLike) -> Path:
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    return root


def need_file(root: Path, name: str) -> Path:
    path = root / name
    if not path.is_file():
        present = sorted(p.name for p in root.iterdir())[:20]
        raise DataError(f"{root}: {name} not found; the folder holds {present}")
    return path


def age_group(age: int) -> str:
    """MovieLens 1M age groups (its codes 1, 18, 25, ... map onto the same labels)."""
    for limit, label in ((18, "<18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"), (56, "50-55")):
        if age < limit:
            return label
    return "56+"


def user_pairs(
    path: Path, ids: np.ndarray, gender: np.ndarray, occupation: np.ndarray, groups: np.ndarray
) -> list[Pairs]:
    pairs: list[Pairs] = []
    for prefix, values in (("gender", gender), ("occupation", occupation), ("age", groups)):
        text = np.asarray(values, dtype=str)
        present = text != ""
        pairs.append((ids[present], with_prefix(f"{prefix}=", text[present]), None, path))
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


def _features(idmap: IdMap, pairs: Sequence[Pairs]) -> FeatureMatrix | None:
    """One FeatureMatrix from (ids, names, values, source) pairs; names sorted like from_pairs."""
    if not pairs:
        return None
    rows_parts, names_parts, values_parts = [], [], []
    for ids, names, values, source in pairs:
        ids_are_str = np.asarray(ids).dtype.kind in "UO"
        if len(ids) and len(idmap) and ids_are_str != idmap.is_str:  # as _union: a DataError naming the file
            kinds = ("text", "integers") if ids_are_str else ("integers", "text")
            raise DataError(f"{source}: {idmap.name} ids are {kinds[0]} but in the ratings they are {kinds[1]}")
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


def with_prefix(prefix: str, values: Any) -> np.ndarray:
    return np.asarray([prefix + str(v) for v in values], dtype=object)


def _info(idmap: IdMap, meta: Meta, index_name: str) -> pd.DataFrame | None:
    if meta.info is None:
        return None
    return meta.info.reindex(pd.Index(idmap.ids, name=index_name))


def assemble(inter: Interactions, items: Meta | None, users: Meta | None, *, name: str) -> Interactions:
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
