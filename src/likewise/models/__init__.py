"""Recommender models, all under one contract (see `likewise.models.base`).

Importing a family module here is what makes its models known: each concrete class registers
itself when defined (`likewise.models._registry`), which feeds `ALGORITHMS`, the CLI, the
top-level ``likewise.<ClassName>`` exports and ``likewise demo``.
"""

from likewise.models._registry import ALGORITHMS
from likewise.models.als import ALS
from likewise.models.base import Recommender, load
from likewise.models.baseline import Baseline, NormalPredictor
from likewise.models.bayesian import BayesianMF
from likewise.models.blend import Blend
from likewise.models.bpr import BPR
from likewise.models.coclustering import CoClustering
from likewise.models.content_knn import ContentKNN
from likewise.models.ease import EASE
from likewise.models.hybrid import HybridMF
from likewise.models.knn import ItemKNN, UserKNN
from likewise.models.nmf import NMF
from likewise.models.popular import Popularity
from likewise.models.random import Random
from likewise.models.recs import Explanation, Recs
from likewise.models.score_blend import ScoreBlend
from likewise.models.slopeone import SlopeOne
from likewise.models.svd import SVD, SVDpp
from likewise.models.timesvd import TimeSVDpp

__all__ = ["ALGORITHMS", "ALS", "BPR", "EASE", "NMF", "SVD", "Baseline", "CoClustering", "Explanation", "ItemKNN"]
__all__ += ["BayesianMF", "Blend", "ScoreBlend", "TimeSVDpp"]
__all__ += ["NormalPredictor", "Popularity", "Random", "Recommender", "Recs", "SVDpp", "SlopeOne", "UserKNN", "load"]
__all__ += ["ContentKNN", "HybridMF"]
