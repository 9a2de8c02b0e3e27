"""likewise.kernels._blas: the ssyrk / dpotrf bindings against numpy (jitted, and their numpy
twins in CI's NUMBA_DISABLE_JIT pass)."""

from __future__ import annotations

import numpy as np
import pytest

from likewise.kernels._blas import gemm_nt, potrf_upper, syrk_upper


@pytest.mark.parametrize(("m", "f"), [(1, 1), (5, 3), (40, 16), (300, 64)])
def test_syrk_upper_writes_the_gram_matrix_upper_triangle(m, f):
    rng = np.random.default_rng(m * 100 + f)
    block = rng.standard_normal((m, f)).astype(np.float32)
    G = np.full((f, f), 7.0, dtype=np.float32)
    syrk_upper(block, G, False)
    upper = np.triu_indices(f)
    lower = np.tril_indices(f, -1)
    want = block.astype(np.float64).T @ block.astype(np.float64)
    np.testing.assert_allclose(G[upper], want[upper], rtol=1e-5, atol=1e-4)
    assert (G[lower] == 7.0).all()  # the other triangle is left alone
    syrk_upper(block[: max(1, m // 2)], G, True)
    half = block[: max(1, m // 2)].astype(np.float64)
    np.testing.assert_allclose(G[upper], (want + half.T @ half)[upper], rtol=1e-5, atol=1e-4)


def test_potrf_upper_factorises_from_the_upper_triangle():
    rng = np.random.default_rng(3)
    B = rng.standard_normal((6, 20))
    A = B @ B.T + np.eye(6)
    a = np.triu(A) + np.tril(np.full((6, 6), 99.0), -1)  # garbage below the diagonal: never read
    assert potrf_upper(a) == 0
    U = np.triu(a)
    np.testing.assert_allclose(U.T @ U, A, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(U, np.linalg.cholesky(A).T, rtol=1e-12, atol=1e-12)


def test_potrf_upper_reports_a_matrix_that_is_not_positive_definite():
    a = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert potrf_upper(a) > 0


@pytest.mark.parametrize(("m", "n", "f"), [(1, 1, 1), (3, 7, 2), (50, 33, 64), (2, 5, 0), (0, 4, 3)])
def test_gemm_nt_is_a_times_b_transposed(m, n, f):
    rng = np.random.default_rng(m + n + f)
    A = rng.standard_normal((m, f)).astype(np.float32)
    B = rng.standard_normal((n, f)).astype(np.float32)
    C = np.full((m, n), np.nan, dtype=np.float32)
    gemm_nt(A, B, C)
    np.testing.assert_allclose(C, A.astype(np.float64) @ B.astype(np.float64).T, rtol=1e-5, atol=1e-5)
