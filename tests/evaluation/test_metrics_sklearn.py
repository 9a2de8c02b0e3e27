"""NDCG and AUC against scikit-learn where the definitions agree (skipped when it is not installed).

scikit-learn is not a dependency; these tests run wherever it happens to be installed.
"""

import numpy as np
import pytest

from likewise.evaluation import metrics

sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("seed", range(5))
def test_ndcg_matches_sklearn_with_graded_gains(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items, k = 12, 30, 7
    gains = np.where(rng.random((n_users, n_items)) < 0.2, rng.integers(1, 6, (n_users, n_items)), 0).astype(float)
    gains[gains.sum(axis=1) == 0, 0] = 3.0  # sklearn needs a relevant item per row to agree with ours
    scores = rng.random((n_users, n_items))  # distinct scores: no ties
    recs = np.argsort(-scores, axis=1)[:, :k]
    ours = metrics.ndcg_at_k(recs, gains, k)
    theirs = [sklearn_metrics.ndcg_score(gains[u : u + 1], scores[u : u + 1], k=k) for u in range(n_users)]
    assert ours == pytest.approx(theirs)


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items = 10, 25
    relevant = (rng.random((n_users, n_items)) < 0.3).astype(float)
    relevant[:, 0], relevant[:, 1] = 1.0, 0.0  # both classes in every row
    scores = rng.integers(0, 5, (n_users, n_items)).astype(float)  # many ties
    ours = metrics.auc(scores, relevant)
    theirs = [sklearn_metrics.roc_auc_score(relevant[u], scores[u]) for u in range(n_users)]
    assert ours == pytest.approx(theirs)
