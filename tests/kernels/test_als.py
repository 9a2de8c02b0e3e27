"""likewise.kernels.als against its dense float64 twin (tests/reference/als.py)."""

from __future__ import annotations

import itertools
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

from likewise.kernels.als import als_loss, factor_topk, solve_rows
from tests.reference.als import dense_confidence, loss_reference, signed_confidence, solve_rows_reference
from tests.reference.topk import topk_rows_reference

HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


def random_problem(rng: np.random.Generator, n_rows: int, n_cols: int, f: int, density: float):
    """Random raw values (counts, some negative "dislikes"), factors of the other side and a start."""
    mask = rng.random((n_rows, n_cols)) < density
    values = np.where(rng.random((n_rows, n_cols)) < 0.85, 1.0, -1.0) * rng.integers(1, 6, (n_rows, n_cols))
    csr = sp.csr_matrix(np.where(mask, values, 0.0).astype(np.float32))
    Y = rng.standard_normal((n_cols, f)).astype(np.float32) * 0.5
    X = rng.standard_normal((n_rows, f)).astype(np.float32) * 0.1
    return csr, X, Y


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n_rows = draw(st.integers(1, 12))
    n_cols = draw(st.integers(1, 15))
    f = draw(st.integers(1, 9))
    density = draw(st.sampled_from([0.0, 0.2, 0.5, 1.0]))
    reg = draw(st.sampled_from([0.05, 0.5, 3.0]))
    conf = draw(st.sampled_from([{"alpha": 1.0}, {"alpha": 0.0}, {"alpha": 2.5, "confidence": "log", "epsilon": 0.5}]))
    return (*random_problem(np.random.default_rng(seed), n_rows, n_cols, f, density), reg, conf)


def dense(csr, conf):
    return dense_confidence(csr.shape, csr.indptr, csr.indices, signed_confidence(csr.data, **conf))


# --------------------------------------------------------------------------- exact solves


@HYPO
@given(problems(), st.booleans())
def test_cholesky_matches_dense_normal_equations(problem, parallel):
    csr, X, Y, reg, conf = problem
    C, P = dense(csr, conf)
    expected = solve_rows_reference(C, P, Y, reg)
    solve_rows(csr.indptr, csr.indices, csr.data, X, Y, reg, solver="cholesky", parallel=parallel, **conf)
    np.testing.assert_allclose(X, expected, rtol=2e-4, atol=2e-5)


@HYPO
@given(problems())
def test_cg_with_f_steps_matches_exact_solution(problem):
    csr, X, Y, reg, conf = problem
    C, P = dense(csr, conf)
    expected = solve_rows_reference(C, P, Y, reg)
    f = Y.shape[1]
    # in exact arithmetic CG solves an f x f system in f steps; float32 gets a few more
    for _ in range(3):
        solve_rows(csr.indptr, csr.indices, csr.data, X, Y, reg, solver="cg", cg_steps=f + 2, **conf)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(X, expected, rtol=2e-3, atol=2e-4 * scale)


def test_cg_few_steps_shrinks_the_residual(rng):
    csr, X, Y = random_problem(rng, 40, 60, 16, 0.2)
    reg = 0.1
    C, P = dense(csr, {"alpha": 1.0})
    expected = solve_rows_reference(C, P, Y, reg)
    errors = []
    for _ in range(4):
        errors.append(float(np.abs(X - expected).max()))
        solve_rows(csr.indptr, csr.indices, csr.data, X, Y, reg, solver="cg", cg_steps=3)
    errors.append(float(np.abs(X - expected).max()))
    assert all(b < a for a, b in itertools.pairwise(errors)), errors
    assert errors[-1] < 0.02 * errors[0]


def test_known_one_by_one_solution():
    # one row, one column, f = 1: (c y^2 + reg) x = c y  ->  x = c y / (c y^2 + reg), c = 1 + 1 * 2
    indptr = np.array([0, 1])
    indices = np.array([0], dtype=np.int32)
    conf = np.array([2.0], dtype=np.float32)
    Y = np.array([[2.0]], dtype=np.float32)
    for solver in ("cholesky", "cg"):
        X = np.zeros((1, 1), dtype=np.float32)
        solve_rows(indptr, indices, conf, X, Y, 0.5, solver=solver, cg_steps=1)
        np.testing.assert_allclose(X[0, 0], 3 * 2 / (3 * 4 + 0.5), rtol=1e-6)


def test_empty_rows_get_zero_factors_from_cholesky(rng):
    csr, X, Y = random_problem(rng, 5, 7, 3, 0.0)
    solve_rows(csr.indptr, csr.indices, csr.data, X, Y, 0.1, solver="cholesky")
    assert (X == 0).all()


def test_dislikes_push_scores_down():
    # a single observed cell with preference 0 and high confidence: the score goes to ~0
    Y = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    X = np.zeros((1, 2), dtype=np.float32)
    solve_rows(np.array([0, 2]), np.array([0, 1], np.int32), np.array([4.0, -4.0], np.float32), X, Y, 0.01)
    scores = X @ Y.T
    assert scores[0, 0] > 0.95 and abs(scores[0, 1]) < 1e-6


def test_serial_equals_parallel(rng):
    csr, X, Y = random_problem(rng, 300, 80, 8, 0.1)  # several chunks
    for solver in ("cg", "cholesky"):
        a, b = X.copy(), X.copy()
        solve_rows(csr.indptr, csr.indices, csr.data, a, Y, 0.1, solver=solver, parallel=True)
        solve_rows(csr.indptr, csr.indices, csr.data, b, Y, 0.1, solver=solver, parallel=False)
        np.testing.assert_array_equal(a, b)


def test_bad_inputs_are_refused(rng):
    csr, X, Y = random_problem(rng, 3, 4, 2, 0.5)
    with pytest.raises(ValueError, match="float32"):
        solve_rows(csr.indptr, csr.indices, csr.data, X.astype(np.float64), Y, 0.1)
    with pytest.raises(ValueError, match="widths differ"):
        solve_rows(csr.indptr, csr.indices, csr.data, X, Y[:, :1].copy(), 0.1)
    with pytest.raises(ValueError, match="CSR parts"):
        solve_rows(csr.indptr[:-1], csr.indices, csr.data, X, Y, 0.1)
    with pytest.raises(ValueError, match="confidence must be"):
        solve_rows(csr.indptr, csr.indices, csr.data, X, Y, 0.1, confidence="square")


# --------------------------------------------------------------------------- loss


@HYPO
@given(problems())
def test_loss_matches_dense_objective(problem):
    csr, X, Y, reg, conf = problem
    C, P = dense(csr, conf)
    expected = loss_reference(C, P, X, Y, reg)
    got, total = als_loss(csr.indptr, csr.indices, csr.data, X, Y, reg, **conf)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(total, C.sum(), rtol=1e-6)


# --------------------------------------------------------------------------- fused recommend


@HYPO
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 40),
    st.integers(1, 30),
    st.integers(1, 12),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_factor_topk_matches_scores_then_full_sort(seed, n_users, n_items, k, with_bias, with_seen, parallel):
    rng = np.random.default_rng(seed)
    U = rng.integers(-2, 3, (n_users, 3)).astype(np.float32)  # small integers: exact scores, many ties
    V = rng.integers(-2, 3, (n_items, 3)).astype(np.float32)
    bias = rng.integers(-1, 2, n_items).astype(np.float32) if with_bias else None
    seen = sp.csr_matrix((rng.random((n_users, n_items)) < 0.3).astype(np.float32))
    allowed = rng.random(n_items) < 0.9
    rows = rng.integers(0, n_users, rng.integers(1, 2 * n_users + 1))
    idx, top = factor_topk(
        U, V, rows, k, bias=bias, seen_indptr=seen.indptr if with_seen else None,
        seen_indices=seen.indices if with_seen else None, allowed=allowed, parallel=parallel,
    )  # fmt: skip
    scores = U[rows] @ V.T + (0 if bias is None else bias)
    sets = [set(seen.indices[seen.indptr[r] : seen.indptr[r + 1]].tolist()) for r in rows] if with_seen else None
    ref_idx, ref_top = topk_rows_reference(scores, k, sets, allowed)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(top, ref_top)


def test_factor_topk_many_groups_in_parallel(rng):
    U = rng.standard_normal((3000, 8)).astype(np.float32)
    V = rng.standard_normal((50, 8)).astype(np.float32)
    rows = np.arange(3000)
    idx, top = factor_topk(U, V, rows, 5)
    serial_idx, serial_top = factor_topk(U, V, rows, 5, parallel=False)
    np.testing.assert_array_equal(idx, serial_idx)
    np.testing.assert_allclose(top, serial_top, rtol=1e-5)  # other group sizes: other BLAS sums
    expected = np.argsort(-(U @ V.T), axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(idx, expected)


# --------------------------------------------------------------------------- plain Python bodies

_PURE_PYTHON_SCRIPT = textwrap.dedent(
    """
    import numba
    import numpy as np
    import scipy.sparse as sp

    from likewise.kernels import als
    from tests.reference.als import dense_confidence, signed_confidence, solve_rows_reference

    assert numba.config.DISABLE_JIT, "NUMBA_DISABLE_JIT was not honoured"
    rng = np.random.default_rng(3)
    dense = np.where(rng.random((9, 6)) < 0.4, 1.0 + rng.integers(0, 4, (9, 6)), 0.0)
    dense[0, 0] = -3.0
    csr = sp.csr_matrix(dense.astype(np.float32))
    Y = rng.standard_normal((6, 3)).astype(np.float32)
    C, P = dense_confidence(csr.shape, csr.indptr, csr.indices, signed_confidence(csr.data, 1.0))
    expected = solve_rows_reference(C, P, Y, 0.2)
    for solver, steps in (("cholesky", 1), ("cg", 6)):
        for parallel in (False, True):
            X = np.zeros((9, 3), dtype=np.float32)
            for _ in range(3):
                als.solve_rows(csr.indptr, csr.indices, csr.data, X, Y, 0.2, solver=solver, cg_steps=steps,
                               parallel=parallel)
            np.testing.assert_allclose(X, expected, rtol=1e-3, atol=1e-4)
    loss, total = als.als_loss(csr.indptr, csr.indices, csr.data, X, Y, 0.2)
    assert np.isfinite(loss) and np.isclose(total, C.sum())
    for parallel in (False, True):
        idx, _ = als.factor_topk(X, Y, np.arange(9), 2, seen_indptr=csr.indptr, seen_indices=csr.indices,
                                 parallel=parallel)
        scores = X @ Y.T
        scores[csr.toarray() != 0] = -np.inf
        assert (idx[:, 0] == np.argmax(scores, axis=1)).all()
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
