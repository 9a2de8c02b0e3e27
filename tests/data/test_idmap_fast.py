"""The vectorised IdMap paths (pandas hashing, Arrow dictionary encoding) against the dict twin."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likewise.data import IdMap
from likewise.data import idmap as idmap_module
from likewise.exceptions import DataError, UnknownIdError
from tests.reference.idmap import IdMapReference

HYPO = settings(max_examples=60, deadline=None)
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)
int_vocab = st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=30, unique=True)
str_vocab = st.lists(text, min_size=1, max_size=30, unique=True)


@pytest.fixture(params=["bulk", "small"])
def threshold(request, monkeypatch):
    """Run each test through the hashing paths (every size is bulk) and the numpy paths."""
    if request.param == "bulk":
        monkeypatch.setattr(idmap_module, "BULK", 1)
    return request.param


def _draw(vocab, seed, n, as_object):
    rng = np.random.default_rng(seed)
    picked = [vocab[i] for i in rng.integers(0, len(vocab), n)]
    return np.array(picked, dtype=object) if as_object else picked


@HYPO
@given(vocab=st.one_of(int_vocab, str_vocab), seed=st.integers(0, 2**16), n=st.integers(1, 200), obj=st.booleans())
def test_construction_and_lookup_match_the_dict_twin(vocab, seed, n, obj):
    for bulk in (1, 1 << 30):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(idmap_module, "BULK", bulk)
            raw = _draw(vocab, seed, n, obj)
            ref = IdMapReference(list(raw))
            fast = IdMap(raw)
            assert fast.ids.tolist() == ref.ids
            assert fast.to_index(raw).tolist() == ref.to_index(list(raw))
            encoded, codes = IdMap.encode(raw)
            assert encoded == fast and codes.dtype == np.int32
            assert codes.tolist() == ref.to_index(list(raw))
            unknown = [v for v in vocab if v not in ref.index]
            query = list(raw[:5]) + unknown
            assert fast.to_index(query, missing="negative").tolist() == ref.to_index(query)


@HYPO
@given(vocab=str_vocab, extra=str_vocab, seed=st.integers(0, 2**16), n=st.integers(1, 200))
def test_arrow_encoding_matches_the_dict_twin(vocab, extra, seed, n):
    raw = _draw(vocab, seed, n, as_object=False)
    ref = IdMapReference(raw)
    encoded, codes = IdMap.encode(pa.array(raw, type=pa.string()))
    assert encoded.ids.tolist() == ref.ids and codes.tolist() == ref.to_index(raw)
    chunked = pa.chunked_array([pa.array(raw[: n // 2], pa.string()), pa.array(raw[n // 2 :], pa.string())])
    assert IdMap.encode(chunked)[1].tolist() == ref.to_index(raw)
    query = raw[:3] + extra
    assert encoded.to_index(query, missing="negative").tolist() == ref.to_index(query)


def test_bulk_lookup_of_unknown_ids_names_them(threshold):
    idmap = IdMap(["a", "b", "c"], name="item")
    assert idmap.to_index(["c", "zz", "a"], missing="negative").tolist() == [2, -1, 0]
    with pytest.raises(UnknownIdError, match=r"^unknown item id: 'zz'$"):
        idmap.to_index(["c", "zz", "a"])
    with pytest.raises(UnknownIdError, match="this map's ids are strings"):
        idmap.to_index([1, 2])


def test_bulk_paths_keep_the_refusals(threshold):
    with pytest.raises(DataError, match=r"'b\\x00' at position 1: ids must not end with a NUL"):
        IdMap(np.array(["a", "b\x00", "c"], dtype=object))
    with pytest.raises(DataError, match="mix integers and strings"):
        IdMap(np.array([1, "a", 2], dtype=object))
    with pytest.raises(DataError, match="a null at position 1"):
        IdMap(np.array(["a", None], dtype=object))


def test_arrow_refusals():
    with pytest.raises(DataError, match="user ids contain a null at position 1"):
        IdMap.encode(pa.array(["a", None, "b"]), name="user")
    with pytest.raises(DataError, match="must not end with a NUL"):
        IdMap.encode(pa.array(["a", "b\x00"]))
    idmap, codes = IdMap.encode(pa.array([30, 10, 30]))  # non-string Arrow columns go through numpy
    assert idmap.ids.tolist() == [10, 30] and codes.tolist() == [1, 0, 1]


def test_encode_orders_ids_sorted_not_first_seen():
    idmap, codes = IdMap.encode(np.array(["z", "a", "m", "a"] * 2000, dtype=object))
    assert idmap.ids.tolist() == ["a", "m", "z"]
    assert codes[:4].tolist() == [2, 0, 1, 0]


def test_hash_index_is_not_pickled():
    import pickle

    idmap = IdMap(["b", "a"])
    idmap_module.BULK, saved = 1, idmap_module.BULK
    try:
        idmap.to_index(["a"])
    finally:
        idmap_module.BULK = saved
    clone = pickle.loads(pickle.dumps(idmap))
    assert clone == idmap and clone.to_index(["b"]).tolist() == [1]


def test_encode_names_the_first_row_with_a_nul(threshold):
    raw = np.array(["a", "b", "c\x00", "a", "c\x00"], dtype=object)
    with pytest.raises(DataError, match=r"'c\\x00' at position 2"):
        IdMap.encode(raw)
    with pytest.raises(DataError, match=r"'c\\x00' at position 2"):
        IdMap.encode(pa.array(list(raw)))


def test_surrogates_fall_back_to_pandas(threshold):
    # Python strings may hold lone surrogates, which Arrow's UTF-8 cannot: pandas hashes them.
    ids = ["\ud800x", "b", "a"]
    idmap = IdMap(ids)
    assert idmap.ids.tolist() == sorted(ids)
    assert idmap.to_index(["a", "\ud800x", "q"], missing="negative").tolist() == [0, 2, -1]
    assert IdMap.encode(np.array(ids, dtype=object))[1].tolist() == [2, 1, 0]


def test_lookup_refuses_a_trailing_nul_as_before(threshold):
    idmap = IdMap(["a", "b"], name="item")
    query = np.array(["a", "b", "b\x00"], dtype=object)
    for missing in ("raise", "negative"):
        with pytest.raises(UnknownIdError, match=r"'b\\x00' at position 2: ids must not end with a NUL"):
            idmap.to_index(query, missing=missing)
    assert idmap.to_index(query, missing="lenient").tolist() == [0, 1, -1]


def test_nul_inside_an_id_survives_every_path(threshold):
    # pyarrow cuts numpy unicode elements at a NUL; the bulk paths must not inherit that.
    ids = np.array(["a\x00b", "a", "b\x00c", "\U0001f600"], dtype=object)
    idmap = IdMap(ids)
    assert idmap.ids.tolist() == sorted(ids.tolist())
    expected = [1, 0, 2, 3]
    assert idmap.to_index(ids).tolist() == expected
    assert idmap.to_index(ids.astype(str)).tolist() == expected
    assert IdMap.encode(ids)[1].tolist() == expected
    assert IdMap.encode(pa.array(ids.tolist()))[1].tolist() == expected


def test_build_keeps_nul_exact_ids_apart(threshold):
    # pandas.factorize would merge "a", "a\x00b" and "a\x00" (its string table reads C strings).
    from likewise.data import Interactions

    users = np.array(["a", "a\x00b", "a", "b"], dtype=object)
    data = Interactions.from_arrays(users, [1, 2, 3, 4])
    assert data.users.ids.tolist() == ["a", "a\x00b", "b"]
    assert data.user_counts().tolist() == [2, 1, 1]
    with pytest.raises(DataError, match=r"row 2: user: id ends with a NUL character"):
        Interactions.from_arrays(np.array(["a", "b", "a\x00"], dtype=object), [1, 2, 3])


@pytest.fixture
def sliced(monkeypatch):
    """Every Arrow string column is cut into one slice per CPU-pool thread (at least two)."""
    monkeypatch.setattr(idmap_module, "_ROWS_PER_SLICE", 1)
    monkeypatch.setattr(pa, "cpu_count", lambda: 3)


@HYPO
@given(vocab=str_vocab, seed=st.integers(0, 2**16), n=st.integers(1, 200), layout=st.sampled_from(["s", "ls", "sv"]))
def test_sliced_encoding_matches_the_dict_twin(vocab, seed, n, layout):
    # Slices are encoded in threads and their dictionaries merged: the result must not show it.
    raw = _draw(vocab, seed, n, as_object=False)
    ref = IdMapReference(raw)
    column = pa.array(raw, type={"s": pa.string(), "ls": pa.large_string(), "sv": pa.string_view()}[layout])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(idmap_module, "_ROWS_PER_SLICE", 1)
        mp.setattr(pa, "cpu_count", lambda: 3)
        codes, uniques = idmap_module.encode_arrow_strings(column)
        encoded, codes_again = IdMap.encode(column)
    assert uniques.tolist() == ref.ids and codes.dtype == np.int32
    assert codes.tolist() == ref.to_index(raw) == codes_again.tolist()
    assert encoded.ids.tolist() == ref.ids


def test_sliced_encoding_keeps_nul_exact_ids_apart_and_refusals(sliced, monkeypatch):
    monkeypatch.setattr(idmap_module, "BULK", 1)
    ids = ["a\x00b", "a", "b", "a\x00b", "\U0001f600", "a"]
    idmap, codes = IdMap.encode(pa.array(ids))
    assert idmap.ids.tolist() == sorted(set(ids))
    assert codes.tolist() == [1, 0, 2, 1, 3, 0]
    with pytest.raises(DataError, match=r"'c\\x00' at position 4"):
        IdMap.encode(pa.array(["a", "b", "a", "b", "c\x00", "c\x00"]))
    # Python strings go through the same sliced Arrow encoding.
    assert IdMap.encode(np.array(ids * 2, dtype=object))[1].tolist() == codes.tolist() * 2
