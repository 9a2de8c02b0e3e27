"""Popularity and Random under the conformance suite, plus their own known answers."""

import numpy as np
import pytest

from likewise import Interactions, Popularity, Random
from likewise.exceptions import InvalidParameterError
from likewise.testing import RecommenderConformance, tiny_ratings


class TestPopularityConformance(RecommenderConformance):
    learns_checkerboard = False

    def make_model(self):
        return Popularity()


class TestPopularityExplicit(RecommenderConformance):
    learns_checkerboard = False
    fixture = "explicit"

    def make_model(self):
        return Popularity(by="rating", damping=2.0)


class TestRandomConformance(RecommenderConformance):
    learns_checkerboard = False
    exact_fold_in = False

    def make_model(self):
        return Random(random_state=7)


def test_popularity_known_counts():
    data = tiny_ratings()
    model = Popularity().fit(data)
    # column counts of the 5x6 table: i0 4, i1 3, i2 1, i3 5, i4 1, i5 3
    np.testing.assert_array_equal(model.item_counts_, [4, 3, 1, 5, 1, 3])
    recs = model.recommend("u0", n=3)
    # u0 saw i0, i1, i3 -> i5 (3), then i2 and i4 tie at 1 -> lower index first
    assert recs.ids()[0].tolist() == ["i5", "i2", "i4"]


def test_popularity_damped_rating_by_hand():
    data = tiny_ratings()
    model = Popularity(by="rating", damping=2.0).fit(data)
    mean = data.values.mean()
    # i2 has one rating of 5: (5 + 2*mean) / (1 + 2)
    np.testing.assert_allclose(model.predict(["u0"], ["i2"])[0], (5 + 2 * mean) / 3, rtol=1e-6)


def test_popularity_weight_sums():
    data = Interactions.from_arrays([1, 1, 2], ["a", "b", "a"], [3.0, 1.0, 2.0], kind="implicit")
    model = Popularity(by="weight").fit(data)
    np.testing.assert_allclose(model.predict([1, 1], ["a", "b"]), [5.0, 1.0])


def test_popularity_bad_parameter():
    with pytest.raises(InvalidParameterError, match="parameter 'by' must be one of"):
        Popularity(by="votes").fit(tiny_ratings())


def test_random_is_uniform_and_seeded():
    data = tiny_ratings()
    a = Random(random_state=1).fit(data).predict(["u0"] * 6, data.items.ids)
    b = Random(random_state=1).fit(data).predict(["u0"] * 6, data.items.ids)
    c = Random(random_state=2).fit(data).predict(["u0"] * 6, data.items.ids)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert ((a >= 0) & (a < 1)).all()


def test_random_hash_is_roughly_uniform():
    from likewise.models.random import uniform_hash

    values = uniform_hash(3, np.arange(200)[:, None], np.arange(500)[None, :]).ravel()
    counts = np.histogram(values, bins=10, range=(0, 1))[0]
    # 100k draws: each decile within 3% of 10k
    assert np.abs(counts - 10_000).max() < 300
