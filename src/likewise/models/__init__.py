"""Recommender models, all under one contract (see `likewise.models.base`)."""

from likewise.models.als import ALS
from likewise.models.base import Recommender, load
from likewise.models.baseline import Baseline, NormalPredictor
from likewise.models.bpr import BPR
from likewise.models.coclustering import CoClustering
from likewise.models.ease import EASE
from likewise.models.nmf import NMF
from likewise.models.popular import Popularity
from likewise.models.random import Random
from likewise.models.recs import Explanation, Recs
from likewise.models.slopeone import SlopeOne
from likewise.models.svd import SVD, SVDpp

__all__ = ["ALGORITHMS", "ALS", "BPR", "EASE", "Explanation", "Popularity", "Random", "Recommender", "Recs", "load"]
__all__ += ["NMF", "SVD", "Baseline", "CoClustering", "NormalPredictor", "SVDpp", "SlopeOne"]

ALGORITHMS: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "random": Random,
    "als": ALS,
    "bpr": BPR,
    "ease": EASE,
    "normal-predictor": NormalPredictor,
    "baseline": Baseline,
    "svd": SVD,
    "svdpp": SVDpp,
    "nmf": NMF,
    "slope-one": SlopeOne,
    "co-clustering": CoClustering,
}
from likewise.models.knn import ItemKNN, UserKNN  # noqa: E402

__all__ += ["ItemKNN", "UserKNN"]
ALGORITHMS.update({"itemknn": ItemKNN, "userknn": UserKNN})
"""Name used by the CLI (``--algo NAME``) -> model class. Each algorithm family adds itself here."""
