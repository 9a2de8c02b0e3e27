"""Recommender models, all under one contract (see `likewise.models.base`)."""

from likewise.models.base import Recommender, load
from likewise.models.popular import Popularity
from likewise.models.random import Random
from likewise.models.recs import Explanation, Recs

__all__ = ["Explanation", "Popularity", "Random", "Recommender", "Recs", "load"]
