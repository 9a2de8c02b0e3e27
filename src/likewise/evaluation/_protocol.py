"""The evaluation protocol (what is measured and how) and what the evaluation modules share.

`EvaluationProtocol` gathers the settings `evaluate`, `compare`, `cross_validate` and the
searches have in common; each of them also takes the settings as keywords (the protocol
object replaces them one for one). `Lists` is what an evaluation ranked (for curves and
plots); `jsonable` / `records` make results JSON-able.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from likewise._util import check_int, check_random_state
from likewise.evaluation._registry import METRICS
from likewise.exceptions import InvalidParameterError

__all__ = ["EvaluationProtocol", "Lists", "check_confidence", "jsonable", "records", "resolve_protocol"]


@dataclass(frozen=True)
class EvaluationProtocol:
    """The settings of an evaluation, checked once when made (see `evaluate` for each).

    Parameters
    ----------
    k : int
        Length of the recommendation lists (the cut-off of every ranking metric).
    metrics : str or sequence of str, optional
        Metric names (kept as a tuple, repeats dropped); None: `evaluate`'s defaults.
    relevance_threshold : float, optional
        Test interactions with a value ``>=`` this are relevant; default all of them.
    relevance : {"binary", "graded"}
        Gains of NDCG.
    n_negatives : int, optional
        Sampled negatives per user (None: rank the whole catalogue).
    exclude_seen : bool
        Do not recommend items the user had in training.
    n_bootstrap : int
        Bootstrap resamples of the intervals (0: none). Cross-validation and the searches
        never bootstrap (the spread over folds is their interval).
    confidence : float
        Interval coverage, strictly between 0 and 1.
    random_state : int, numpy Generator or None
        Seed of the bootstrap and the sampled negatives (and, in `cross_validate` and the
        searches, of the folds / validation split).

    Raises
    ------
    InvalidParameterError
        For a setting out of its range, with the message `evaluate` gives.

    Examples
    --------
    >>> protocol = EvaluationProtocol(k=20, metrics=["ndcg", "recall"], relevance_threshold=4)
    >>> protocol.metrics
    ('ndcg', 'recall')
    """

    k: int = 10
    metrics: Sequence[str] | str | None = None
    relevance_threshold: float | None = None
    relevance: Literal["binary", "graded"] = "binary"
    n_negatives: int | None = None
    exclude_seen: bool = True
    n_bootstrap: int = 1000
    confidence: float = 0.95
    random_state: int | np.random.Generator | None = 0

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "k", check_int(self.k, "k", 1))
        put(self, "n_bootstrap", check_int(self.n_bootstrap, "n_bootstrap", 0))
        put(self, "confidence", check_confidence(self.confidence))
        put(self, "relevance_threshold", _check_threshold(self.relevance_threshold))
        if self.relevance not in ("binary", "graded"):
            raise InvalidParameterError(f"relevance must be 'binary' or 'graded', got {self.relevance!r}")
        if self.n_negatives is not None:
            put(self, "n_negatives", check_int(self.n_negatives, "n_negatives", 1))
        put(self, "exclude_seen", bool(self.exclude_seen))
        check_random_state(self.random_state)  # checked now, drawn from when used
        if self.metrics is not None:
            put(self, "metrics", _check_metric_names(self.metrics))

    def replace(self, **changes: Any) -> EvaluationProtocol:
        """A copy with some settings changed (checked again)."""
        return dataclasses.replace(self, **changes)


def resolve_protocol(protocol: EvaluationProtocol | None, **keywords: Any) -> EvaluationProtocol:
    """The protocol of a call that takes ``protocol=`` and the same settings as keywords.

    Without a protocol the keywords make one. With one, every keyword must be left at its
    default (a keyword equal to its default cannot be told from an omitted one, so it is
    accepted): settings come from one place or the other, never both.
    """
    if protocol is None:
        return EvaluationProtocol(**keywords)
    if not isinstance(protocol, EvaluationProtocol):
        raise InvalidParameterError(f"protocol must be an EvaluationProtocol, got {type(protocol).__name__}")
    defaults = {f.name: f.default for f in dataclasses.fields(EvaluationProtocol)}
    given = [name for name, value in keywords.items() if not _is_default(value, defaults[name])]
    if given:
        raise InvalidParameterError(
            f"give the evaluation settings either as protocol= or as keywords, not both; got protocol= and "
            f"{', '.join(given)}"
        )
    return protocol


def _is_default(value: Any, default: Any) -> bool:
    if value is default:
        return True
    if isinstance(value, (np.random.Generator, np.ndarray)) or default is None or value is None:
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def check_confidence(value: Any) -> float:
    """`value` as a float strictly between 0 and 1 (an interval's coverage)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < float(value) < 1.0:
        raise InvalidParameterError(f"confidence must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def _check_threshold(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InvalidParameterError(f"relevance_threshold must be a finite number or None, got {value!r}")
    return float(value)


def _check_metric_names(metrics: Sequence[str] | str) -> tuple[str, ...]:
    requested = [metrics] if isinstance(metrics, str) else list(metrics)
    if not requested:
        raise InvalidParameterError("metrics is empty; give at least one name or None")
    unknown = [name for name in requested if name not in METRICS]
    if unknown:
        raise InvalidParameterError(
            f"unknown metric{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"metrics are {', '.join(METRICS)}"
        )
    return tuple(dict.fromkeys(requested))


@dataclass(frozen=True, eq=False)
class Lists:
    """What an evaluation ranked, for curves and plots (`compare`, reports).

    ``recs``: model item indices (n_evaluated, width >= k), ``-1`` padding, for the users
    evaluated by the ranking metrics; ``relevant`` / ``gains`` their relevance (binary /
    graded; columns past ``n_items`` are test items the model does not know);
    ``popularity``: training users per model item.
    """

    recs: np.ndarray
    relevant: sp.csr_matrix
    gains: sp.csr_matrix
    popularity: np.ndarray
    n_items: int


def jsonable(value: Any) -> Any:
    """`value` with numpy scalars and arrays as Python values and non-finite floats as None."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return [jsonable(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of `frame` as JSON-able dicts."""
    return [
        {str(col): jsonable(val) for col, val in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
