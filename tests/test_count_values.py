"""`likewise._util.count_values`: np.bincount's answer, without its int64 copy of the input."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likewise._util import COUNT_BLOCK, count_values


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=300), st.integers(0, 60))
def test_equals_bincount(values: list[int], minlength: int) -> None:
    array = np.asarray(values, dtype=np.int32)
    expected = np.bincount(array, minlength=minlength)
    got = count_values(array, minlength)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


def test_spans_blocks() -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(0, 1000, size=3 * COUNT_BLOCK + 17).astype(np.int32)
    np.testing.assert_array_equal(count_values(values, 1000), np.bincount(values, minlength=1000))


def test_negative_values_are_refused_like_bincount() -> None:
    with pytest.raises(ValueError):
        count_values(np.array([1, -1], dtype=np.int32), 3)


def test_no_int64_copy_of_the_input() -> None:
    values = np.random.default_rng(1).integers(0, 100, size=8 * COUNT_BLOCK).astype(np.int32)  # 32 MB
    tracemalloc.start()
    try:
        count_values(values, 100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 8 * COUNT_BLOCK  # one block's int64 copy (8 MB), not the whole input's (64 MB)
