"""Random: a uniformly random ranking, the floor every model's metrics are compared against.

Scores are a counter-based hash of (seed, user, item) mapped to [0, 1) — the SplitMix64
finaliser — so they are reproducible for a seed, identical in batch and one-by-one calls,
and need no stored matrix. A new user (fold-in) gets the row of a fixed pseudo-user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from likewise.data.interactions import Interactions
from likewise.models._params import NONE, Interval, RandomState
from likewise.models.base import FitCallback, Recommender

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["Random"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_ANONYMOUS = np.int64(2**40)  # pseudo-user index for fold-in, outside any real index range


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on uint64 (wrapping arithmetic is intended)."""
    with np.errstate(over="ignore"):
        x = x + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
        return x ^ (x >> np.uint64(31))


def uniform_hash(seed: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Reproducible uniforms in [0, 1) for each (row, col) pair (broadcasting), float32."""
    with np.errstate(over="ignore"):
        key = _splitmix(np.uint64(seed) ^ _splitmix(np.asarray(rows, dtype=np.int64).astype(np.uint64)))
        mixed = _splitmix(key ^ np.asarray(cols, dtype=np.int64).astype(np.uint64))
    # top 24 bits -> exactly representable float32 in [0, 1)
    return ((mixed >> np.uint64(40)).astype(np.float32) / np.float32(2**24)).astype(np.float32)


class Random(Recommender):
    """Random ranking; ``random_state`` fixes it (None draws a seed once, at fit).

    ``n_threads`` (None: all available cores) are the threads of batch recommendation.
    """

    algorithm = "random"
    demo_params: ClassVar[dict[str, Any] | None] = {"random_state": None}

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "random_state": [RandomState, NONE],
        "n_threads": [Interval(int, 0, None), NONE],
    }

    def __init__(self, *, random_state: int | np.random.Generator | None = None, n_threads: int | None = None) -> None:
        self.random_state = random_state
        self.n_threads = n_threads

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        if isinstance(self.random_state, np.random.Generator):
            self.seed_ = int(self.random_state.integers(0, 2**63))
        elif self.random_state is None:
            self.seed_ = int(np.random.default_rng().integers(0, 2**63))
        else:
            self.seed_ = int(self.random_state)

    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        return uniform_hash(self.seed_, uidx[:, None], np.arange(self.n_items)[None, :])

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return uniform_hash(self.seed_, np.array([_ANONYMOUS]), np.arange(self.n_items))

    def _predict_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        return uniform_hash(self.seed_, uidx, iidx)

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        import pandas as pd

        frame = pd.DataFrame({"kind": ["random"], "id": ["seed"], "weight": [score]})
        return frame, f"{self.item_label(iidx)} got a random score of {score:.3f} (seed {self.seed_})."

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {"seed": self.seed_}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.seed_ = int(state["seed"])
