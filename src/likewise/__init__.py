"""likewise: collaborative-filtering recommender systems for Python.

Importing likewise is cheap: heavy parts (numba kernels, the CLI) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (resolved lazily on first attribute access)
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
    "Popularity": "likewise.models",
    "Random": "likewise.models",
    "ALS": "likewise.models",
    "BPR": "likewise.models",
    "EASE": "likewise.models",
    "load": "likewise.models",
    "NormalPredictor": "likewise.models",
    "Baseline": "likewise.models",
    "SVD": "likewise.models",
    "SVDpp": "likewise.models",
    "NMF": "likewise.models",
    "SlopeOne": "likewise.models",
    "CoClustering": "likewise.models",
    "ItemKNN": "likewise.models",
    "UserKNN": "likewise.models",
}
_SUBMODULES = {"data", "datasets", "evaluation", "exceptions", "kernels", "models", "testing"}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"likewise.{name}")
    raise AttributeError(f"module 'likewise' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBMODULES])
