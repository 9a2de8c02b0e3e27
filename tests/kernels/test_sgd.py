"""SGD kernels (SVD, SVD++) against their plain-numpy twins in tests/reference/sgd.py."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.kernels.sgd import build_schedule, group_assignment, implicit_sums, svd_epoch, svdpp_epoch_exact
from tests.reference.sgd import svd_epoch_reference, svdpp_epoch_reference

HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LRS = (0.01, 0.02, 0.03, 0.015)
REGS = (0.02, 0.05, 0.01, 0.03)
LRS5 = (0.01, 0.02, 0.03, 0.015, 0.025)
REGS5 = (0.02, 0.05, 0.01, 0.03, 0.04)


def random_ratings(seed: int, n_users: int = 7, n_items: int = 6, density: float = 0.5) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[rng.integers(0, n_users), :] = False  # an empty user row
    values = rng.integers(1, 6, size=(n_users, n_items)).astype(np.float32)
    matrix = sp.csr_matrix(np.where(mask, values, 0.0).astype(np.float32))
    matrix.sort_indices()
    return matrix


def schedule_for(matrix: sp.csr_matrix, n_groups: int, seed: int):
    rng = np.random.default_rng(seed)
    ug = group_assignment(np.diff(matrix.indptr), n_groups, rng)
    ig = group_assignment(np.bincount(matrix.indices, minlength=matrix.shape[1]), n_groups, rng)
    order = rng.permutation(matrix.shape[0])
    return build_schedule(matrix.indptr, matrix.indices, matrix.data, order, ug, ig, n_groups), ug, ig, order


def init_state(matrix: sp.csr_matrix, n_factors: int, seed: int, n_item_blocks: int = 1):
    rng = np.random.default_rng(seed + 1)
    n_users, n_items = matrix.shape
    arrays = [
        rng.normal(0, 0.3, n_users).astype(np.float32),
        rng.normal(0, 0.3, n_items).astype(np.float32),
        rng.normal(0, 0.3, (n_users, n_factors)).astype(np.float32),
    ]
    arrays += [rng.normal(0, 0.3, (n_items, n_factors)).astype(np.float32) for _ in range(n_item_blocks)]
    return arrays


def f64(arrays):
    return [a.astype(np.float64) for a in arrays]


# --------------------------------------------------------------------------- schedule


@given(seed=st.integers(0, 10_000), n_groups=st.integers(1, 4))
@HYPO
def test_schedule_is_a_conflict_free_permutation(seed, n_groups):
    matrix = random_ratings(seed, n_users=9, n_items=8)
    (users, items, ratings, ptr), ug, ig, order = schedule_for(matrix, n_groups, seed)
    coo = matrix.tocoo()
    assert sorted(zip(users.tolist(), items.tolist(), ratings.tolist(), strict=True)) == sorted(
        zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
    )
    assert ptr[0] == 0 and ptr[-1] == matrix.nnz and (np.diff(ptr) >= 0).all()
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    for s in range(n_groups):
        seen_users, seen_items = set(), set()
        for t in range(n_groups):
            block = slice(ptr[s * n_groups + t], ptr[s * n_groups + t + 1])
            assert (ug[users[block]] == t).all()
            assert (ig[items[block]] == (t + s) % n_groups).all()
            # users visited in the seeded order, each user's ratings in a row
            assert (np.diff(rank[users[block]]) >= 0).all()
            # blocks of one sub-epoch share no user and no item
            assert not seen_users & set(users[block].tolist())
            assert not seen_items & set(items[block].tolist())
            seen_users |= set(users[block].tolist())
            seen_items |= set(items[block].tolist())


def test_group_assignment_balances_counts():
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 50, size=2000)
    groups = group_assignment(counts, 4, rng)
    totals = np.bincount(groups, weights=counts, minlength=4)
    assert groups.min() == 0 and groups.max() == 3
    assert totals.max() - totals.min() <= 2 * counts.max()
    assert (group_assignment(counts, 1, rng) == 0).all()


# --------------------------------------------------------------------------- SVD


@given(seed=st.integers(0, 10_000), n_groups=st.integers(1, 3), n_factors=st.integers(0, 9), biased=st.booleans())
@HYPO
def test_svd_epoch_matches_reference(seed, n_groups, n_factors, biased):
    matrix = random_ratings(seed)
    schedule, *_ = schedule_for(matrix, n_groups, seed)
    state = init_state(matrix, n_factors, seed)
    expected = f64(state)
    mu = 3.0 if biased else 0.0
    sse_ref = 0.0
    for _ in range(3):
        sse = svd_epoch(schedule, n_groups, mu, *state, LRS, REGS, update_bias=biased)
        sse_ref = svd_epoch_reference(*schedule[:3], mu, *expected, LRS, REGS, update_bias=biased)
    for got, want in zip(state, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    assert sse == pytest.approx(sse_ref, rel=1e-4, abs=1e-5)


def test_svd_parallel_is_reproducible_and_equals_serial_in_block_order():
    matrix = random_ratings(3, n_users=60, n_items=40, density=0.3)
    schedule, *_ = schedule_for(matrix, 2, 3)
    runs = []
    for _ in range(2):
        state = init_state(matrix, 5, 3)
        for _ in range(4):
            svd_epoch(schedule, 2, 3.5, *state, LRS, REGS)
        runs.append(state)
    serial = init_state(matrix, 5, 3)
    flat = (*schedule[:3], np.array([0, matrix.nnz], dtype=np.int64))
    for _ in range(4):
        svd_epoch(flat, 1, 3.5, *serial, LRS, REGS)
    for a, b, c in zip(*runs, serial, strict=True):
        np.testing.assert_array_equal(a, b)  # same seed, same thread count: bit-identical
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)  # = processing the blocks in order


def test_fast_math_keeps_nan_and_inf():
    # the loops are compiled with reassoc/contract/nsz only: NaN and Inf still propagate
    matrix = random_ratings(4)
    schedule, *_ = schedule_for(matrix, 1, 4)
    state = init_state(matrix, 3, 4)
    state[3][:] = np.nan
    assert np.isnan(svd_epoch(schedule, 1, 3.0, *state, LRS, REGS))
    state = init_state(matrix, 3, 4)
    state[0][:] = np.inf
    assert not np.isfinite(svd_epoch(schedule, 1, 3.0, *state, LRS, REGS))


def test_svd_epoch_rejects_wrong_dtype():
    matrix = random_ratings(1)
    schedule, *_ = schedule_for(matrix, 1, 1)
    state = init_state(matrix, 2, 1)
    state[2] = state[2].astype(np.float64)
    with pytest.raises(ValueError, match="float32"):
        svd_epoch(schedule, 1, 3.0, *state, LRS, REGS)


# --------------------------------------------------------------------------- SVD++


def user_items(matrix: sp.csr_matrix) -> list[list[int]]:
    return [matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]].tolist() for u in range(matrix.shape[0])]


@given(seed=st.integers(0, 10_000), n_factors=st.integers(1, 6))
@HYPO
def test_svdpp_exact_epoch_matches_surprise_loop(seed, n_factors):
    matrix = random_ratings(seed)
    schedule, *_ = schedule_for(matrix, 1, seed)
    state = init_state(matrix, n_factors, seed, n_item_blocks=2)
    expected = f64(state)
    for _ in range(3):
        sse = svdpp_epoch_exact(schedule, matrix.indptr, matrix.indices, 3.2, *state, LRS5, REGS5)
        sse_ref = svdpp_epoch_reference(*schedule[:3], user_items(matrix), 3.2, *expected, LRS5, REGS5)
    for got, want in zip(state, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=5e-4, atol=5e-5)
    assert sse == pytest.approx(sse_ref, rel=1e-4, abs=1e-5)


def test_svdpp_exact_needs_single_block():
    matrix = random_ratings(2)
    schedule, *_ = schedule_for(matrix, 2, 2)
    state = init_state(matrix, 2, 2, n_item_blocks=2)
    with pytest.raises(ValueError, match="G = 1"):
        svdpp_epoch_exact(schedule, matrix.indptr, matrix.indices, 3.0, *state, LRS5, REGS5)


def test_implicit_sums_match_numpy():
    matrix = random_ratings(5, n_users=10, n_items=9)
    y = np.random.default_rng(5).normal(size=(9, 4)).astype(np.float32)
    for parallel in (False, True):
        got = implicit_sums(matrix.indptr, matrix.indices, y, parallel=parallel)
        for u, items in enumerate(user_items(matrix)):
            want = y[items].sum(axis=0) / np.sqrt(len(items)) if items else np.zeros(4)
            np.testing.assert_allclose(got[u], want, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- against Surprise itself


def _surprise_setup(n_factors: int, seed: int):
    surprise = pytest.importorskip("surprise")
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = [(u, i, int(rng.integers(1, 6))) for u in range(12) for i in range(10) if rng.random() < 0.45]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    trainset = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    # Surprise's inner ids are in order of first appearance: our indices are the raw ids here.
    to_u = np.array([trainset.to_raw_uid(k) for k in range(trainset.n_users)])
    to_i = np.array([trainset.to_raw_iid(k) for k in range(trainset.n_items)])
    order = [(to_u[u], to_i[i], r) for u, i, r in trainset.all_ratings()]
    users = np.array([o[0] for o in order], dtype=np.int32)
    items = np.array([o[1] for o in order], dtype=np.int32)
    ratings = np.array([o[2] for o in order], dtype=np.float32)
    matrix = sp.csr_matrix((ratings, (users, items)), shape=(12, 10))
    matrix.sort_indices()
    return surprise, trainset, to_u, to_i, (users, items, ratings, np.array([0, users.size], np.int64)), matrix


def _reorder(inner_rows: np.ndarray, raw_of_inner: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, *inner_rows.shape[1:]), dtype=np.float32)
    out[raw_of_inner] = inner_rows
    return out


def test_svd_kernel_reproduces_surprise_svd():
    surprise, trainset, to_u, to_i, schedule, _ = _surprise_setup(4, 11)
    algo = surprise.SVD(n_factors=4, n_epochs=7, random_state=3).fit(trainset)
    init = np.random.RandomState(3)
    pu = _reorder(init.normal(0, 0.1, (trainset.n_users, 4)), to_u, 12)
    qi = _reorder(init.normal(0, 0.1, (trainset.n_items, 4)), to_i, 10)
    bu, bi = np.zeros(12, np.float32), np.zeros(10, np.float32)
    for _ in range(7):
        svd_epoch(schedule, 1, trainset.global_mean, bu, bi, pu, qi, (0.005,) * 4, (0.02,) * 4)
    np.testing.assert_allclose(pu[to_u], algo.pu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(qi[to_i], algo.qi, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bu[to_u], algo.bu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bi[to_i], algo.bi, rtol=1e-4, atol=1e-6)


def test_svdpp_kernel_reproduces_surprise_svdpp():
    surprise, trainset, to_u, to_i, schedule, matrix = _surprise_setup(3, 12)
    algo = surprise.SVDpp(n_factors=3, n_epochs=6, random_state=4).fit(trainset)
    init = np.random.RandomState(4)
    pu = _reorder(init.normal(0, 0.1, (trainset.n_users, 3)), to_u, 12)
    qi = _reorder(init.normal(0, 0.1, (trainset.n_items, 3)), to_i, 10)
    yj = _reorder(init.normal(0, 0.1, (trainset.n_items, 3)), to_i, 10)
    bu, bi = np.zeros(12, np.float32), np.zeros(10, np.float32)
    for _ in range(6):
        svdpp_epoch_exact(
            schedule, matrix.indptr, matrix.indices, trainset.global_mean, bu, bi, pu, qi, yj, (0.007,) * 5, (0.02,) * 5
        )
    np.testing.assert_allclose(pu[to_u], algo.pu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(qi[to_i], algo.qi, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(yj[to_i], algo.yj, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bu[to_u], algo.bu, rtol=1e-4, atol=1e-6)
