"""Large inputs take numba kernels where small ones keep numpy / Arrow (no numba import for a
small file): duplicate merging (MERGE_KERNEL_MIN_ROWS) and canonical integer ids
(CANONICAL_KERNEL_MIN_VALUES). Both paths give the same result, and agree with the Python twins."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import likewise
from likewise.data import _build, _tables
from likewise.exceptions import DataError
from tests.reference.sparse import merge_pairs_reference

HYPO = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def log(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 9, n) * 7 + 3  # raw ids, not 0..n-1
    items = rng.integers(0, 15, n) * 11
    ratings = rng.integers(1, 11, n) / 2
    stamps = rng.integers(0, 4, n)  # few distinct: ties inside repeated pairs
    return users, items, ratings, stamps


def build(monkeypatch, kernels: bool, *args, **kwargs) -> likewise.Interactions:
    monkeypatch.setattr(_build, "MERGE_KERNEL_MIN_ROWS", 0 if kernels else 1 << 62)
    return likewise.Interactions.from_arrays(*args, **kwargs)


@given(seed=st.integers(0, 100_000), n=st.integers(1, 300), policy=st.sampled_from(["first", "last", "sum", "mean"]))
@HYPO
def test_both_paths_build_the_twins_matrix(monkeypatch, seed, n, policy):
    users, items, ratings, stamps = log(seed, n)
    built = {
        kernels: build(monkeypatch, kernels, users, items, ratings, stamps, kind="explicit", duplicates=policy)
        for kernels in (False, True)
    }
    numpy_path, kernel_path = built[False], built[True]
    uidx = numpy_path.users.to_index(users)
    iidx = numpy_path.items.to_index(items)
    indptr, indices, data, ts = merge_pairs_reference(uidx, iidx, ratings, stamps, policy, len(numpy_path.users))
    for inter in (numpy_path, kernel_path):
        np.testing.assert_array_equal(inter.matrix.indptr, indptr)
        np.testing.assert_array_equal(inter.matrix.indices, indices)
        np.testing.assert_allclose(inter.matrix.data, data, rtol=1e-6)  # numpy's reduceat may add pairwise
        np.testing.assert_array_equal(inter.timestamps, ts)  # aligned with the CSR data
        assert inter.report.duplicates_merged == n - indices.size
    np.testing.assert_array_equal(kernel_path.matrix.data, data)  # the same float64 sums, in the same order


@pytest.mark.parametrize("kernels", [False, True])
def test_both_paths_name_the_same_duplicate(monkeypatch, kernels):
    # user 5 repeats item 1 (rows 3 and 5, line labels 13 and 15); user 2 repeats item 9 later
    users = np.array([5, 2, 5, 5, 2, 5, 2])
    items = np.array([4, 9, 0, 1, 3, 1, 9])
    labels = np.arange(10, 17)
    with pytest.raises(DataError, match=re.escape("arrays, rows 11 and 16: duplicate (user, item) pair")):
        build(monkeypatch, kernels, users, items, duplicates="error", row_labels=labels)


def test_large_inputs_take_the_kernels(monkeypatch):
    calls = []
    original = _build._merge_with_kernels
    monkeypatch.setattr(_build, "_merge_with_kernels", lambda *a: calls.append(1) or original(*a))
    monkeypatch.setattr(_build, "MERGE_KERNEL_MIN_ROWS", 4)
    likewise.Interactions.from_arrays([1, 2, 3], [1, 2, 3])
    assert not calls
    likewise.Interactions.from_arrays([1, 2, 3, 4], [1, 2, 3, 4])
    assert calls == [1]


IDS = [
    ["1", "22", "-3", "0", "9223372036854775807"],  # canonical: int64 ids
    ["1", "007", "3"],  # a leading zero: the column stays text
    ["1", "+2", "3"],
    ["1", "-0", "3"],
    ["1", "9223372036854775808", "3"],  # beyond int64: text
    ["1", "", "3"],  # an empty id: missing, reported by validation
]


@pytest.mark.parametrize("ids", IDS)
def test_both_id_paths_read_the_same(monkeypatch, ids):
    column = pa.array(ids)
    results = []
    for minimum in (1 << 62, 0):
        monkeypatch.setattr(_tables, "CANONICAL_KERNEL_MIN_VALUES", minimum)
        results.append(_tables.ids_from_text(column))
    arrow_path, kernel_path = results
    assert arrow_path.dtype == kernel_path.dtype
    assert arrow_path.tolist() == kernel_path.tolist()
    assert (arrow_path.dtype == np.int64) == (ids is IDS[0])


def test_long_id_columns_take_the_kernel(monkeypatch, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\n7,1,4\n7,2,3\n8,1,5\n", encoding="utf-8")
    calls = []
    import likewise.kernels.text as text_kernels

    original = text_kernels.canonical_int64
    monkeypatch.setattr(text_kernels, "canonical_int64", lambda v: calls.append(len(v)) or original(v))
    monkeypatch.setattr(_tables, "CANONICAL_KERNEL_MIN_VALUES", 3)
    data = likewise.read_csv(path, user="user", item="item", rating="rating")
    assert calls == [3, 3]
    assert data.users.ids.tolist() == [7, 8] and data.items.ids.tolist() == [1, 2]
