"""Every error and warning likewise raises. Nothing else in the package defines one."""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "FitError",
    "InvalidParameterError",
    "LikewiseError",
    "LikewiseWarning",
    "ModelFormatError",
    "NotFittedError",
    "NotSupportedError",
    "PerformanceWarning",
    "StoreError",
    "UnknownIdError",
]


class LikewiseError(Exception):
    """Root of every error raised by likewise on purpose."""


class NotFittedError(LikewiseError, ValueError, AttributeError):
    """A model was used before `fit` (or `load`)."""


class InvalidParameterError(LikewiseError, ValueError, TypeError):
    """A hyper-parameter or argument has the wrong type or value."""


class UnknownIdError(LikewiseError, KeyError):
    """A raw user or item id is not known to the id map.

    `ids` holds the unknown ids (at most the first 10 are named in the message).
    """

    def __init__(self, message: str, ids: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.ids = ids

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return self.message


class DataError(LikewiseError, ValueError):
    """Input data is malformed: the message names the source, line or row, field and reason."""


class ModelFormatError(LikewiseError, ValueError):
    """A saved model directory is missing, corrupt, tampered with or of another format version."""


class NotSupportedError(LikewiseError, NotImplementedError):
    """The model cannot do this by design (e.g. a popularity model has no item similarity)."""


class FitError(LikewiseError, RuntimeError):
    """Training failed (for example factors became NaN)."""


class StoreError(LikewiseError, RuntimeError):
    """The event store cannot be opened or used (unreachable, bad URL, a schema newer than this code)."""


class ConfigurationError(LikewiseError, ValueError):
    """The service refuses to start with these settings (e.g. writes enabled without a token)."""


class LikewiseWarning(UserWarning):
    """Root of likewise's warnings."""


class DataWarning(LikewiseWarning):
    """Data was accepted but something about it deserves attention."""


class PerformanceWarning(LikewiseWarning):
    """A configuration will run slower than it should (e.g. oversubscribed threads)."""


class ConvergenceWarning(LikewiseWarning):
    """An iterative method stopped before converging."""
