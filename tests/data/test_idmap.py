"""IdMap: raw ids <-> dense int32 indices (round trips, invariants, errors, pickling)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likewise.data import IdMap
from likewise.data.idmap import as_id_array
from likewise.exceptions import DataError, UnknownIdError

HYPO = settings(max_examples=75, deadline=None)

int_ids = st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=40)
# numpy's unicode arrays drop trailing NUL characters, so ids never contain "\x00".
str_ids = st.lists(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8),
    min_size=1,
    max_size=40,
)


# --------------------------------------------------------------------------- known answers


def test_sorted_unique_int32_indices():
    idmap = IdMap([30, 10, 20, 10, 30], name="user")
    assert idmap.ids.tolist() == [10, 20, 30]
    assert idmap.ids.dtype == np.int64
    assert len(idmap) == 3
    idx = idmap.to_index([30, 10, 20, 20])
    assert idx.dtype == np.int32
    assert idx.tolist() == [2, 0, 1, 1]
    assert idmap.to_ids([2, 0]).tolist() == [30, 10]
    assert repr(idmap) == "IdMap(name='user', n=3, kind=int)"


def test_string_ids():
    idmap = IdMap(["b", "a", "c", "a"], name="item")
    assert idmap.is_str and idmap.ids.tolist() == ["a", "b", "c"]
    assert idmap.to_index(["c", "a"]).tolist() == [2, 0]
    assert idmap.to_index(np.array(["b"], dtype=object)).tolist() == [1]
    assert idmap.to_index(pd.Series(["a", "c"])).tolist() == [0, 2]
    assert idmap.to_index("b").tolist() == [1]  # a scalar is a 1-element query
    assert "a" in idmap and "z" not in idmap and 1 not in idmap


def test_ids_are_read_only():
    idmap = IdMap([1, 2])
    with pytest.raises(ValueError, match="read-only"):
        idmap.ids[0] = 5


def test_equality_and_hash_ignore_input_order():
    a, b = IdMap([3, 1, 2]), IdMap([2, 3, 1, 1])
    assert a == b and hash(a) == hash(b) and a.digest == b.digest
    assert IdMap([1, 2]) != IdMap([1, 2, 3])
    assert IdMap([1, 2]) != IdMap([1, 3])
    assert IdMap([1, 2, 3]) != IdMap(["1", "2", "3"])  # same text, different type
    assert IdMap(["x", "y"]) == IdMap(["y", "x"])
    assert len({IdMap(["x", "y"]), IdMap(["y", "x"]), IdMap(["x"])}) == 2
    assert (IdMap([1]) == "not a map") is False


def test_string_digest_is_unambiguous():
    # Joining with a separator alone would make these two maps hash (and compare) equal.
    assert IdMap(["a\x00b", "c"]) != IdMap(["a", "b\x00c"])


def test_missing_raise_names_the_unknown_ids():
    idmap = IdMap([1, 2, 3], name="user")
    with pytest.raises(UnknownIdError, match=r"^unknown user id: 9$") as info:
        idmap.to_index([1, 9])
    assert info.value.ids == (9,)
    assert isinstance(info.value, KeyError)
    with pytest.raises(UnknownIdError, match=r"unknown user ids: 7, 8$"):
        idmap.to_index([7, 1, 8])
    with pytest.raises(UnknownIdError, match=r"unknown item ids: 'x', 'y'"):
        IdMap(["a"], name="item").to_index(["x", "y"])


def test_missing_raise_caps_the_list_at_ten():
    idmap = IdMap([0], name="item")
    with pytest.raises(UnknownIdError) as info:
        idmap.to_index(list(range(100, 115)))
    message = str(info.value)
    assert message == "unknown item ids: 100, 101, 102, 103, 104, 105, 106, 107, 108, 109 and 5 more"
    assert info.value.ids == tuple(range(100, 115))  # all of them are available to code


def test_missing_negative():
    idmap = IdMap(["a", "b"])
    assert idmap.to_index(["b", "zz", "a"], missing="negative").tolist() == [1, -1, 0]
    empty = IdMap([], name="user")
    assert len(empty) == 0
    assert empty.to_index([5], missing="negative").tolist() == [-1]
    with pytest.raises(UnknownIdError, match="unknown user id: 5"):
        empty.to_index([5])


def test_empty_query():
    idx = IdMap([1, 2]).to_index([])
    assert idx.dtype == np.int32 and idx.size == 0


def test_int_map_queried_with_strings():
    idmap = IdMap([1, 2, 3], name="user")
    with pytest.raises(UnknownIdError, match=r"unknown user id '1': this map's ids are integers"):
        idmap.to_index(["1"])
    with pytest.raises(UnknownIdError, match="this map's ids are strings"):
        IdMap(["a"], name="item").to_index([1])
    assert "1" not in idmap


@pytest.mark.parametrize(
    "ids",
    [[1, "a"], ["a", 1], np.array([1, "a"], dtype=object), pd.Series([1, "a"], dtype=object)],
    ids=["list-int-first", "list-str-first", "object-array", "series"],
)
def test_mixed_int_and_str_is_refused(ids):
    with pytest.raises(DataError, match="mix integers and strings"):
        IdMap(ids, name="user")


def test_mixed_query_is_an_unknown_id():
    with pytest.raises(UnknownIdError, match="mix integers and strings"):
        IdMap([1, 2]).to_index([1, "a"])


def test_whole_floats_are_accepted():
    idmap = IdMap([1.0, 3.0, 2.0])
    assert idmap.ids.dtype == np.int64 and idmap.ids.tolist() == [1, 2, 3]
    assert idmap.to_index(np.array([3.0])).tolist() == [2]
    assert idmap.to_index(pd.Series([2.0])).tolist() == [1]


@pytest.mark.parametrize(
    ("ids", "match"),
    [
        ([1.0, np.nan], "null or non-finite value at position 1"),
        ([1.0, np.inf], "null or non-finite value at position 1"),
        ([1, None], "a null at position 1"),
        (["a", None], "a null at position 1"),
        (pd.Series(["a", None, "b"]), "a null at position 1"),
        ([1.5], r"must be integers or strings, got .*1\.5"),
        ([True, False], "got booleans"),
        (np.array([[1, 2]]), "one-dimensional"),
        (np.array([1 + 2j]), "dtype complex128"),
    ],
)
def test_bad_ids_are_rejected(ids, match):
    with pytest.raises(DataError, match=match):
        IdMap(ids)


def test_unsigned_ids():
    assert as_id_array(np.array([1, 2], dtype=np.uint32)).dtype == np.int64
    with pytest.raises(DataError, match="int64 range"):
        as_id_array(np.array([2**63], dtype=np.uint64))


def test_sets_and_ranges_are_accepted():
    assert IdMap({3, 1}).ids.tolist() == [1, 3]
    assert IdMap(range(4)).ids.tolist() == [0, 1, 2, 3]


def test_to_ids_refuses_padding_and_out_of_range():
    idmap = IdMap([5, 6], name="item")
    with pytest.raises(IndexError, match=r"item index out of range \[0, 2\): min -1"):
        idmap.to_ids([0, -1])
    with pytest.raises(IndexError, match="max 2"):
        idmap.to_ids([2])


def test_coerce_text_typed_by_a_person():
    ints = IdMap([196, 242], name="user")
    coerced = ints.coerce("196")
    assert coerced.dtype == np.int64 and coerced.tolist() == [196]
    assert ints.coerce(["242", " 196 ", 7]).tolist() == [242, 196, 7]
    assert ints.to_index(ints.coerce("242")).tolist() == [1]
    with pytest.raises(UnknownIdError, match=r"unknown user id: 'abc' \(user ids are integers\)"):
        ints.coerce("abc")
    strs = IdMap(["196", "x"], name="user")
    assert strs.coerce(196).tolist() == ["196"]
    assert strs.to_index(strs.coerce(196)).tolist() == [0]


def test_pickle_round_trip():
    for idmap in (IdMap([5, 1, 3], name="user"), IdMap(["b", "a"], name="item")):
        idmap.digest  # noqa: B018 - cache the hash, it must not travel in the pickle
        clone = pickle.loads(pickle.dumps(idmap))
        assert clone == idmap and hash(clone) == hash(idmap)
        assert clone.name == idmap.name
        np.testing.assert_array_equal(clone.ids, idmap.ids)
        assert clone.to_index(idmap.ids).tolist() == list(range(len(idmap)))


def test_from_sorted_unique():
    idmap = IdMap.from_sorted_unique(np.array([1, 4, 9]), name="item")
    assert idmap == IdMap([9, 4, 1]) and idmap.name == "item"
    assert not idmap.ids.flags.writeable
    assert IdMap.from_sorted_unique(np.array(["a", "b"])).is_str
    assert len(IdMap.from_sorted_unique(np.array([], dtype=np.int64))) == 0
    with pytest.raises(DataError, match="item ids are not sorted and unique"):
        IdMap.from_sorted_unique(np.array([2, 1]), name="item")
    with pytest.raises(DataError, match="not sorted and unique"):
        IdMap.from_sorted_unique(np.array([1, 1, 2]))
    with pytest.raises(DataError, match="not sorted and unique"):
        IdMap.from_sorted_unique(np.array(["b", "a"]))


# --------------------------------------------------------------------------- hypothesis


@HYPO
@given(int_ids)
def test_round_trip_int(ids):
    idmap = IdMap(ids)
    assert idmap.to_ids(idmap.to_index(ids)).tolist() == ids
    assert idmap.ids.tolist() == sorted(set(ids))
    assert idmap.to_index(idmap.ids).tolist() == list(range(len(idmap)))


@HYPO
@given(str_ids)
def test_round_trip_str(ids):
    idmap = IdMap(ids)
    assert idmap.is_str
    assert idmap.to_ids(idmap.to_index(ids)).tolist() == ids
    assert idmap.ids.tolist() == sorted(set(ids))
    assert (idmap.ids[1:] > idmap.ids[:-1]).all()


@HYPO
@given(st.one_of(int_ids, str_ids), st.randoms(use_true_random=False))
def test_equality_independent_of_order(ids, random):
    shuffled = list(ids)
    random.shuffle(shuffled)
    a, b = IdMap(ids), IdMap(shuffled + shuffled[:3])
    assert a == b and hash(a) == hash(b)
    assert IdMap.from_sorted_unique(a.ids) == a
    assert pickle.loads(pickle.dumps(a)) == b


@HYPO
@given(int_ids, int_ids)
def test_equal_exactly_when_same_ids(left, right):
    assert (IdMap(left) == IdMap(right)) == (set(left) == set(right))


@HYPO
@given(str_ids, str_ids)
def test_missing_negative_marks_exactly_the_unknown(known, queries):
    idmap = IdMap(known)
    idx = idmap.to_index(queries, missing="negative")
    assert [i >= 0 for i in idx] == [q in set(known) for q in queries]
    found = idx >= 0
    assert idmap.to_ids(idx[found]).tolist() == [q for q, ok in zip(queries, found, strict=True) if ok]


@pytest.mark.parametrize("ids", [np.arange(0, 27000, 3), np.array([f"u{k}" for k in range(9000)])])
def test_build_lookup_prepares_what_bulk_lookups_use(ids):
    idmap = IdMap(ids)
    query = np.tile(ids[::-3], 2)  # over BULK ids: the hash lookup, not a binary search
    expected = np.searchsorted(np.sort(ids), query)
    idmap.build_lookup()
    table = idmap._lookup
    assert table is not None and len(table) == len(ids)
    np.testing.assert_array_equal(idmap.to_index(query), expected)
    assert idmap._lookup is table  # the table built up front is the one used
