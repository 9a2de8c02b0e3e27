"""Issue 18, item 5: ids the model cannot map, in predict, recommend and similar_items."""

from __future__ import annotations

import numpy as np
import pytest

from likewise.data.idmap import IdMap
from likewise.exceptions import InvalidParameterError, UnknownIdError
from likewise.models.als import ALS
from likewise.models.knn import ItemKNN
from likewise.models.popular import Popularity
from likewise.testing import checkerboard, tiny_ratings


@pytest.fixture(scope="module")
def int_model() -> ALS:
    return ALS(n_factors=4, n_epochs=3, random_state=0).fit(checkerboard()[0])


@pytest.fixture(scope="module")
def str_model() -> Popularity:
    return Popularity(by="rating").fit(tiny_ratings())


# --------------------------------------------------------------------------- predict


def test_predict_wrong_type_gives_nan(int_model, str_model):
    # Issue 18: predict([7], ["i0"]) raised UnknownIdError on a model with int item ids.
    assert np.isnan(int_model.predict([7], ["i0"])).all()
    assert np.isnan(int_model.predict(["u7"], [0])).all()
    assert np.isnan(str_model.predict([7], ["i0"])).all()
    assert np.isnan(str_model.predict(["u0"], [0, 1])).all()


def test_predict_mixed_and_junk_ids(int_model):
    expected = int_model.predict([1], [2])[0]
    out = int_model.predict([1, 1, 1, 1, 1, 1], [2, "2", None, 2.5, True, 10**30])
    assert out[0] == expected and np.isnan(out[1:]).all()
    whole = int_model.predict([1], [2.0])  # a whole float is the integer id, as elsewhere
    assert whole[0] == expected


def test_predict_raise_still_names_the_id(int_model):
    with pytest.raises(UnknownIdError, match="unknown item id 'i0'"):
        int_model.predict([7], ["i0"], unknown="raise")
    with pytest.raises(UnknownIdError, match="user ids contain a null at position 0"):
        int_model.predict([None], [0], unknown="raise")


def test_to_index_lenient_for_every_unmappable_id():
    ids = IdMap([3, 5, 9], name="item")
    got = ids.to_index([5, "5", None, 9.0, 9.5, np.nan, False, 3, 10**30], missing="lenient")
    assert got.tolist() == [1, -1, -1, 2, -1, -1, -1, 0, -1]
    assert ids.to_index(["a", "b"], missing="lenient").tolist() == [-1, -1]
    assert ids.to_index([4, 9], missing="lenient").tolist() == [-1, 2]
    names = IdMap(["a", "b"], name="user")
    assert names.to_index(["b", 1, None], missing="lenient").tolist() == [1, -1, -1]
    # "negative" keeps refusing a column of the other type (data loading relies on it).
    with pytest.raises(UnknownIdError, match="this map's ids are integers"):
        ids.to_index(["a"], missing="negative")
    assert 1 not in names and "b" in names
    with pytest.raises(UnknownIdError, match="unknown user id 1"):
        names.to_index([1], missing="raise")


# --------------------------------------------------------------------------- recommend


def test_recommend_raises_by_default(str_model):
    with pytest.raises(UnknownIdError, match="unknown user id: 'nobody'"):
        str_model.recommend(["u0", "nobody"])
    with pytest.raises(UnknownIdError, match="unknown user id 7"):
        str_model.recommend([7], unknown="raise")


def test_recommend_rejects_other_policies(str_model):
    with pytest.raises(InvalidParameterError, match="unknown must be 'raise', 'skip' or 'popular', got 'nan'"):
        str_model.recommend("u0", unknown="nan")


@pytest.mark.parametrize("make", [lambda: ALS(n_factors=4, n_epochs=3, random_state=0), lambda: ItemKNN(k=3)])
def test_recommend_skip(make):
    data = checkerboard()[0]
    model = make().fit(data)
    recs = model.recommend([0, 99, "x", 3, None], n=3, unknown="skip")
    known = model.recommend([0, 3], n=3)
    assert recs.queries.tolist() == [0, 3]
    np.testing.assert_array_equal(recs.indices, known.indices)
    np.testing.assert_array_equal(recs.scores, known.scores)
    assert recs.fallback is not None and not recs.fallback.any()
    empty = model.recommend([99, 100], n=3, unknown="skip")
    assert len(empty) == 0 and empty.indices.shape == (0, 3) and empty.to_frame().empty
    assert len(model.recommend(99, n=3, unknown="skip")) == 0


@pytest.mark.parametrize("make", [lambda: ALS(n_factors=4, n_epochs=3, random_state=0), lambda: ItemKNN(k=3)])
def test_recommend_popular(make):
    data = checkerboard()[0]
    model = make().fit(data)
    counts = np.bincount(data.matrix.indices, minlength=data.n_items)
    by_count = np.lexsort((np.arange(data.n_items), -counts))  # most interactions first, ties by index
    recs = model.recommend([0, 99, 3, "x"], n=3, unknown="popular")
    assert recs.queries.tolist() == [0, 99, 3, "x"]
    assert recs.fallback.tolist() == [False, True, False, True]
    known = model.recommend([0, 3], n=3)
    np.testing.assert_array_equal(recs.indices[[0, 2]], known.indices)
    np.testing.assert_array_equal(recs.scores[[0, 2]], known.scores)
    for row in (1, 3):
        assert recs.indices[row].tolist() == by_count[:3].tolist()
        np.testing.assert_array_equal(recs.scores[row], counts[by_count[:3]].astype(np.float32))
    assert recs.to_frame().shape[0] == 12


def test_recommend_popular_honours_filters():
    data = checkerboard()[0]
    model = ALS(n_factors=4, n_epochs=3, random_state=0).fit(data)
    counts = np.bincount(data.matrix.indices, minlength=data.n_items)
    order = np.lexsort((np.arange(data.n_items), -counts)).tolist()
    excluded = model.recommend([99], n=3, exclude=order[:2], unknown="popular")
    assert excluded.indices[0].tolist() == order[2:5]
    chosen = model.recommend(99, n=3, candidates=[order[-1], order[-2]], unknown="popular")
    assert chosen.indices[0].tolist() == [order[-2], order[-1], -1]  # padded: only two candidates
    assert chosen.scores[0, 2] == -np.inf
    assert chosen.fallback.tolist() == [True]


def test_popular_rows_are_not_clipped_or_rescored():
    # A rating model reports clipped ratings for known users; fallback rows carry counts.
    model = Popularity(by="rating").fit(tiny_ratings())
    recs = model.recommend(["u0", "stranger"], n=2, unknown="popular")
    counts = np.bincount(model.seen_.indices, minlength=model.n_items)
    assert recs.scores[1].tolist() == sorted(counts.astype(float), reverse=True)[:2]


def test_filters_ignore_ids_of_the_wrong_type(int_model):
    # docs/models.md: ids the model does not know are ignored in exclude= and candidates=.
    plain = int_model.recommend([0], n=3, exclude=[1])
    np.testing.assert_array_equal(int_model.recommend([0], n=3, exclude=[1, "1", None]).indices, plain.indices)
    only = int_model.recommend([0], n=3, candidates=[4, "x"], exclude_seen=False)
    assert only.indices[0].tolist() == [4, -1, -1]


def test_popular_with_a_series_of_users(int_model):
    pd = pytest.importorskip("pandas")
    recs = int_model.recommend(pd.Series([0, 42]), n=2, unknown="popular")
    assert recs.queries.tolist() == [0, 42] and recs.fallback.tolist() == [False, True]


def test_recommend_raise_has_no_fallbacks(str_model):
    recs = str_model.recommend(["u0", "u1"], n=2)
    assert recs.fallback is not None and recs.fallback.tolist() == [False, False]


# --------------------------------------------------------------------------- similar_items


def test_similar_items_policies(int_model):
    with pytest.raises(UnknownIdError, match="unknown item id"):
        int_model.similar_items([0, 99], n=2)
    recs = int_model.similar_items([0, 99, "x", 5], n=2, unknown="skip")
    assert recs.queries.tolist() == [0, 5]
    np.testing.assert_array_equal(recs.indices, int_model.similar_items([0, 5], n=2).indices)
    assert len(int_model.similar_items([99], n=2, unknown="skip")) == 0
    with pytest.raises(InvalidParameterError, match="unknown must be 'raise' or 'skip', got 'popular'"):
        int_model.similar_items([0], unknown="popular")
