"""`check_csr` walks the indices in blocks (bounded memory on load): the same verdicts as a
whole-array check, whichever block a row boundary or an unsorted pair falls in."""

import numpy as np
import pytest
import scipy.sparse as sp

from likewise.exceptions import ModelFormatError
from likewise.models import _persistence


def _whole_array_bad_row(indptr: np.ndarray, indices: np.ndarray) -> int | None:
    """The slow twin: the first row whose indices do not strictly rise, or None."""
    for row in range(indptr.size - 1):
        part = indices[indptr[row] : indptr[row + 1]]
        if part.size > 1 and not (np.diff(part) > 0).all():
            return row
    return None


@pytest.mark.parametrize("block", [1, 2, 3, 7, 1 << 20])
@pytest.mark.parametrize("seed", range(6))
def test_blocked_check_agrees_with_row_by_row(monkeypatch: pytest.MonkeyPatch, block: int, seed: int) -> None:
    monkeypatch.setattr(_persistence, "_CHECK_BLOCK", block)
    rng = np.random.default_rng(seed)
    matrix = sp.random(9, 6, density=0.5, format="csr", dtype=np.float32, random_state=seed)
    matrix.sort_indices()
    indptr, indices = matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32).copy()
    if seed % 2 and indices.size > 1:  # swap two neighbouring entries: maybe within a row, maybe across
        p = int(rng.integers(0, indices.size - 1))
        indices[p], indices[p + 1] = indices[p + 1], indices[p]
    expected = _whole_array_bad_row(indptr, indices)
    data = np.ones(indices.size, np.float32)
    if expected is None:
        _persistence.check_csr("here", "seen", indptr, indices, data, (9, 6))
    else:
        with pytest.raises(ModelFormatError, match=f"indices of row {expected} are not sorted"):
            _persistence.check_csr("here", "seen", indptr, indices, data, (9, 6))


def test_duplicate_index_in_a_row_is_refused_across_a_block_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_persistence, "_CHECK_BLOCK", 2)
    indptr = np.array([0, 2, 5], dtype=np.int64)
    indices = np.array([0, 3, 1, 2, 2], dtype=np.int32)  # row 1 repeats 2 at positions 3-4
    with pytest.raises(ModelFormatError, match="indices of row 1 are not sorted and unique"):
        _persistence.check_csr("here", "seen", indptr, indices, np.ones(5, np.float32), (2, 4))
