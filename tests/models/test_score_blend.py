"""ScoreBlend: conformance, known-answer blends, the dense twin, validation choice, persistence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likewise import Interactions
from likewise.exceptions import InvalidParameterError, NotSupportedError
from likewise.models import ALS, ContentKNN, HybridMF, ItemKNN, Popularity, ScoreBlend, load
from likewise.models.score_blend import z_blend
from likewise.testing import RecommenderConformance, checkerboard
from tests.reference.score_blend import blended_scores

BASES = [["itemknn", {"k": 4}], ["als", {"n_factors": 2, "n_epochs": 5}]]


class TestScoreBlend(RecommenderConformance):
    learns_checkerboard = False  # the validation split of 8 x 8 data may pick either model
    exact_fold_in = False  # ALS's fold-in is approximate

    def make_model(self):
        return ScoreBlend(models=BASES, random_state=0)


class TestScoreBlendFixedWeights(RecommenderConformance):
    exact_fold_in = False

    def make_model(self):
        return ScoreBlend(models=[ItemKNN(k=4), ALS(n_factors=2, n_epochs=5)], weights=[0.5, 0.5], random_state=0)

    def test_save_load_roundtrip(self, tmp_path):  # estimators come back as [name, params] pairs
        model, data = self.fitted()
        model.save(tmp_path / "model")
        loaded = load(tmp_path / "model")
        assert [spec[0] for spec in loaded.get_params()["models"]] == ["itemknn", "als"]
        users = data.users.ids
        a, b = model.recommend(users, n=5), loaded.recommend(users, n=5)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.scores, b.scores)


def _data():
    return checkerboard(12, 10)[0]


def test_blend_with_itself_ranks_like_the_model():
    data = _data()
    single = ItemKNN(k=4).fit(data)
    blend = ScoreBlend(models=[ItemKNN(k=4), ItemKNN(k=4)], weights=[0.3, 0.7]).fit(data)
    users = data.users.ids
    a, b = single.recommend(users, n=5), blend.recommend(users, n=5)
    np.testing.assert_array_equal(a.indices, b.indices)


def test_weights_one_zero_give_model_a():
    data = _data()
    a = ALS(n_factors=2, n_epochs=5, random_state=3).fit(data)
    blend = ScoreBlend(models=[ALS(n_factors=2, n_epochs=5, random_state=3), Popularity()], weights=[1, 0]).fit(data)
    np.testing.assert_array_equal(
        a.recommend(data.users.ids, n=4).indices, blend.recommend(data.users.ids, n=4).indices
    )


def test_scores_match_dense_twin_and_candidates_standardise():
    data = _data()
    blend = ScoreBlend(models=BASES, weights=[0.4, 0.6], random_state=1).fit(data)
    users = np.arange(data.n_users)
    base = [m.score_indices(users) for m in blend.models_]
    np.testing.assert_allclose(blend.score_indices(users), blended_scores(base, [0.4, 0.6]), rtol=1e-5, atol=1e-5)
    cand = np.array([1, 3, 4, 8])
    expected = blended_scores(base, [0.4, 0.6], cand)
    recs = blend.recommend(data.users.ids, n=4, candidates=data.items.ids[cand], exclude_seen=False)
    for u in users:
        order = np.argsort(-expected[u], kind="stable")
        np.testing.assert_allclose(recs.scores[u], expected[u][order], rtol=1e-5, atol=1e-5)


def test_z_blend_constant_row_is_zero():
    out = z_blend([np.array([[2.0, 2.0, 2.0], [0.0, 1.0, 2.0]])], [1.0])
    np.testing.assert_allclose(out[0], 0.0)
    np.testing.assert_allclose(out[1], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)


def _planted():
    """Users like items of their own block (3 blocks of 6 items); popularity knows nothing of it."""
    rng = np.random.default_rng(0)
    users, items = [], []
    for u in range(60):
        block = u % 3
        chosen = rng.choice(6, size=5, replace=False) + 6 * block
        users += [u] * 5
        items += list(chosen)
    return Interactions.from_arrays(np.array(users), np.array(items))


def test_validation_picks_the_clearly_better_model():
    data = _planted()
    blend = ScoreBlend(models=[Popularity(), ItemKNN(k=10)], random_state=0).fit(data)
    np.testing.assert_allclose(blend.weights_, [0.0, 1.0])
    assert blend.validation_.shape == (5, 3)
    # row 0 is (0, 1): ItemKNN alone; the last row (1, 0): popularity alone
    assert blend.validation_[0, 2] > blend.validation_[-1, 2] + 0.3


def test_save_load_identical_rankings(tmp_path):
    data = _data()
    blend = ScoreBlend(models=BASES, random_state=0).fit(data)
    blend.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    np.testing.assert_array_equal(blend.weights_, loaded.weights_)
    a, b = blend.recommend(data.users.ids, n=5), loaded.recommend(data.users.ids, n=5)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_explain_names_each_model():
    data = _data()
    blend = ScoreBlend(models=BASES, weights=[0.5, 0.5]).fit(data)
    user, item = data.users.ids[0], data.items.ids[1]
    exp = blend.explain(user, item)
    assert list(exp.contributions["id"]) == ["ItemKNN #0", "ALS #1"]
    assert exp.contributions["weight"].sum() == pytest.approx(exp.score, abs=1e-4)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"models": [["itemknn", {}]]}, "two or more"),
        ({"models": [["nope", {}], ["itemknn", {}]]}, "not a likewise algorithm"),
        ({"models": [["itemknn", {"bogus": 1}], ["als", {}]]}, "no parameter"),
        ({"models": BASES, "weights": [1.0]}, "weights has 1 values for 2 models"),
        ({"models": BASES, "weights": [0, 0]}, "must not all be 0"),
        ({"models": BASES, "weights": [-1, 2]}, "non-negative"),
        ({"models": BASES, "metric": "rmse"}, "metric"),
        ({"models": BASES, "validation_fraction": 1.0}, "validation_fraction"),
    ],
)
def test_bad_params(params, match):
    with pytest.raises(InvalidParameterError, match=match):
        ScoreBlend(**params).fit(_data())


def _block_features(data: Interactions) -> Interactions:
    """Checkerboard items get the feature of their block (and a shared one), as in test_hybrid."""
    from likewise.data.features import FeatureMatrix

    half = data.n_items // 2
    ids = data.items.ids
    blocks = [f"block={0 if k < half else 1}" for k in range(data.n_items)]
    features = FeatureMatrix.from_pairs(data.items, np.concatenate([ids, ids]), blocks + ["all"] * data.n_items)
    return data.with_features(item_features=features)


def test_add_items_reaches_every_base_model_and_cold_items_rank():
    data = _block_features(checkerboard(16, 16)[0])
    hybrid = HybridMF(n_factors=8, n_epochs=40, item_identity=False, deterministic=True, random_state=0)
    blend = ScoreBlend(models=[hybrid, ContentKNN(k=10)], weights=[0.5, 0.5]).fit(data)
    blend.add_items([1000, 1001], [["block=0", "all"], ["block=1", "all"]])
    assert blend.n_items == data.n_items + 2
    assert all(m.n_items == blend.n_items for m in blend.models_)
    recs = blend.recommend(data.users.ids, n=2, candidates=[1000, 1001])
    assert recs.ids().shape == (data.n_users, 2)
    # the cold items rank by their features alone: user 0 likes block 0, user 15 block 1
    assert recs.ids()[0, 0] == 1000 and recs.ids()[15, 0] == 1001
    with pytest.raises(NotSupportedError, match="cannot add items"):
        ScoreBlend(models=BASES, weights=[1, 1]).fit(data).add_items([1000], [["all"]])


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 4),
    cols=st.integers(1, 7),
    seed=st.integers(0, 2**31 - 1),
    w=st.floats(0, 1),
    scale=st.floats(0.1, 100),
    shift=st.floats(-100, 100),
)
def test_z_blend_matches_twin_and_ignores_each_rows_scale(rows, cols, seed, w, scale, shift):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(rows, cols)), rng.integers(0, 3, size=(rows, cols)).astype(float)
    out = z_blend([a, b], [w, 1 - w])
    np.testing.assert_allclose(out, blended_scores([a, b], [w, 1 - w]), atol=1e-9)
    # standardising per user: a positive affine change of one model's scores changes nothing
    np.testing.assert_allclose(z_blend([a * scale + shift, b], [w, 1 - w]), out, atol=1e-6)
