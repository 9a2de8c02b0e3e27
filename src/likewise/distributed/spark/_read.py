"""Interactions on Spark: read, validate every row, map ids to likewise's dense indices.

The rules are the local readers' (`likewise.data.readers`, `likewise.data._build`), written as
Spark column expressions so that nothing is collected to the driver but the distinct ids and,
when asked for, the merged training matrix:

* ids: integer columns stay integers; string columns stay strings; float columns must hold
  whole numbers within int64; a null id is "id is missing", a blank string "id is empty", a
  string ending in NUL is refused (IdMap cannot keep it byte-exact). In CSV text (every field
  read as text and stripped of spaces and tabs) an id column whose non-empty values are all
  canonical decimal integers becomes int64, otherwise it stays text, so "001" and "1" are
  two ids.
* values: ratings / weights must be numbers, not NaN, finite, within float32; explicit
  ratings within ``rating_scale``; implicit weights positive.
* each bad row is counted once, under the first reason in that order (user, item, value).
  ``on_error="raise"`` raises a DataError naming the earliest bad row; ``"skip"`` drops the
  bad rows and counts them by reason in the LoadReport, with up to five examples.
* duplicate (user, item) pairs are merged by ``duplicates`` ("error" for ratings, "sum" for
  weights by default; "first" / "last" follow the input order).

Rows are named by their position in the input, counted from 1 ("ratings.csv, row 3"): Spark
does not know physical line numbers, so a CSV row number counts data rows only (the header,
blank and comment lines are not counted as the local reader's line numbers are).

The id maps are likewise IdMaps: Spark finds the distinct ids, the driver sorts them (numpy's
order is the definition of an IdMap's index, so it is not re-implemented in Spark SQL) and the
(id, index) table goes back to Spark as a broadcast join.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from likewise.data.idmap import IdMap
from likewise.data.interactions import Interactions
from likewise.data.report import LoadReport
from likewise.exceptions import DataError, InvalidParameterError

__all__ = ["SparkInteractions", "from_interactions", "read_interactions"]

Kind = Literal["explicit", "implicit"]
OnError = Literal["raise", "skip"]
_POLICIES = ("last", "first", "sum", "mean", "error")
_INT_PATTERN = r"^(0|-?[1-9][0-9]*)$"
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INTEGRAL = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
_FRACTIONAL = (T.FloatType, T.DoubleType, T.DecimalType)
_PARTITION_BITS = 33  # monotonically_increasing_id = partition index << 33 | row in partition

# Column names used internally (chosen so they never clash with a user's columns).
_USER, _ITEM, _VALUE, _POS, _REASON = "__lw_user", "__lw_item", "__lw_value", "__lw_pos", "__lw_reason"


@dataclass
class SparkInteractions:
    """Validated interactions on Spark, indexed like a likewise `Interactions`.

    Attributes
    ----------
    frame : pyspark DataFrame
        One row per (user, item) pair after merging duplicates: ``uidx`` (int), ``iidx`` (int),
        ``value`` (float), dense indices into `users` and `items`. Persisted; call
        `unpersist` when done.
    users, items : IdMap
        Raw ids <-> dense indices, exactly as a local reader would build them.
    kind : "explicit" or "implicit"
    rating_scale : (low, high) or None
    report : LoadReport
        Rows read, skipped by reason (with examples), duplicates merged, sizes.
    """

    frame: DataFrame
    users: IdMap
    items: IdMap
    kind: Kind
    rating_scale: tuple[float, float] | None
    report: LoadReport

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def nnz(self) -> int:
        return self.report.n_interactions

    def to_interactions(self) -> Interactions:
        """Collect the merged matrix to the driver as likewise `Interactions` (the training CSR
        an exported model keeps for seen-item exclusion, fold-in and explanations)."""
        table = self.frame.select("uidx", "iidx", "value").toArrow()
        rows = np.asarray(table.column("uidx").to_numpy(), dtype=np.int64)
        cols = np.asarray(table.column("iidx").to_numpy(), dtype=np.int64)
        vals = np.asarray(table.column("value").to_numpy(), dtype=np.float32)
        matrix = sp.csr_matrix((vals, (rows, cols)), shape=(self.n_users, self.n_items), dtype=np.float32)
        matrix.sort_indices()
        if matrix.nnz != rows.size:  # the frame is merged: coo -> csr must not sum anything
            raise DataError(f"{self.report.source}: the Spark frame holds duplicate (user, item) pairs")
        return Interactions(
            self.users, self.items, matrix, kind=self.kind, rating_scale=self.rating_scale, report=self.report
        )

    def unpersist(self) -> None:
        self.frame.unpersist()


# --------------------------------------------------------------------------- sources
def _load_source(
    spark: SparkSession,
    source: Any,
    fmt: str | None,
    delimiter: str,
    header: bool,
    columns: list[str],
) -> tuple[DataFrame, str, bool]:
    """(frame, label for messages, whether it is CSV text) for a path, a table name or a DataFrame."""
    if isinstance(source, DataFrame):
        return source, "DataFrame", False
    if not isinstance(source, (str, os.PathLike)):
        raise InvalidParameterError(
            f"source must be a path, a table name or a Spark DataFrame, got {type(source).__name__}"
        )
    text = os.fspath(source)
    is_path = "://" in text or os.path.exists(text)
    if not is_path:
        if fmt is None and spark.catalog.tableExists(text):
            return spark.table(text), text, False
        raise FileNotFoundError(f"no such file, directory or table: {text}")
    fmt = fmt or _format_of(text)
    if fmt == "parquet":
        try:
            return spark.read.parquet(text), text, False
        except Exception as exc:  # AnalysisException and friends, from the JVM
            raise DataError(f"{text}: cannot read as Parquet: {_first_line(exc)}") from exc
    if fmt in ("csv", "tsv"):
        sep = "\t" if fmt == "tsv" and delimiter == "," else delimiter
        return _read_csv(spark, text, sep, header, columns), text, True
    raise InvalidParameterError(f"format must be 'csv', 'tsv' or 'parquet', got {fmt!r}")


def _format_of(path: str) -> str:
    lower = path.lower().rstrip("/")
    if lower.endswith((".csv", ".csv.gz")):
        return "csv"
    if lower.endswith((".tsv", ".tsv.gz", ".tab")):
        return "tsv"
    return "parquet"  # a .parquet file or a dataset directory


def _read_csv(spark: SparkSession, path: str, sep: str, header: bool, columns: list[str]) -> DataFrame:
    """Every field as text, malformed lines (wrong number of fields) kept and flagged."""
    options = {"sep": sep, "header": str(header).lower()}
    try:
        names = spark.read.options(**options).csv(path).columns
    except Exception as exc:
        raise DataError(f"{path}: cannot read as CSV: {_first_line(exc)}") from exc
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{path}: missing column{'s' if len(missing) > 1 else ''} {missing}; columns are {names}")
    schema = T.StructType(
        [T.StructField(n, T.StringType()) for n in names] + [T.StructField("_corrupt_record", T.StringType())]
    )
    return (
        spark.read.options(**options, mode="PERMISSIVE", columnNameOfCorruptRecord="_corrupt_record")
        .schema(schema)
        .csv(path)
    )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# --------------------------------------------------------------------------- validation
def _strip(col: Column) -> Column:
    return F.regexp_replace(col, r"^[ \t]+|[ \t]+$", "")


def _text(name: str) -> Column:
    """A CSV field as the local reader sees it: stripped text, "" for an empty field (Spark
    reads an empty field as null; a row with too few fields is flagged as malformed)."""
    return _strip(F.coalesce(F.col(name), F.lit("")))


class _Checks:
    """Builds the per-row reason column: the first failing check in the local readers' order."""

    def __init__(self) -> None:
        self.cases: list[tuple[Column, str]] = []

    def add(self, condition: Column, reason: str) -> None:
        self.cases.append((F.coalesce(condition, F.lit(False)), reason))

    def column(self) -> Column:
        if not self.cases:
            return F.lit(None).cast("string")
        expr = F.when(self.cases[0][0], F.lit(self.cases[0][1]))
        for condition, reason in self.cases[1:]:
            expr = expr.when(condition, F.lit(reason))
        return expr


def _id_expr(frame: DataFrame, name: str, field: str, text: bool, checks: _Checks) -> Column:
    """The id column as long or string, with its checks added to `checks`."""
    dtype = frame.schema[name].dataType
    col = F.col(name)
    if isinstance(dtype, _INTEGRAL):
        checks.add(col.isNull(), f"{field}: id is missing")
        return col.cast("long")
    if isinstance(dtype, _FRACTIONAL):
        as_double = col.cast("double")
        checks.add(col.isNull() | F.isnan(as_double), f"{field}: id is missing")
        checks.add(as_double != F.floor(as_double), f"{field}: id is not an integer or string")
        checks.add((as_double < -(2.0**63)) | (as_double >= 2.0**63), f"{field}: id is outside the int64 range")
        return as_double.cast("long")
    if isinstance(dtype, T.StringType):
        value = _text(name) if text else col
        if text and _canonical_integers(frame, value):
            checks.add(F.length(value) == 0, f"{field}: id is missing")
            return value.cast("long")
        checks.add(value.isNull(), f"{field}: id is missing")
        checks.add(value.endswith("\x00"), f"{field}: id ends with a NUL character")
        checks.add(F.length(_strip(value)) == 0, f"{field}: id is empty")
        return value
    raise DataError(f"the {field} column {name!r} has type {dtype.simpleString()}; ids must be integers or strings")


def _canonical_integers(frame: DataFrame, value: Column) -> bool:
    """Whether every non-empty value is a canonical int64 integer (the CSV readers' rule)."""
    present = value.isNotNull() & (F.length(value) > 0)
    bad = present & (~value.rlike(_INT_PATTERN) | value.try_cast("long").isNull())
    row = frame.agg(F.sum(present.cast("long")).alias("n"), F.sum(bad.cast("long")).alias("bad")).first()
    return bool(row is not None and (row["n"] or 0) > 0 and (row["bad"] or 0) == 0)


def _value_expr(
    frame: DataFrame,
    name: str | None,
    field: str,
    kind: Kind,
    rating_scale: tuple[float, float] | None,
    checks: _Checks,
) -> Column:
    if name is None:
        return F.lit(1.0)
    dtype = frame.schema[name].dataType
    col = F.col(name)
    if isinstance(dtype, T.StringType):
        text = _text(name)
        number = text.try_cast("double")
        present = col.isNotNull() & (F.length(text) > 0)
        checks.add(present & number.isNull(), f"{field}: is not a number")
    elif isinstance(dtype, (*_INTEGRAL, *_FRACTIONAL, T.BooleanType)):
        number = col.cast("double")
    else:
        raise DataError(f"the {field} column {name!r} has type {dtype.simpleString()}; it must hold numbers")
    checks.add(number.isNull() | F.isnan(number), f"{field}: is missing (NaN)")
    checks.add(F.abs(number) == float("inf"), f"{field}: is infinite")
    checks.add(F.abs(number) > _FLOAT32_MAX, f"{field}: is outside the float32 range")
    if kind == "explicit" and rating_scale is not None:
        low, high = rating_scale
        checks.add((number < low) | (number > high), f"{field}: is outside the rating scale [{low:g}, {high:g}]")
    if kind == "implicit":
        checks.add(number <= 0, f"{field}: must be positive for implicit feedback")
    return number


def _row_labels(frame: DataFrame) -> dict[int, int]:
    """Rows before each partition (to turn monotonically_increasing_id into a row number)."""
    counts = frame.groupBy(F.shiftright(F.col(_POS), _PARTITION_BITS).alias("p")).count().collect()
    offsets, total = {}, 0
    for row in sorted(counts, key=lambda r: r["p"]):
        offsets[int(row["p"])] = total
        total += int(row["count"])
    return offsets


def _label(pos: int, offsets: dict[int, int]) -> int:
    part = pos >> _PARTITION_BITS
    return offsets[part] + (pos - (part << _PARTITION_BITS)) + 1


def _show(value: Any) -> str:
    return repr(value)


# --------------------------------------------------------------------------- the reader
def read_interactions(
    source: Any,
    *,
    spark: SparkSession | None = None,
    user: str = "user",
    item: str = "item",
    rating: str | None = None,
    weight: str | None = None,
    format: str | None = None,
    delimiter: str = ",",
    header: bool = True,
    rating_scale: tuple[float, float] | None = None,
    duplicates: str | None = None,
    on_error: OnError = "raise",
) -> SparkInteractions:
    """Read interactions on Spark from a Parquet/CSV path, a table name or a DataFrame.

    Parameters
    ----------
    source
        A path (``.csv``, ``.tsv``: text; anything else: Parquet file or directory; any URL
        Spark reads, e.g. ``hdfs://``), the name of a table in Spark's catalog, or a DataFrame.
    spark
        The session (default: the active one, else a ``local[2]`` one).
    user, item
        Id columns, of any integer, whole-float or string type.
    rating, weight
        At most one: explicit ratings or implicit weights (none: every row weighs 1).
    format
        "csv", "tsv" or "parquet" when the path's extension does not say.
    delimiter, header
        For CSV text.
    rating_scale, duplicates, on_error
        As in `likewise.read_csv`; ``duplicates`` "first"/"last" follow the input order.

    Returns
    -------
    SparkInteractions

    Raises
    ------
    DataError
        Unreadable input, a missing column, no rows, or (with ``on_error="raise"``) the first
        invalid row, named by its position: ``"ratings.parquet, row 3: rating: is missing (NaN)"``.
    """
    from likewise.distributed.spark._session import get_session

    if on_error not in ("raise", "skip"):
        raise InvalidParameterError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if rating is not None and weight is not None:
        raise InvalidParameterError("give either rating= (explicit) or weight= (implicit), not both")
    kind: Kind = "explicit" if rating is not None else "implicit"
    policy = duplicates or ("error" if kind == "explicit" else "sum")
    if policy not in _POLICIES:
        raise InvalidParameterError(f"duplicates must be one of {', '.join(_POLICIES)}; got {policy!r}")
    if rating_scale is not None:
        low, high = (float(v) for v in rating_scale)
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise InvalidParameterError(f"rating_scale must be (low, high) with low < high, got {rating_scale!r}")
        rating_scale = (low, high)
    spark = spark or get_session()
    value_name = rating if rating is not None else weight
    wanted = [c for c in (user, item, value_name) if c is not None]
    raw, label, text = _load_source(spark, source, format, delimiter, header, wanted)
    missing = [f"{c!r}" for c in wanted if c not in raw.columns]
    if missing:
        raise DataError(f"{label}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                        f"columns are {raw.columns}")  # fmt: skip
    frame = raw.withColumn(_POS, F.monotonically_increasing_id())
    checks = _Checks()
    if text:
        checks.add(F.col("_corrupt_record").isNotNull(), "wrong number of fields")
    uid = _id_expr(frame, user, "user", text, checks)
    iid = _id_expr(frame, item, "item", text, checks)
    field = "rating" if kind == "explicit" else "weight"
    value = _value_expr(frame, value_name, field, kind, rating_scale, checks)
    checked = frame.select(
        uid.alias(_USER), iid.alias(_ITEM), value.alias(_VALUE), F.col(_POS), checks.column().alias(_REASON),
        *[F.col(c).alias(f"__lw_raw_{k}") for k, c in enumerate(wanted)],
    )  # fmt: skip
    report = LoadReport(source=label)
    _resolve_problems(checked, checks, wanted, label, on_error, report)
    good = checked.filter(F.col(_REASON).isNull()).select(_USER, _ITEM, _VALUE, _POS)
    users = _idmap(good, _USER, "user")
    items = _idmap(good, _ITEM, "item")
    if report.rows_read == report.rows_skipped:
        raise DataError(
            f"{label}: no interactions"
            + (f" left after skipping {report.rows_skipped:,} bad rows" if report.rows_skipped else "")
        )
    indexed = good.join(F.broadcast(_index_frame(spark, users, _USER, "uidx")), _USER).join(
        F.broadcast(_index_frame(spark, items, _ITEM, "iidx")), _ITEM
    )
    merged, stats = _merge(indexed, frame, policy, label)
    if kind == "explicit" and rating_scale is None:
        rating_scale = (float(stats["lo"]), float(stats["hi"]))
    report.duplicates_merged = int(stats["rows"]) - int(stats["pairs"])
    report.duplicate_policy = policy
    report.n_users, report.n_items, report.n_interactions = len(users), len(items), int(stats["pairs"])
    return SparkInteractions(merged, users, items, kind, rating_scale, report)


def _resolve_problems(
    checked: DataFrame, checks: _Checks, wanted: list[str], label: str, on_error: OnError, report: LoadReport
) -> None:
    """Count rows by reason; raise on the earliest bad row, or record the skipped ones."""
    counts = {row[_REASON]: int(row["count"]) for row in checked.groupBy(_REASON).count().collect()}
    total = sum(counts.values())
    if total == 0:
        raise DataError(f"{label}: the table has no rows")
    report.rows_read = total
    bad = {reason: n for reason, n in counts.items() if reason is not None}
    if not bad:
        return
    offsets = _row_labels(checked)
    raw_cols = [f"__lw_raw_{k}" for k in range(len(wanted))]

    def describe(row: Any) -> str:
        reason = row[_REASON]
        where = f"{label}, row {_label(int(row[_POS]), offsets)}: {reason}"
        if reason == "wrong number of fields":
            return where
        column = {"user": 0, "item": 1}.get(reason.split(":")[0], 2)
        got = row[raw_cols[column]] if column < len(raw_cols) else None
        if column == 2 and not reason.endswith("is not a number"):
            got = row[_VALUE]  # the parsed number, as the local readers show it
        return where + ("" if got is None or reason.endswith(("missing", "empty")) else f" (got {_show(got)})")

    bad_rows = checked.filter(F.col(_REASON).isNotNull())
    if on_error == "raise":
        first = bad_rows.orderBy(_POS).first()
        assert first is not None
        raise DataError(describe(first))
    order = {reason: k for k, (_, reason) in enumerate(checks.cases)}
    for reason in sorted(bad, key=lambda r: order.get(r, len(order))):
        rows = bad_rows.filter(F.col(_REASON) == reason).orderBy(_POS).limit(LoadReport.MAX_EXAMPLES).collect()
        report.add_skipped(reason, bad[reason], [describe(r) for r in rows])


def _idmap(good: DataFrame, column: str, name: str) -> IdMap:
    table = good.select(column).distinct().toArrow()
    values = table.column(0).to_numpy(zero_copy_only=False)
    if values.dtype.kind == "O":
        values = values.astype(str)
    return IdMap(values, name=name)


def _index_frame(spark: SparkSession, idmap: IdMap, id_column: str, index_column: str) -> DataFrame:
    import pandas as pd

    ids = idmap.ids.astype(object) if idmap.is_str else idmap.ids
    pdf = pd.DataFrame({id_column: ids, index_column: np.arange(len(idmap), dtype=np.int32)})
    dtype = T.StringType() if idmap.is_str else T.LongType()
    schema = T.StructType([T.StructField(id_column, dtype, False), T.StructField(index_column, T.IntegerType(), False)])
    return spark.createDataFrame(pdf, schema=schema)


def _merge(indexed: DataFrame, frame: DataFrame, policy: str, label: str) -> tuple[DataFrame, Any]:
    """One row per (uidx, iidx) by the duplicate policy; (frame, its rows / pairs / min / max)."""
    grouped = indexed.groupBy("uidx", "iidx")
    value = F.col(_VALUE)
    how = {
        "sum": F.sum(value),
        "mean": F.avg(value),
        "first": F.min_by(value, F.col(_POS)),
        "last": F.max_by(value, F.col(_POS)),
        "error": F.first(value),
    }[policy]
    merged = grouped.agg(how.cast("float").alias("value"), F.count("*").alias("n"), F.min(_POS).alias("pos"))
    merged = merged.persist()
    stats = merged.agg(
        F.sum("n").alias("rows"), F.count("*").alias("pairs"), F.min("value").alias("lo"), F.max("value").alias("hi")
    ).first()
    assert stats is not None
    if int(stats["rows"]) > int(stats["pairs"]) and policy == "error":
        pair = merged.filter(F.col("n") > 1).orderBy("pos").first()
        assert pair is not None
        rows = (
            indexed.filter((F.col("uidx") == pair["uidx"]) & (F.col("iidx") == pair["iidx"]))
            .orderBy(_POS).limit(2).select(_POS).collect()
        )  # fmt: skip
        offsets = _row_labels(frame)
        first, second = (_label(int(r[_POS]), offsets) for r in rows)
        merged.unpersist()
        raise DataError(
            f"{label}, rows {first} and {second}: duplicate (user, item) pair; "
            "choose duplicates='last', 'first', 'sum' or 'mean'"
        )
    return merged.select("uidx", "iidx", "value"), stats


def from_interactions(interactions: Interactions, *, spark: SparkSession | None = None) -> SparkInteractions:
    """Local `Interactions` (already validated, e.g. a train split) as `SparkInteractions`
    with the same id maps: how to train on Spark what was split or loaded locally."""
    import pandas as pd

    from likewise.distributed.spark._session import get_session

    spark = spark or get_session()
    coo = interactions.matrix.tocoo()
    pdf = pd.DataFrame(
        {"uidx": coo.row.astype(np.int32), "iidx": coo.col.astype(np.int32), "value": coo.data.astype(np.float32)}
    )
    schema = T.StructType(
        [
            T.StructField("uidx", T.IntegerType(), False),
            T.StructField("iidx", T.IntegerType(), False),
            T.StructField("value", T.FloatType(), False),
        ]
    )
    frame = spark.createDataFrame(pdf, schema=schema).persist()
    report = LoadReport(
        source="Interactions", rows_read=int(coo.nnz), n_users=interactions.n_users,
        n_items=interactions.n_items, n_interactions=int(coo.nnz),
    )  # fmt: skip
    return SparkInteractions(
        frame, interactions.users, interactions.items, interactions.kind, interactions.rating_scale, report
    )
