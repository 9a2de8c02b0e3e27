"""From the text columns of a `Table` to typed columns and `Interactions` (private).

Used by `read_csv` and the MovieLens / Last.fm readers: ids, floats and timestamps parsed from
text with the readers' rules (documented in `likewise.data.readers`), the earliest problem of
a file reported first, and the report logged on the "likewise.data" logger.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from likewise.data._build import DuplicatePolicy, OnError
from likewise.data._csv import Table
from likewise.data.interactions import Interactions
from likewise.data.report import LoadReport
from likewise.exceptions import DataError

__all__ = [
    "floats_from_text",
    "ids_from_text",
    "interactions_from_table",
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
    uids = ids_from_text(table.columns["user"])
    iids = ids_from_text(table.columns["item"])
    value_role = next((role for role in ("rating", "weight") if role in table.columns), None)
    values = None if value_role is None else floats_from_text(table.columns[value_role])
    stamps = timestamps_from_text(table.columns["timestamp"]) if "timestamp" in table.columns else None

    def build(rows: np.ndarray | None, mode: OnError, report: LoadReport) -> Interactions:
        def pick(arr: np.ndarray | None) -> np.ndarray | None:
            return arr if arr is None or rows is None else arr[rows]

        return Interactions.from_arrays(
            pick(uids),
            pick(iids),
            pick(values),
            pick(stamps),
            kind=kind,
            rating_scale=rating_scale,
            duplicates=duplicates,
            on_error=mode,
            source=table.source,
            row_labels=table.lines if rows is None else table.lines[rows],
            label_kind="line",
            report=report,
        )

    if table.problems and on_error == "raise":
        first_line, _, message = table.problems[0]
        before = np.flatnonzero(table.lines < first_line)
        if before.size:
            build(before, "raise", LoadReport(source=table.source))  # raises an earlier problem
        raise DataError(message)
    report = LoadReport(source=table.source)
    table.record_problems(report)
    if table.n_rows == 0 and not table.problems:
        raise DataError(f"{table.source}: the file has no data rows")
    if table.n_rows == 0:
        raise DataError(f"{table.source}: no interactions left after skipping {report.rows_skipped:,} bad lines")
    return build(None, on_error, report)


def ids_from_text(values: pa.Array) -> np.ndarray:
    """Raw ids from text: int64 when every non-empty value is a canonical integer.

    Columns of canonical integers with some empty values give an object array holding ints
    and None (so the empty ones are reported as missing); any other column stays text (an
    object array of str).
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
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
