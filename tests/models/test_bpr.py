"""BPR under the conformance suite (serial and Hogwild), plus its own known behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from likewise import Interactions
from likewise.exceptions import FitError, InvalidParameterError
from likewise.models.bpr import BPR
from likewise.testing import RecommenderConformance, checkerboard, tiny_ratings


class TestBPRDeterministic(RecommenderConformance):
    exact_fold_in = False  # a new user's vector is learned by SGD, not solved

    def make_model(self):
        return BPR(n_factors=4, learning_rate=0.05, n_epochs=150, deterministic=True, random_state=0)


class TestBPRHogwild(RecommenderConformance):
    exact_fold_in = False
    deterministic = False

    def make_model(self):
        return BPR(n_factors=4, learning_rate=0.05, n_epochs=150, n_threads=2, random_state=0)


class TestBPRWithoutBias(RecommenderConformance):
    exact_fold_in = False
    fixture = "explicit"
    learns_checkerboard = False

    def make_model(self):
        return BPR(n_factors=3, item_bias=False, n_epochs=20, deterministic=True, random_state=2)


def test_loss_falls_and_reaches_the_callback():
    data, _ = checkerboard(16, 16)
    seen = []
    model = BPR(n_factors=4, learning_rate=0.05, n_epochs=60, deterministic=True, random_state=0)
    model.fit(data, callback=lambda epoch, metrics: seen.append(metrics))
    assert len(seen) == 60 and model.n_iter_ == 60
    assert {"loss", "accuracy", "skipped", "seconds"} <= set(seen[0])
    assert np.mean(model.loss_history_[-5:]) < 0.5 * model.loss_history_[0]
    assert seen[-1]["accuracy"] > 0.9


def test_per_term_regularisation_defaults_to_reg():
    model = BPR(reg=0.1, reg_neg=0.5)
    assert model._regs() == {"reg_user": 0.1, "reg_pos": 0.1, "reg_neg": 0.5, "reg_bias": 0.1}


def skewed(seed: int = 0) -> Interactions:
    """300 users, 20 items whose popularity rises from 5% to 80%."""
    rng = np.random.default_rng(seed)
    dense = (rng.random((300, 20)) < np.linspace(0.05, 0.8, 20)).astype(np.float32)
    return Interactions.from_scipy(sp.csr_matrix(dense))


def test_strong_bias_regularisation_keeps_biases_small():
    data = skewed()
    params = {"n_factors": 2, "learning_rate": 0.05, "n_epochs": 30, "deterministic": True, "random_state": 0}
    free = BPR(**params).fit(data)
    tied = BPR(reg_bias=5.0, **params).fit(data)
    assert np.abs(tied.item_bias_).max() < 0.2 * np.abs(free.item_bias_).max()
    none = BPR(**{**params, "n_epochs": 5}, item_bias=False).fit(data)
    assert (none.item_bias_ == 0).all()


def test_predict_is_factors_plus_bias():
    data, _ = checkerboard()
    model = BPR(n_factors=3, n_epochs=5, deterministic=True, random_state=0).fit(data)
    expected = model.user_factors_[2] @ model.item_factors_[5] + model.item_bias_[5]
    np.testing.assert_allclose(model.predict([2], [5])[0], expected, rtol=1e-6)
    explanation = model.explain(2, 5)
    np.testing.assert_allclose(explanation.contributions["weight"].sum(), explanation.score, rtol=1e-5)
    assert "item bias" in explanation.text


def test_popular_items_get_larger_biases():
    model = BPR(n_factors=2, learning_rate=0.05, n_epochs=40, deterministic=True, random_state=0).fit(skewed())
    corr = np.corrcoef(model.item_bias_, np.linspace(0.05, 0.8, 20))[0, 1]
    assert corr > 0.9


def test_fold_in_learns_the_block_of_the_history():
    data, withheld = checkerboard()
    model = BPR(n_factors=4, learning_rate=0.05, n_epochs=150, deterministic=True, random_state=0).fit(data)
    for user in (0, 5):
        start, end = data.matrix.indptr[user], data.matrix.indptr[user + 1]
        history = data.items.to_ids(data.matrix.indices[start:end])
        recs = model.recommend_from_history(history, n=1)
        assert recs.ids()[0, 0] == withheld[user]
    again = model.recommend_from_history(data.items.ids[:3], n=3)
    np.testing.assert_array_equal(again.scores, model.recommend_from_history(data.items.ids[:3], n=3).scores)


def test_exploding_learning_rate_is_reported():
    data, _ = checkerboard()
    with pytest.raises(FitError, match="lower learning_rate"):
        BPR(n_factors=4, learning_rate=1e30, n_epochs=3, deterministic=True, random_state=0).fit(data)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning_rate": 0.0}, "'learning_rate' must be a number in"),
        ({"reg_user": -1.0}, "'reg_user' must be a number in"),
        ({"deterministic": 1}, "'deterministic' must be True or False"),
    ],
)
def test_bad_parameters(params, message):
    with pytest.raises(InvalidParameterError, match=message):
        BPR(**params).fit(tiny_ratings())
