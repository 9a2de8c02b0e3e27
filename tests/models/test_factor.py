"""The factor-model family (likewise.models._factor): shared scoring, the cosine cache, layout."""

from __future__ import annotations

import ast
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import likewise.models
from likewise import Interactions
from likewise.models import ALS, BPR, NMF, SVD, SVDpp, load
from likewise.models._factor import FactorModel, FactorRatingModel
from likewise.testing import checkerboard, tiny_ratings

FACTOR_MODELS = {
    "als": lambda: ALS(n_factors=3, n_epochs=5, random_state=0),
    "bpr": lambda: BPR(n_factors=3, n_epochs=5, deterministic=True, random_state=0),
    "svd": lambda: SVD(n_factors=3, n_epochs=5, random_state=0),
    "svdpp": lambda: SVDpp(n_factors=3, n_epochs=5, random_state=0),
    "nmf": lambda: NMF(n_factors=3, n_epochs=5, random_state=0),
}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(5)


def fitted(name):
    model = FACTOR_MODELS[name]()
    data = tiny_ratings() if isinstance(model, FactorRatingModel) else checkerboard()[0]
    return model.fit(data), data


def brute_cosines(vectors: np.ndarray) -> np.ndarray:
    v = vectors.astype(np.float64)
    norms = np.linalg.norm(v, axis=1)
    safe = np.where(norms > 0, norms, np.inf)
    return (v @ v.T) / np.outer(safe, safe)


def top_scores(sims: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    out = []
    for row, query in zip(sims[rows], rows, strict=True):
        row = row.copy()
        row[query] = -np.inf
        out.append(np.sort(row)[::-1][:n])
    return np.array(out)


def test_every_factor_model_uses_the_family_base():
    for make in FACTOR_MODELS.values():
        assert isinstance(make(), FactorModel)
    assert issubclass(SVD, FactorRatingModel) and issubclass(NMF, FactorRatingModel)
    assert issubclass(SVDpp, FactorRatingModel)


def test_no_model_module_imports_a_private_name_from_another_model_module():
    folder = Path(likewise.models.__file__).parent
    model_modules = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}
    offences = []
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("likewise.models."):
                source = node.module.rsplit(".", 1)[1]
                if source in model_modules and source != "base":
                    offences += [f"{path.name}: {source}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert offences == []


@pytest.mark.parametrize("name", sorted(FACTOR_MODELS))
def test_similar_items_and_users_are_cosines_of_the_factors(name):
    model, data = fitted(name)
    items = np.arange(min(4, data.n_items))
    recs = model.similar_items(data.items.ids[items], n=3)
    expected = top_scores(brute_cosines(model.item_factors_), items, 3)
    np.testing.assert_allclose(recs.scores, expected, rtol=1e-5, atol=1e-6)
    users = np.arange(3)
    vectors = model._user_vectors(np.arange(model.n_users))  # SVD++: p_u + its implicit term
    recs = model.similar_users(data.users.ids[users], n=2)
    np.testing.assert_allclose(recs.scores, top_scores(brute_cosines(vectors), users, 2), rtol=1e-5, atol=1e-6)


def test_the_cache_follows_refit_partial_fit_and_load(tmp_path, rng):
    data = checkerboard()[0]
    model = ALS(n_factors=3, n_epochs=5, random_state=0).fit(data)
    first = model.similar_items(data.items.ids[:2], n=3).scores
    cells = rng.choice(64, 30, replace=False)
    other = Interactions.from_arrays(cells // 8, cells % 8, np.ones(30, np.float32))
    model.set_params(random_state=5).fit(other)  # refit: other factors
    items = np.arange(2)
    np.testing.assert_allclose(
        model.similar_items(other.items.ids[items], n=3).scores,
        top_scores(brute_cosines(model.item_factors_), items, 3),
        rtol=1e-5,
        atol=1e-6,
    )
    model.partial_fit(Interactions.from_arrays([0, 1], [100, 100], [3.0, 1.0]), update="items")
    assert model.n_items == other.n_items + 1
    new = model.items_.to_index([100])
    np.testing.assert_allclose(
        model.similar_items([100], n=3).scores,
        top_scores(brute_cosines(model.item_factors_), new, 3),
        rtol=1e-5,
        atol=1e-6,
    )
    model.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.similar_items([100], n=3).scores, model.similar_items([100], n=3).scores)
    assert not np.array_equal(first, model.similar_items(model.items_.ids[:2], n=3).scores)


def test_in_place_edits_need_forget_similarities():
    model, data = fitted("bpr")
    before = model.similar_items(data.items.ids[:1], n=2).scores
    model.item_factors_ *= 2  # cosines do not change, but the cached norms are now stale...
    model.item_factors_[1] = 0
    model._forget_similarities()  # ...until told
    after = model.similar_items(data.items.ids[:1], n=model.n_items - 1)
    assert after.scores[0][after.indices[0] == 1] == 0
    assert before.shape == (1, 2)


@pytest.mark.parametrize("name", ["als", "svdpp"])
def test_similar_items_from_many_threads_at_once(name):
    model, data = fitted(name)
    items, users = data.items.ids, data.users.ids
    expected_items = [model.similar_items([i], n=3).scores for i in items]
    expected_users = [model.similar_users([u], n=2).scores for u in users]
    model._forget_similarities()

    def ask(k):
        i, u = k % len(items), k % len(users)
        return k, model.similar_items([items[i]], n=3).scores, model.similar_users([users[u]], n=2).scores

    with ThreadPoolExecutor(max_workers=8) as pool:
        for k, item_scores, user_scores in pool.map(ask, range(64)):
            np.testing.assert_allclose(item_scores, expected_items[k % len(items)], rtol=1e-6)
            np.testing.assert_allclose(user_scores, expected_users[k % len(users)], rtol=1e-6)


@pytest.mark.parametrize("name", sorted(FACTOR_MODELS))
def test_pickle_leaves_the_caches_out(name):
    model, data = fitted(name)
    model.similar_items(data.items.ids[:1], n=2)
    if isinstance(model, ALS):
        model.recommend_from_history(data.items.ids[:2], n=2)  # fills the Gram cache
    assert any(key.endswith("_cache_") for key in vars(model))
    clone = pickle.loads(pickle.dumps(model))
    assert not [key for key in vars(clone) if key.endswith("_cache_")]
    np.testing.assert_array_equal(
        clone.similar_items(data.items.ids[:2], n=2).scores, model.similar_items(data.items.ids[:2], n=2).scores
    )


def test_loading_refuses_factors_that_do_not_match(tmp_path):
    from likewise.exceptions import ModelFormatError
    from likewise.models._persistence import read_model_dir, write_model_dir

    model, _ = fitted("svd")
    model.save(tmp_path / "m")
    meta, arrays = read_model_dir(tmp_path / "m")
    arrays["item_factors"] = arrays["item_factors"][:, :2]
    for key in ("format", "format_version", "arrays"):  # write_model_dir writes these itself
        meta.pop(key)
    write_model_dir(tmp_path / "bad", meta, arrays)
    with pytest.raises(ModelFormatError, match="different widths"):
        load(tmp_path / "bad")


def test_declared_parameters_have_the_defaults_of_models_without_them():
    assert SVDpp().biased is True and NMF().fold_in_reg == 0.1  # neither has the parameter
    assert SVDpp().deterministic is False  # SVD++ is always serial
    assert SVD(biased=False).biased is False and SVD(early_stopping_rounds=3).early_stopping_rounds == 3
    from likewise.models import Popularity

    assert Popularity().n_threads is None and ALS(n_threads=2).n_threads == 2


def test_fill_caches_computes_what_queries_reuse(tmp_path):
    """A server fills these before swapping a model in: no request recomputes them."""
    data = checkerboard()[0]
    ALS(n_factors=3, n_epochs=5, random_state=0).fit(data).save(tmp_path / "m")
    model = load(tmp_path / "m")
    genre = np.zeros(model.n_items, dtype=bool)
    genre[[1, 4, 6]] = True
    everything = np.ones(model.n_items, dtype=bool)  # not selective: scored in place, nothing packed
    model.fill_caches([genre, everything])
    gram = model.__dict__["_item_gram_cache_"][1]
    np.testing.assert_allclose(gram, model.item_factors_.T @ model.item_factors_, rtol=1e-6)
    packed = model.__dict__["_subset_cache_"][1]
    assert len(packed) == 1
    items, rows, _offsets = next(iter(packed.values()))
    assert items.tolist() == [1, 4, 6]
    np.testing.assert_array_equal(rows, model.item_factors_[[1, 4, 6]])
    assert model.items_._lookup is not None and model.users_._lookup is not None
    model.recommend_indices(np.arange(8), 2, allowed=genre)
    model.recommend_indices_from_history(np.array([0, 1]), n=2, allowed=genre)
    assert model.__dict__["_item_gram_cache_"][1] is gram  # reused, not recomputed
    assert model.__dict__["_subset_cache_"][1] is packed
