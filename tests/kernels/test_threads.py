"""thread_limits / resolve_threads: numba and BLAS thread counts are set and always restored."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.linalg  # noqa: F401  (load scipy's BLAS first, as thread_limits does, so the lists compare)

from likewise.exceptions import InvalidParameterError
from likewise.kernels import available_threads, resolve_threads, thread_limits
from tests._blas_pools import governed_blas_threads as blas_threads


def test_available_threads_is_bounded():
    assert 1 <= available_threads() <= numba.config.NUMBA_NUM_THREADS


def test_resolve_threads():
    assert resolve_threads(None) == available_threads() >= 1
    assert resolve_threads(0) == available_threads()
    assert resolve_threads(1) == 1
    assert resolve_threads(10_000) == available_threads()  # capped, not refused
    assert resolve_threads(np.int64(1)) == 1
    assert type(resolve_threads(np.int64(1))) is int


@pytest.mark.parametrize("value", [-1, 1.5, "2", True, [1]])
def test_invalid_thread_counts(value):
    with pytest.raises(InvalidParameterError, match="n_threads must be None or a positive integer, got"):
        resolve_threads(value)
    with pytest.raises(InvalidParameterError), thread_limits(value):
        pass


def test_thread_limits_sets_and_restores():
    before = numba.get_num_threads()
    blas_before = blas_threads()
    with thread_limits(1) as used:
        assert used == 1
        assert numba.get_num_threads() == 1
        assert all(n == 1 for n in blas_threads())
    assert numba.get_num_threads() == before
    assert blas_threads() == blas_before


def test_thread_limits_restores_when_the_body_raises():
    before = numba.get_num_threads()
    blas_before = blas_threads()
    with pytest.raises(RuntimeError, match="boom"), thread_limits(1):
        raise RuntimeError("boom")
    assert numba.get_num_threads() == before
    assert blas_threads() == blas_before


def test_thread_limits_none_uses_every_core_and_nests():
    before = numba.get_num_threads()
    with thread_limits(None) as outer:
        assert outer == available_threads() == numba.get_num_threads()
        with thread_limits(1):
            assert numba.get_num_threads() == 1
        assert numba.get_num_threads() == outer
    assert numba.get_num_threads() == before


def test_one_thread_selects_the_serial_builds(monkeypatch):
    """Issue 18: under thread_limits(1) (servers, concurrent callers) no parallel build is entered or compiled."""
    from likewise.kernels import topk

    def forbidden(*args, **kwargs):
        raise AssertionError("the parallel build ran under one thread")

    monkeypatch.setattr(topk, "_topk_parallel", forbidden)
    scores = np.arange(12, dtype=np.float32).reshape(3, 4)
    with thread_limits(1):
        indices, _ = topk.topk_rows(scores, 2, parallel=True)
    np.testing.assert_array_equal(indices, [[3, 2], [3, 2], [3, 2]])
    if available_threads() > 1:
        with pytest.raises(AssertionError, match="parallel build ran"), thread_limits(None):
            topk.topk_rows(scores, 2, parallel=True)


def test_warmup_report_splits_compiling_from_loading():
    from likewise.kernels import warmup_report

    report = warmup_report(parallel=False)
    assert 0.0 <= report.compile_seconds <= report.seconds
    assert report.summary().startswith("serial kernels ready in")


def test_warmup_finds_every_kernel_family():
    """A kernel module defining `_warm` is warmed up with no list to edit (issue 10)."""
    import pkgutil

    import likewise.kernels
    from likewise.kernels._warmup import kernel_modules

    families = {info.name for info in pkgutil.iter_modules(likewise.kernels.__path__) if not info.name.startswith("_")}
    warmed = {module.__name__.rsplit(".", 1)[1] for module in kernel_modules() if hasattr(module, "_warm")}
    assert warmed == families
