"""Blend: conformance, known-answer blends, out-of-fold honesty, persistence of nested models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from likewise import Interactions
from likewise.exceptions import InvalidParameterError, ModelFormatError
from likewise.models import ALGORITHMS, SVD, Baseline, Blend, ItemKNN, SVDpp, TimeSVDpp, load
from likewise.models._rating import RatingModel
from likewise.testing import RecommenderConformance, tiny_ratings

BASES = [["baseline", {}], ["svd", {"n_factors": 3, "n_epochs": 10}]]


class TestBlend(RecommenderConformance):
    fixture = "explicit"
    learns_checkerboard = False
    exact_fold_in = False  # the base models' fold-ins are approximate

    def make_model(self):
        return Blend(models=BASES, n_folds=2, random_state=0)


class TestBlendOfEstimators(RecommenderConformance):
    """The same contract with base models given as estimator objects, KNN among them."""

    fixture = "explicit"
    learns_checkerboard = False
    exact_fold_in = False

    def make_model(self):
        knn = ItemKNN(k=3, min_k=1, similarity="pearson_baseline", prediction="baseline")
        return Blend(models=[Baseline(), knn, SVDpp(n_factors=2, n_epochs=5)], n_folds=3, random_state=1)

    def test_save_load_roundtrip(self, tmp_path):  # estimators come back as [name, params] pairs
        model, data = self.fitted()
        model.save(tmp_path / "model")
        loaded = load(tmp_path / "model")
        assert [spec[0] for spec in loaded.get_params()["models"]] == ["baseline", "itemknn", "svdpp"]
        users, items = data.users.ids[data.user_indices], data.items.ids[data.item_indices]
        np.testing.assert_array_equal(model.predict(users, items), loaded.predict(users, items))


class _Oracle(RatingModel):
    """Test double: predicts each training rating exactly (the global mean elsewhere), plus an
    optional fixed noise per (user, item): an exact model (noise 0) and a noisy one. It also
    records every (user, item) pair it was trained on, to check out-of-fold honesty."""

    trained_on: list[set[tuple[int, int]]] = []  # noqa: RUF012 (a shared log, on purpose)

    def __init__(self, *, noise: float = 0.0, seed: int = 0) -> None:
        self.noise = noise
        self.seed = seed

    def _fit(self, data, callback):
        self._start_fit(data)
        self.truth_ = data.matrix.toarray().astype(np.float64)
        _Oracle.trained_on.append(set(zip(data.user_indices.tolist(), data.item_indices.tolist(), strict=True)))

    def _noise(self, uidx, iidx):
        # a fixed pseudo-random value per pair, identical in every fold and refit
        return self.noise * np.sin(1000.0 * (uidx * 7919 + iidx * 104729 + self.seed))

    def _score_users(self, uidx):
        return self._raw_pairs(np.repeat(uidx, self.n_items), np.tile(np.arange(self.n_items), uidx.size)).reshape(
            uidx.size, self.n_items
        )

    def _raw_pairs(self, uidx, iidx):
        value = self.truth_[uidx, iidx]
        value = np.where(value > 0, value, self.global_mean_)
        return (value + self._noise(uidx, iidx)).astype(np.float32)

    def _explain(self, uidx, iidx, score):
        return self._terms_frame([("truth", "truth", score)]), "oracle"


def _true_model_data(n_users=60, n_items=40, seed=0) -> Interactions:
    """Ratings that a bias model explains exactly (all inside 1-5, so no clipping), 40% of the cells."""
    rng = np.random.default_rng(seed)
    user_bias, item_bias = rng.uniform(-0.7, 0.7, n_users), rng.uniform(-0.7, 0.7, n_items)
    mask = rng.random((n_users, n_items)) < 0.4
    mask[:, 0] = mask[0, :] = True
    u, i = np.nonzero(mask)
    ratings = 3.5 + user_bias[u] + item_bias[i]
    return Interactions.from_arrays(u, i, ratings, rating_scale=(1, 5))


def test_exact_model_gets_all_the_weight():
    """Blending an exact model (Baseline on data it explains exactly) with a noisy one puts
    ~all weight on the exact one."""
    data = _true_model_data()
    exact = ["baseline", {"method": "als", "n_epochs": 200, "reg_user": 0.0, "reg_item": 0.0}]
    noisy = ["normal-predictor", {}]
    blend = Blend(models=[exact, noisy], n_folds=4, reg=0.0, meta_features=False, random_state=0).fit(data)
    intercept, w_exact, w_noisy = blend.weights_
    assert w_exact == pytest.approx(1.0, abs=0.05)
    assert abs(w_noisy) < 0.02
    assert abs(intercept) < 0.2
    assert blend.oof_rmse_[-1] <= blend.oof_rmse_[:2].min() + 1e-9


def test_out_of_fold_predictions_never_see_their_own_rating():
    """Every fold's models were trained without that fold's ratings: the held-out pairs of
    fold f are absent from what the f-th models saw, and the folds partition the data."""
    _Oracle.trained_on = []
    data = tiny_ratings()
    blend = Blend(models=[_Oracle(), _Oracle(noise=0.5)], n_folds=3, reg=0.0, meta_features=False, random_state=0)
    blend.fit(data)
    all_pairs = set(zip(data.user_indices.tolist(), data.item_indices.tolist(), strict=True))
    fold_fits, refits = _Oracle.trained_on[:6], _Oracle.trained_on[6:]
    assert refits == [all_pairs, all_pairs]
    held = [all_pairs - seen for seen in fold_fits[::2]]
    assert all(held) and set().union(*held) == all_pairs
    assert sum(len(h) for h in held) == len(all_pairs)  # disjoint
    for fold in range(3):
        assert fold_fits[2 * fold] == fold_fits[2 * fold + 1]  # both models saw the same part
        assert not held[fold] & fold_fits[2 * fold]
    # an exact oracle predicts out-of-fold ratings it never saw as the global mean: far from exact
    assert blend.oof_rmse_[0] > 0.5


def test_ridge_equals_augmented_least_squares():
    """The closed form against its obviously-right twin: least squares on the design stacked
    over sqrt(reg) times the identity (intercept row left out), by numpy's lstsq."""
    rng = np.random.default_rng(3)
    design = np.column_stack([np.ones(200), rng.normal(3, 1, (200, 4))])
    target = design @ np.array([0.3, 0.7, 0.2, -0.1, 0.05]) + rng.normal(0, 0.1, 200)
    for reg in (0.0, 2.5, 400.0):
        penalty = np.sqrt(reg) * np.eye(5)[1:]
        stacked = np.vstack([design, penalty])
        expected = np.linalg.lstsq(stacked, np.concatenate([target, np.zeros(4)]), rcond=None)[0]
        np.testing.assert_allclose(Blend(reg=reg)._ridge(design, target), expected, rtol=1e-8, atol=1e-10)


def test_ridge_penalty_spares_the_intercept():
    blend = Blend(reg=1e6)
    design = np.column_stack([np.ones(100), np.linspace(-1, 1, 100)])
    weights = blend._ridge(design, 2.0 + 0.5 * design[:, 1])
    assert weights[0] == pytest.approx(2.0, abs=1e-6)  # intercept untouched
    assert abs(weights[1]) < 0.01  # slope shrunk to ~0


def test_meta_features_and_explanation_add_up():
    data = tiny_ratings()
    blend = Blend(models=BASES, n_folds=2, reg=0.5, random_state=0).fit(data)
    assert len(blend.feature_names) == blend.weights_.size == 1 + 2 + 2 + 2 * 2
    explanation = blend.explain("u0", "i5")
    raw = float(explanation.contributions["weight"].sum())
    assert explanation.score == pytest.approx(np.clip(raw, 1, 5), abs=1e-4)
    assert list(explanation.contributions["kind"]) == ["model", "model", "intercept"]
    assert "Baseline #0 predicts" in explanation.text


def test_save_load_gives_identical_predictions(tmp_path):
    data = tiny_ratings()
    blend = Blend(models=[*BASES, ["itemknn", {"k": 3, "min_k": 1}]], n_folds=2, random_state=0).fit(data)
    blend.save(tmp_path / "blend")
    meta = json.loads((tmp_path / "blend" / "meta.json").read_text())
    assert meta["class"] == "blend"
    assert [entry["class"] for entry in meta["state"]["models"]] == ["baseline", "svd", "itemknn"]
    assert any(name.startswith("m2__") for name in meta["arrays"])
    loaded = load(tmp_path / "blend")
    users, items = np.meshgrid(data.users.ids, data.items.ids)
    np.testing.assert_array_equal(
        blend.predict(users.ravel(), items.ravel()), loaded.predict(users.ravel(), items.ravel())
    )
    np.testing.assert_array_equal(loaded.weights_, blend.weights_)


def test_tampered_nested_class_is_refused(tmp_path):
    from likewise.models import _persistence

    blend = Blend(models=BASES, n_folds=2, random_state=0).fit(tiny_ratings())
    blend.save(tmp_path / "blend")
    meta, arrays = _persistence.read_model_dir(tmp_path / "blend")
    meta["state"]["models"][1]["class"] = "os:system"
    keep = {k: meta[k] for k in meta if k not in ("format", "format_version", "arrays")}
    _persistence.write_model_dir(tmp_path / "bad", keep, arrays)
    with pytest.raises(ModelFormatError, match="not a registered likewise model"):
        load(tmp_path / "bad")


def test_time_aware_base_models_predict_at_the_ratings_time():
    from tests.models.test_timesvd import with_times

    data = with_times(tiny_ratings())
    bases = [["timesvdpp", {"n_factors": 2, "n_epochs": 5, "n_bins": 3}], ["baseline", {}]]
    blend = Blend(models=bases, n_folds=2, random_state=0).fit(data)
    users, items = data.users.ids[data.user_indices], data.items.ids[data.item_indices]
    at = blend.predict_at(users, items, data.timestamps)
    assert np.isfinite(at).all() and ((at >= 1) & (at <= 5)).all()
    assert isinstance(blend.models_[0], TimeSVDpp)
    # without times timeSVD++ scores at the user's mean date: different estimates
    assert not np.allclose(at, blend.predict(users, items))


def test_default_models_skip_timesvdpp_without_timestamps():
    blend = Blend(random_state=0)
    specs = blend._resolve_specs(tiny_ratings(), np.random.default_rng(0))
    assert [key for key, _ in specs] == ["bayesian-mf", "svdpp", "itemknn"]


def test_n_threads_and_seeds_reach_the_base_models():
    blend = Blend(models=[SVD(n_factors=2, n_epochs=3), ["baseline", {}]], n_folds=2, n_threads=1, random_state=5)
    blend.fit(tiny_ratings())
    svd = blend.models_[0]
    assert svd.n_threads == 1 and isinstance(svd.random_state, int)
    again = Blend(models=[SVD(n_factors=2, n_epochs=3), ["baseline", {}]], n_folds=2, n_threads=1, random_state=5)
    assert again.fit(tiny_ratings()).specs_ == blend.specs_


@pytest.mark.parametrize(
    ("models", "match"),
    [
        ([], "non-empty list"),
        ([["no-such-model", {}]], "not a likewise algorithm"),
        ([["als", {}]], "does not predict ratings"),
        ([["svd", {"n_factor": 3}]], "no parameter 'n_factor'"),
        (["svd"], "non-empty list"),
    ],
)
def test_bad_base_models_are_refused(models, match):
    with pytest.raises(InvalidParameterError, match=match):
        Blend(models=models, n_folds=2).fit(tiny_ratings())


def test_fitted_base_model_is_refused():
    svd = SVD(n_factors=2, n_epochs=2).fit(tiny_ratings())
    with pytest.raises(InvalidParameterError, match="is fitted"):
        Blend(models=[svd], n_folds=2).fit(tiny_ratings())


def test_registered():
    import likewise

    assert ALGORITHMS["blend"] is Blend
    assert likewise.Blend is Blend


@pytest.mark.parametrize("meta", [True, False])
def test_combination_equals_the_feature_rows_times_the_weights(meta):
    """Prediction's coefficient form against the plain design matrix the blender was fitted on."""
    blend = Blend(models=BASES, n_folds=2, meta_features=meta, random_state=0).fit(tiny_ratings())
    rng = np.random.default_rng(0)
    pred = rng.uniform(1, 5, (50, 2))
    user_support, item_support = rng.integers(0, 300, 50).astype(float), rng.integers(0, 300, 50).astype(float)
    expected = blend._features(pred, user_support, item_support) @ blend.weights_
    np.testing.assert_allclose(blend._combine(pred, user_support, item_support), expected, rtol=1e-5, atol=1e-5)


def test_scoring_in_small_grids_matches_predict(monkeypatch):
    import likewise.models.blend as blend_module

    data = tiny_ratings()
    blend = Blend(models=BASES, n_folds=2, random_state=0).fit(data)
    whole = blend.score_indices(np.arange(data.n_users))
    monkeypatch.setattr(blend_module, "_GRID_CELLS", 7)  # one user per grid
    np.testing.assert_allclose(blend.score_indices(np.arange(data.n_users)), whole, rtol=1e-6)
    users, items = np.meshgrid(data.users.ids, data.items.ids, indexing="ij")
    np.testing.assert_allclose(
        blend.predict(users.ravel(), items.ravel()), np.clip(whole.ravel(), 1, 5), rtol=1e-5, atol=1e-5
    )
