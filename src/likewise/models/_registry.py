"""The one registry of model classes: defining a model class is registering it.

`Recommender.__init_subclass__` calls `register` for every concrete subclass. A class that
declares ``algorithm = "name"`` in its own body is an *algorithm*: it appears in
`likewise.models.ALGORITHMS`, as ``likewise train --algo name`` (its constructor parameters as
``--param`` / ``--name VALUE`` options), in the top-level ``likewise.<ClassName>`` exports
and in ``likewise demo`` when it also declares ``demo_params``. (``likewise warmup`` needs no
list either: it finds every kernel module that defines ``_warm``.)

Every concrete class, algorithm or not, gets a *registry key* under which `save` records it
and `load` finds it again: the algorithm name, or ``"module:qualname"`` for a class without
one (a user's own subclass). Loading resolves a key only through this table; nothing named in
a model file is ever imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["ALGORITHMS", "class_for_key", "demo_classes", "register", "registry_key"]

_BY_KEY: dict[str, type] = {}
_ALGORITHMS: dict[str, type] = {}

ALGORITHMS: Mapping[str, Any] = MappingProxyType(_ALGORITHMS)
"""Algorithm name (``--algo NAME``) -> model class; a live read-only view of the registry."""


def _path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def registry_key(cls: type) -> str:
    """The name `save` records for `cls`: its algorithm name, else ``module:qualname``."""
    name = cls.__dict__.get("algorithm")
    return name if isinstance(name, str) else _path(cls)


def register(cls: type) -> None:
    """Record a concrete model class. Re-defining the same class (a reloaded module) replaces
    it; a different class claiming a taken name is a programming error, refused at once."""
    key = registry_key(cls)
    previous = _BY_KEY.get(key)
    if previous is not None and _path(previous) != _path(cls):
        raise TypeError(f"model name {key!r} of {_path(cls)} is already taken by {_path(previous)}")
    _BY_KEY[key] = cls
    if "algorithm" in cls.__dict__:
        _ALGORITHMS[key] = cls


def class_for_key(key: str) -> type | None:
    """The class registered under `key` (None when there is none: nothing is imported)."""
    return _BY_KEY.get(key)


def demo_classes() -> list[type]:
    """Algorithms that take part in ``likewise demo``, in registration order."""
    return [cls for cls in _ALGORITHMS.values() if cls.__dict__.get("demo_params") is not None]
