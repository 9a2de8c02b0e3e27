"""Small helpers every layer shares, defined once (argument checks, id scalars, prose).

Nothing here imports numba, pandas or any other heavy module: `likewise.data`, the models,
evaluation and the CLI all use these.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from likewise.exceptions import InvalidParameterError

__all__ = ["as_1d", "check_int", "check_random_state", "count_values", "join_words", "plain"]


def plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar it holds (for messages, JSON and ids shown to users)."""
    return value.item() if isinstance(value, np.generic) else value


def as_1d(values: Any) -> Any:
    """A scalar as a one-element array; anything else unchanged (an id list stays a list)."""
    return np.asarray(values).reshape(-1) if np.ndim(values) == 0 else values


def check_int(value: Any, name: str, minimum: int) -> int:
    """`value` as an int >= `minimum`; bools and non-integers are refused by name."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise InvalidParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_random_state(random_state: Any, name: str = "random_state") -> np.random.Generator:
    """None -> fresh OS entropy; a non-negative int -> a seeded Generator; a Generator -> itself."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise InvalidParameterError(f"{name} must be an int, a numpy.random.Generator or None, got {random_state!r}")
    if int(random_state) < 0:
        raise InvalidParameterError(f"{name} must be a non-negative int, got {random_state!r}")
    return np.random.default_rng(int(random_state))


def join_words(parts: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c" (explanation texts)."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


COUNT_BLOCK = 1 << 20


def count_values(values: np.ndarray, minlength: int) -> np.ndarray:
    """``np.bincount(values, minlength=minlength)`` (int64 counts) in blocks of COUNT_BLOCK values.

    np.bincount first casts its input to int64: on the int32 column indices of a 25M-entry
    matrix that is a 200 MB temporary (it doubled the memory a loaded ItemKNN model added);
    in blocks the temporary stays at 8 MB."""
    values = np.asarray(values)
    size = max(minlength, int(values.max()) + 1 if values.size else 0)  # as np.bincount grows
    counts = np.zeros(size, dtype=np.int64)
    for start in range(0, values.size, COUNT_BLOCK):
        counts += np.bincount(values[start : start + COUNT_BLOCK], minlength=size)
    return counts
