"""likewise.kernels.bpr (and the SplitMix64 streams of _rng) against the plain-Python twin."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.kernels import bpr as bpr_kernels
from likewise.kernels._rng import stream_states
from likewise.kernels.bpr import bpr_epoch, bpr_fold_in, positives_bitset
from tests.reference.bpr import bpr_epoch_reference, bpr_step_reference

HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROOT = Path(__file__).resolve().parents[2]
REGS = {"reg_user": 0.01, "reg_pos": 0.02, "reg_neg": 0.03, "reg_bias": 0.04}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(99)


def problem(rng: np.random.Generator, n_users: int, n_items: int, f: int, density: float):
    dense = rng.random((n_users, n_items)) < density
    dense[:, 0] |= ~dense.any(axis=1)  # everybody has a positive
    csr = sp.csr_matrix(dense.astype(np.float32))
    user_of = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(csr.indptr))
    U = rng.standard_normal((n_users, f)).astype(np.float32) * 0.3
    V = rng.standard_normal((n_items, f)).astype(np.float32) * 0.3
    bias = rng.standard_normal(n_items).astype(np.float32) * 0.1
    return csr, user_of, U, V, bias


def run(csr, user_of, U, V, bias, *, streams=1, record=None, use_bias=True, verify=True, seed=7, epoch=0, bits=None):
    return bpr_epoch(
        csr.indptr, csr.indices, user_of, U, V, bias, learning_rate=0.1, use_bias=use_bias, seed=seed, epoch=epoch,
        n_streams=streams, verify=verify, record=record, positive_bits=bits, **REGS,
    )  # fmt: skip


# --------------------------------------------------------------------------- one step by hand


def test_one_step_by_hand():
    # one user, one positive (item 0), two items: the only possible triple is (0, 0, 1)
    csr = sp.csr_matrix(np.array([[1.0, 0.0]], dtype=np.float32))
    U = np.array([[1.0, 0.0]], dtype=np.float32)
    V = np.array([[0.5, 0.5], [0.0, 1.0]], dtype=np.float32)
    bias = np.array([0.2, 0.0], dtype=np.float32)
    record = np.zeros((1, 3), dtype=np.int64)
    stats = run(csr, np.zeros(1, np.int32), U, V, bias, record=record)
    assert record.tolist() == [[0, 0, 1]]
    x_uij = 1.0 * 0.5 + 0.0 * (0.5 - 1.0) + 0.2  # 0.7
    z = 1 / (1 + math.exp(x_uij))
    lr = 0.1
    np.testing.assert_allclose(U[0], [1 + lr * (z * 0.5 - 0.01 * 1), lr * (z * -0.5)], rtol=1e-6)
    np.testing.assert_allclose(V[0], [0.5 + lr * (z - 0.02 * 0.5), 0.5 + lr * (-0.02 * 0.5)], rtol=1e-6)
    np.testing.assert_allclose(V[1], [lr * -z, 1 + lr * (-0.03)], rtol=1e-6)
    np.testing.assert_allclose(bias, [0.2 + lr * (z - 0.04 * 0.2), lr * -z], rtol=1e-6)
    np.testing.assert_allclose(stats["loss"], math.log1p(math.exp(-x_uij)), rtol=1e-6)
    assert stats["accuracy"] == 1.0 and stats["skipped"] == 0


def test_reference_step_matches_hand_computation():
    x, _, _, _, bj = bpr_step_reference([1.0, 0.0], [0.5, 0.5], [0.0, 1.0], 0.2, 0.0, 0.1, 0.01, 0.02, 0.03, 0.04, True)
    z = 1 / (1 + math.exp(0.7))
    assert x == pytest.approx([1 + 0.1 * (z * 0.5 - 0.01), 0.1 * (z * -0.5)])
    assert bj == pytest.approx(-0.1 * z)


# --------------------------------------------------------------------------- an epoch against the twin


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(2, 12))
    f = draw(st.integers(1, 6))
    density = draw(st.sampled_from([0.1, 0.4, 0.9]))
    return problem(np.random.default_rng(seed), n_users, n_items, f, density)


@HYPO
@given(problems(), st.booleans(), st.booleans())
def test_serial_epoch_matches_plain_python_replay(case, use_bias, verify):
    csr, user_of, U, V, bias = case
    U0, V0, b0 = U.copy(), V.copy(), bias.copy()
    record = np.zeros((csr.nnz, 3), dtype=np.int64)
    run(csr, user_of, U, V, bias, record=record, use_bias=use_bias, verify=verify)
    positives = [set(csr.indices[csr.indptr[u] : csr.indptr[u + 1]].tolist()) for u in range(csr.shape[0])]
    for u, i, j in record:
        assert i in positives[u]
        if verify and j >= 0:
            assert j not in positives[u]
        if j < 0:
            assert verify and len(positives[u]) > 0
    Ur, Vr, br = bpr_epoch_reference(record, U0, V0, b0, 0.1, *REGS.values(), use_bias)
    np.testing.assert_allclose(U, Ur, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(V, Vr, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bias, br if use_bias else b0, rtol=1e-4, atol=1e-5)


@HYPO
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(2, 200), st.sampled_from([0.05, 0.5, 0.95]))
def test_bitset_verification_draws_exactly_what_the_search_draws(seed, n_users, n_items, density):
    csr, user_of, U, V, bias = problem(np.random.default_rng(seed), n_users, n_items, 3, density)
    bits = positives_bitset(csr.indptr, csr.indices, n_items)
    assert bits is not None and bits.shape == (n_users, (n_items + 63) // 64)
    dense = np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little")[:, :n_items]
    np.testing.assert_array_equal(dense, csr.toarray() != 0)
    runs = []
    for use_bits in (None, bits):
        record = np.zeros((csr.nnz, 3), dtype=np.int64)
        params = [U.copy(), V.copy(), bias.copy()]
        run(csr, user_of, *params, record=record, bits=use_bits)
        runs.append((record, params))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_bitset_is_skipped_above_its_memory_budget(monkeypatch):
    csr = sp.csr_matrix(np.eye(4, 130, dtype=np.float32))
    monkeypatch.setattr(bpr_kernels, "_BITSET_BYTES", 4 * 3 * 8 - 1)  # 4 users x 3 words, one byte short
    assert positives_bitset(csr.indptr, csr.indices, 130) is None
    monkeypatch.setattr(bpr_kernels, "_BITSET_BYTES", 4 * 3 * 8)
    assert positives_bitset(csr.indptr, csr.indices, 130) is not None
    with pytest.raises(ValueError, match="positive_bits"):
        run(csr, np.arange(4, dtype=np.int32), *problem(np.random.default_rng(0), 4, 130, 2, 0.1)[2:],
            bits=np.zeros((4, 2), np.uint64))  # fmt: skip


def test_serial_epoch_is_bit_reproducible(rng):
    csr, user_of, U, V, bias = problem(rng, 50, 30, 8, 0.2)
    first = [U.copy(), V.copy(), bias.copy()]
    second = [U.copy(), V.copy(), bias.copy()]
    for params in (first, second):
        for epoch in range(3):
            run(csr, user_of, *params, epoch=epoch)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    third = [U.copy(), V.copy(), bias.copy()]
    run(csr, user_of, *third, seed=8)
    assert not np.array_equal(third[0], first[0])


def test_sampling_is_uniform_over_pairs_and_items(rng):
    csr, user_of, U, V, bias = problem(rng, 40, 25, 2, 0.3)
    counts_pairs = np.zeros(csr.nnz)
    counts_neg = np.zeros(csr.shape[1])
    record = np.zeros((csr.nnz, 3), dtype=np.int64)
    n_epochs = 400
    for epoch in range(n_epochs):
        run(csr, user_of, U, V, bias, record=record, verify=False, epoch=epoch)
        # position of (u, i) in the CSR arrays: its row start plus i's rank within the row
        for u, i, j in record:
            start = csr.indptr[u]
            counts_pairs[start + np.searchsorted(csr.indices[start : csr.indptr[u + 1]], i)] += 1
            counts_neg[j] += 1
    expected_pair = n_epochs
    assert np.abs(counts_pairs - expected_pair).max() < 5 * math.sqrt(expected_pair)
    expected_neg = n_epochs * csr.nnz / csr.shape[1]
    assert np.abs(counts_neg - expected_neg).max() < 5 * math.sqrt(expected_neg)


def test_parallel_streams_cover_every_slot_with_valid_triples(rng):
    csr, user_of, U, V, bias = problem(rng, 300, 60, 8, 0.1)
    record = np.full((csr.nnz, 3), -7, dtype=np.int64)
    stats = run(csr, user_of, U, V, bias, streams=4, record=record)
    assert (record[:, 0] >= 0).all()
    for u, i, j in record:
        row = csr.indices[csr.indptr[u] : csr.indptr[u + 1]]
        assert i in row and j not in row
    # stream t draws from the t-th quarter of the interactions: its users form a block
    quarter = csr.nnz // 4
    assert record[: quarter - 1, 0].max() <= record[-quarter + 1 :, 0].min()
    assert np.isfinite(U).all() and np.isfinite(stats["loss"])


def test_user_with_every_item_is_skipped():
    csr = sp.csr_matrix(np.ones((1, 3), dtype=np.float32))
    U = np.ones((1, 2), np.float32)
    V = np.ones((3, 2), np.float32)
    bias = np.zeros(3, np.float32)
    record = np.zeros((3, 3), dtype=np.int64)
    stats = run(csr, np.zeros(3, np.int32), U, V, bias, record=record)
    assert stats["skipped"] == 3 and (record[:, 2] == -1).all() and np.isnan(stats["loss"])
    np.testing.assert_array_equal(U, 1.0)


def test_bad_arrays_are_refused(rng):
    csr, user_of, U, V, bias = problem(rng, 3, 4, 2, 0.5)
    with pytest.raises(ValueError, match="C-contiguous float32"):
        run(csr, user_of, U.astype(np.float64), V, bias)
    with pytest.raises(ValueError, match="shapes"):
        run(csr, user_of, U, V, bias[:-1].copy())


# --------------------------------------------------------------------------- streams and fold-in


def test_stream_states_are_distinct_and_seeded():
    a = stream_states(1, 64)
    assert a.dtype == np.uint64 and len(set(a.tolist())) == 64
    np.testing.assert_array_equal(a, stream_states(1, 64))
    assert not set(a.tolist()) & set(stream_states(2, 64).tolist())
    assert not set(a.tolist()) & set(stream_states(1, 64, salt=1).tolist())


def test_fold_in_prefers_the_history_and_is_deterministic(rng):
    V = rng.standard_normal((20, 4)).astype(np.float32)
    bias = np.zeros(20, np.float32)
    items = np.array([3, 5, 7], dtype=np.int32)
    kwargs = {"learning_rate": 0.05, "reg_user": 0.01, "use_bias": False, "n_steps": 3000, "seed": 4}
    x = bpr_fold_in(items, V, bias, **kwargs)
    np.testing.assert_array_equal(x, bpr_fold_in(items[::-1], V, bias, **kwargs))
    scores = V @ x
    others = np.setdiff1d(np.arange(20), items)
    assert scores[items].mean() > scores[others].mean()
    assert (bpr_fold_in(np.array([], np.int32), V, bias, **kwargs) == 0).all()


# --------------------------------------------------------------------------- plain Python bodies

_PURE_PYTHON_SCRIPT = textwrap.dedent(
    """
    import numba
    import numpy as np
    import scipy.sparse as sp

    from likewise.kernels.bpr import bpr_epoch, bpr_fold_in
    from tests.reference.bpr import bpr_epoch_reference

    assert numba.config.DISABLE_JIT, "NUMBA_DISABLE_JIT was not honoured"
    rng = np.random.default_rng(1)
    csr = sp.csr_matrix((rng.random((6, 9)) < 0.4).astype(np.float32))
    user_of = np.repeat(np.arange(6, dtype=np.int32), np.diff(csr.indptr))
    U = rng.standard_normal((6, 3)).astype(np.float32)
    V = rng.standard_normal((9, 3)).astype(np.float32)
    b = np.zeros(9, np.float32)
    U0, V0, b0 = U.copy(), V.copy(), b.copy()
    record = np.zeros((csr.nnz, 3), dtype=np.int64)
    regs = {"reg_user": 0.01, "reg_pos": 0.01, "reg_neg": 0.01, "reg_bias": 0.01}
    bpr_epoch(csr.indptr, csr.indices, user_of, U, V, b, learning_rate=0.1, use_bias=True, seed=3, epoch=0,
              n_streams=1, record=record, **regs)
    Ur, Vr, br = bpr_epoch_reference(record, U0, V0, b0, 0.1, 0.01, 0.01, 0.01, 0.01, True)
    np.testing.assert_allclose(U, Ur, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(V, Vr, rtol=1e-4, atol=1e-5)
    bpr_epoch(csr.indptr, csr.indices, user_of, U, V, b, learning_rate=0.1, use_bias=True, seed=3, epoch=1,
              n_streams=2, **regs)
    x = bpr_fold_in(np.array([1, 2]), V, b, learning_rate=0.1, reg_user=0.01, use_bias=True, n_steps=50, seed=1)
    assert np.isfinite(x).all()
    print("ok")
    """
)


def test_kernel_bodies_as_plain_python():
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", _PURE_PYTHON_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
