"""canonical_int64 against Python's int()/str() round trip (tests/reference/text.py)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likewise.kernels.text import canonical_int64
from tests.reference.text import canonical_int64_reference

LIMITS = ["9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809"]
NOT_CANONICAL = ["007", "+7", "-0", " 5", "5 ", "1e3", "", "-", "1_000", "12a", "99999999999999999999", "\u0663"]

# texts close to the rules' edges: signs, zeros, digits, the int64 limits and their neighbours
edge_texts = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.integers(-(2**64), 2**64).map(str),
    st.sampled_from(LIMITS + NOT_CANONICAL + ["0", "-1", "10"]),
    st.text(alphabet="-+0123456789 ", max_size=21),
)


@given(texts=st.lists(edge_texts, max_size=30), large=st.booleans(), start=st.integers(0, 3))
@settings(max_examples=300, deadline=None)
def test_matches_python_int_and_str(texts, large, start):
    column = pa.array(["1", "2", "3", *texts], pa.large_string() if large else pa.string()).slice(start)
    got = canonical_int64(column)
    want = canonical_int64_reference(column.to_pylist())
    if want is None:
        assert got is None
    else:
        assert got is not None and got.dtype == np.int64
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("text", NOT_CANONICAL + LIMITS[2:])
def test_one_spelling_that_is_not_canonical_refuses_the_column(text):
    assert canonical_int64(pa.array(["1", text, "2"])) is None


def test_known_values_and_limits():
    got = canonical_int64(pa.array(["0", "-1", "42", LIMITS[0], LIMITS[1]]))
    np.testing.assert_array_equal(got, [0, -1, 42, 2**63 - 1, -(2**63)])


def test_nulls_and_other_types_are_left_to_the_caller():
    assert canonical_int64(pa.array(["1", None])) is None
    assert canonical_int64(pa.array([1, 2])) is None
    np.testing.assert_array_equal(canonical_int64(pa.array([], pa.string())), np.zeros(0, dtype=np.int64))


def test_chunked_columns():
    column = pa.chunked_array([pa.array(["1", "-2"]), pa.array([], pa.string()), pa.array(["30"])])
    np.testing.assert_array_equal(canonical_int64(column), [1, -2, 30])
    assert canonical_int64(pa.chunked_array([pa.array(["1"]), pa.array(["01"])])) is None
    np.testing.assert_array_equal(canonical_int64(pa.chunked_array([], pa.string())), np.zeros(0, dtype=np.int64))
