"""More than 2^31 interactions need an int64 indptr; the switch is tested with a lowered threshold."""

from __future__ import annotations

import numpy as np

from likewise.data import Interactions, _build
from likewise.models import ALS, ItemKNN

USERS = [1, 1, 2, 2, 3, 3, 3, 4]
ITEMS = [10, 20, 10, 30, 20, 30, 40, 40]


def test_indptr_switches_to_int64_above_the_threshold(monkeypatch):
    small = _build.build_arrays(USERS, ITEMS)
    monkeypatch.setattr(_build, "INDPTR_INT32_MAX", 7)
    at_limit = _build.build_arrays(USERS, ITEMS)  # 8 interactions > 7
    monkeypatch.setattr(_build, "INDPTR_INT32_MAX", 8)
    below = _build.build_arrays(USERS, ITEMS)
    assert small.indptr.dtype == np.int32 and below.indptr.dtype == np.int32
    assert at_limit.indptr.dtype == np.int64
    assert at_limit.indptr.tolist() == small.indptr.tolist() == [0, 2, 4, 7, 8]
    assert at_limit.indices.tolist() == small.indices.tolist()


def test_kernels_accept_a_64_bit_csr():
    # scipy keeps 64-bit indices only when the values need them, so the matrix is widened by
    # hand here; the numba kernels are typed lazily and cast indptr to int64 in their wrappers.
    small = Interactions.from_arrays(USERS, ITEMS)
    big = Interactions.from_arrays(USERS, ITEMS)
    big.matrix.indptr = big.matrix.indptr.astype(np.int64)
    big.matrix.indices = big.matrix.indices.astype(np.int64)
    assert big.matrix.indptr.dtype == np.int64
    for make in (lambda: ALS(n_factors=2, n_epochs=3, reg=0.1, random_state=0), lambda: ItemKNN(k=2)):
        a, b = make().fit(small), make().fit(big)
        ra, rb = a.recommend([1, 2, 3, 4], n=2), b.recommend([1, 2, 3, 4], n=2)
        np.testing.assert_array_equal(ra.indices, rb.indices)
        np.testing.assert_allclose(ra.scores, rb.scores, rtol=1e-5, atol=1e-6)
