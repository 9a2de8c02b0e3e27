"""Read interaction logs from delimited text files (CSV, TSV, ...) and Parquet files.

Every row is validated with the rules of `Interactions.from_arrays`, so a problem is reported as
``"ratings.csv, line 17: rating: is not a number (got 'abc')"``. Line numbers are the
*physical* lines of the file, counted from 1: the header, blank lines, comment lines and every
line of a quoted multi-line field count, whatever the line endings (LF, CRLF or a lone CR).

How lines become rows
---------------------
* Empty lines and lines holding only spaces/tabs are ignored. With ``comment="#"`` a line whose
  first characters are the comment prefix is ignored too (comments are whole lines only).
* With ``header=True`` the first remaining line holds the column names; it fixes how many fields
  every row must have (``names=`` fixes it when there is no header line).
* A line with another number of fields, or a quoted field that is never closed, is malformed: with
  ``on_error="raise"`` (the default) a DataError names the file and line; with ``"skip"`` the
  line is dropped and counted in the LoadReport. An unclosed quote skips only the line it
  starts on; reading resumes on the next line.
* Quoting follows RFC 4180 (``"a, b"``; ``""`` inside quotes is one quote; a quote inside an
  unquoted field is an ordinary character). Pass ``quote_char=None`` to read every character
  literally (tab-separated dumps often contain stray quotes).

How text becomes values
-----------------------
* Every field is read as text and stripped of surrounding spaces and tabs.
* An id column whose non-empty values are all canonical decimal integers (``0``, ``42``,
  ``-7``: no ``+``, no leading zeros, within int64) becomes int64. Otherwise the whole column
  stays text, so ``"001"`` and ``"1"`` are two different ids; nothing is coerced silently.
* Ratings and weights are parsed as floats. Timestamps are integer seconds, float seconds
  (floored) or ISO-8601 date-times (naive ones are read as UTC).

Speed and memory: the file is read in blocks of about 32 MB cut at line breaks (docs/data.md,
"Reading in blocks"); each block is scanned with numpy to find every physical line and its field
count, pyarrow's multi-threaded parser then splits the fields, and only the block's valid rows
are kept, as codes into small per-block id maps. Files with quoted fields that span
lines, or with malformed quoting, are re-read with Python's `csv` module, which is slower but
follows quotes line by line so that every reported line number stays exact.

Where the code is: this module holds the public readers; the tokenizer and line scanner are in
`likewise.data._csv`, the conversion of text columns to typed columns and Interactions (shared
with the MovieLens readers) in `likewise.data._tables`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from likewise.data._build import DuplicatePolicy, OnError, settle, validate_rows
from likewise.data._csv import ColumnSpec, NeedsWholeFile, PathLike, iter_tables, read_table
from likewise.data._memory import release_freed_memory
from likewise.data._stream import ChunkedBuilder
from likewise.data._tables import add_table, interactions_from_built, log_report
from likewise.data.interactions import Interactions
from likewise.data.report import LoadReport
from likewise.exceptions import DataError, InvalidParameterError

__all__ = ["read_csv", "read_parquet"]

# What pyarrow raises on a damaged Parquet file: its own errors, I/O errors, and plain
# ValueErrors such as UnicodeDecodeError from a column name in a corrupted footer (issue 17).
_PARQUET_ERRORS = (pa.ArrowException, OSError, ValueError)
# Bytes of text (CSV) or rows (Parquet) read and validated at a time: peak memory is a few
# times a block on top of the result; module constants so tests can make them tiny.
BLOCK_SIZE = 1 << 25
BATCH_ROWS = 1 << 20


def read_csv(
    path: PathLike | Sequence[PathLike],
    *,
    user: ColumnSpec = "user",
    item: ColumnSpec = "item",
    rating: ColumnSpec | None = None,
    weight: ColumnSpec | None = None,
    timestamp: ColumnSpec | None = None,
    delimiter: str = ",",
    header: bool = True,
    names: Sequence[str] | None = None,
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | None = None,
    on_error: OnError = "raise",
    encoding: str = "utf-8",
    comment: str | None = None,
    quote_char: str | None = '"',
) -> Interactions:
    """Read interactions from a delimited text file (CSV, TSV, ...).

    Parameters
    ----------
    path
        The file to read, or a list of files holding one log between them (each with its
        own header when ``header=True``; messages name the file).
    user, item
        Columns holding the raw user and item ids: a column name, or a 0-based column
        position (positions work with or without a header).
    rating
        Column of explicit ratings; the result is "explicit".
    weight
        Column of implicit weights (play counts, clicks); the result is "implicit". With
        neither ``rating`` nor ``weight`` every row is an implicit interaction of weight 1.
    timestamp
        Optional column of timestamps (Unix seconds or ISO-8601 date-times).
    delimiter
        Field separator; may be several characters (``"::"``), then it must not occur inside
        quoted fields.
    header
        Whether the first non-blank, non-comment line holds column names.
    names
        Column names: without a header they name the fields (and fix how many there must be);
        with a header they replace the names found in it.
    rating_scale
        ``(low, high)``: ratings outside it are errors. Defaults to the observed range.
    duplicates
        How to merge repeated (user, item) pairs: "last", "first", "sum", "mean" or
        "error". Defaults to "error" for ratings and "sum" for weights.
    on_error
        "raise" stops at the first bad line with a DataError naming file and line; "skip"
        drops bad lines and counts them in ``interactions.report``.
    encoding
        Text encoding of the file (e.g. "latin-1"); a UTF-8 byte-order mark is ignored.
    comment
        Prefix marking whole-line comments (e.g. "#"), or None.
    quote_char
        Quote character for fields containing the delimiter, or None to disable quoting.

    Returns
    -------
    Interactions
        With ``report`` describing what was read, skipped and merged (also logged at INFO
        level on the "likewise.data" logger).

    Raises
    ------
    DataError
        Empty file, missing column, undecodable bytes or (with ``on_error="raise"``) the
        first malformed or invalid line.
    InvalidParameterError
        Contradictory or malformed arguments.
    """
    _check_on_error(on_error)
    if rating is not None and weight is not None:
        raise InvalidParameterError("give either rating= (explicit) or weight= (implicit), not both")
    roles: dict[str, ColumnSpec] = {"user": user, "item": item}
    if rating is not None:
        roles["rating"] = rating
    if weight is not None:
        roles["weight"] = weight
    if timestamp is not None:
        roles["timestamp"] = timestamp
    paths = _paths(path)
    kind: Literal["explicit", "implicit"] = "explicit" if rating is not None else "implicit"
    settings = settle(kind, rating is not None, duplicates, rating_scale, on_error)
    source = ", ".join(str(p) for p in paths)
    builder = ChunkedBuilder(settings, LoadReport(source=source), "line", text_ids=True)
    options = {
        "delimiter": delimiter,
        "header": header,
        "names": names,
        "encoding": encoding,
        "comment": comment,
        "quote_char": quote_char,
    }
    for one in paths:
        state = builder.checkpoint()
        try:
            for table in iter_tables(one, roles, block_size=BLOCK_SIZE, **options):  # type: ignore[arg-type]
                add_table(builder, table)
        except NeedsWholeFile:  # quotes must be followed from the file's start: read it in one piece
            builder.rollback(state)
            add_table(builder, read_table(one, roles, **options))  # type: ignore[arg-type]
    inter = interactions_from_built(builder.finish(source))
    release_freed_memory()  # the blocks' freed memory, kept by Arrow's pool and malloc (_memory.py)
    log_report(inter.report)
    return inter


def _paths(path: PathLike | Sequence[PathLike]) -> list[PathLike]:
    """One path, or a list of them (a log split across files), as a non-empty list."""
    if isinstance(path, (str, os.PathLike)):
        return [path]
    paths = list(path)
    if not paths:
        raise InvalidParameterError("path must be a file or a non-empty list of files, got an empty list")
    for one in paths:
        if not isinstance(one, (str, os.PathLike)):
            raise InvalidParameterError(f"path must be a file or a list of files, got {one!r} in the list")
    return paths


def read_parquet(
    path: PathLike | Sequence[PathLike],
    *,
    user: str = "user",
    item: str = "item",
    rating: str | None = None,
    weight: str | None = None,
    timestamp: str | None = None,
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | None = None,
    on_error: OnError = "raise",
) -> Interactions:
    """Read interactions from a Parquet file (or a directory of Parquet files).

    Column types are kept as stored: integer ids stay integers, string ids stay strings.
    Problems are reported by row, counted from 1 (``"x.parquet, row 3: rating: is missing"``).

    Parameters
    ----------
    path
        The Parquet file or dataset directory.
    user, item
        Names of the id columns.
    rating, weight, timestamp
        Optional column names, as in `read_csv`.
    rating_scale, duplicates, on_error
        As in `read_csv`.

    Returns
    -------
    Interactions

    Raises
    ------
    DataError
        Unreadable file, missing column, empty table or (with ``on_error="raise"``) the first
        invalid row.
    """
    _check_on_error(on_error)
    if rating is not None and weight is not None:
        raise InvalidParameterError("give either rating= (explicit) or weight= (implicit), not both")
    paths = _paths(path)
    value = rating if rating is not None else weight
    wanted = {"user": user, "item": item, "rating": rating, "weight": weight, "timestamp": timestamp}
    columns = [c for c in dict.fromkeys([user, item, value, timestamp]) if c is not None]
    kind: Literal["explicit", "implicit"] = "explicit" if rating is not None else "implicit"
    settings = settle(kind, rating is not None, duplicates, rating_scale, on_error)
    report = LoadReport(source=", ".join(str(p) for p in paths))
    builder = ChunkedBuilder(settings, report, "row", text_ids=False)
    for one in paths:
        source = str(one)
        row = 1
        for batch in _parquet_batches(one, wanted, columns):
            arrays = {}
            for name in columns:
                try:
                    arrays[name] = _arrow_to_numpy(batch.column(name))
                except _PARQUET_ERRORS as exc:  # e.g. a damaged data page holding invalid UTF-8
                    raise DataError(f"{source}: cannot read column {name!r} as Parquet: {exc}") from exc
            rows = validate_rows(
                arrays[user],
                arrays[item],
                None if value is None else arrays[value],
                None if timestamp is None else arrays[timestamp],
                settings,
                row_labels=np.arange(row, row + batch.num_rows),
                label_kind="row",
                source=source,
                report=report,
            )
            builder.rows_parsed += batch.num_rows
            builder.add(rows, source)
            row += batch.num_rows
        if row == 1:
            raise DataError(f"{source}: the table has no rows")
    inter = interactions_from_built(builder.finish(report.source))
    release_freed_memory()
    log_report(inter.report)
    return inter


def _parquet_batches(path: PathLike, wanted: dict[str, str | None], columns: list[str]) -> Iterator[pa.RecordBatch]:
    """Record batches of `columns` from a Parquet file or a directory of parts, in order.

    A file streams through `ParquetFile.iter_batches`; a directory is a `pyarrow.dataset`
    (parts in sorted path order, as `pq.read_table` reads them), scanned batch by batch.
    """
    import pyarrow.dataset as ds

    source = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file or directory: {source}")
    try:
        if os.path.isfile(path):
            parquet = pq.ParquetFile(path)
            schema = parquet.schema_arrow
        else:
            dataset = ds.dataset(path, format="parquet", partitioning="hive")
            schema = dataset.schema
    except _PARQUET_ERRORS as exc:
        raise DataError(f"{source}: cannot read as Parquet: {exc}") from exc
    missing = [f"{col!r} ({role})" for role, col in wanted.items() if col is not None and col not in schema.names]
    if missing:
        raise DataError(
            f"{source}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"columns are {list(schema.names)}"
        )
    try:
        if os.path.isfile(path):
            batches = parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns)
        else:
            batches = dataset.to_batches(columns=columns, batch_size=BATCH_ROWS, use_threads=False)
        for batch in batches:
            if batch.num_rows:
                yield batch
    except _PARQUET_ERRORS as exc:
        raise DataError(f"{source}: cannot read as Parquet: {exc}") from exc


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise InvalidParameterError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


def _arrow_to_numpy(column: pa.ChunkedArray) -> np.ndarray:
    """A Parquet column as numpy: numbers stay numeric (nulls -> NaN), text -> object."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_decimal(arr.type):
        arr = pc.cast(arr, pa.float64())
    if pa.types.is_integer(arr.type) and arr.null_count:
        return np.array(arr.to_pylist(), dtype=object)  # keep ints exact, nulls as None
    if pa.types.is_boolean(arr.type):
        arr = pc.cast(arr, pa.float64())
    if pa.types.is_timestamp(arr.type) and arr.type.tz is not None:
        arr = pc.cast(arr, pa.timestamp(arr.type.unit))
    if pa.types.is_date(arr.type):
        arr = pc.cast(arr, pa.timestamp("s"))
    return np.asarray(arr.to_numpy(zero_copy_only=False))
