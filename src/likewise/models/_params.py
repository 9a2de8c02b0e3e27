"""Declarative hyper-parameter constraints, checked in `fit` (sklearn's idea, our small version).

A model lists ``_parameter_constraints = {"n_factors": [Interval(int, 1, None)], ...}``; a value
is valid when it satisfies any constraint of its list. Constructors store values untouched so
get_params / set_params / clone stay trivial.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from likewise._util import check_random_state  # re-exported: it used to be defined here
from likewise.exceptions import InvalidParameterError

__all__ = ["Interval", "Options", "RandomState", "check_random_state", "validate_params"]


@dataclass(frozen=True)
class Interval:
    """A number of type `kind` (int or float) in [low, high] (bounds may be None or open)."""

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right", "neither"

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if self.kind is float and not isinstance(value, numbers.Real):
            return False
        if isinstance(value, float) and not np.isfinite(value):
            return False
        low_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        high_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return bool(low_ok and high_ok)

    def __str__(self) -> str:
        name = "an int" if self.kind is int else "a number"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{name} in {left}{low}, {high}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (usually strings)."""

    values: tuple[Any, ...]

    def is_satisfied_by(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


class _NoneConstraint:
    def is_satisfied_by(self, value: Any) -> bool:
        return value is None

    def __str__(self) -> str:
        return "None"


class _RandomStateConstraint:
    def is_satisfied_by(self, value: Any) -> bool:
        return (
            value is None
            or isinstance(value, np.random.Generator)
            or (isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 0)
        )

    def __str__(self) -> str:
        return "None, a non-negative int or a numpy Generator"


class _BoolConstraint:
    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def __str__(self) -> str:
        return "True or False"


NONE = _NoneConstraint()
RandomState = _RandomStateConstraint()
BOOL = _BoolConstraint()


def validate_params(model: Any) -> None:
    """Raise InvalidParameterError for the first parameter that violates its constraints."""
    constraints: dict[str, list[Any]] = getattr(type(model), "_parameter_constraints", {})
    for name, allowed in constraints.items():
        value = getattr(model, name)
        if not any(c.is_satisfied_by(value) for c in allowed):
            expected = " or ".join(str(c) for c in allowed)
            raise InvalidParameterError(f"{type(model).__name__}: parameter {name!r} must be {expected}; got {value!r}")
