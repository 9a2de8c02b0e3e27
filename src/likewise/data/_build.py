"""Validate raw interaction columns and build the canonical CSR arrays.

Every constructor and reader ends here, so every source gets the same checks and the same
error messages: a problem names the source, the line or row, the field and the reason. With
``on_error="skip"`` the offending rows are removed and counted in the LoadReport instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from likewise.data import idmap as idmap_module
from likewise.data.idmap import IdMap, factorize_strings
from likewise.data.report import LoadReport
from likewise.exceptions import DataError, InvalidParameterError, UnknownIdError

__all__ = [
    "Built",
    "DuplicatePolicy",
    "OnError",
    "Rows",
    "Settings",
    "assemble",
    "build_arrays",
    "settle",
    "validate_rows",
]

DuplicatePolicy = Literal["last", "first", "sum", "mean", "error"]
OnError = Literal["raise", "skip"]
Kind = Literal["explicit", "implicit"]
DUPLICATE_POLICIES = ("last", "first", "sum", "mean", "error")
REASON_BIG_ID = "id is outside the int64 range"
# numpy unicode arrays (how IdMap stores string ids) drop trailing NULs, so an id ending in
# NUL cannot be kept byte-exact: it is refused rather than altered (docs/data.md, "Ids").
# NULs elsewhere in an id survive and are kept.
REASON_NUL_ID = "id ends with a NUL character"
REASON_BIG_TIME = "is outside the int64 range of seconds"
_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# Beyond this many interactions indptr becomes int64 (a module constant so tests can lower it).
INDPTR_INT32_MAX = int(np.iinfo(np.int32).max)
# From this many rows on, duplicates are merged by likewise.kernels.sparse (counting sort by user,
# per-user sorts): at 25M rows 1.5 s and about 1 GB less peak memory than the numpy path's
# global sort and gathers (5.1 s). Below it the numpy path is kept: under 0.1 s at 1M rows,
# less than importing numba and loading the kernels costs a fresh process (about 0.45 s).
MERGE_KERNEL_MIN_ROWS = 1 << 20


@dataclass
class Built:
    users: IdMap
    items: IdMap
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    timestamps: np.ndarray | None
    kind: Kind
    rating_scale: tuple[float, float] | None
    report: LoadReport


class _Problems:
    """Collects per-row problems; raises on the earliest row or removes rows when skipping."""

    def __init__(self, n_rows: int, labels: np.ndarray | None, label_kind: str, source: str):
        self.bad = np.zeros(n_rows, dtype=bool)
        self.labels = labels
        self.label_kind = label_kind
        self.source = source
        self.found: list[tuple[str, np.ndarray, Any]] = []  # (reason, mask, values for message)

    def where(self, pos: int) -> str:
        label = int(self.labels[pos]) if self.labels is not None else pos
        return f"{self.source}, {self.label_kind} {label}"

    def add(self, mask: np.ndarray, field: str, reason: str, values: Any = None) -> None:
        mask = mask & ~self.bad
        if mask.any():
            self.found.append((f"{field}: {reason}", mask, values))
            self.bad |= mask

    def resolve(self, on_error: OnError, report: LoadReport) -> np.ndarray:
        """Return the mask of rows to keep (raises DataError when not skipping)."""
        if not self.found:
            return ~self.bad
        if on_error == "raise":
            first = min(self.found, key=lambda f: int(np.argmax(f[1])))
            reason, mask, values = first
            pos = int(np.argmax(mask))
            shown = f" (got {_show(values[pos])})" if values is not None else ""
            raise DataError(f"{self.where(pos)}: {reason}{shown}")
        for reason, mask, values in self.found:
            positions = np.flatnonzero(mask)[: LoadReport.MAX_EXAMPLES]
            examples = [
                f"{self.where(int(p))}: {reason}" + (f" (got {_show(values[int(p)])})" if values is not None else "")
                for p in positions
            ]
            report.add_skipped(reason, int(mask.sum()), examples)
        return ~self.bad


def _show(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _null_mask(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


def _id_column(values: Any, field: str, problems: _Problems) -> np.ndarray:
    """Check an id column for nulls, non-integral floats and blank strings; return object array."""
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    arr = np.asarray(values)
    if not isinstance(values, np.ndarray) and arr.dtype.kind in "US":
        arr = np.asarray(values, dtype=object)  # np.asarray([7, "a"]) would hide the mix
    if arr.ndim != 1:
        raise DataError(f"{problems.source}: {field} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind == "i":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "u":
        big = arr > _INT64_MAX
        problems.add(big, field, REASON_BIG_ID, arr)
        return np.where(big, 0, arr).astype(np.int64)
    if arr.dtype.kind == "U":
        blank = np.char.str_len(np.char.strip(arr)) == 0
        problems.add(blank, field, "id is empty")
        return arr
    if arr.dtype.kind == "f":
        problems.add(~np.isfinite(arr), field, "id is missing", arr)
        whole = np.isfinite(arr) & (arr == np.round(np.nan_to_num(arr)))
        problems.add(np.isfinite(arr) & ~whole, field, "id is not an integer or string", arr)
        in_range = whole & (arr >= -(2.0**63)) & (arr < 2.0**63)
        problems.add(whole & ~in_range, field, REASON_BIG_ID, arr)
        return np.where(in_range, arr, 0).astype(np.int64)
    obj = arr.astype(object)
    if _all_strings(obj):
        return _string_ids(obj, field, problems)
    problems.add(_null_mask(obj), field, "id is missing")
    is_str = np.fromiter((isinstance(v, str) for v in obj), dtype=bool, count=obj.size)
    is_int = np.fromiter(
        (isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in obj),
        dtype=bool,
        count=obj.size,
    )
    ok = is_str | is_int
    problems.add(~ok, field, "id is not an integer or string", obj)
    big = np.fromiter((i and not _fits_int64(v) for i, v in zip(is_int, obj, strict=True)), dtype=bool, count=obj.size)
    problems.add(big, field, REASON_BIG_ID, obj)
    nul = np.fromiter((isinstance(v, str) and v.endswith("\x00") for v in obj), dtype=bool, count=obj.size)
    problems.add(nul, field, REASON_NUL_ID, obj)
    if is_str.any() and is_int.any():
        # Mixed columns: refuse, naming the first row of the minority type.
        minority = is_int if is_int.sum() < is_str.sum() else is_str
        problems.add(minority, field, "ids mix integers and strings", obj)
    blank = is_str & np.fromiter((isinstance(v, str) and not v.strip() for v in obj), dtype=bool, count=obj.size)
    problems.add(blank, field, "id is empty")
    return obj


def _all_strings(obj: np.ndarray) -> bool:
    """True for a big column of nothing but str: one C loop instead of six Python ones."""
    if obj.size < idmap_module.BULK:
        return False
    from pandas.api.types import infer_dtype

    return bool(infer_dtype(obj, skipna=False) == "string")


def _string_ids(obj: np.ndarray, field: str, problems: _Problems) -> np.ndarray:
    """The string checks of `_id_column`, run once per distinct id and spread back to the rows."""
    codes, uniques = factorize_strings(obj)
    nul = np.fromiter((v.endswith("\x00") for v in uniques), dtype=bool, count=len(uniques))
    blank = np.fromiter((not v.strip() for v in uniques), dtype=bool, count=len(uniques))
    if nul.any():
        problems.add(nul[codes], field, REASON_NUL_ID, obj)
    if blank.any():
        problems.add(blank[codes], field, "id is empty")
    return obj


def _fits_int64(value: Any) -> bool:
    return _INT64_MIN <= int(value) <= _INT64_MAX


def _finalise_ids(obj: np.ndarray, keep: np.ndarray) -> np.ndarray:
    kept = obj[keep]
    if kept.dtype.kind in "iuU":
        return kept
    if kept.size and isinstance(kept[0], str):
        # Big columns stay Python strings: IdMap.encode hashes them without a unicode copy.
        return kept if kept.size >= idmap_module.BULK else kept.astype(str)
    return kept.astype(np.int64)


def _numeric_column(values: Any, field: str, problems: _Problems) -> np.ndarray:
    import pandas as pd

    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.dtype.kind in "iufb":
        out = arr.astype(np.float64)
    else:
        obj = arr.astype(object)
        # Complex numbers are not ratings: keeping the real part would alter data silently.
        is_complex = np.fromiter((isinstance(v, (complex, np.complexfloating)) for v in obj), bool, obj.size)
        text_or_number = pd.Series(np.where(is_complex, "", obj), dtype=object)
        as_num = pd.to_numeric(text_or_number, errors="coerce").to_numpy(dtype=np.float64)
        null = _null_mask(obj)
        problems.add(~null & np.isnan(as_num), field, "is not a number", arr)
        out = as_num
    problems.add(np.isnan(out), field, "is missing (NaN)")
    problems.add(np.isinf(out), field, "is infinite", out)
    return out


def _timestamp_column(values: Any, problems: _Problems) -> np.ndarray:
    """Timestamps become int64 seconds since the epoch (datetimes are converted, not rounded away)."""
    import pandas as pd

    if isinstance(getattr(values, "dtype", None), pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)  # tz-aware -> UTC datetime64
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        nat = np.isnat(arr)
        problems.add(nat, "timestamp", "is missing")
        return np.where(nat, 0, arr.astype("datetime64[s]").astype(np.int64))
    if arr.dtype.kind == "i":
        return arr.astype(np.int64)
    if arr.dtype.kind == "u":
        big = arr > _INT64_MAX
        problems.add(big, "timestamp", REASON_BIG_TIME, arr)
        return np.where(big, 0, arr).astype(np.int64)
    num = _numeric_column(arr, "timestamp", problems)
    frac = np.isfinite(num) & (num != np.floor(np.nan_to_num(num)))
    if frac.any():
        # Fractional seconds are legitimate (e.g. Unix time with milliseconds); keep integer
        # seconds since orderings at sub-second resolution are rare in CF logs.
        num = np.floor(num)
    fits = np.isfinite(num) & (num >= -(2.0**63)) & (num < 2.0**63)
    problems.add(np.isfinite(num) & ~fits, "timestamp", REASON_BIG_TIME, num)
    return np.where(fits, num, 0).astype(np.int64)


@dataclass
class Rows:
    """The rows of one input (or one chunk of it) that passed validation, not yet indexed."""

    users: np.ndarray  # raw ids (int64, str or object array of str)
    items: np.ndarray
    values: np.ndarray  # float64
    timestamps: np.ndarray | None
    labels: np.ndarray  # line or row label of each kept row


@dataclass(frozen=True)
class Settings:
    """The checked options of a build: what kind of data, which duplicate rule, which scale."""

    kind: Kind
    duplicates: DuplicatePolicy
    rating_scale: tuple[float, float] | None
    on_error: OnError


def settle(
    kind: Kind | None,
    has_values: bool,
    duplicates: DuplicatePolicy | None,
    rating_scale: tuple[float, float] | None,
    on_error: OnError,
) -> Settings:
    """Check the build options and fill in their defaults (InvalidParameterError if wrong)."""
    if on_error not in ("raise", "skip"):
        raise InvalidParameterError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if kind is None:
        kind = "explicit" if has_values else "implicit"
    if kind not in ("explicit", "implicit"):
        raise InvalidParameterError(f"kind must be 'explicit' or 'implicit', got {kind!r}")
    if kind == "explicit" and not has_values:
        raise InvalidParameterError("explicit interactions need a rating column")
    if duplicates is None:
        duplicates = "error" if kind == "explicit" else "sum"
    if duplicates not in DUPLICATE_POLICIES:
        raise InvalidParameterError(f"duplicates must be one of {', '.join(DUPLICATE_POLICIES)}; got {duplicates!r}")
    if rating_scale is not None:
        low, high = (float(v) for v in rating_scale)
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise InvalidParameterError(f"rating_scale must be (low, high) with low < high, got {rating_scale!r}")
        rating_scale = (low, high)
    return Settings(kind, duplicates, rating_scale, on_error)


def validate_rows(
    user_ids: Any,
    item_ids: Any,
    values: Any,
    timestamps: Any,
    settings: Settings,
    *,
    row_labels: np.ndarray | None,
    label_kind: str,
    source: str,
    report: LoadReport,
    value_name: str | None = None,
) -> Rows:
    """Check every row (raising on the first problem, or dropping and counting bad rows)."""
    n_rows = len(user_ids)
    kind = settings.kind
    lengths = {"user": n_rows, "item": len(item_ids)}
    if values is not None:
        lengths["rating" if kind == "explicit" else "weight"] = len(values)
    if timestamps is not None:
        lengths["timestamp"] = len(timestamps)
    if len(set(lengths.values())) > 1:
        raise DataError(f"{source}: columns have different lengths: {lengths}")
    report.rows_read += n_rows
    if row_labels is not None:
        row_labels = np.asarray(row_labels)
    problems = _Problems(n_rows, row_labels, label_kind, source)

    uobj = _id_column(user_ids, "user", problems)
    iobj = _id_column(item_ids, "item", problems)
    field = value_name or ("rating" if kind == "explicit" else "weight")
    if values is None:
        vals = np.ones(n_rows, dtype=np.float64)
    else:
        vals = _numeric_column(values, field, problems)
    # Values are stored as float32: a finite float64 beyond its range would become infinite.
    problems.add(np.abs(vals) > _FLOAT32_MAX, field, "is outside the float32 range", vals)
    if kind == "explicit" and settings.rating_scale is not None:
        low, high = settings.rating_scale
        problems.add((vals < low) | (vals > high), field, f"is outside the rating scale [{low:g}, {high:g}]", vals)
    if kind == "implicit":
        problems.add(vals <= 0, field, "must be positive for implicit feedback", vals)
    ts = _timestamp_column(timestamps, problems) if timestamps is not None else None

    keep = problems.resolve(settings.on_error, report)
    every = bool(keep.all())
    return Rows(
        _finalise_ids(uobj, keep),
        _finalise_ids(iobj, keep),
        vals if every else vals[keep],
        None if ts is None else (ts if every else ts[keep]),
        row_labels[keep] if row_labels is not None else np.flatnonzero(keep),
    )


def build_arrays(
    user_ids: Any,
    item_ids: Any,
    values: Any = None,
    timestamps: Any = None,
    *,
    kind: Kind | None = None,
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | None = None,
    on_error: OnError = "raise",
    row_labels: np.ndarray | None = None,
    label_kind: str = "row",
    source: str = "input",
    users: IdMap | None = None,
    items: IdMap | None = None,
    report: LoadReport | None = None,
    value_name: str | None = None,
) -> Built:
    """Validate columns, merge duplicates and build sorted CSR arrays.

    ``users`` / ``items`` give a fixed universe (e.g. a catalogue including items nobody rated
    yet); ids outside it are a DataError. Without them the maps are built from the data.
    """
    settings = settle(kind, values is not None, duplicates, rating_scale, on_error)
    report = report if report is not None else LoadReport(source=source)
    rows = validate_rows(
        user_ids,
        item_ids,
        values,
        timestamps,
        settings,
        row_labels=row_labels,
        label_kind=label_kind,
        source=source,
        report=report,
        value_name=value_name,
    )
    if rows.values.size == 0:
        raise DataError(
            f"{source}: no interactions"
            + (f" left after skipping {report.rows_skipped:,} bad rows" if report.rows_skipped else "")
        )
    vals, ts, labels = rows.values, rows.timestamps, rows.labels
    user_map, uidx = _index_within(users, rows.users, "user", source, on_error, report, labels, label_kind)
    item_map, iidx = _index_within(
        items, rows.items, "item", source, on_error, report, labels, label_kind, already_dropped=uidx < 0
    )
    ok = (uidx >= 0) & (iidx >= 0)
    if not ok.all():
        uidx, iidx, vals, labels = uidx[ok], iidx[ok], vals[ok], labels[ok]
        ts = ts[ok] if ts is not None else None
        if uidx.size == 0:
            raise DataError(f"{source}: no interactions left after skipping unknown ids")

    def describe(first: int, second: int) -> str:
        a, b = int(labels[first]), int(labels[second])
        return f"{source}, {label_kind}s {min(a, b)} and {max(a, b)}"

    return assemble(user_map, item_map, uidx, iidx, vals, ts, settings, report, describe)


def assemble(
    user_map: IdMap,
    item_map: IdMap,
    uidx: np.ndarray,
    iidx: np.ndarray,
    vals: np.ndarray,
    ts: np.ndarray | None,
    settings: Settings,
    report: LoadReport,
    describe: Any,
) -> Built:
    """Merge duplicates and build the CSR from indexed rows (in input order).

    ``describe(a, b)`` names rows a and b (positions in input order) for the duplicate error.
    """
    rating_scale = settings.rating_scale
    if settings.kind == "explicit" and rating_scale is None:
        rating_scale = (float(vals.min()), float(vals.max()))
    indptr, indices, data, ts_out, merged = _merge_sorted(
        uidx, iidx, vals, ts, settings.duplicates, len(user_map), len(item_map), describe
    )
    report.duplicates_merged += merged
    report.duplicate_policy = settings.duplicates
    report.n_users, report.n_items, report.n_interactions = len(user_map), len(item_map), data.size
    return Built(user_map, item_map, indptr, indices, data, ts_out, settings.kind, rating_scale, report)


def _index_within(
    idmap: IdMap | None,
    raw: np.ndarray,
    name: str,
    source: str,
    on_error: OnError,
    report: LoadReport,
    labels: np.ndarray,
    label_kind: str,
    already_dropped: np.ndarray | None = None,
) -> tuple[IdMap, np.ndarray]:
    if idmap is None:
        return IdMap.encode(raw, name=name)
    try:
        idx = idmap.to_index(raw, missing="negative")
    except UnknownIdError as exc:  # e.g. string ids against an integer catalogue
        raise DataError(f"{source}: {name} ids do not match the given {name} list: {exc}") from exc
    unknown = idx < 0
    if already_dropped is not None:
        unknown &= ~already_dropped  # a row with an unknown user is counted once, under "user"
    if unknown.any():
        reason = f"{name}: id is not in the given {name} list"
        if on_error == "raise":
            pos = int(np.argmax(unknown))
            raise DataError(f"{source}, {label_kind} {int(labels[pos])}: {reason} (got {_show(raw[pos])})")
        examples = [
            f"{source}, {label_kind} {int(labels[p])}: {reason} (got {_show(raw[p])})"
            for p in np.flatnonzero(unknown)[: LoadReport.MAX_EXAMPLES]
        ]
        report.add_skipped(reason, int(unknown.sum()), examples)
    return idmap, idx


def _merge_sorted(
    uidx: np.ndarray,
    iidx: np.ndarray,
    vals: np.ndarray,
    ts: np.ndarray | None,
    policy: DuplicatePolicy,
    n_users: int,
    n_items: int,
    describe: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Sort by (user, item, order) and merge duplicate pairs with the chosen policy.

    "first"/"last" follow timestamps when present (ties by input order), else input order.
    A merged group keeps the timestamp of the kept row ("first"/"last") or the latest one.
    Returns (indptr, indices int32, data float32, timestamps or None, rows merged away).
    """
    if uidx.size >= MERGE_KERNEL_MIN_ROWS:
        merged_rows = _merge_with_kernels(uidx, iidx, vals, ts, policy, n_users)
    else:
        merged_rows = _merge_with_numpy(uidx, iidx, vals, ts, policy, n_users, n_items)
    indptr, indices, data, t_out, first_duplicate = merged_rows
    if first_duplicate is not None:
        raise DataError(
            f"{describe(*first_duplicate)}: duplicate (user, item) pair; "
            "choose duplicates='last', 'first', 'sum' or 'mean'"
        )
    merged = int(uidx.size - indices.size)
    indptr_dtype = np.int64 if indices.size > INDPTR_INT32_MAX else np.int32
    return indptr.astype(indptr_dtype, copy=False), indices, data, t_out, merged


_Merged = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, tuple[int, int] | None]


def _merge_with_kernels(
    uidx: np.ndarray, iidx: np.ndarray, vals: np.ndarray, ts: np.ndarray | None, policy: DuplicatePolicy, n_users: int
) -> _Merged:
    """Counting sort by user, then per-user sorts and merges (likewise.kernels.sparse).

    With ``policy="error"`` and a repeated pair, the last item is the input positions of its
    first two rows in sorted order (and the CSR is not built)."""
    from likewise.kernels import sparse as sparse_kernels  # numba: only for large inputs

    # the kernels' dtypes once here, so that their three wrappers need not copy
    uidx = np.ascontiguousarray(uidx, dtype=np.int32)
    iidx = np.ascontiguousarray(iidx, dtype=np.int32)
    order, row_starts = sparse_kernels.pair_order(uidx, iidx, ts, n_users)
    counts = sparse_kernels.distinct_per_user(order, row_starts, iidx)
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    if policy == "error" and int(indptr[-1]) < uidx.size:
        user = int(np.flatnonzero(counts < np.diff(row_starts))[0])
        rows = order[row_starts[user] : row_starts[user + 1]]
        at = int(np.flatnonzero(np.diff(iidx[rows]) == 0)[0])
        return indptr, iidx[:0], vals[:0], None, (int(rows[at]), int(rows[at + 1]))
    indices, data, t_out = sparse_kernels.merge_duplicates(order, row_starts, iidx, vals, ts, indptr, policy)
    return indptr, indices, data, t_out, None


def _merge_with_numpy(
    uidx: np.ndarray,
    iidx: np.ndarray,
    vals: np.ndarray,
    ts: np.ndarray | None,
    policy: DuplicatePolicy,
    n_users: int,
    n_items: int,
) -> _Merged:
    """One stable sort of the rows, a gather of every column, then run merges (as `_merge_with_kernels`)."""
    order = _pair_order(uidx, iidx, ts, n_items)
    u, i, v = uidx[order], iidx[order], vals[order]
    t = ts[order] if ts is not None else None
    new_group = np.ones(u.size, dtype=bool)
    new_group[1:] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
    starts = np.flatnonzero(new_group)
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(u[starts], minlength=n_users), out=indptr[1:])
    if policy == "error" and starts.size < u.size:
        dup = int(np.flatnonzero(~new_group)[0])
        return indptr, iidx[:0], vals[:0], None, (int(order[dup - 1]), int(order[dup]))
    ends = np.append(starts[1:], u.size) - 1
    if policy in ("first", "error"):
        data, t_out = v[starts], (t[starts] if t is not None else None)
    elif policy == "last":
        data, t_out = v[ends], (t[ends] if t is not None else None)
    else:
        sums = np.add.reduceat(v.astype(np.float64, copy=False), starts)
        data = sums if policy == "sum" else sums / (ends - starts + 1)
        t_out = np.maximum.reduceat(t, starts) if t is not None else None
    return indptr, i[starts].astype(np.int32), np.asarray(data, dtype=np.float32), t_out, None


def _pair_order(uidx: np.ndarray, iidx: np.ndarray, ts: np.ndarray | None, n_items: int) -> np.ndarray:
    """The order sorting rows by (user, item, timestamp, input position).

    One stable sort of a combined int64 key (user * n_items + item) rather than a lexsort of
    four keys: logs usually come grouped by user, which the stable sort exploits. Timestamps
    matter only within a repeated pair, so only those rows are re-sorted by them.
    """
    key = uidx.astype(np.int64) * max(1, n_items) + iidx
    order = np.argsort(key, kind="stable")
    if ts is None:
        return order
    sorted_key = key[order]
    repeated = np.zeros(order.size, dtype=bool)
    same = sorted_key[1:] == sorted_key[:-1]
    repeated[1:] |= same
    repeated[:-1] |= same
    if repeated.any():
        at = np.flatnonzero(repeated)
        rows = order[at]  # ascending input position within each pair: the stable sort kept it
        within = np.lexsort((rows, ts[rows], sorted_key[at]))
        order[at] = rows[within]
    return order
