"""ItemKNN / UserKNN: the resolved configuration (`KNNConfig`) and the fused top-n hook."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise import load
from likewise.exceptions import ModelFormatError
from likewise.models import _persistence
from likewise.models.base import Recommender
from likewise.models.knn import EXACT_LIMIT, ItemKNN, KNNConfig, UserKNN
from likewise.testing import checkerboard, tiny_ratings, tutorial_ratings
from tests.models.test_knn import interactions_from_table, tables

LEGACY = ("similarity_measure", "prediction", "norms", "n_neighbors_stored")


# ------------------------------------------------------------------------------ resolution
def test_auto_on_ratings_is_surprise_knnbaseline():
    model = ItemKNN(k=2).fit(tiny_ratings())  # 6 items
    assert model.config_ == KNNConfig(
        prediction="baseline",
        similarity="pearson_baseline",
        norms="common",
        weighting=None,
        bm25_k1=1.2,
        bm25_b=0.75,
        shrinkage=100.0,  # Surprise's pearson_baseline defaults
        min_support=2,
        shrink_offset=1,
        n_neighbors_stored=5,  # every neighbour below EXACT_LIMIT
    )
    assert model.config_.rates and model.config_.needs_baseline and model.predicts_ratings
    assert (model.similarity_measure_, model.prediction_, model.norms_) == ("pearson_baseline", "baseline", "common")
    assert model.n_neighbors_stored_ == 5


def test_auto_on_feedback_is_implicit_item_item():
    data, _ = checkerboard()
    config = UserKNN(k=3, shrinkage=2, min_support=0).fit(data).config_
    assert (config.prediction, config.similarity, config.norms) == ("sum", "cosine", "full")
    assert (config.shrinkage, config.min_support, config.shrink_offset) == (2.0, 0, 0)
    assert config.n_neighbors_stored == 3  # "sum" reads the first k only
    assert not config.rates and not config.needs_baseline


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"prediction": "means", "similarity": "cosine", "weighting": "bm25"}, "full"),  # weighting: whole vectors
        ({"prediction": "sum", "similarity": "pearson"}, "full"),
        ({"prediction": "zscore", "similarity": "msd"}, "common"),
        ({"prediction": "basic", "similarity": "cosine", "norms": "full"}, "full"),
    ],
)
def test_norms_follow_the_prediction_and_weighting(params, expected):
    assert ItemKNN(**params).fit(tiny_ratings()).config_.norms == expected


def test_stored_neighbours_are_resolved_against_the_data():
    data = tiny_ratings()  # 5 users, 6 items
    assert ItemKNN(k=2, prediction="basic", n_neighbors_stored=50).fit(data).config_.n_neighbors_stored == 5
    assert UserKNN(k=2, prediction="basic").fit(data).config_.n_neighbors_stored == 4
    assert EXACT_LIMIT == 4096


def test_config_is_frozen_and_parameters_stay_as_given():
    model = ItemKNN(similarity="auto", shrinkage=None).fit(tiny_ratings())
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.config_.prediction = "sum"  # type: ignore[misc]
    assert model.similarity == "auto" and model.shrinkage is None  # resolution never edits parameters
    assert "prediction" in model.get_params() and model.clone().get_params() == model.get_params()


def test_refit_resolves_again():
    model = ItemKNN(k=2)
    model.fit(tiny_ratings())
    assert model.config_.prediction == "baseline"
    data, _ = checkerboard()
    model.fit(data)
    assert model.config_.prediction == "sum" and not model.predicts_ratings


def test_no_config_before_fit():
    model = UserKNN(prediction="sum")
    assert not hasattr(model, "config_") and not hasattr(model, "prediction_")
    assert not model.predicts_ratings and UserKNN().predicts_ratings


# ------------------------------------------------------------------------------ persistence
@pytest.mark.parametrize(
    "model",
    [
        UserKNN(k=2, similarity="pearson_baseline", prediction="zscore"),
        ItemKNN(k=2, similarity="dot", weighting="bm25", bm25_k1=2.0),
    ],
)
def test_config_survives_save_load_and_pickle(tmp_path: Path, model):
    model.fit(tiny_ratings())
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["state"]["config"] == dataclasses.asdict(model.config_)
    assert load(tmp_path / "m").config_ == model.config_
    assert pickle.loads(pickle.dumps(model)).config_ == model.config_


def _legacy_dir(model, tmp_path: Path) -> Path:
    """`model` saved as likewise did before KNNConfig: four resolved names, no config."""
    model.save(tmp_path / "new")
    meta, arrays = _persistence.read_model_dir(tmp_path / "new")
    config = meta["state"].pop("config")
    meta["state"].update({"similarity_measure": config["similarity"], "prediction": config["prediction"]})
    meta["state"].update({"norms": config["norms"], "n_neighbors_stored": config["n_neighbors_stored"]})
    _persistence.write_model_dir(tmp_path / "old", meta, arrays)
    return tmp_path / "old"


@pytest.mark.parametrize("model_cls", [ItemKNN, UserKNN])
def test_a_directory_without_the_config_is_refused(tmp_path: Path, model_cls):
    # likewise 0.1 wrote four resolved names instead of the config; such files are format 1,
    # which `load` refuses (docs/models.md), and a format-2 file without the config is damaged.
    model = model_cls(k=2).fit(tiny_ratings())
    with pytest.raises(ModelFormatError, match=r"inconsistent model contents: KeyError: 'config'"):
        load(_legacy_dir(model, tmp_path))


def test_models_pickled_before_the_config_unpickle_the_same():
    model = ItemKNN(k=2, similarity="cosine", prediction="basic").fit(tutorial_ratings())
    state = model.__getstate__()
    config = state.pop("config_")
    state.update({f"{name}_": value for name, value in zip(LEGACY, _legacy_values(config), strict=True)})
    old = ItemKNN.__new__(ItemKNN)
    old.__setstate__(state)
    assert old.config_ == model.config_ and "prediction_" not in vars(old)
    np.testing.assert_array_equal(old.predict(["Carol"], ["Avatar"]), model.predict(["Carol"], ["Avatar"]))


def _legacy_values(config: KNNConfig) -> tuple:
    return config.similarity, config.prediction, config.norms, config.n_neighbors_stored


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prediction": "telepathy"}, "prediction='telepathy'"),
        ({"n_neighbors_stored": -1}, "n_neighbors_stored=-1"),
        ({"shrinkage": "lots"}, "shrinkage='lots'"),
        ({"extra": 1}, "kNN config has fields"),
    ],
)
def test_a_bad_config_in_a_file_is_refused(tmp_path: Path, change, message):
    model = ItemKNN(k=2).fit(tiny_ratings())
    model.save(tmp_path / "m")
    meta, arrays = _persistence.read_model_dir(tmp_path / "m")
    meta["state"]["config"].update(change)
    _persistence.write_model_dir(tmp_path / "bad", meta, arrays)
    with pytest.raises(ModelFormatError, match=message):
        load(tmp_path / "bad")


# ------------------------------------------------------------------------------ top-n hook
def test_itemknn_recommends_through_the_base_hook():
    assert "recommend" not in vars(ItemKNN) and "_top_n_users" in vars(ItemKNN)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=tables(),
    k=st.integers(1, 4),
    n=st.integers(1, 9),
    exclude_seen=st.booleans(),
    filter_kind=st.sampled_from([None, "exclude", "candidates"]),
    weighted=st.booleans(),
    kind=st.sampled_from(["implicit", "explicit"]),
)
def test_fused_top_n_equals_the_dense_hook(table, k, n, exclude_seen, filter_kind, weighted, kind):
    """ItemKNN's `_top_n_users` (spread_topk for "sum") against the base's dense blocks + top-k."""
    data = interactions_from_table(table, kind=kind)
    model = ItemKNN(k=k, weighted=weighted, prediction="sum").fit(data)
    items = data.items.ids
    exclude = items[::2] if filter_kind == "exclude" else None
    candidates = items[1::2] if filter_kind == "candidates" else None
    allowed = model._allowed_mask(exclude, candidates)
    uidx = np.arange(data.n_users, dtype=np.int32)
    seen = model.seen_ if exclude_seen else None
    with model._threads():
        fused = model._top_n_users(uidx, n, seen, allowed.copy())
        dense = Recommender._top_n_users(model, uidx, n, seen, allowed.copy())
    np.testing.assert_array_equal(fused[0], dense[0])
    np.testing.assert_allclose(fused[1], dense[1], rtol=1e-6)
    recs = model.recommend(data.users.ids, n=n, exclude_seen=exclude_seen, exclude=exclude, candidates=candidates)
    np.testing.assert_array_equal(recs.indices, fused[0])
    np.testing.assert_array_equal(recs.scores, fused[1])
