"""Issue 17 "Every reader fuzzed": the breaks the fuzzing found, each pinned by a test.

The readers' contract: malformed input raises DataError naming the source, line or row and
field (or, with ``on_error="skip"``, the row is skipped and counted); never another exception
type, never silently different data.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from likewise.data import IdMap, Interactions, read_csv, read_parquet
from likewise.data.movielens import read_ml100k
from likewise.exceptions import DataError, UnknownIdError


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


# --------------------------------------------------------------------------- 1. ids beyond int64
@pytest.mark.parametrize("big", [2**70, 2**63, -(2**63) - 1])
def test_issue17_huge_int_id_in_frame_is_a_data_error(big: int) -> None:
    frame = pd.DataFrame({"user": pd.Series([5, big], dtype=object), "item": ["1", "2"]})
    with pytest.raises(DataError, match=r"DataFrame, row 1: user: id is outside the int64 range \(got "):
        Interactions.from_frame(frame)


def test_issue17_huge_int_id_in_frame_is_skipped_and_counted() -> None:
    frame = pd.DataFrame({"user": pd.Series([2**70, 3], dtype=object), "item": ["1", "2"]})
    data = Interactions.from_frame(frame, on_error="skip")
    assert data.users.ids.tolist() == [3]
    assert data.report.skipped == {"user: id is outside the int64 range": 1}
    assert data.report.rows_read == 2 and data.report.n_interactions == 1


def test_issue17_lone_huge_int_id_skipped_leaves_nothing() -> None:
    frame = pd.DataFrame({"user": [2**70], "item": ["1"]})
    with pytest.raises(DataError, match=r"DataFrame: no interactions left after skipping 1 bad rows"):
        Interactions.from_frame(frame, on_error="skip")


def test_issue17_uint64_ids_beyond_int64_do_not_wrap() -> None:
    users = np.array([1, 2**63 + 5], dtype=np.uint64)
    message = r"arrays, row 1: user: id is outside the int64 range \(got 9223372036854775813\)"
    with pytest.raises(DataError, match=message):
        Interactions.from_arrays(users, [1, 2])
    data = Interactions.from_arrays(users, [1, 2], on_error="skip")
    assert data.users.ids.tolist() == [1]


def test_issue17_idmap_of_huge_ints_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"user ids contain 1180591620717411303424 at position 0, outside the int64"):
        IdMap([2**70, 1], name="user")


# --------------------------------------------------------------------------- 2. corrupted Parquet footer
def test_issue17_parquet_footer_with_invalid_utf8_is_a_data_error(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"user": ["a", "b"], "item": ["x", "y"]}), good)
    raw = bytearray(good.read_bytes())
    footer = raw.index(b"user", len(raw) - int.from_bytes(raw[-8:-4], "little") - 8)
    raw[footer + 1] = 0xE9  # "u\xe9er": not UTF-8
    bad = write(tmp_path, "bad.parquet", bytes(raw))
    with pytest.raises(DataError, match=re.escape(f"{bad}: cannot read as Parquet")):
        read_parquet(bad)


# --------------------------------------------------------------------------- 3. NUL bytes in ids
# Decision (docs/data.md, "Ids"): an id ending in a NUL character is refused; NULs elsewhere
# are kept byte-exact. numpy's unicode arrays, which IdMap stores and saves without pickle,
# drop trailing NULs, so "u6\x00" could only be kept by turning it into "u6" (another id).
def test_issue17_csv_trailing_nul_is_reported_not_stripped(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", "user,item,rating\nu6\x00,7,2\nu6,8,3\n")
    message = f"{path}, line 2: user: id ends with a NUL character (got 'u6\\x00')"
    with pytest.raises(DataError, match=re.escape(message)):
        read_csv(path, rating="rating")
    data = read_csv(path, rating="rating", on_error="skip")
    assert data.users.ids.tolist() == ["u6"] and data.items.ids.tolist() == [8]
    assert data.report.skipped == {"user: id ends with a NUL character": 1}


def test_issue17_csv_nul_is_not_a_false_duplicate(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", "user,item,rating\nu6\x00,7,2\nu6,7,3\n")
    with pytest.raises(DataError, match=re.escape(f"{path}, line 2: user: id ends with a NUL character")):
        read_csv(path, rating="rating")


def test_issue17_csv_lone_nul_id_is_not_the_empty_string(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", "user,item\n\x00,7\nu6,7\n")
    with pytest.raises(DataError, match=re.escape(f"{path}, line 2: user: id ends with a NUL character")):
        read_csv(path)
    assert read_csv(path, on_error="skip").users.ids.tolist() == ["u6"]


def test_issue17_csv_nul_inside_an_id_is_kept_exact(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", "user,item\nu1,a\x00b\nu1,ab\n\x00u2,ab\n")
    data = read_csv(path)
    assert data.items.ids.tolist() == ["a\x00b", "ab"] and data.users.ids.tolist() == ["\x00u2", "u1"]
    assert data.matrix.toarray().tolist() == [[0.0, 1.0], [1.0, 1.0]]


@pytest.mark.parametrize("nul_id", ["u6\x00", "\x00", "\x00u6\x00\x00"])
def test_issue17_frame_nul_ids_are_refused(nul_id: str) -> None:
    frame = pd.DataFrame({"user": [nul_id, "u6"], "item": ["7", "8"]})
    with pytest.raises(DataError, match=r"DataFrame, row 0: user: id ends with a NUL character"):
        Interactions.from_frame(frame)
    data = Interactions.from_frame(frame, on_error="skip")
    assert data.users.ids.tolist() == ["u6"] and data.report.rows_skipped == 1


def test_issue17_parquet_nul_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"user": ["u6\x00", "u6"], "item": ["7", "8"]}), path)
    with pytest.raises(DataError, match=re.escape(f"{path}, row 1: user: id ends with a NUL character")):
        read_parquet(path)


def test_issue17_idmap_refuses_nul_ids_and_does_not_find_stripped_ones() -> None:
    with pytest.raises(DataError, match=r"user ids contain 'u6\\x00' at position 0: ids must not end with a NUL"):
        IdMap(["u6\x00", "u7"], name="user")
    users = IdMap(["u6", "u7", "u\x008"], name="user")
    assert "u6\x00" not in users and "u\x008" in users and "u8" not in users
    with pytest.raises(UnknownIdError, match="NUL"):
        users.to_index(["u6\x00"])
    with pytest.raises(UnknownIdError, match="NUL"):
        users.coerce(["u6\x00"])


# --------------------------------------------------------------------------- found by the fuzz suite
def test_issue17_fuzz_timestamp_beyond_int64_is_a_data_error(tmp_path: Path) -> None:
    """A float timestamp >= 2**63 s was cast to int64 silently (garbage, a RuntimeWarning)."""
    path = write(tmp_path, "t.csv", "user,item,timestamp\n1,2,x\n1,3,9223372036854775808.0\n1,4,5\n")
    with pytest.raises(DataError, match=re.escape(f"{path}, line 2: timestamp: is not a number (got 'x')")):
        read_csv(path, timestamp="timestamp")
    data = read_csv(path, timestamp="timestamp", on_error="skip")
    assert data.timestamps.tolist() == [5]
    assert data.report.skipped == {
        "timestamp: is not a number": 1,
        "timestamp: is outside the int64 range of seconds": 1,
    }
    frame = pd.DataFrame({"user": [0, 1], "item": [0, 0], "timestamp": [9223372036854775808.0, 7.0]})
    with pytest.raises(DataError, match=r"DataFrame, row 0: timestamp: is outside the int64 range of seconds"):
        Interactions.from_frame(frame, timestamp="timestamp")
    stamps = np.array([2**64 - 1, 7], dtype=np.uint64)
    with pytest.raises(DataError, match=r"arrays, row 0: timestamp: is outside the int64 range of seconds"):
        Interactions.from_arrays([0, 1], [0, 0], None, stamps)


def test_issue17_fuzz_ml100k_genre_file_with_no_good_line(tmp_path: Path) -> None:
    """Skipping every line of u.genre left no genres, and u.item crashed with a numpy ValueError."""
    write(tmp_path, "u.data", "1\t10\t4\t881250949\n2\t10\t5\t881250951\n")
    write(tmp_path, "u.genre", "unknown|0|x\n")
    write(tmp_path, "u.item", "10|Toy Story (1995)|01-Jan-1995||http://x\n")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'u.genre'}, line 1: wrong number of fields")):
        read_ml100k(tmp_path)
    data = read_ml100k(tmp_path, on_error="skip")
    assert data.items.ids.tolist() == [10]
    assert data.item_info is not None and data.item_info["genres"].tolist() == [""]


def test_issue17_fuzz_parquet_data_page_with_invalid_utf8(tmp_path: Path) -> None:
    """A damaged data page passed read_table and failed converting to numpy: ArrowException escaped."""
    items = ["0", "01", "02¡¢¡£𐀁", "0", "2¡", "¡𐀀", "00¡Àࡘ𐀀", "0¡¡¡¡¡"]
    users = ["0", "0", "0", "1000¡¡𐀀𐀀", "0", "0", "0", "0"]
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"user": users, "item": items, "rating": [0.0] * 8}), sink)
    raw = bytearray(sink.getvalue().to_pybytes())
    raw[len(raw) // 8] = 0  # where the fuzz suite found it, inside the item column's pages
    path = write(tmp_path, "g.parquet", bytes(raw))
    with pytest.raises(DataError, match=re.escape(f"{path}: cannot read")):
        read_parquet(path, rating="rating")


@pytest.mark.parametrize("dtype", [None, object])
def test_issue17_fuzz_complex_values_are_not_numbers(dtype: object) -> None:
    """A complex rating or timestamp lost its imaginary part silently (numpy ComplexWarning)."""
    frame = pd.DataFrame({"user": [0, 1], "item": [0, 0], "value": pd.Series([1j, 2.0], dtype=dtype)})
    with pytest.raises(DataError, match=r"DataFrame, row 0: rating: is not a number \(got 1j\)"):
        Interactions.from_frame(frame, rating="value")
    with pytest.raises(DataError, match=r"DataFrame, row 0: timestamp: is not a number \(got 1j\)"):
        Interactions.from_frame(frame, timestamp="value")


ML100K_DATA = "1\t10\t4\t881250949\n2\t0\t5\t881250951\n"


def test_issue17_ml100k_metadata_id_ending_in_nul_is_named(tmp_path: Path) -> None:
    """u.item ids were cast with astype(str): "10\\x00" became "10", reported as a duplicate."""
    write(tmp_path, "u.data", ML100K_DATA)
    write(tmp_path, "u.genre", "unknown|0\n")
    write(tmp_path, "u.item", "10\x00|A (1995)|||u|0\n10|B (1996)|||u|0\n")
    message = f"{tmp_path / 'u.item'}, line 1: item id ends with a NUL character (got '10\\x00')"
    with pytest.raises(DataError, match=re.escape(message)):
        read_ml100k(tmp_path)


def test_issue17_ml100k_missing_metadata_id_does_not_make_id_0_a_duplicate(tmp_path: Path) -> None:
    """A missing id's placeholder (0) made a later real id 0 a "duplicate": its metadata was dropped."""
    write(tmp_path, "u.data", ML100K_DATA)
    write(tmp_path, "u.genre", "unknown|0\n")
    write(tmp_path, "u.item", "|A (1995)|||u|0\n0|B (1996)|||u|1\n10|C (1997)|||u|0\n")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'u.item'}, line 1: item id is missing")):
        read_ml100k(tmp_path)
    data = read_ml100k(tmp_path, on_error="skip")
    assert data.item_info is not None and data.item_info["title"].tolist() == ["B (1996)", "C (1997)"]


def test_issue17_fuzz_rating_beyond_float32_is_a_data_error(tmp_path: Path) -> None:
    """A finite float64 rating above float32's range was stored as inf in the float32 matrix."""
    frame = pd.DataFrame({"user": [0, 1], "item": [0, 0], "rating": [3.4028236e38, 2.0]})
    with pytest.raises(DataError, match=r"DataFrame, row 0: rating: is outside the float32 range \(got 3.40282"):
        Interactions.from_frame(frame, rating="rating")
    path = write(tmp_path, "w.csv", "user,item,plays\n1,2,1e39\n1,3,4\n")
    data = read_csv(path, weight="plays", on_error="skip")
    assert data.matrix.data.tolist() == [4.0]
    assert data.report.skipped == {"weight: is outside the float32 range": 1}


def test_issue17_fuzz_ml100k_huge_genre_index_is_not_cast_silently(tmp_path: Path) -> None:
    """A genre index of 1e20 was cast to int64 (undefined, RuntimeWarning) instead of refused."""
    write(tmp_path, "u.data", ML100K_DATA)
    write(tmp_path, "u.genre", "unknown|0\nAction|99999999999999999999\n")
    message = f"{tmp_path / 'u.genre'}, line 2: genre index: expected an integer (got '99999999999999999999')"
    with pytest.raises(DataError, match=re.escape(message)):
        read_ml100k(tmp_path)


def test_issue17_idmap_coerce_of_an_integer_beyond_int64_is_unknown() -> None:
    """Text typed by a person (CLI, URL) holding a huge integer raised OverflowError."""
    users = IdMap([1, 2], name="user")
    with pytest.raises(UnknownIdError, match=r"unknown user id: '99999999999999999999' \(user ids are int64"):
        users.coerce(["99999999999999999999"])


def test_issue17_fuzz_from_arrays_two_dimensional_column_is_a_data_error() -> None:
    """An object column holding a tuple became a 2-D array; pandas' ValueError escaped."""
    users = np.array([(1,)], dtype=object)
    with pytest.raises(DataError, match=r"arrays: user: expected a 1-dimensional array \(got 2 dimensions\)"):
        Interactions.from_arrays(users, [0])


def test_issue17_fuzz_lastfm_text_tag_ids_match_integer_assignments(tmp_path: Path) -> None:
    """One malformed id in tags.dat made its ids strings; the integer assignments raised UnknownIdError."""
    from likewise.data.movielens import read_lastfm_hetrec

    write(tmp_path, "user_artists.dat", "userID\tartistID\tweight\n2\t51\t13\n3\t52\t7\n")
    write(tmp_path, "tags.dat", "tagID\ttagValue\n1\tmetal\nx\tpop\n")
    write(tmp_path, "user_taggedartists.dat", "userID\tartistID\ttagID\n2\t51\t1\n3\t52\t2\n")
    data = read_lastfm_hetrec(tmp_path)
    assert data.items.ids.tolist() == [51, 52]


def test_issue17_fuzz_ml_latest_text_tag_ids_against_integer_ratings(tmp_path: Path) -> None:
    """tags.csv movie ids read as text (one malformed id) against integer ratings raised UnknownIdError."""
    from likewise.data.movielens import read_ml_latest

    write(tmp_path, "ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.5,9\n2,20,3.0,9\n")
    write(tmp_path, "tags.csv", "userId,movieId,tag,timestamp\n1,10,funny,9\n2,x,dark,9\n")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'tags.csv'}: item ids are text but in the ratings")):
        read_ml_latest(tmp_path)
