"""A tiny counter-based random number generator for numba kernels (SplitMix64).

Kernels must not touch numba's global per-thread RNG (it cannot be seeded per thread), so
each parallel stream carries its own uint64 state: ``state, value = next_u64(state)``. The
generator is SplitMix64 (Steele, Lea & Flood 2014): the state advances by a fixed odd
constant and the output is a bijective mix of it, so streams seeded by `stream_states` from
well-mixed, distinct seeds do not overlap in practice (period 2^64 each).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

__all__ = ["next_u64", "rand_below", "stream_states", "uniform"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_S11 = np.uint64(11)
_TWO32 = 1 << 32


@numba.njit(cache=True, nogil=True)
def _mix(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@numba.njit(cache=True, nogil=True)
def next_u64(state):
    """Advance `state` (uint64); returns (new state, 64 random bits)."""
    state = state + _GOLDEN
    return state, _mix(state)


@numba.njit(cache=True, nogil=True)
def rand_below(state, n):
    """(new state, uniform integer in [0, n)) for 1 <= n; Lemire's multiply-shift below 2^32."""
    state, z = next_u64(state)
    if n < _TWO32:
        return state, np.int64(((z >> _S32) * np.uint64(n)) >> _S32)
    value = np.int64(np.float64(z >> _S11) * (1.0 / 9007199254740992.0) * n)
    return state, min(value, n - 1)


@numba.njit(cache=True, nogil=True)
def uniform(state):
    """(new state, float64 uniform in [0, 1))."""
    state, z = next_u64(state)
    return state, np.float64(z >> _S11) * (1.0 / 9007199254740992.0)


def stream_states(seed: int, n_streams: int, *, salt: int = 0) -> np.ndarray:
    """Independent starting states for `n_streams` streams from one seed (and an epoch `salt`)."""
    with np.errstate(over="ignore"):
        base = _mix_np(np.uint64(seed % 2**64) ^ _mix_np(np.uint64(salt % 2**64) + _GOLDEN))
        streams = np.arange(n_streams, dtype=np.uint64)
        return _mix_np(base ^ (_mix_np(streams + np.uint64(1)) * _GOLDEN)).astype(np.uint64)


def _mix_np(z: Any) -> Any:
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _S30)) * _MIX1
        z = (z ^ (z >> _S27)) * _MIX2
        return z ^ (z >> _S31)
