"""Neighbourhood collaborative filtering: `ItemKNN` and `UserKNN`.

"People who agreed in the past will agree in the future": a user-based model predicts from the
users most similar to the target user, an item-based one from the items most similar to the
target item among those the user rated. Both share everything but the orientation, so one
base class (`_NeighborhoodModel`) holds the logic and x below means "the compared entity"
(an item for `ItemKNN`, a user for `UserKNN`) and y "the other side".

Fitting computes similarities sparsely (numba kernel, parallel over rows, memory O(n_x) per
thread) and keeps, for each x, its best ``n_neighbors_stored`` neighbours with a positive
similarity, sorted by similarity. No dense n_x x n_x matrix is ever built. Predictions follow
Surprise's KNNBasic / KNNWithMeans / KNNWithZScore / KNNBaseline definitions (the k most
similar neighbours *that rated the target*), and implicit scoring follows implicit's
ItemItemRecommender (item-based) or the votes of the k nearest users (user-based). The formulas
are in docs/algorithms/knn.md; the brute-force twins in tests/reference/knn.py.

Modules, one responsibility each:

- ``_config``      `KNNConfig`: every "auto" choice, resolved once in fit and persisted
- ``_similarity``  statistics, the prepared (centred / re-weighted) matrix, similarity kernels
- ``_prediction``  the prediction modes' offsets and scales; a new user's history
- ``_model``       the shared base: parameters, fit, persistence
- ``_item``        `ItemKNN`'s scoring and fused implicit top-n
- ``_user``        `UserKNN`'s scoring and fold-in
- ``_explain``     the neighbours behind a score and the sentence describing them
"""

from likewise.models.knn._config import EXACT_LIMIT, KNNConfig
from likewise.models.knn._item import ItemKNN
from likewise.models.knn._similarity import Stats
from likewise.models.knn._user import UserKNN

__all__ = ["EXACT_LIMIT", "ItemKNN", "KNNConfig", "UserKNN"]

_Stats = Stats  # the name pickles written before the split refer to (likewise.models.knn._Stats)
