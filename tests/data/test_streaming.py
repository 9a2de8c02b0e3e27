"""Streaming ingestion (issue 15): a file read in blocks, or a log in several files, gives what
one piece gives - the same Interactions, the same report, the same first error and line.

Every test of test_readers.py is collected again here with blocks of a few bytes (CSV) and
batches of two rows (Parquet), so each of its fixtures (errors, quotes, line endings, BOMs,
comments, duplicates) is also read across many block borders.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.data import _build, _csv, read_csv, read_parquet, readers
from likewise.exceptions import DataError
from tests.data.test_readers import *  # noqa: F403 - every reader test again, with tiny blocks
from tests.data.test_readers import triples, write

HYPO = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def tiny_blocks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    big = any(word in request.node.name for word in ("real", "100k"))  # real files: 64 KB blocks
    monkeypatch.setattr(readers, "BLOCK_SIZE", 1 << 16 if big else 7)
    monkeypatch.setattr(readers, "BATCH_ROWS", 1 << 12 if big else 2)


def one_piece(monkeypatch: pytest.MonkeyPatch, read, *args, **kwargs):
    """The result (or the DataError message) of a read with blocks larger than any file here."""
    with monkeypatch.context() as mp:
        mp.setattr(readers, "BLOCK_SIZE", 1 << 30)
        mp.setattr(readers, "BATCH_ROWS", 1 << 30)
        return outcome(read, *args, **kwargs)


def outcome(read, *args, **kwargs):
    """What a read gave, as plain values. The one documented difference (docs/data.md, "Reading
    in blocks") is folded away: an empty id in a block of integer ids is "missing" even when a
    later block turns the column to text, where one piece calls it "empty" (same line, same row
    dropped, only the reason's word differs)."""
    try:
        data = read(*args, **kwargs)
    except DataError as exc:
        return "error", str(exc).replace("id is missing", "id is empty")
    skipped: dict[str, int] = {}
    for reason, count in data.report.skipped.items():
        reason = reason.replace("id is missing", "id is empty")
        skipped[reason] = skipped.get(reason, 0) + count
    return "ok", (
        data.users.ids.tolist(),
        data.items.ids.tolist(),
        data.matrix.indptr.tolist(),
        data.matrix.indices.tolist(),
        data.matrix.data.tolist(),
        None if data.timestamps is None else data.timestamps.tolist(),
        # the first few skipped rows are examples in file order when streaming (in one piece:
        # malformed lines first, then by reason), so only how many there are must agree
        {**data.report.to_dict(), "examples": len(data.report.examples), "skipped": sorted(skipped.items())},
    )


_ROW = st.one_of(
    st.tuples(st.sampled_from(["1", "2", "3", "x", "007", ""]), st.sampled_from(["10", "20", "30"])).map(
        lambda t: f"{t[0]},{t[1]},{{rating}},{{ts}}"
    ),
    st.sampled_from(["", "  ", "# a comment, with a comma", "1,10", "1,10,4,5,6", "1,10,abc,5", "2,20,9,5"]),
)


@HYPO
@given(
    rows=st.lists(st.tuples(_ROW, st.sampled_from(["1", "2.5", "5"]), st.integers(0, 3)), min_size=1, max_size=30),
    block=st.integers(1, 40),
    crlf=st.booleans(),
    on_error=st.sampled_from(["raise", "skip"]),
    duplicates=st.sampled_from(["last", "first", "sum", "mean", "error"]),
)
def test_blocks_of_any_size_read_like_one_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows, block, crlf, on_error, duplicates
) -> None:
    newline = "\r\n" if crlf else "\n"
    lines = [template.format(rating=rating, ts=ts) for template, rating, ts in rows]
    path = write(tmp_path, "s.csv", newline.join(["user,item,rating,ts", *lines]) + newline)
    options = {
        "rating": "rating",
        "timestamp": "ts",
        "rating_scale": (1, 5),
        "comment": "#",
        "on_error": on_error,
        "duplicates": duplicates,
    }
    expected = one_piece(monkeypatch, read_csv, path, **options)
    monkeypatch.setattr(readers, "BLOCK_SIZE", block)
    assert outcome(read_csv, path, **options) == expected


def test_an_error_at_a_block_border_names_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = "".join(f"{u},{u + 1},4\n" for u in range(1, 40))
    path = write(tmp_path, "b.csv", "user,item,rating\n" + body + "41,42,oops\n" + body)
    first_block = len(b"user,item,rating\n") + len(body.encode())
    monkeypatch.setattr(readers, "BLOCK_SIZE", first_block)  # the bad line starts the second block
    with pytest.raises(DataError, match=re.escape(f"{path}, line 41: rating: is not a number (got 'oops')")):
        read_csv(path, rating="rating")
    skipped = read_csv(path, rating="rating", on_error="skip", duplicates="last")
    assert skipped.report.rows_read == 79 and skipped.report.rows_skipped == 1
    assert skipped.report.duplicates_merged == 39
    assert any("line 41" in example for example in skipped.report.examples)


def test_duplicates_across_blocks_name_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "user,item,rating\n1,10,4\n2,20,3\n3,30,2\n1,10,5\n")
    with pytest.raises(DataError, match=re.escape(f"{path}, lines 2 and 5: duplicate (user, item) pair")):
        read_csv(path, rating="rating")
    assert triples(read_csv(path, rating="rating", duplicates="last")) == [(1, 10, 5.0), (2, 20, 3.0), (3, 30, 2.0)]
    assert triples(read_csv(path, rating="rating", duplicates="first"))[0] == (1, 10, 4.0)


def test_an_id_column_turning_to_text_in_a_later_block_is_text_throughout(tmp_path: Path) -> None:
    # One piece: "abc" makes the whole column text, so 1 and 2 are the ids "1" and "2".
    path = write(tmp_path, "m.csv", "user,item\n1,10\n2,10\n1,20\nabc,10\n")
    data = read_csv(path)
    assert data.users.ids.tolist() == ["1", "2", "abc"] and data.items.ids.tolist() == [10, 20]
    assert triples(data) == [("1", 10, 1.0), ("1", 20, 1.0), ("2", 10, 1.0), ("abc", 10, 1.0)]


def test_quotes_spanning_lines_fall_back_to_one_piece(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", 'user,item,note\n1,10,"a\nlong, note"\n2,20,x\n3,30,"y\n')
    data = read_csv(path, on_error="skip")
    assert triples(data) == [(1, 10, 1.0), (2, 20, 1.0)]
    assert data.report.rows_skipped == 1
    with pytest.raises(DataError, match=re.escape(f"{path}, line 5: unterminated quote")):
        read_csv(path)


def test_several_csv_files_are_one_log(tmp_path: Path) -> None:
    first = write(tmp_path, "a.csv", "user,item,rating\n1,10,4\n2,20,3\n")
    second = write(tmp_path, "b.csv", "item,user,rating\n30,1,5\n20,2,2\n")  # own header, own column order
    whole = write(tmp_path, "all.csv", "user,item,rating\n1,10,4\n2,20,3\n1,30,5\n2,20,2\n")
    data = read_csv([first, second], rating="rating", duplicates="last")
    assert triples(data) == triples(read_csv(whole, rating="rating", duplicates="last"))
    assert data.report.source == f"{first}, {second}" and data.report.rows_read == 4
    with pytest.raises(DataError, match=re.escape(f"{first}, line 3 and {second}, line 3: duplicate")):
        read_csv([first, second], rating="rating")
    bad = write(tmp_path, "c.csv", "user,item,rating\n1,10,4\n1,11,x\n")
    with pytest.raises(DataError, match=re.escape(f"{bad}, line 3: rating: is not a number")):
        read_csv([first, bad], rating="rating")


def test_parquet_parts_files_and_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    pq.write_table(pa.table({"user": [1, 1, 3], "item": [5, 6, 5], "plays": [3, 1, 1]}), folder / "part-0.parquet")
    pq.write_table(pa.table({"user": [2, 1, 2], "item": [5, 5, 7], "plays": [2, 4, 0]}), folder / "part-1.parquet")
    expected = one_piece(monkeypatch, read_parquet, folder, weight="plays", on_error="skip")
    assert outcome(read_parquet, folder, weight="plays", on_error="skip") == expected
    data = read_parquet(folder, weight="plays", on_error="skip")
    assert triples(data) == [(1, 5, 7.0), (1, 6, 1.0), (2, 5, 2.0), (3, 5, 1.0)]
    # rows are counted across the dataset's parts, as one table: the bad weight is row 6
    with pytest.raises(DataError, match=re.escape(f"{folder}, row 6: weight: must be positive")):
        read_parquet(folder, weight="plays")
    files = sorted(folder.iterdir())
    with pytest.raises(DataError, match=re.escape(f"{files[1]}, row 3: weight: must be positive")):
        read_parquet(files, weight="plays")
    assert triples(read_parquet(files, weight="plays", on_error="skip")) == triples(data)


def test_parquet_string_and_int_parts_are_refused(tmp_path: Path) -> None:
    pq.write_table(pa.table({"user": [1, 2], "item": [5, 6]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"user": ["x", "y"], "item": [5, 6]}), tmp_path / "b.parquet")
    with pytest.raises(DataError, match="user ids mix integers and strings across the input's parts"):
        read_parquet([tmp_path / "a.parquet", tmp_path / "b.parquet"])


def test_streamed_csr_switches_to_int64_indptr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # scipy narrows index arrays whose values fit in int32, so the built arrays are checked.
    path = write(tmp_path, "i.csv", "user,item\n" + "".join(f"{u},{i}\n" for u in range(4) for i in range(3)))
    built = []
    wrap = readers.interactions_from_built
    monkeypatch.setattr(readers, "interactions_from_built", lambda b: built.append(b) or wrap(b))
    small = read_csv(path)
    monkeypatch.setattr(_build, "INDPTR_INT32_MAX", 11)  # 12 interactions > 11
    big = read_csv(path)
    assert built[0].indptr.dtype == np.int32 and built[1].indptr.dtype == np.int64
    assert built[1].indptr.tolist() == built[0].indptr.tolist() == [0, 3, 6, 9, 12]
    assert big.matrix.indices.tolist() == small.matrix.indices.tolist() == [0, 1, 2] * 4


def test_blocks_end_only_after_a_line_feed() -> None:
    assert _csv._count_lines(b"a\r\nb\rc\n") == 3


@given(
    content=st.lists(st.sampled_from([b"a", b",", b" ", b"\n", b"\r", b"\r\n", b"\t"]), max_size=60).map(b"".join),
    block=st.integers(1, 12),
)
@HYPO
def test_blocks_cover_the_file_and_cut_after_line_feeds(tmp_path_factory, content: bytes, block: int) -> None:
    path = tmp_path_factory.mktemp("blocks") / "f.csv"
    path.write_bytes(content)
    blocks = list(_csv._blocks(path, block))
    assert b"".join(blocks) == content
    assert all(part.endswith(b"\n") for part in blocks[:-1])
    assert all(part for part in blocks)
    if len(blocks) > 1:  # the first block holds something other than blank lines
        assert not blocks[0].isspace()
