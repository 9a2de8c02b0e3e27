"""Interaction data: id maps, the Interactions container, readers and data sets.

The readers (and pyarrow, which they use) load on first use: loading a saved model imports
this package for its id maps and should not pay for CSV and Parquet support.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from likewise.data.idmap import IdMap
from likewise.data.interactions import FeatureMatrix, Interactions
from likewise.data.report import LoadReport

if TYPE_CHECKING:
    from likewise.data.readers import read_csv, read_parquet

__all__ = ["FeatureMatrix", "IdMap", "Interactions", "LoadReport", "read_csv", "read_parquet"]

_LAZY = {"read_csv": "likewise.data.readers", "read_parquet": "likewise.data.readers"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'likewise.data' has no attribute {name!r}")
