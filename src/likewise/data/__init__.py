"""Interaction data: id maps, the Interactions container, readers and data sets."""

from likewise.data.idmap import IdMap
from likewise.data.interactions import FeatureMatrix, Interactions
from likewise.data.readers import read_csv, read_parquet
from likewise.data.report import LoadReport

__all__ = ["FeatureMatrix", "IdMap", "Interactions", "LoadReport", "read_csv", "read_parquet"]
