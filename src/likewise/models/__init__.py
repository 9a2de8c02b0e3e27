"""Recommender models, all under one contract (see `likewise.models.base`)."""

from likewise.models.base import Recommender, load
from likewise.models.popular import Popularity
from likewise.models.random import Random
from likewise.models.recs import Explanation, Recs

__all__ = ["ALGORITHMS", "Explanation", "Popularity", "Random", "Recommender", "Recs", "load"]

ALGORITHMS: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "random": Random,
}
"""Name used by the CLI (``--algo NAME``) -> model class. Each algorithm family adds itself here."""
