"""Issue 17 "Every reader fuzzed": a standing fuzz suite for read_csv, read_parquet, from_frame
and read_ml100k.

Properties, for every generated input:

* only DataError escapes (or the read succeeds): never another exception type;
* with ``on_error="skip"`` the report adds up:
  ``rows_read - rows_skipped - duplicates_merged == n_interactions == matrix.nnz``;
* a valid generated CSV round-trips exactly (ids, their type, and values).

Deterministic and bounded: ``derandomize=True`` and no example database, small inputs, and a
small ``max_examples`` for the default run; the ``*_long`` twins (marker ``slow``, run with
``-m slow``) explore many more examples. Breaks found here are pinned in
test_regressions_issue17.py.

Budget: the environment variable ``LIKEWISE_FUZZ_EXAMPLES=N`` sets ``max_examples`` of every
fuzz test (the default run and the ``*_long`` twins alike), e.g. for a run of >= 10,000 cases::

    LIKEWISE_FUZZ_EXAMPLES=1000 PYTHONPATH=src python -m pytest tests/data/test_fuzz_readers.py -q

Unset, the default run keeps 80 examples per test (CI stays fast) and the twins 1500.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.data import Interactions, read_csv, read_parquet
from likewise.data.movielens import read_ml100k
from likewise.exceptions import DataError

_BUDGET = os.environ.get("LIKEWISE_FUZZ_EXAMPLES")
FAST = settings(
    max_examples=int(_BUDGET) if _BUDGET else 80,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LONG = settings(FAST, max_examples=int(_BUDGET) if _BUDGET else 1500)
_INT = re.compile(r"^(?:0|-?[1-9][0-9]*)$")


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="likewise-fuzz-") as folder:
        yield Path(folder)


def consistent(data: Interactions) -> None:
    report = data.report
    assert report.rows_read - report.rows_skipped - report.duplicates_merged == report.n_interactions
    assert report.n_interactions == data.matrix.nnz
    assert (report.n_users, report.n_items) == data.matrix.shape


def only_data_errors(read: Callable[..., Interactions], **kwargs: Any) -> None:
    """Read with on_error="raise" and "skip": a DataError or a consistent result, nothing else."""
    for on_error in ("raise", "skip"):
        try:
            data = read(on_error=on_error, **kwargs)
        except DataError:
            continue
        consistent(data)


# --------------------------------------------------------------------------- valid CSVs
_id_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Z"), blacklist_characters="\ufeff"), min_size=1, max_size=8
)
_raw_id = st.one_of(_id_text, st.integers(-(2**64), 2**64).map(str), st.sampled_from(["007", "-0", "1,2", 'a"b']))
_rating = st.floats(-1e6, 1e6, width=32, allow_nan=False)


@st.composite
def valid_rows(draw: st.DrawFn) -> list[tuple[str, str, float]]:
    pairs = draw(st.lists(st.tuples(_raw_id, _raw_id), min_size=1, max_size=12, unique=True))
    return [(user, item, draw(_rating)) for user, item in pairs]


def csv_text(rows: list[tuple[str, str, float]], delimiter: str = ",") -> str:
    if len(delimiter) > 1:  # csv cannot write it; such files hold no quotes (see read_csv)
        lines = [delimiter.join(["user", "item", "rating"])]
        lines += [delimiter.join([u, i, repr(float(r))]) for u, i, r in rows]
        return "\n".join(lines) + "\n"
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["user", "item", "rating"])
    writer.writerows((u, i, repr(float(r))) for u, i, r in rows)
    return out.getvalue()


def expected_ids(texts: list[str]) -> list[object]:
    """The CSV rule: a column of canonical int64 integers becomes int, any other stays text."""
    if all(_INT.match(t) and -(2**63) <= int(t) < 2**63 for t in texts):
        return [int(t) for t in texts]
    return list(texts)


def check_round_trip(rows: list[tuple[str, str, float]], delimiter: str) -> None:
    if len(delimiter) > 1:
        rows = [row for row in rows if not any(c in row[0] + row[1] for c in delimiter + '"')] or [("u", "i", 1.0)]
    text = csv_text(rows, delimiter)
    with scratch() as folder:
        path = folder / "r.csv"
        path.write_bytes(text.encode("utf-8"))
        data = read_csv(path, rating="rating", delimiter=delimiter)
    users = expected_ids([u for u, _, _ in rows])
    items = expected_ids([i for _, i, _ in rows])
    want = sorted(zip(users, items, (float(np.float32(r)) for _, _, r in rows), strict=True), key=repr)
    frame = data.to_frame()
    got = sorted(zip(frame["user"].tolist(), frame["item"].tolist(), frame["rating"].tolist(), strict=True), key=repr)
    assert got == want
    assert [type(v) for v, _, _ in got] == [type(v) for v, _, _ in want]
    consistent(data)


@FAST
@given(valid_rows(), st.sampled_from([",", "\t", ";", "::"]))
def test_valid_csv_round_trips(rows: list[tuple[str, str, float]], delimiter: str) -> None:
    check_round_trip(rows, delimiter)


@pytest.mark.slow
@LONG
@given(valid_rows(), st.sampled_from([",", "\t", ";", "::"]))
def test_valid_csv_round_trips_long(rows: list[tuple[str, str, float]], delimiter: str) -> None:
    check_round_trip(rows, delimiter)


# --------------------------------------------------------------------------- random bytes and mutated CSVs
_INSERTS = [b",", b'"', b"\n", b"\r", b"\r\n", b"\x00", b"\xe9", b"\xef\xbb\xbf", b"#", b" ", b"\t"]
_FIELDS = [b"", b"nan", b"inf", b"-inf", b"1e400", b"99999999999999999999999", b"-9223372036854775809", b'"x', b"\x00"]

_mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(0)),
    st.tuples(st.just("delete"), st.floats(0, 1), st.just(0)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.integers(0, len(_INSERTS) - 1)),
    st.tuples(st.just("field"), st.floats(0, 1), st.integers(0, len(_FIELDS) - 1)),
)


def mutate(buf: bytes, mutations: list[tuple[str, float, int]]) -> bytes:
    out = bytearray(buf)
    for kind, where, arg in mutations:
        pos = min(int(where * len(out)), max(len(out) - 1, 0))
        if kind == "flip" and out:
            out[pos] = arg
        elif kind == "truncate":
            del out[pos:]
        elif kind == "delete" and out:
            del out[pos]
        elif kind == "insert":
            out[pos:pos] = _INSERTS[arg]
        elif kind == "field":  # replace one whole field by an odd value
            spans = [m.span() for m in re.finditer(rb"[^,\n]+", bytes(out))]
            if spans:
                lo, hi = spans[min(int(where * len(spans)), len(spans) - 1)]
                out[lo:hi] = _FIELDS[arg]
    return bytes(out)


def check_csv_bytes(buf: bytes, quoting: bool) -> None:
    with scratch() as folder:
        path = folder / "m.csv"
        path.write_bytes(buf)
        quote = '"' if quoting else None
        only_data_errors(read_csv, path=path, rating="rating", quote_char=quote)
        only_data_errors(read_csv, path=path, rating="rating", duplicates="sum", quote_char=quote, comment="#")
        only_data_errors(read_csv, path=path, weight="rating", timestamp="item", quote_char=quote)


@FAST
@given(st.binary(max_size=200))
def test_random_bytes_only_data_errors(buf: bytes) -> None:
    check_csv_bytes(buf, quoting=True)


@FAST
@given(valid_rows(), st.lists(_mutation, min_size=1, max_size=4), st.booleans())
def test_mutated_csv_only_data_errors(rows: list[tuple[str, str, float]], mutations: Any, quoting: bool) -> None:
    check_csv_bytes(mutate(csv_text(rows).encode("utf-8"), mutations), quoting)


@pytest.mark.slow
@LONG
@given(st.binary(max_size=2000))
def test_random_bytes_only_data_errors_long(buf: bytes) -> None:
    check_csv_bytes(buf, quoting=True)


@pytest.mark.slow
@LONG
@given(valid_rows(), st.lists(_mutation, min_size=1, max_size=8), st.booleans())
def test_mutated_csv_only_data_errors_long(rows: list[tuple[str, str, float]], mutations: Any, quoting: bool) -> None:
    check_csv_bytes(mutate(csv_text(rows).encode("utf-8"), mutations), quoting)


# --------------------------------------------------------------------------- odd DataFrames
_odd_value = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(0, 5),
    st.text(max_size=3),
    st.sampled_from(["\x00", "u\x00", " ", "1", "nan", "", "inf"]),
    st.none(),
    st.just(float("nan")),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from([np.int64(3), np.uint64(2**63 + 1), np.float32(2.5), pd.NA, pd.NaT, b"x", (1,), 1j]),
)


@st.composite
def odd_frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 6))
    columns = {}
    for name in ("user", "item", "rating", "timestamp"):
        values = draw(st.lists(_odd_value, min_size=n, max_size=n))
        how = draw(st.sampled_from(["object", "infer"]))
        try:
            columns[name] = pd.Series(values, dtype=object if how == "object" else None)
        except (TypeError, ValueError, OverflowError):  # pandas refuses to infer: keep objects
            columns[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns)


def check_frame(frame: pd.DataFrame) -> None:
    only_data_errors(Interactions.from_frame, frame=frame, rating="rating", duplicates="mean")
    only_data_errors(Interactions.from_frame, frame=frame, weight="rating", timestamp="timestamp")
    only_data_errors(Interactions.from_frame, frame=frame)


@FAST
@given(odd_frames())
def test_odd_frames_only_data_errors(frame: pd.DataFrame) -> None:
    check_frame(frame)


@pytest.mark.slow
@LONG
@given(odd_frames())
def test_odd_frames_only_data_errors_long(frame: pd.DataFrame) -> None:
    check_frame(frame)


# --------------------------------------------------------------------------- garbled Parquet
_byte_edit = st.tuples(st.floats(0, 1), st.integers(0, 255))


def parquet_bytes(rows: list[tuple[str, str, float]], int_ids: bool) -> bytes:
    users = [len(u) for u, _, _ in rows] if int_ids else [u for u, _, _ in rows]
    table = pa.table({"user": users, "item": [i for _, i, _ in rows], "rating": [r for _, _, r in rows]})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def check_parquet(buf: bytes, edits: list[tuple[float, int]], cut: float | None) -> None:
    out = bytearray(buf)
    for where, byte in edits:
        out[min(int(where * len(out)), len(out) - 1)] = byte
    if cut is not None:
        del out[int(cut * len(out)) :]
    with scratch() as folder:
        path = folder / "g.parquet"
        path.write_bytes(bytes(out))
        only_data_errors(read_parquet, path=path, rating="rating", duplicates="last")
        only_data_errors(read_parquet, path=path, weight="rating")


@FAST
@given(valid_rows(), st.booleans(), st.lists(_byte_edit, max_size=4), st.none() | st.floats(0, 1))
def test_garbled_parquet_only_data_errors(
    rows: list[tuple[str, str, float]], int_ids: bool, edits: list[tuple[float, int]], cut: float | None
) -> None:
    check_parquet(parquet_bytes(rows, int_ids), edits, cut)


def test_parquet_footer_byte_by_byte_only_data_errors() -> None:
    """Every byte of a small file's footer set to 0xE9, one at a time (issue 17's break 2)."""
    buf = parquet_bytes([("a", "x", 1.0), ("b", "y", 2.0)], int_ids=False)
    footer = int.from_bytes(buf[-8:-4], "little")
    for pos in range(len(buf) - 8 - footer, len(buf)):
        check_parquet(buf, [(pos / len(buf) + 1e-9, 0xE9)], None)


@pytest.mark.slow
@LONG
@given(valid_rows(), st.booleans(), st.lists(_byte_edit, max_size=12), st.none() | st.floats(0, 1))
def test_garbled_parquet_only_data_errors_long(
    rows: list[tuple[str, str, float]], int_ids: bool, edits: list[tuple[float, int]], cut: float | None
) -> None:
    check_parquet(parquet_bytes(rows, int_ids), edits, cut)


# --------------------------------------------------------------------------- mutated MovieLens-100K folders
ML100K_FILES = {  # a tiny synthetic folder in the ml-100k layout (no real data)
    "u.data": b"1\t10\t4\t881250949\n1\t20\t3\t881250950\n2\t10\t5\t881250951\n",
    "u.genre": b"unknown|0\nAction|1\nComedy|2\n\n",
    "u.item": (
        b"10|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n"
        b"20|Caf\xe9 (1996)|05-Feb-1996||http://y|0|1|1\n"
        b"30|Cold (1997)|||http://z|1|0|0\n"
    ),
    "u.user": b"1|24|M|technician|85711\n2|53|F|other|94043\n3|17|F|student|55555\n",
}
_ML_INSERTS = [b"|", b"\t", b"\n", b"\x00", b"-1", b"x", b"99999999999999999999", b"nan", b""]
_ml_mutation = st.tuples(
    st.sampled_from(sorted(ML100K_FILES)),
    st.sampled_from(["flip", "truncate", "insert", "delete"]),
    st.floats(0, 1),
    st.integers(0, 255),
)


def check_ml100k(mutations: list[tuple[str, str, float, int]]) -> None:
    files = {name: bytearray(text) for name, text in ML100K_FILES.items()}
    for name, kind, where, arg in mutations:
        out = files[name]
        pos = min(int(where * len(out)), max(len(out) - 1, 0))
        if kind == "flip" and out:
            out[pos] = arg
        elif kind == "truncate":
            del out[pos:]
        elif kind == "delete" and out:
            del out[pos]
        elif kind == "insert":
            out[pos:pos] = _ML_INSERTS[arg % len(_ML_INSERTS)]
    with scratch() as folder:
        for name, text in files.items():
            (folder / name).write_bytes(bytes(text))
        only_data_errors(read_ml100k, folder=folder)


@FAST
@given(st.lists(_ml_mutation, min_size=1, max_size=4))
def test_mutated_ml100k_only_data_errors(mutations: list[tuple[str, str, float, int]]) -> None:
    check_ml100k(mutations)


@pytest.mark.slow
@LONG
@given(st.lists(_ml_mutation, min_size=1, max_size=10))
def test_mutated_ml100k_only_data_errors_long(mutations: list[tuple[str, str, float, int]]) -> None:
    check_ml100k(mutations)


# --------------------------------------------------------------------------- Interactions.from_arrays
@FAST
@given(st.lists(st.tuples(_odd_value, _odd_value, _odd_value, _odd_value), min_size=1, max_size=6))
def test_odd_arrays_only_data_errors(rows: list[tuple[Any, Any, Any, Any]]) -> None:
    columns = [np.array([row[k] for row in rows], dtype=object) for k in range(4)]
    only_data_errors(Interactions.from_arrays, user_ids=columns[0], item_ids=columns[1])
    only_data_errors(
        Interactions.from_arrays, user_ids=columns[0], item_ids=columns[1], values=columns[2], timestamps=columns[3]
    )
    only_data_errors(
        Interactions.from_arrays, user_ids=columns[0], item_ids=columns[1], values=columns[2], kind="implicit"
    )


# --------------------------------------------------------------------------- CSV/TSV with options
@FAST
@given(
    valid_rows(),
    st.lists(_mutation, max_size=3),
    st.sampled_from([",", "\t"]),
    st.booleans(),
    st.sampled_from(["rating", "weight"]),
    st.booleans(),
)
def test_csv_options_only_data_errors(
    rows: list[tuple[str, str, float]], mutations: Any, delimiter: str, header: bool, value: str, stamp: bool
) -> None:
    text = csv_text(rows, delimiter)
    if stamp:  # a fourth column of timestamps
        lines = text.splitlines()
        text = "\n".join([lines[0] + delimiter + "ts"] + [f"{line}{delimiter}{n}" for n, line in enumerate(lines[1:])])
    if not header:
        text = text.split("\n", 1)[1]
    names = ["user", "item", "rating", "ts"][: 4 if stamp else 3]
    with scratch() as folder:
        path = folder / "o.tsv"
        path.write_bytes(mutate(text.encode("utf-8"), mutations))
        kwargs: dict[str, Any] = {value: "rating", "delimiter": delimiter, "header": header}
        if not header:
            kwargs["names"] = names
        if stamp:
            kwargs["timestamp"] = "ts"
        for on_error in ("raise", "skip"):
            try:
                data = read_csv(path, on_error=on_error, **kwargs)
            except DataError as err:
                assert str(path) in str(err)
                continue
            consistent(data)


# --------------------------------------------------------------------------- other folder formats
FOLDERS: dict[str, dict[str, bytes]] = {  # tiny synthetic folders (no real data)
    "ml-1m": {
        "ratings.dat": b"1::10::4::978300760\n1::20::3::978300761\n2::10::5::978300762\n",
        "movies.dat": b"10::Toy Story (1995)::Animation|Comedy\n20::Caf\xe9 (1996)::(no genres listed)\n",
        "users.dat": b"1::F::1::10::48067\n2::M::56::16::70072\n",
    },
    "ml-latest": {
        "ratings.csv": b"userId,movieId,rating,timestamp\n1,10,4.5,964982703\n1,20,3.0,964981247\n2,10,0.5,964982224\n",
        "movies.csv": b'movieId,title,genres\n10,"Toy Story, The (1995)",Animation|Comedy\n20,Heat (1995),Action\n',
        "links.csv": b"movieId,imdbId,tmdbId\n10,0114709,862\n20,0113277,\n",
        "tags.csv": b"userId,movieId,tag,timestamp\n1,10,funny,1445714994\n2,20, dark ,1445714996\n",
    },
    "lastfm-hetrec": {
        "user_artists.dat": b"userID\tartistID\tweight\r\n2\t51\t13883\r\n2\t52\t11690\r\n3\t51\t7\r\n",
        "artists.dat": b"id\tname\turl\tpictureURL\n51\tDuran Duran\thttp://a\thttp://b\n52\tMorcheeba\thttp://c\t\n",
        "tags.dat": b"tagID\ttagValue\n1\tmetal\n2\tn\xe9o\n",
        "user_taggedartists.dat": (
            b"userID\tartistID\ttagID\tday\tmonth\tyear\n2\t51\t1\t1\t4\t2009\n3\t52\t2\t1\t4\t2009\n"
        ),
    },
}
_FOLDER_INSERTS = [
    b"::",
    b":",
    b",",
    b"\t",
    b"\n",
    b"\r\n",
    b'"',
    b"\x00",
    b"-1",
    b"x",
    b"99999999999999999999",
    b"nan",
    b"|",
]
_folder_mutation = st.tuples(
    st.integers(0, 3), st.sampled_from(["flip", "truncate", "insert", "delete"]), st.floats(0, 1), st.integers(0, 255)
)


def check_folder(fmt: str, mutations: list[tuple[int, str, float, int]]) -> None:
    from likewise.data.movielens import FORMATS

    files = {name: bytearray(text) for name, text in FOLDERS[fmt].items()}
    names = sorted(files)
    for which, kind, where, arg in mutations:
        out = files[names[which % len(names)]]
        pos = min(int(where * len(out)), max(len(out) - 1, 0))
        if kind == "flip" and out:
            out[pos] = arg
        elif kind == "truncate":
            del out[pos:]
        elif kind == "delete" and out:
            del out[pos]
        elif kind == "insert":
            out[pos:pos] = _FOLDER_INSERTS[arg % len(_FOLDER_INSERTS)]
    with scratch() as folder:
        for name, text in files.items():
            (folder / name).write_bytes(bytes(text))
        for on_error in ("raise", "skip"):
            try:
                data = FORMATS[fmt](folder, on_error=on_error)
            except DataError as err:
                assert str(folder) in str(err), err
                continue
            consistent(data)


@pytest.mark.parametrize("fmt", sorted(FOLDERS))
def test_synthetic_folders_read(fmt: str) -> None:
    check_folder(fmt, [])


@FAST
@given(st.sampled_from(sorted(FOLDERS)), st.lists(_folder_mutation, min_size=1, max_size=4))
def test_mutated_folders_only_data_errors(fmt: str, mutations: list[tuple[int, str, float, int]]) -> None:
    check_folder(fmt, mutations)
