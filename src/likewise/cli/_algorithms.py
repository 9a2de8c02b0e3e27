"""Everything the CLI knows about models, read from the registry (`likewise.models.ALGORITHMS`).

No model is named here or anywhere else in the CLI: a class that declares
``algorithm = "name"`` is an ``--algo`` choice (listed in the help of train, evaluate and
compare), its keyword-only constructor parameters are the ``-p NAME=VALUE`` / ``--name VALUE``
options it accepts (`Recommender.set_params` refuses any other name, listing the valid ones),
and with ``demo_params`` it takes part in ``likewise demo``.

The registry is read when a command runs or its help is shown, never when the CLI is
imported: the model modules import numba, and a model defined after the CLI was imported (a
plug-in, a test) must still appear.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import typer
import typer.core

from likewise.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from likewise.models.base import Recommender

__all__ = [
    "ALGORITHM_LIST",
    "RegistryHelpCommand",
    "algorithm_class",
    "algorithm_names",
    "algorithms",
    "build_model",
    "demo_classes",
    "parse_params",
]

ALGORITHM_LIST = "{algorithms}"
"""Placeholder in an option's help text, replaced by the registered algorithm names when shown."""


def algorithms() -> Mapping[str, type[Recommender]]:
    """The live registry: algorithm name -> model class (importing likewise.models registers them)."""
    from likewise.models import ALGORITHMS

    return ALGORITHMS


def demo_classes() -> list[type[Recommender]]:
    """Registered algorithms that declare ``demo_params``, in registration order."""
    algorithms()  # make sure the built-in families are registered
    from likewise.models._registry import demo_classes as registered

    return registered()


def algorithm_names() -> str:
    """The ``--algo`` choices, sorted and comma-separated ("als, baseline, ...")."""
    return ", ".join(sorted(algorithms()))


def algorithm_class(algo: str) -> type[Recommender]:
    """The class registered as `algo` (case and ``_``/``-`` insensitive)."""
    registry = algorithms()
    key = algo.lower().replace("_", "-")
    if key not in registry:
        raise InvalidParameterError(f"unknown algorithm {algo!r}; choose from {algorithm_names()}")
    return registry[key]


def build_model(algo: str, params: dict[str, Any]) -> Recommender:
    """An unfitted `algo` with `params` set (validated against its constructor's parameters)."""
    return algorithm_class(algo)().set_params(**params)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """["n_factors=64", "reg=0.1", "by=rating"] -> typed values (JSON where it parses)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidParameterError(f"--param expects NAME=VALUE, got {pair!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params[name.strip()] = value
    return params


class RegistryHelpCommand(typer.core.TyperCommand):
    """A command whose option help may contain `ALGORITHM_LIST`, filled in from the registry
    only when the help is shown (so ``likewise --version`` never imports a model)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.params:
            text = getattr(param, "help", None)
            if isinstance(text, str) and ALGORITHM_LIST in text:
                param.help = text.replace(ALGORITHM_LIST, algorithm_names())  # type: ignore[attr-defined]
        super().format_help(ctx, formatter)
