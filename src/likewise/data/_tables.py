"""From the text columns of a `Table` to typed columns and `Interactions` (private).

Used by `read_csv` and the MovieLens / Last.fm readers: ids, floats and timestamps parsed from
text with the readers' rules (documented in `likewise.data.readers`), the earliest problem of
a file reported first, and the report logged on the "likewise.data" logger.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from likewise.data._build import Built, DuplicatePolicy, OnError, Rows, settle, validate_rows
from likewise.data._csv import Table
from likewise.data._stream import ChunkedBuilder
from likewise.data.interactions import Interactions
from likewise.data.report import LoadReport
from likewise.exceptions import DataError

__all__ = [
    "add_table",
    "floats_from_text",
    "ids_from_text",
    "interactions_from_built",
    "interactions_from_table",
    "interactions_from_tables",
    "log_report",
    "logger",
    "timestamps_from_text",
]

logger = logging.getLogger("likewise.data")

_INT_PATTERN = r"^(?:0|-?[1-9][0-9]*)$"


def interactions_from_table(
    table: Table,
    *,
    kind: Literal["explicit", "implicit"],
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | None = None,
    on_error: OnError = "raise",
) -> Interactions:
    """Convert a Table with roles user, item[, rating or weight][, timestamp] into Interactions.

    With ``on_error="raise"`` the earliest problem in the file wins, whether it is a malformed
    line or an invalid value.
    """
    return interactions_from_tables(
        [table], table.source, kind=kind, rating_scale=rating_scale, duplicates=duplicates, on_error=on_error
    )


def interactions_from_tables(
    tables: Iterable[Table],
    source: str,
    *,
    kind: Literal["explicit", "implicit"],
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | None = None,
    on_error: OnError = "raise",
) -> Interactions:
    """`interactions_from_table` over Tables read one after another (blocks of files, in order).

    Each Table is validated as it comes and only its valid rows' codes are kept (a
    `ChunkedBuilder`); tables come in line order, so the first problem raised is the file's
    earliest one. ``source`` names the whole input in the report.
    """
    settings = settle(kind, kind == "explicit", duplicates, rating_scale, on_error)
    report = LoadReport(source=source)
    builder = ChunkedBuilder(settings, report, "line", text_ids=True)
    for table in tables:
        add_table(builder, table)
    return interactions_from_built(builder.finish(source))


def add_table(builder: ChunkedBuilder, table: Table) -> None:
    """Validate one Table (the earliest problem first) and add its valid rows to `builder`."""
    settings = builder.settings
    uids = ids_from_text(table.columns["user"])
    iids = ids_from_text(table.columns["item"])
    value_role = next((role for role in ("rating", "weight") if role in table.columns), None)
    values = None if value_role is None else floats_from_text(table.columns[value_role])
    stamps = timestamps_from_text(table.columns["timestamp"]) if "timestamp" in table.columns else None

    def validate(rows: np.ndarray | None, mode: OnError, report: LoadReport) -> Rows:
        def pick(arr: np.ndarray | None) -> np.ndarray | None:
            return arr if arr is None or rows is None else arr[rows]

        return validate_rows(
            pick(uids),
            pick(iids),
            pick(values),
            pick(stamps),
            replace(settings, on_error=mode),
            row_labels=table.lines if rows is None else table.lines[rows],
            label_kind="line",
            source=table.source,
            report=report,
        )

    if table.problems and settings.on_error == "raise":
        first_line, _, message = table.problems[0]
        before = np.flatnonzero(table.lines < first_line)
        if before.size:
            validate(before, "raise", LoadReport(source=table.source))  # raises an earlier problem
        raise DataError(message)
    table.record_problems(builder.report)
    builder.rows_parsed += table.n_rows
    if table.n_rows:
        builder.add(validate(None, settings.on_error, builder.report), table.source)


def interactions_from_built(built: Built) -> Interactions:
    """Wrap built CSR arrays (validated, merged) into Interactions."""
    shape = (len(built.users), len(built.items))
    matrix = sp.csr_matrix((built.data, built.indices, built.indptr), shape=shape)
    return Interactions(
        built.users,
        built.items,
        matrix,
        timestamps=built.timestamps,
        kind=built.kind,
        rating_scale=built.rating_scale,
        report=built.report,
    )


# From this many values on, canonical integer ids are read by a numba kernel (one pass, no
# temporary columns: 25M ids in 0.4 s against 1.1 s); shorter columns keep Arrow's casts, which
# spare a fresh process importing numba and loading the kernel (about 0.3 s).
CANONICAL_KERNEL_MIN_VALUES = 1 << 18


def ids_from_text(values: pa.Array) -> np.ndarray:
    """Raw ids from text: int64 when every non-empty value is a canonical integer.

    Columns of canonical integers with some empty values give an object array holding ints
    and None (so the empty ones are reported as missing); any other column stays text (an
    object array of str).
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    fast = _canonical_ints(values)
    if fast is not None:
        return fast
    present = pc.greater(pc.utf8_length(values), 0)
    n_present = int(pc.sum(present).as_py() or 0)
    if n_present:
        is_int = pc.match_substring_regex(values, _INT_PATTERN)
        if int(pc.sum(is_int).as_py() or 0) == n_present:
            try:
                ints = pc.cast(pc.if_else(present, values, "0"), pa.int64()).to_numpy()
            except pa.ArrowInvalid:  # beyond int64: keep the text
                ints = None
            if ints is not None:
                if n_present == n:
                    return np.asarray(ints, dtype=np.int64)
                out = ints.astype(object)
                out[~present.to_numpy(zero_copy_only=False)] = None
                return out
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)


def _canonical_ints(values: pa.Array) -> np.ndarray | None:
    """int64 ids when every value is a canonical integer, by a cast and its round trip (else None).

    Arrow's cast also accepts "+7" and "007"; printing the integers back and comparing with the
    text keeps only the canonical spellings, with two vectorised passes instead of a regex.
    Long columns take `likewise.kernels.text.canonical_int64` instead: the same rule in one pass.
    """
    if len(values) >= CANONICAL_KERNEL_MIN_VALUES and pa.types.is_string(values.type):
        from likewise.kernels.text import canonical_int64  # numba: only for long columns

        return canonical_int64(values)
    try:
        ints = pc.cast(values, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if ints.null_count or not pc.all(pc.equal(pc.cast(ints, values.type), values)).as_py():
        return None
    return np.asarray(ints.to_numpy(), dtype=np.int64)


def floats_from_text(values: pa.Array) -> np.ndarray:
    """Floats from text; when some values do not parse, the text is returned for validation."""
    try:
        return np.asarray(pc.cast(values, pa.float64()).to_numpy(), dtype=np.float64)
    except pa.ArrowInvalid:
        return _text_or_none(values)


def timestamps_from_text(values: pa.Array) -> np.ndarray:
    """Timestamps from text: int64 seconds, float seconds or ISO-8601 date-times (UTC).

    Values that cannot be read are returned as text, so validation names them.
    """
    for target in (pa.int64(), pa.float64()):
        try:
            return np.asarray(pc.cast(values, target).to_numpy())
        except pa.ArrowInvalid:
            continue
    text = _text_or_none(values)
    as_number = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy()
    first = next((pos for pos, v in enumerate(text) if v is not None), None)
    if first is None or not np.isnan(as_number[first]):
        return text  # numbers (with a few bad values): validation reports the bad ones
    dates = pd.to_datetime(pd.Series(text, dtype=object), errors="coerce", format="ISO8601", utc=True)
    if pd.isna(dates.iloc[first]):
        return text
    ok = dates.notna().to_numpy()
    seconds = ((dates[ok] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy()
    out = text.copy()
    out[ok] = seconds.astype(object)
    return out


def log_report(report: LoadReport) -> None:
    """Log a LoadReport at INFO level on the "likewise.data" logger."""
    logger.info("%s", report)


def _text_or_none(values: pa.Array) -> np.ndarray:
    text = np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)
    text[text == ""] = None
    return text
