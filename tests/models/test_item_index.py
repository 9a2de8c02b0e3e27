"""Factor models with an item index (issue 15): the conformance suite through the index, and
build / persistence / staleness behaviour of `build_index`."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from likewise import ALS, BPR, SVD, TimeSVDpp, load
from likewise.data.synthetic import synthetic
from likewise.exceptions import InvalidParameterError, ModelFormatError, NotSupportedError, PerformanceWarning
from likewise.retrieval import ExactIndex, HNSWIndex, IVFPQIndex
from likewise.testing import RecommenderConformance
from tests.models._model_dirs import edit_meta, reseal

pytest.importorskip("faiss")


class TestALSWithHNSW(RecommenderConformance):
    exact_fold_in = False  # as TestALSCholesky: the stored factors are a half-step older
    index: ClassVar[dict[str, Any]] = {"kind": "hnsw", "M": 8, "ef_search": 16}

    def make_model(self):
        return ALS(n_factors=4, reg=0.1, alpha=2.0, solver="cholesky", random_state=0)


class TestALSWithIVF(RecommenderConformance):
    exact_fold_in = False
    index: ClassVar[dict[str, Any]] = {"kind": "ivf", "rerank": 2}

    def make_model(self):
        return ALS(n_factors=4, reg=0.1, alpha=2.0, solver="cholesky", random_state=0)


class TestBPRWithIVF(RecommenderConformance):
    exact_fold_in = False
    index: ClassVar[dict[str, Any]] = {"kind": "ivf", "similar_items": True}

    def make_model(self):
        return BPR(n_factors=4, learning_rate=0.05, n_epochs=150, deterministic=True, random_state=0)


class TestALSWithExactIndex(RecommenderConformance):
    exact_fold_in = False
    index: ClassVar[dict[str, Any]] = {"kind": "exact"}
    min_recall = 1.0

    def make_model(self):
        return ALS(n_factors=4, reg=0.1, alpha=2.0, solver="cholesky", random_state=0)


class TestBPRWithHNSW(RecommenderConformance):
    exact_fold_in = False
    index: ClassVar[dict[str, Any]] = {"kind": "hnsw", "similar_items": True}

    def make_model(self):
        return BPR(n_factors=4, learning_rate=0.05, n_epochs=150, deterministic=True, random_state=0)


class TestSVDWithHNSW(RecommenderConformance):
    fixture = "explicit"
    learns_checkerboard = False
    exact_fold_in = False
    index: ClassVar[dict[str, Any]] = {"kind": "hnsw", "similar_items": True}

    def make_model(self):
        return SVD(n_factors=4, n_epochs=30, random_state=0)


@pytest.fixture(scope="module")
def larger():
    """2,000 users x 3,000 items: big enough that the graph, not the fallback, answers."""
    return synthetic(2000, 3000, 60000, kind="implicit", random_state=0)


@pytest.fixture(scope="module")
def als(larger):
    return ALS(n_factors=16, random_state=0, n_threads=1).fit(larger)


def _recall(a, b) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(y) for x, y in zip(a, b, strict=True)]))


# (kind, a search parameter of that kind with a non-default value, the index class)
KINDS = [("hnsw", {"ef_search": 64}, HNSWIndex), ("ivf", {"nprobe": 30}, IVFPQIndex)]


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_recommend_recall_filters_and_scores(als, larger, kind) -> None:
    users = larger.users.ids[:300]
    exact = als.recommend(users, 10)
    model = pickle.loads(pickle.dumps(als)).build_index(kind, similar_items=True)
    approx = model.recommend(users, 10)
    assert _recall(approx.indices, exact.indices) >= 0.95
    assert (approx.indices >= 0).all()
    for row, user in enumerate(users):
        seen = larger.matrix[larger.users.to_index([user])[0]].indices
        assert not np.isin(approx.indices[row], seen).any()
    np.testing.assert_allclose(
        approx.scores, model.predict(np.repeat(users, 10), model.items_.to_ids(approx.indices.ravel())).reshape(-1, 10),
        rtol=1e-5, atol=1e-6,
    )  # fmt: skip
    history = larger.items.ids[:8]
    assert _recall(model.recommend_from_history(history).indices, als.recommend_from_history(history).indices) >= 0.9
    items = larger.items.ids[:200]
    assert _recall(model.similar_items(items).indices, als.similar_items(items).indices) >= 0.95
    wanted = larger.items.ids[::10]  # candidates: 10% of the catalogue, above the exact fallback
    subset = model.recommend(users, 10, candidates=wanted)
    assert (subset.valid.sum(axis=1) == 10).all() and np.isin(subset.ids(), wanted).all()


@pytest.mark.parametrize(("kind", "param", "index_type"), KINDS)
def test_save_load_keeps_the_index_and_checks_it(als, larger, tmp_path: Path, kind, param, index_type) -> None:
    model = pickle.loads(pickle.dumps(als)).build_index(kind, similar_items=True, **param)
    model.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"meta.json", "arrays.npz", "index.bin", "similar_index.bin"}
    loaded = load(tmp_path / "m")
    name, value = next(iter(param.items()))
    assert isinstance(loaded.index_, index_type) and loaded.index_.params()[name] == value
    users = larger.users.ids[:50]
    np.testing.assert_array_equal(loaded.recommend(users).indices, model.recommend(users).indices)
    np.testing.assert_array_equal(loaded.similar_items(users[:5]).indices, model.similar_items(users[:5]).indices)
    model.save(tmp_path / "m")  # replacing a model directory that holds an index works
    als.save(tmp_path / "m")  # ... and so does replacing it by one without
    assert not (tmp_path / "m" / "index.bin").exists() and not hasattr(load(tmp_path / "m"), "index_")


@pytest.mark.parametrize(
    ("kind", "damaged", "foreign"),
    [
        ("hnsw", "not a readable faiss index", "not the model's item factors"),
        # an IVF-PQ index holds codes, not vectors: meta.json keeps the digest of its bytes
        ("ivf", "not the one saved with these item factors", "not the one saved with these item factors"),
    ],
)
def test_corrupt_or_foreign_index_file_is_refused(als, tmp_path: Path, kind, damaged, foreign) -> None:
    model = pickle.loads(pickle.dumps(als)).build_index(kind)
    model.save(tmp_path / "m")
    path = tmp_path / "m" / "index.bin"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ModelFormatError, match=r"index.bin: checksum mismatch"):
        load(tmp_path / "m")
    path.write_bytes(bytes(blob[: len(blob) // 2]))
    reseal(tmp_path / "m")  # someone who can write the directory: the content checks remain
    with pytest.raises(ModelFormatError, match=damaged):
        load(tmp_path / "m")
    other = ALS(n_factors=16, random_state=1, n_threads=1).fit(synthetic(2000, 3000, 60000, kind="implicit"))
    other.build_index(kind).save(tmp_path / "other")
    path.write_bytes((tmp_path / "other" / "index.bin").read_bytes())
    reseal(tmp_path / "m")
    with pytest.raises(ModelFormatError, match=foreign):
        load(tmp_path / "m")


def test_index_description_must_fit_the_model(als, tmp_path: Path) -> None:
    model = pickle.loads(pickle.dumps(als)).build_index("hnsw")
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    edit_meta(tmp_path / "m", index={**meta["index"], "dim": 8})
    with pytest.raises(ModelFormatError, match="covers 3000 items of width 8"):
        load(tmp_path / "m")
    edit_meta(tmp_path / "m", index={**meta["index"], "similar_items": True})
    with pytest.raises(ModelFormatError, match="needs the files"):
        load(tmp_path / "m")
    edit_meta(tmp_path / "m", index=None)
    with pytest.raises(ModelFormatError, match="must have exactly the keys"):
        load(tmp_path / "m")
    meta.pop("index")
    (tmp_path / "m" / "meta.json").write_text(json.dumps(meta))
    reseal(tmp_path / "m")
    with pytest.raises(ModelFormatError, match="describes no index"):
        load(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    manifest["files"].pop("index.bin")
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match=r"not listed in manifest\.json"):
        load(tmp_path / "m")


def test_exact_index_saves_no_file_and_matches_no_index(als, larger, tmp_path: Path) -> None:
    model = pickle.loads(pickle.dumps(als)).build_index("exact")
    users = larger.users.ids[:100]
    np.testing.assert_array_equal(model.recommend(users).indices, als.recommend(users).indices)
    model.save(tmp_path / "m")
    assert not (tmp_path / "m" / "index.bin").exists()
    assert isinstance(load(tmp_path / "m").index_, ExactIndex)


def test_stale_index_is_dropped_with_a_warning(larger) -> None:
    model = ALS(n_factors=8, random_state=0, n_threads=1).fit(larger).build_index("hnsw")
    model.partial_fit(larger.subset(np.arange(500)), update="items")
    with pytest.warns(PerformanceWarning, match="build_index"):
        model.recommend(larger.users.ids[:3])
    assert not hasattr(model, "index_")


def test_set_params_hands_n_threads_to_the_indices(larger) -> None:
    """A server loads a model and then sets its n_threads: the indices must follow, or a single
    query would split its IVF lists over threads the server did not give the model."""
    pytest.importorskip("faiss")
    model = ALS(n_factors=8, n_epochs=2, random_state=0, n_threads=2).fit(larger)
    model.build_index("ivf", similar_items=True)
    assert model.index_.n_threads == 2 and model.similar_index_.n_threads == 2
    model.set_params(n_threads=1)
    assert model.index_.n_threads == 1 and model.similar_index_.n_threads == 1
    model.set_params(random_state=3)  # other parameters leave the indices alone
    assert model.index_.n_threads == 1


def test_refit_forgets_the_index(larger) -> None:
    model = ALS(n_factors=4, n_epochs=2, random_state=0, n_threads=1).fit(larger).build_index("exact")
    assert not hasattr(model.fit(larger), "index_")


def test_models_that_cannot_use_an_index_say_why() -> None:
    explicit = synthetic(200, 100, 3000)
    with pytest.raises(NotSupportedError, match="biased=True"):
        SVD(n_factors=2, n_epochs=2, biased=False, random_state=0).fit(explicit).build_index("exact")
    with pytest.raises(NotSupportedError, match="cannot use an item index"):
        TimeSVDpp(n_factors=2, n_epochs=1, random_state=0).fit(explicit).build_index("exact")
    model = ALS(n_factors=2, n_epochs=1, random_state=0).fit(synthetic(200, 100, 3000, kind="implicit"))
    with pytest.raises(InvalidParameterError, match="kind must be one of"):
        model.build_index("annoy")
    with pytest.raises(InvalidParameterError, match="similar_items must be"):
        model.build_index("exact", similar_items="yes")
