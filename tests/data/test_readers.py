"""read_csv / read_parquet: exact values, physical line numbers in errors, skip counts."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.data import Interactions, read_csv, read_parquet
from likewise.exceptions import DataError, InvalidParameterError
from tests._paths import SHARED_DATA

HYPO = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
ML100K = SHARED_DATA / "ml-100k"
ML_LATEST = SHARED_DATA / "ml-latest-small"


def write(folder: Path, name: str, content: str | bytes) -> Path:
    """Write bytes exactly as given (no newline translation)."""
    path = folder / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def triples(data: Interactions) -> list[tuple[object, object, float]]:
    frame = data.to_frame()
    value = "rating" if data.kind == "explicit" else "weight"
    return sorted(zip(frame["user"].tolist(), frame["item"].tolist(), frame[value].tolist(), strict=True))


def where(path: Path, line: int) -> str:
    return re.escape(f"{path}, line {line}: ")


# --------------------------------------------------------------------------- good input
def test_basic_csv_exact_matrix(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "user,item,rating,timestamp\n1,10,4,100\n1,20,3.5,101\n2,10,5,102\n")
    data = read_csv(path, rating="rating", timestamp="timestamp")
    assert data.kind == "explicit"
    assert data.users.ids.tolist() == [1, 2] and data.users.ids.dtype == np.int64
    assert data.items.ids.tolist() == [10, 20] and data.items.ids.dtype == np.int64
    assert data.matrix.toarray().tolist() == [[4.0, 3.5], [5.0, 0.0]]
    assert data.timestamps.tolist() == [100, 101, 102]
    assert data.rating_scale == (3.5, 5.0)
    assert data.report.rows_read == 3 and data.report.rows_skipped == 0
    assert data.report.source == str(path)


def test_implicit_weights_and_plain_pairs(tmp_path: Path) -> None:
    path = write(tmp_path, "w.csv", "user,item,plays\na,x,3\na,x,2\nb,y,7\n")
    data = read_csv(path, weight="plays")
    assert data.kind == "implicit"
    assert triples(data) == [("a", "x", 5.0), ("b", "y", 7.0)]  # implicit duplicates are summed
    assert data.report.duplicates_merged == 1
    plain = read_csv(path)
    assert triples(plain) == [("a", "x", 2.0), ("b", "y", 1.0)]


def test_string_ids_are_never_coerced(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "user,item,rating\n001,1,4\n1,01,3\n-0,7,2\n")
    data = read_csv(path, rating="rating")
    # "001", "1" and "-0" are not all canonical integers: the column stays text, ids stay distinct
    assert data.users.is_str and data.users.ids.tolist() == ["-0", "001", "1"]
    assert data.items.is_str and data.items.ids.tolist() == ["01", "1", "7"]


def test_canonical_integers_become_int64_including_negatives_and_int64_max(tmp_path: Path) -> None:
    path = write(tmp_path, "i.csv", "user,item\n-5,9223372036854775807\n0,3\n")
    data = read_csv(path)
    assert data.users.ids.tolist() == [-5, 0] and not data.users.is_str
    assert data.items.ids.tolist() == [3, 9223372036854775807]
    too_big = write(tmp_path, "big.csv", "user,item\n1,9223372036854775808\n2,3\n")
    assert read_csv(too_big).items.ids.tolist() == ["3", "9223372036854775808"]  # kept as text


def test_mixed_id_column_stays_text(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "user,item\n1,a\n2,7\n")
    assert read_csv(path).items.ids.tolist() == ["7", "a"]


def test_fields_are_stripped(tmp_path: Path) -> None:
    path = write(tmp_path, "sp.csv", "user , item , rating\n 1 , 10 ,\t4 \n")
    data = read_csv(path, rating="rating")
    assert triples(data) == [(1, 10, 4.0)]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings_and_line_numbers(tmp_path: Path, newline: str) -> None:
    lines = ["user,item,rating", "1,10,4", "", "2,20,5", "3,30,abc"]
    path = write(tmp_path, "e.csv", newline.join(lines) + newline)
    with pytest.raises(DataError, match=where(path, 5) + re.escape("rating: is not a number (got 'abc')")):
        read_csv(path, rating="rating")
    data = read_csv(path, rating="rating", on_error="skip")
    assert triples(data) == [(1, 10, 4.0), (2, 20, 5.0)]
    assert data.report.skipped == {"rating: is not a number": 1}
    assert data.report.examples == [f"{path}, line 5: rating: is not a number (got 'abc')"]


def test_blank_whitespace_and_comment_lines_count_as_lines(tmp_path: Path) -> None:
    text = "# a comment before the header\r\n\r\nuser,item,rating\r\n   \r\n# another\r\n1,10,4\r\n\t\r\n2,20,nan\r\n"
    path = write(tmp_path, "c.csv", text)
    with pytest.raises(DataError, match=where(path, 8) + "rating: is missing"):
        read_csv(path, rating="rating", comment="#")
    data = read_csv(path, rating="rating", comment="#", on_error="skip")
    assert triples(data) == [(1, 10, 4.0)]
    # without comment= the first comment line is the header and the data lines no longer match it
    with pytest.raises(DataError, match="missing column"):
        read_csv(path, rating="rating")


def test_multi_character_comment_prefix(tmp_path: Path) -> None:
    path = write(tmp_path, "c2.csv", "user,item\n//note\n1,2\n/3,4\n")
    data = read_csv(path, comment="//")
    assert triples(data) == [("/3", 4, 1.0), ("1", 2, 1.0)]


def test_quoted_fields(tmp_path: Path) -> None:
    text = 'user,item,rating\n1,"Toy Story, The (1995)",4\n2,"say ""hi""",3\n"3",plain,5\n'
    path = write(tmp_path, "q.csv", text)
    data = read_csv(path, rating="rating")
    assert triples(data) == [(1, "Toy Story, The (1995)", 4.0), (2, 'say "hi"', 3.0), (3, "plain", 5.0)]


def test_quoted_newlines_keep_physical_line_numbers(tmp_path: Path) -> None:
    text = 'user,item,rating\n1,"two\nlines",4\n2,"three\r\n\r\nlines",5\n3,x,9z\n'
    path = write(tmp_path, "ql.csv", text)
    with pytest.raises(DataError, match=where(path, 7) + re.escape("rating: is not a number (got '9z')")):
        read_csv(path, rating="rating")
    data = read_csv(path, rating="rating", on_error="skip")
    assert triples(data) == [(1, "two\nlines", 4.0), (2, "three\r\n\r\nlines", 5.0)]
    assert data.report.rows_read == 3


def test_quoted_header_and_header_false_with_quotes(tmp_path: Path) -> None:
    path = write(tmp_path, "qh.csv", '"user","item"\n"1","a,b"\n2,"c"\n')
    assert triples(read_csv(path)) == [(1, "a,b", 1.0), (2, "c", 1.0)]
    bare = write(tmp_path, "qn.csv", '"1","a,b"\n2,"c"\n3,d,extra\n')
    with pytest.raises(DataError, match=where(bare, 3) + "wrong number of fields: expected 2, got 3"):
        read_csv(bare, header=False, user=0, item=1)
    named = read_csv(bare, header=False, names=["u", "i"], user="u", item="i", on_error="skip")
    assert triples(named) == [(1, "a,b", 1.0), (2, "c", 1.0)]


def test_quote_inside_unquoted_field_is_literal(tmp_path: Path) -> None:
    path = write(tmp_path, "lit.csv", "user,item\n1,Royce da 5'9\"\n2,x\n")
    assert triples(read_csv(path)) == [(1, "Royce da 5'9\"", 1.0), (2, "x", 1.0)]


def test_quote_char_none_reads_quotes_literally(tmp_path: Path) -> None:
    path = write(tmp_path, "t.tsv", 'user\titem\n1\t"Weird Al" Yankovic\n2\t"open\n')
    data = read_csv(path, delimiter="\t", quote_char=None)
    assert triples(data) == [(1, '"Weird Al" Yankovic', 1.0), (2, '"open', 1.0)]


def test_multi_character_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path, "r.dat", "1::10::5::978300760\n1::20::3::978302109\n2::10::4::978301968\n")
    data = read_csv(path, user=0, item=1, rating=2, timestamp=3, delimiter="::", header=False)
    assert triples(data) == [(1, 10, 5.0), (1, 20, 3.0), (2, 10, 4.0)]
    assert sorted(data.timestamps.tolist()) == [978300760, 978301968, 978302109]


def test_header_false_with_names_and_positions(tmp_path: Path) -> None:
    path = write(tmp_path, "n.tsv", "7\t8\t3\n9\t8\t1\n")
    by_name = read_csv(path, delimiter="\t", header=False, names=["u", "i", "r"], user="u", item="i", rating="r")
    by_pos = read_csv(path, delimiter="\t", header=False, user=0, item=1, rating=2)
    assert triples(by_name) == triples(by_pos) == [(7, 8, 3.0), (9, 8, 1.0)]
    with pytest.raises(DataError, match="no header"):
        read_csv(path, delimiter="\t", header=False)
    # names= fixes the number of fields, so lines that disagree are malformed (and skippable)
    with pytest.raises(DataError, match=where(path, 1) + "wrong number of fields: expected 2, got 3"):
        read_csv(path, delimiter="\t", header=False, names=["u", "i"], user="u", item="i")
    short = write(tmp_path, "short.tsv", "7\t8\n9\t8\t1\n")
    data = read_csv(short, delimiter="\t", header=False, names=["u", "i", "r"], user="u", item="i", on_error="skip")
    assert triples(data) == [(9, 8, 1.0)] and data.report.skipped == {"wrong number of fields": 1}


def test_names_replace_header(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", "userId,movieId\n1,2\n")
    assert triples(read_csv(path, names=["user", "item"])) == [(1, 2, 1.0)]


def test_utf8_bom_and_latin1(tmp_path: Path) -> None:
    bom = write(tmp_path, "bom.csv", b"\xef\xbb\xbfuser,item\r\n1,caf\xc3\xa9\r\n")
    assert triples(read_csv(bom)) == [(1, "café", 1.0)]
    latin = write(tmp_path, "l.csv", b"user,item\n1,ok\n2,caf\xe9\n")
    with pytest.raises(DataError, match=where(latin, 3) + r".*not valid utf-8.*encoding="):
        read_csv(latin)
    assert triples(read_csv(latin, encoding="latin-1")) == [(1, "ok", 1.0), (2, "café", 1.0)]


def test_timestamps_int_float_and_iso(tmp_path: Path) -> None:
    path = write(tmp_path, "ts.csv", "user,item,ts\n1,1,10.9\n1,2,20\n")
    assert read_csv(path, timestamp="ts").timestamps.tolist() == [10, 20]
    iso = write(tmp_path, "iso.csv", "user,item,ts\n1,1,1970-01-01T00:01:00\n1,2,1970-01-02 00:00:00Z\n")
    assert read_csv(iso, timestamp="ts").timestamps.tolist() == [60, 86400]
    bad = write(tmp_path, "bad.csv", "user,item,ts\n1,1,1970-01-01\n1,2,yesterday\n")
    with pytest.raises(DataError, match=where(bad, 3) + "timestamp: .*yesterday"):
        read_csv(bad, timestamp="ts")


# --------------------------------------------------------------------------- bad values
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "rating: is not a number (got 'abc')"),
        ("nan", "rating: is missing (NaN)"),
        ("inf", "rating: is infinite (got inf)"),
        ("-inf", "rating: is infinite (got -inf)"),
        ("", "rating: is missing (NaN)"),
        ("7", "rating: is outside the rating scale [1, 5] (got 7.0)"),
        ("0.5", "rating: is outside the rating scale [1, 5] (got 0.5)"),
    ],
)
def test_bad_ratings_name_line_field_and_value(tmp_path: Path, value: str, reason: str) -> None:
    path = write(tmp_path, "bad.csv", f"user,item,rating\n1,1,4\n2,2,{value}\n3,3,5\n")
    with pytest.raises(DataError, match=where(path, 3) + re.escape(reason)):
        read_csv(path, rating="rating", rating_scale=(1, 5))
    data = read_csv(path, rating="rating", rating_scale=(1, 5), on_error="skip")
    assert triples(data) == [(1, 1, 4.0), (3, 3, 5.0)]
    assert data.report.rows_skipped == 1 and data.report.rows_read == 3


def test_empty_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", "user,item\n1,1\n,2\n3,3\n")
    with pytest.raises(DataError, match=where(path, 3) + "user: id is missing"):
        read_csv(path)
    data = read_csv(path, on_error="skip")
    assert data.users.ids.tolist() == [1, 3] and data.users.ids.dtype == np.int64
    text_ids = write(tmp_path, "et.csv", "user,item\na,1\n ,2\n")
    with pytest.raises(DataError, match=where(text_ids, 3) + "user: id is empty"):
        read_csv(text_ids)


def test_non_positive_weight(tmp_path: Path) -> None:
    path = write(tmp_path, "w.csv", "user,item,w\n1,1,2\n1,2,0\n")
    with pytest.raises(DataError, match=where(path, 3) + "weight: must be positive"):
        read_csv(path, weight="w")


# --------------------------------------------------------------------------- malformed lines
def test_wrong_number_of_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", "user,item,rating\n1,1,4\n2,2\n\n3,3,5,9\n4,4,1\n")
    with pytest.raises(DataError, match=where(path, 3) + "wrong number of fields: expected 3, got 2"):
        read_csv(path, rating="rating")
    data = read_csv(path, rating="rating", on_error="skip")
    assert triples(data) == [(1, 1, 4.0), (4, 4, 1.0)]
    assert data.report.skipped == {"wrong number of fields": 2}
    assert data.report.rows_read == 4
    assert data.report.examples == [
        f"{path}, line 3: wrong number of fields: expected 3, got 2",
        f"{path}, line 5: wrong number of fields: expected 3, got 4",
    ]


def test_wrong_number_of_fields_in_quoted_file(tmp_path: Path) -> None:
    path = write(tmp_path, "fq.csv", 'user,item,rating\n1,"a,b",4\n2,"c"\n3,"d",5\n')
    with pytest.raises(DataError, match=where(path, 3) + "wrong number of fields: expected 3, got 2"):
        read_csv(path, rating="rating")
    data = read_csv(path, rating="rating", on_error="skip")
    assert triples(data) == [(1, "a,b", 4.0), (3, "d", 5.0)]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_unterminated_quote_spoils_only_its_line(tmp_path: Path, newline: str) -> None:
    lines = ["user,item,rating", "1,a,4", '2,"open,3', "3,c,5", "4,d,1"]
    path = write(tmp_path, "u.csv", newline.join(lines) + newline)
    with pytest.raises(DataError, match=where(path, 3) + "unterminated quote"):
        read_csv(path, rating="rating")
    data = read_csv(path, rating="rating", on_error="skip")
    assert triples(data) == [(1, "a", 4.0), (3, "c", 5.0), (4, "d", 1.0)]
    assert data.report.skipped == {"unterminated quote": 1}


def test_a_later_quote_closes_an_open_one_as_rfc4180_says(tmp_path: Path) -> None:
    # the quote opened on line 3 closes on line 5: lines 3-5 are one record with 3 fields
    path = write(tmp_path, "rfc.csv", 'user,item,rating\n1,a,4\n2,"open,3\n3,c,5\n4,"d",1\n')
    data = read_csv(path, rating="rating")
    assert triples(data) == [(1, "a", 4.0), (2, 'open,3\n3,c,5\n4,d"', 1.0)]


def test_unterminated_quote_on_last_line_without_newline(tmp_path: Path) -> None:
    path = write(tmp_path, "u2.csv", 'user,item\n1,"a"\n2,"b')
    with pytest.raises(DataError, match=where(path, 3) + "unterminated quote"):
        read_csv(path)


def test_earliest_problem_wins(tmp_path: Path) -> None:
    value_first = write(tmp_path, "v.csv", "user,item,rating\n1,1,4\n2,2,x\n3,3\n")
    with pytest.raises(DataError, match=where(value_first, 3) + "rating"):
        read_csv(value_first, rating="rating")
    shape_first = write(tmp_path, "s.csv", "user,item,rating\n1,1\n2,2,x\n")
    with pytest.raises(DataError, match=where(shape_first, 2) + "wrong number of fields"):
        read_csv(shape_first, rating="rating")


def test_all_lines_bad(tmp_path: Path) -> None:
    path = write(tmp_path, "all.csv", "user,item,rating\n1,1\n2,2\n")
    with pytest.raises(DataError, match="no interactions left after skipping 2 bad lines"):
        read_csv(path, rating="rating", on_error="skip")


# --------------------------------------------------------------------------- file-level errors
def test_missing_column_lists_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "mc.csv", "userId,movieId,stars\n1,1,4\n")
    expected = "missing columns 'user' (user), 'rating' (rating); columns are ['userId', 'movieId', 'stars']"
    with pytest.raises(DataError, match=re.escape(f"{path}: {expected}")):
        read_csv(path, item="movieId", rating="rating")


def test_missing_column_hints(tmp_path: Path) -> None:
    tabs = write(tmp_path, "tabs.csv", "user\titem\n1\t2\n")
    with pytest.raises(DataError, match="is the delimiter ',' right"):
        read_csv(tabs)
    data_first = write(tmp_path, "nohead.csv", "1,2\n3,4\n")
    with pytest.raises(DataError, match="looks like data: pass header=False"):
        read_csv(data_first)
    with pytest.raises(DataError, match="position 5 is out of range; the file has 2 columns"):
        read_csv(data_first, user=0, item=5)


def test_duplicate_header_names(tmp_path: Path) -> None:
    path = write(tmp_path, "dh.csv", "user,item,item\n1,2,3\n")
    with pytest.raises(DataError, match="column 'item' appears 2 times"):
        read_csv(path)
    assert triples(read_csv(path, item=2)) == [(1, 3, 1.0)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("\n\r\n  \n", "the file is empty"),
        ("# only\n# comments\n", "the file has only blank or comment lines"),
        ("user,item,rating\n", "the file has no data rows"),
        ("user,item,rating\r\n\r\n", "the file has no data rows"),
    ],
)
def test_empty_inputs(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path, "empty.csv", content)
    with pytest.raises(DataError, match=re.escape(f"{path}: {message}")):
        read_csv(path, rating="rating", comment="#")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_csv(tmp_path / "nope.csv")


def test_invalid_parameters(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "user,item,rating\n1,1,1\n")
    with pytest.raises(InvalidParameterError, match=r"either rating= .* or weight="):
        read_csv(path, rating="rating", weight="rating")
    with pytest.raises(InvalidParameterError, match="on_error"):
        read_csv(path, on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="delimiter"):
        read_csv(path, delimiter="")
    with pytest.raises(InvalidParameterError, match="quote_char"):
        read_csv(path, quote_char=",")
    with pytest.raises(InvalidParameterError, match="encoding"):
        read_csv(path, encoding="no-such-codec")


# --------------------------------------------------------------------------- duplicates
def test_duplicate_policies(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "user,item,rating,ts\n1,1,2,50\n2,2,3,1\n1,1,4,10\n")
    with pytest.raises(DataError, match=re.escape(f"{path}, lines 2 and 4: duplicate (user, item) pair")):
        read_csv(path, rating="rating", timestamp="ts")
    cell = {}
    for policy in ("first", "last", "sum", "mean"):
        data = read_csv(path, rating="rating", timestamp="ts", duplicates=policy)
        cell[policy] = data.matrix[0, 0]
        assert data.report.duplicates_merged == 1 and data.report.duplicate_policy == policy
    # first/last follow the timestamps: line 4 (ts 10) is earlier than line 2 (ts 50)
    assert cell == {"first": 4.0, "last": 2.0, "sum": 6.0, "mean": 3.0}


# --------------------------------------------------------------------------- logging
def test_report_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "log.csv", "user,item,rating\n1,1,4\n2,2\n")
    with caplog.at_level(logging.INFO, logger="likewise.data"):
        data = read_csv(path, rating="rating", on_error="skip")
    records = [r for r in caplog.records if r.name == "likewise.data"]
    assert records and records[-1].levelno == logging.INFO
    assert str(data.report) in records[-1].getMessage()
    assert "2 rows read, 1 skipped" in records[-1].getMessage()


# --------------------------------------------------------------------------- speed
def test_100k_lines_read_quickly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pairs = rng.choice(2000 * 5000, size=100_000, replace=False)
    ratings = rng.integers(1, 6, size=pairs.size)
    body = "\n".join(
        f"{p // 5000},{p % 5000},{r},{1000 + k}" for k, (p, r) in enumerate(zip(pairs, ratings, strict=True))
    )
    path = write(tmp_path, "big.csv", "user,item,rating,ts\n" + body + "\n")
    data = read_csv(path, rating="rating", timestamp="ts")
    assert data.nnz == 100_000  # speed is measured in benchmarks/, not asserted here


# --------------------------------------------------------------------------- hypothesis
_CORRUPTIONS = ("too_few", "too_many", "text_rating", "nan_rating", "empty_user", "out_of_scale", "open_quote")


def _corrupt(kind: str, user: int, item: int) -> str:
    return {
        "too_few": f"{user},{item}",
        "too_many": f"{user},{item},3,9",
        "text_rating": f"{user},{item},good",
        "nan_rating": f"{user},{item},NaN",
        "empty_user": f",{item},3",
        "out_of_scale": f"{user},{item},6",
        "open_quote": f'"{user},{item},3',
    }[kind]


@st.composite
def corrupted_files(draw: st.DrawFn) -> tuple[list[str], list[bool]]:
    """Data lines (with blank/comment noise) and, per line, whether it is corrupted."""
    n = draw(st.integers(1, 25))
    cells = draw(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 8)), min_size=n, max_size=n, unique=True))
    lines: list[str] = []
    bad: list[bool] = []
    for user, item in cells:
        for _ in range(draw(st.integers(0, 1))):
            lines.append(draw(st.sampled_from(["", "   ", "# note, with a comma"])))
            bad.append(False)
        if draw(st.integers(0, 3)) == 0:
            # at most one unclosed quote per file: a second quote would close the first one
            # (RFC 4180), turning the lines between into one legitimate multi-line record
            kinds = [k for k in _CORRUPTIONS if k != "open_quote" or not any(x.startswith('"') for x in lines)]
            lines.append(_corrupt(draw(st.sampled_from(kinds)), user, item))
            bad.append(True)
        else:
            lines.append(f"{user},{item},{draw(st.integers(1, 5))}")
            bad.append(False)
    return lines, bad


@HYPO
@given(data=corrupted_files(), crlf=st.booleans())
def test_corrupted_lines_are_found_and_skipped(tmp_path: Path, data: tuple[list[str], list[bool]], crlf: bool) -> None:
    lines, bad = data
    newline = "\r\n" if crlf else "\n"
    path = write(tmp_path, "h.csv", newline.join(["user,item,rating", *lines]) + newline)
    is_good = [not b and bool(line.strip()) and not line.startswith("#") for line, b in zip(lines, bad, strict=True)]
    options = {"rating": "rating", "rating_scale": (1, 5), "comment": "#"}
    if any(bad):
        first = bad.index(True) + 2  # physical line: header is line 1
        with pytest.raises(DataError, match=where(path, first)):
            read_csv(path, **options)
    if not any(is_good):
        return
    skipped = read_csv(path, on_error="skip", **options)
    good_only = write(
        tmp_path,
        "good.csv",
        "user,item,rating\n" + "\n".join(line for line, g in zip(lines, is_good, strict=True) if g) + "\n",
    )
    expected = read_csv(good_only, **options)
    assert skipped == expected
    assert skipped.report.rows_skipped == sum(bad)
    assert skipped.report.rows_read == sum(bad) + sum(is_good)


# --------------------------------------------------------------------------- parquet
def test_parquet_round_trip_and_types(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    table = pa.table(
        {
            "user": pa.array(["a", "b", "a"]),
            "item": pa.array([10, 20, 20], pa.int32()),
            "rating": pa.array([4.0, 3.0, 5.0]),
            "ts": pa.array([1_000_000, 2_000_000, 3_000_000], pa.timestamp("ms")),
        }
    )
    pq.write_table(table, path)
    data = read_parquet(path, rating="rating", timestamp="ts")
    assert triples(data) == [("a", 10, 4.0), ("a", 20, 5.0), ("b", 20, 3.0)]
    assert data.items.ids.dtype == np.int64
    assert sorted(data.timestamps.tolist()) == [1000, 2000, 3000]


def test_parquet_directory_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    pq.write_table(pa.table({"user": [1, 1], "item": [5, 6], "plays": [3, 1]}), folder / "part-0.parquet")
    pq.write_table(pa.table({"user": [2, 1], "item": [5, 5], "plays": [2, 4]}), folder / "part-1.parquet")
    data = read_parquet(folder, weight="plays")
    assert triples(data) == [(1, 5, 7.0), (1, 6, 1.0), (2, 5, 2.0)]


def test_parquet_dictionary_and_string_numbers_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"user": pa.array(["001", "1"]).dictionary_encode(), "item": ["x", "y"]}), path)
    data = read_parquet(path)
    assert data.users.ids.tolist() == ["001", "1"]


def test_parquet_errors_name_rows(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"user": [1, 2, 3], "item": [1, None, 3], "rating": [4.0, 4.0, float("nan")]}), path)
    with pytest.raises(DataError, match=re.escape(f"{path}, row 2: item: id is missing")):
        read_parquet(path, rating="rating")
    data = read_parquet(path, rating="rating", on_error="skip")
    assert triples(data) == [(1, 1, 4.0)]
    assert data.report.rows_skipped == 2
    with pytest.raises(
        DataError, match=re.escape("missing column 'stars' (rating); columns are ['user', 'item', 'rating']")
    ):
        read_parquet(path, rating="stars")
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"user": pa.array([], pa.int64()), "item": pa.array([], pa.int64())}), empty)
    with pytest.raises(DataError, match="no rows"):
        read_parquet(empty)
    junk = write(tmp_path, "junk.parquet", "not parquet")
    with pytest.raises(DataError, match="cannot read as Parquet"):
        read_parquet(junk)


# --------------------------------------------------------------------------- real files
@pytest.mark.skipif(not ML100K.is_dir(), reason="ml-100k not available")
def test_real_ml100k_u_data() -> None:
    data = read_csv(ML100K / "u.data", user=0, item=1, rating=2, timestamp=3, header=False, delimiter="\t")
    assert (data.nnz, data.n_users, data.n_items) == (100_000, 943, 1682)
    values, counts = np.unique(data.values, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == {
        1.0: 6110,
        2.0: 11370,
        3.0: 27145,
        4.0: 34174,
        5.0: 21201,
    }


@pytest.mark.skipif(not ML_LATEST.is_dir(), reason="ml-latest-small not available")
def test_real_ml_latest_small_crlf_and_quotes() -> None:
    data = read_csv(ML_LATEST / "ratings.csv", user="userId", item="movieId", rating="rating", timestamp="timestamp")
    assert (data.nnz, data.n_users, data.n_items) == (100_836, 610, 9724)
    assert data.report.rows_read == 100_836 and data.report.rows_skipped == 0
    values, counts = np.unique(data.values, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist(), strict=True))[0.5] == 1370
    movies = read_csv(ML_LATEST / "movies.csv", user="movieId", item="title")  # quoted titles with commas
    assert (movies.n_users, movies.n_items, movies.nnz) == (9742, 9737, 9742)  # a few titles repeat
    assert "American President, The (1995)" in movies.items.ids.tolist()
