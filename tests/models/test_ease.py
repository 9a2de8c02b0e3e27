"""EASE under the conformance suite and against Steck's formula in float64 (tests/reference/ease.py)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise import Interactions
from likewise.exceptions import FitError, NotSupportedError
from likewise.models.ease import EASE
from likewise.testing import RecommenderConformance, checkerboard
from tests.reference.ease import ease_objective, ease_reference


class TestEASE(RecommenderConformance):
    def make_model(self):
        return EASE(reg=1.0)


class TestEASEExplicitValues(RecommenderConformance):
    fixture = "explicit"
    learns_checkerboard = False

    def make_model(self):
        return EASE(reg=5.0, binary=False)


def interactions(dense: np.ndarray) -> Interactions:
    return Interactions.from_scipy(sp.csr_matrix(dense.astype(np.float32)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 15),
    st.integers(1, 12),
    st.sampled_from([0.5, 10.0, 200.0]),
    st.booleans(),
)
def test_weights_match_the_float64_formula(seed, n_users, n_items, reg, binary):
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n_users, n_items)) < 0.4, rng.integers(1, 6, (n_users, n_items)), 0)
    model = EASE(reg=reg, binary=binary).fit(interactions(dense))
    X = (dense > 0).astype(float) if binary else dense.astype(float)
    expected = ease_reference(X, reg)
    np.testing.assert_allclose(model.item_weights_, expected, rtol=1e-3, atol=1e-5 * max(1.0, np.abs(expected).max()))
    assert (np.diag(model.item_weights_) == 0).all()


def test_weights_minimise_the_objective_over_several_blocks():
    rng = np.random.default_rng(3)
    dense = (rng.random((300, 1100)) < 0.05).astype(np.float32)  # > one 1024-row block
    model = EASE(reg=20.0).fit(interactions(dense))
    B = model.item_weights_.astype(np.float64)
    np.testing.assert_allclose(B, ease_reference(dense, 20.0), atol=2e-6)
    base = ease_objective(dense, B, 20.0)
    nudge = np.zeros_like(B)
    nudge[3, 7] = 1e-3
    assert ease_objective(dense, B + nudge, 20.0) > base
    assert ease_objective(dense, B - nudge, 20.0) > base


def test_scores_and_fold_in_are_x_times_b():
    rng = np.random.default_rng(1)
    dense = (rng.random((20, 9)) < 0.4).astype(np.float32)
    data = interactions(dense)
    model = EASE(reg=2.0).fit(data)
    expected = dense @ model.item_weights_
    np.testing.assert_allclose(
        model.predict(np.repeat(np.arange(20), 9), np.tile(np.arange(9), 20)), expected.ravel(), rtol=1e-5, atol=1e-6
    )
    history = np.flatnonzero(dense[4])
    folded = model.recommend_from_history(history, n=9, exclude_seen=False)
    np.testing.assert_allclose(folded.scores[0], expected[4][folded.indices[0]], rtol=1e-5, atol=1e-6)


def test_explain_sums_the_weights_of_the_history():
    data, _ = checkerboard()
    model = EASE(reg=1.0).fit(data)
    explanation = model.explain(0, 1)
    np.testing.assert_allclose(explanation.contributions["weight"].sum(), explanation.score, rtol=1e-5)
    assert set(explanation.contributions["id"]) == {0, 2, 3}
    assert "largest" in explanation.text


def test_similar_items_are_rows_of_b():
    data, _ = checkerboard()
    model = EASE(reg=1.0).fit(data)
    recs = model.similar_items([0], n=2)
    row = model.item_weights_[0].copy()
    row[0] = -np.inf
    np.testing.assert_allclose(recs.scores[0], np.sort(row)[::-1][:2])
    assert set(recs.indices[0].tolist()) <= {1, 2, 3}


def test_refuses_large_catalogues_with_the_numbers():
    data, _ = checkerboard()
    with pytest.raises(NotSupportedError, match=r"dense 8 x 8 item matrix .* above max_items=4 .* ItemKNN .* ALS"):
        EASE(max_items=4).fit(data)


def test_singular_gram_without_regularisation():
    dense = np.array([[1, 1, 0], [1, 1, 0]], dtype=np.float32)
    with pytest.raises(FitError, match="not positive definite"):
        EASE(reg=0.0).fit(interactions(dense))
