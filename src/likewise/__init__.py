"""likewise: collaborative-filtering recommender systems for Python.

Importing likewise is cheap: heavy parts (numba kernels, the CLI) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (resolved lazily on first attribute access). Model
# classes are not listed: every registered algorithm is exported under its class name
# (likewise.models._registry), so adding a model needs no edit here.
_EXPORTS = {
    "IdMap": "likewise.data",
    "Interactions": "likewise.data",
    "FeatureMatrix": "likewise.data",
    "LoadReport": "likewise.data",
    "read_csv": "likewise.data",
    "read_parquet": "likewise.data",
    "Recommender": "likewise.models",
    "Recs": "likewise.models",
    "Explanation": "likewise.models",
    "load": "likewise.models",
}
_SUBMODULES = {"data", "datasets", "evaluation", "exceptions", "kernels", "models", "testing"}


def _model_exports() -> dict[str, Any]:
    """Class name -> class for every registered algorithm (importing likewise.models registers them)."""
    models = importlib.import_module("likewise.models")
    return {cls.__name__: cls for cls in models.ALGORITHMS.values()}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"likewise.{name}")
    if name == "__all__":  # `from likewise import *`: computed, since the model names come from the registry
        return ["__version__", *sorted([*_EXPORTS, *_model_exports()])]
    if not name.startswith("_"):
        model = _model_exports().get(name)
        if model is not None:
            globals()[name] = model
            return model
    raise AttributeError(f"module 'likewise' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(["__version__", *_EXPORTS, *_model_exports(), *_SUBMODULES])
