"""CSR building kernels against their Python twin (tests/reference/sparse.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.kernels import thread_limits
from likewise.kernels.sparse import distinct_per_user, merge_duplicates, pair_order
from tests.reference.sparse import merge_pairs_reference, pair_order_reference

HYPO = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POLICIES = ["first", "last", "sum", "mean"]


def build(uidx, iidx, vals, ts, policy, n_users):
    order, row_starts = pair_order(uidx, iidx, ts, n_users)
    counts = distinct_per_user(order, row_starts, iidx)
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices, data, t_out = merge_duplicates(order, row_starts, iidx, vals, ts, indptr, policy)
    return order, indptr, indices, data, t_out


def random_log(seed, n, n_users, n_items, ts_range):
    rng = np.random.default_rng(seed)
    uidx = rng.integers(0, n_users, n).astype(np.int32)
    iidx = rng.integers(0, n_items, n).astype(np.int32)
    vals = rng.integers(-6, 11, n) / 2
    ts = rng.integers(0, ts_range, n).astype(np.int64)  # a small range: ties within repeated pairs
    return uidx, iidx, vals, ts


@given(
    seed=st.integers(0, 100_000),
    n=st.integers(1, 400),
    n_users=st.integers(1, 12),
    n_items=st.integers(1, 30),
    ts_range=st.sampled_from([1, 3, 1000]),
    with_ts=st.booleans(),
    policy=st.sampled_from(POLICIES),
    threads=st.sampled_from([1, 2]),
    float32=st.booleans(),
)
@HYPO
def test_matches_the_python_twin(seed, n, n_users, n_items, ts_range, with_ts, policy, threads, float32):
    uidx, iidx, vals, ts = random_log(seed, n, n_users, n_items, ts_range)
    ts = ts if with_ts else None
    vals = vals.astype(np.float32) if float32 else vals
    with thread_limits(threads):
        order, indptr, indices, data, t_out = build(uidx, iidx, vals, ts, policy, n_users)
    np.testing.assert_array_equal(order, pair_order_reference(uidx, iidx, ts))
    want_ptr, want_idx, want_data, want_ts = merge_pairs_reference(uidx, iidx, vals, ts, policy, n_users)
    np.testing.assert_array_equal(indptr, want_ptr)
    np.testing.assert_array_equal(indices, want_idx)
    assert indices.dtype == np.int32 and data.dtype == np.float32
    np.testing.assert_array_equal(data, want_data)  # float64 sums in the same order: identical
    if with_ts:
        np.testing.assert_array_equal(t_out, want_ts)
    else:
        assert t_out is None


def test_known_answer():
    # user 1 rated item 2 three times: at t=5 (row 0), t=3 (row 2) and t=5 (row 3)
    uidx = np.array([1, 0, 1, 1, 1], dtype=np.int32)
    iidx = np.array([2, 0, 2, 2, 1], dtype=np.int32)
    vals = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    ts = np.array([5, 9, 3, 5, 7], dtype=np.int64)
    order, row_starts = pair_order(uidx, iidx, ts, 2)
    np.testing.assert_array_equal(order, [1, 4, 2, 0, 3])  # item 2's rows by (t, position)
    np.testing.assert_array_equal(row_starts, [0, 1, 5])
    expect = {"first": ([2, 5, 3], [9, 7, 3]), "last": ([2, 5, 4], [9, 7, 5]), "sum": ([2, 5, 8], [9, 7, 5])}
    expect["mean"] = ([2, 5, 8 / 3], [9, 7, 5])
    for policy, (data_want, ts_want) in expect.items():
        _, indptr, indices, data, t_out = build(uidx, iidx, vals, ts, policy, 2)
        np.testing.assert_array_equal(indptr, [0, 1, 3])
        np.testing.assert_array_equal(indices, [0, 1, 2])
        np.testing.assert_allclose(data, data_want, rtol=1e-7)
        np.testing.assert_array_equal(t_out, ts_want)
    # without timestamps, input order decides: first = row 0, last = row 3
    _, _, _, data, t_out = build(uidx, iidx, vals, None, "first", 2)
    assert data[2] == 1.0 and t_out is None
    _, _, _, data, _ = build(uidx, iidx, vals, None, "last", 2)
    assert data[2] == 4.0


@pytest.mark.parametrize("run", [5, 40])
def test_long_runs_take_the_merge_sort(run):
    # one user with `run` rows in descending item order, each pair twice with falling timestamps
    items = np.repeat(np.arange(run)[::-1], 2).astype(np.int32)
    uidx = np.zeros(items.size, dtype=np.int32)
    ts = np.arange(items.size, 0, -1).astype(np.int64)
    order, _ = pair_order(uidx, items, ts, 1)
    np.testing.assert_array_equal(order, pair_order_reference(uidx, items, ts))


def test_users_without_rows():
    uidx = np.array([3, 3], dtype=np.int32)
    iidx = np.array([1, 0], dtype=np.int32)
    _, indptr, indices, data, _ = build(uidx, iidx, np.array([1.0, 2.0]), None, "sum", 5)
    np.testing.assert_array_equal(indptr, [0, 0, 0, 0, 2, 2])
    np.testing.assert_array_equal(indices, [0, 1])
    np.testing.assert_array_equal(data, [2.0, 1.0])
