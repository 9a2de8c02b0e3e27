"""The conformance suite every likewise model passes (implicit's recommender_base_test idea).

Use it by subclassing in a test module::

    class TestMyModel(RecommenderConformance):
        def make_model(self):
            return MyModel(n_factors=4, random_state=0)

Class attributes tune it: ``learns_checkerboard`` (top-1 of each user is their withheld item),
``exact_fold_in`` (fold-in of a user's own history reproduces their stored ranking),
``deterministic`` (same seed, same results), ``fixture`` ("implicit" checkerboard or "explicit"
tiny ratings).

Approximate retrieval (docs/ann.md): ``index = {"kind": "hnsw", ...}`` builds that item index
(`build_index`) after every fit, so every test runs through the index. The results must then
still be exact where the index promises it (filters, padding, exactly `n`, scores equal to
`predict`, batch equal to loop, save/load and pickle equal to the original), and in one place
recall replaces equality: `test_index_recall` requires recall@n of at least ``min_recall``
against the same model scoring every item. ``exact_fold_in`` compares fold-in with the stored
user's list, which under an approximate index is a recall comparison too (see there).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from likewise.data.interactions import Interactions
from likewise.exceptions import (
    InvalidParameterError,
    ModelFormatError,
    NotFittedError,
    NotSupportedError,
    UnknownIdError,
)
from likewise.models.base import Recommender, load
from likewise.testing.fixtures import checkerboard, corner_cases, tiny_ratings

__all__ = ["RecommenderConformance"]


class RecommenderConformance:
    """Mix into a pytest class and implement `make_model`."""

    learns_checkerboard: ClassVar[bool] = True
    exact_fold_in: ClassVar[bool] = True
    deterministic: ClassVar[bool] = True
    fixture: ClassVar[str] = "implicit"
    index: ClassVar[dict[str, Any] | None] = None
    min_recall: ClassVar[float] = 0.95

    def make_model(self) -> Recommender:
        raise NotImplementedError("conformance tests need make_model()")  # overridden by each test class

    # -------------------------------------------------------------- helpers
    def data(self) -> Interactions:
        if self.fixture == "explicit":
            return tiny_ratings()
        return checkerboard()[0]

    def fit(self, data: Interactions) -> Recommender:
        """A new model fitted on `data`, with the item index of ``index`` built when it is set."""
        model = self.make_model().fit(data)
        if self.index is not None:
            model.build_index(**self.index)  # type: ignore[attr-defined]
        return model

    def fitted(self) -> tuple[Recommender, Interactions]:
        data = self.data()
        return self.fit(data), data

    # -------------------------------------------------------------- contract
    def test_fit_returns_self_and_sets_state(self) -> None:
        model = self.make_model()
        assert not model.is_fitted
        data = self.data()
        assert model.fit(data) is model
        assert model.is_fitted
        assert model.users_ == data.users and model.items_ == data.items

    def test_unfitted_model_raises(self) -> None:
        model = self.make_model()
        with pytest.raises(NotFittedError, match="not fitted"):
            model.recommend(0)

    def test_params_roundtrip(self) -> None:
        model = self.make_model()
        clone = model.clone()
        assert clone.get_params() == model.get_params()
        with pytest.raises(InvalidParameterError, match="no parameter"):
            model.set_params(no_such_parameter=1)

    def test_checkerboard_top1(self) -> None:
        if not self.learns_checkerboard:
            pytest.skip("model does not personalise")
        data, withheld = checkerboard()
        model = self.fit(data)
        recs = model.recommend(data.users.ids, n=1)
        assert (recs.ids()[:, 0] == withheld).all()

    def test_batch_equals_loop(self) -> None:
        model, data = self.fitted()
        users = data.users.ids
        batch = model.recommend(users, n=3)
        for pos, user in enumerate(users):
            single = model.recommend(user, n=3)
            assert len(single) == 1
            np.testing.assert_array_equal(single.indices[0], batch.indices[pos])
            # BLAS may sum in another order for another batch size: allow float32 noise near zero
            np.testing.assert_allclose(single.scores[0], batch.scores[pos], rtol=1e-5, atol=1e-6)

    def test_scores_sorted_and_match_predict(self) -> None:
        model, data = self.fitted()
        recs = model.recommend(data.users.ids, n=data.n_items)
        valid = recs.valid
        both = valid[:, 1:] & valid[:, :-1]
        assert (recs.scores[:, 1:][both] <= recs.scores[:, :-1][both] + 1e-6).all()
        assert (valid[:, 1:] <= valid[:, :-1]).all()  # padding only at the end
        rows, cols = np.nonzero(valid)
        predicted = model.predict(recs.queries[rows], model.items_.to_ids(recs.indices[rows, cols]))
        np.testing.assert_allclose(predicted, recs.scores[rows, cols], rtol=1e-4, atol=1e-5)

    def test_exclude_seen(self) -> None:
        model, data = self.fitted()
        recs = model.recommend(data.users.ids, n=data.n_items)
        seen = data.matrix
        for row in range(len(recs)):
            got = set(recs.indices[row][recs.valid[row]].tolist())
            assert not got & set(seen.indices[seen.indptr[row] : seen.indptr[row + 1]].tolist())
        unfiltered = model.recommend(data.users.ids[:1], n=data.n_items, exclude_seen=False)
        assert unfiltered.valid.sum() == data.n_items

    def test_exclude_and_candidates(self) -> None:
        model, data = self.fitted()
        items = data.items.ids
        user = data.users.ids[0]
        excluded = model.recommend(user, n=data.n_items, exclude_seen=False, exclude=items[:2])
        assert not set(excluded.ids()[0][excluded.valid[0]].tolist()) & set(items[:2].tolist())
        wanted = items[1::2]
        subset = model.recommend(user, n=data.n_items, exclude_seen=False, candidates=wanted)
        got = subset.ids()[0][subset.valid[0]]
        assert set(got.tolist()) == set(wanted.tolist())
        with pytest.raises(InvalidParameterError, match="either exclude"):
            model.recommend(user, exclude=items[:1], candidates=items[1:])

    def test_n_larger_than_catalogue_is_padded(self) -> None:
        model, data = self.fitted()
        recs = model.recommend(data.users.ids[:2], n=data.n_items + 5, exclude_seen=False)
        assert recs.indices.shape == (2, data.n_items + 5)
        assert (recs.indices[:, data.n_items :] == -1).all()
        assert np.isneginf(recs.scores[:, data.n_items :]).all()
        assert len(recs.to_frame()) == recs.valid.sum()

    def test_bad_n(self) -> None:
        model, data = self.fitted()
        with pytest.raises(InvalidParameterError, match="n must be a positive integer"):
            model.recommend(data.users.ids[0], n=0)

    def test_unknown_ids(self) -> None:
        model, data = self.fitted()
        unknown_user = "no-such-user" if data.users.is_str else 10**9
        with pytest.raises(UnknownIdError, match="unknown user"):
            model.recommend(unknown_user)
        items = data.items.ids[:1]
        assert np.isnan(model.predict([unknown_user], items)).all()
        with pytest.raises(UnknownIdError):
            model.predict([unknown_user], items, unknown="raise")

    def test_fold_in(self) -> None:
        model, data = self.fitted()
        if not model.supports_fold_in:
            with pytest.raises(NotSupportedError):
                model.recommend_from_history(data.items.ids[:1])
            return
        row = 0
        start, end = data.matrix.indptr[row], data.matrix.indptr[row + 1]
        history = data.items.to_ids(data.matrix.indices[start:end])
        weights = data.matrix.data[start:end]
        folded = model.recommend_from_history(history, weights=weights, n=3)
        assert len(folded) == 1
        assert not set(folded.ids()[0][folded.valid[0]].tolist()) & set(history.tolist())
        if self.exact_fold_in:
            stored = model.recommend(data.users.ids[row], n=3)
            if self.index is not None and self.index.get("kind") != "exact":
                # The folded vector equals the stored one up to solver noise; a graph walk from a
                # slightly different query may settle differently, so compare by overlap.
                overlap = len(set(folded.indices[0].tolist()) & set(stored.indices[0].tolist())) / 3
                assert overlap >= 2 / 3
                return
            np.testing.assert_array_equal(folded.indices, stored.indices)
            np.testing.assert_allclose(folded.scores, stored.scores, rtol=1e-4, atol=1e-5)

    def test_fold_in_empty_history(self) -> None:
        model, _ = self.fitted()
        if not model.supports_fold_in:
            pytest.skip("no fold-in")
        recs = model.recommend_from_history([], n=2)
        assert recs.indices.shape == (1, 2)

    def test_similar_items(self) -> None:
        model, data = self.fitted()
        item = data.items.ids[0]
        if not model.supports_similar_items:
            with pytest.raises(NotSupportedError):
                model.similar_items(item)
            return
        recs = model.similar_items(data.items.ids, n=3)
        assert recs.indices.shape == (data.n_items, 3)
        for row in range(data.n_items):
            assert row not in recs.indices[row].tolist()

    def test_index_recall(self) -> None:
        if self.index is None:
            pytest.skip("no item index")
        model, data = self.fitted()
        users = data.users.ids
        n = max(1, min(10, data.n_items // 3))
        approx = model.recommend(users, n=n)
        assert (approx.valid.sum(axis=1) == np.minimum(n, data.n_items - np.diff(data.matrix.indptr))).all()
        exact = model.drop_index().recommend(users, n=n)  # type: ignore[attr-defined]
        hits = [
            len(set(a[a >= 0].tolist()) & set(e[e >= 0].tolist()))
            for a, e in zip(approx.indices, exact.indices, strict=True)
        ]
        assert sum(hits) / max(exact.valid.sum(), 1) >= self.min_recall

    def test_explain(self) -> None:
        model, data = self.fitted()
        user, item = data.users.ids[0], data.items.ids[-1]
        explanation = model.explain(user, item)
        assert explanation.user == user and explanation.item == item
        np.testing.assert_allclose(explanation.score, model.predict([user], [item])[0], rtol=1e-5)
        assert {"kind", "id", "weight"} <= set(explanation.contributions.columns)
        assert explanation.text

    def test_save_load_roundtrip(self, tmp_path: Path) -> None:
        model, data = self.fitted()
        model.save(tmp_path / "model")
        loaded = load(tmp_path / "model")
        assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
        if self.index is not None:
            assert type(loaded.index_) is type(model.index_)  # type: ignore[attr-defined]
        users = data.users.ids
        a, b = model.recommend(users, n=3), loaded.recommend(users, n=3)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.scores, b.scores)
        if model.supports_fold_in:
            history = data.items.ids[:2]
            np.testing.assert_array_equal(
                model.recommend_from_history(history).indices, loaded.recommend_from_history(history).indices
            )
        model.save(tmp_path / "model")  # overwriting an existing model works
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    def test_fill_caches_changes_no_answer(self, tmp_path: Path) -> None:
        model, _data = self.fitted()
        model.save(tmp_path / "model")
        filled, fresh = load(tmp_path / "model"), load(tmp_path / "model")
        mask = np.zeros(model.n_items, dtype=bool)
        mask[::3] = True  # selective: a factor model packs these rows
        filled.fill_caches([mask])
        users = np.arange(model.n_users)
        for allowed in (mask, None):
            a = filled.recommend_indices(users, 3, allowed=allowed)
            b = fresh.recommend_indices(users, 3, allowed=allowed)
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_allclose(a[1], b[1], rtol=1e-6, atol=1e-7)
            if model.supports_fold_in:
                history = np.array([0, 2])
                a = filled.recommend_indices_from_history(history, n=3, allowed=allowed)
                b = fresh.recommend_indices_from_history(history, n=3, allowed=allowed)
                np.testing.assert_array_equal(a[0], b[0])
                np.testing.assert_allclose(a[1], b[1], rtol=1e-6, atol=1e-7)
        with pytest.raises(InvalidParameterError, match="allowed must be a boolean mask"):
            filled.fill_caches([mask[:-1]])

    def test_tampered_model_is_refused(self, tmp_path: Path) -> None:
        model, _ = self.fitted()
        model.save(tmp_path / "model")
        arrays = tmp_path / "model" / "arrays.npz"
        blob = bytearray(arrays.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        arrays.write_bytes(bytes(blob))
        with pytest.raises(ModelFormatError, match="checksum"):
            load(tmp_path / "model")

    def test_pickle_roundtrip(self) -> None:
        model, data = self.fitted()
        clone = pickle.loads(pickle.dumps(model))
        users = data.users.ids
        np.testing.assert_array_equal(model.recommend(users, n=3).indices, clone.recommend(users, n=3).indices)

    def test_refit_is_deterministic(self) -> None:
        if not self.deterministic:
            pytest.skip("model is not deterministic")
        data = self.data()
        users = data.users.ids
        first = self.fit(data).recommend(users, n=3)
        second = self.fit(data).recommend(users, n=3)
        np.testing.assert_array_equal(first.indices, second.indices)
        np.testing.assert_allclose(first.scores, second.scores, rtol=1e-6)

    def test_corner_cases(self) -> None:
        data = corner_cases()
        model = self.fit(data)
        recs = model.recommend(data.users.ids, n=3)
        assert recs.indices.shape == (data.n_users, 3)
        finite = recs.scores[recs.valid]
        assert np.isfinite(finite).all()
        _ = model.predict(data.users.ids, data.items.ids)

    def test_wrong_input_type(self) -> None:
        with pytest.raises(InvalidParameterError, match="Interactions"):
            self.make_model().fit(np.ones((3, 3)))  # type: ignore[arg-type]
