"""evaluate(): exact values by hand on tiny data, skipped users, bootstrap intervals."""

import json
import math
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from likewise import Interactions, Popularity, Random
from likewise.data.interactions import FeatureMatrix
from likewise.evaluation import evaluate
from likewise.exceptions import DataWarning, InvalidParameterError, NotFittedError
from likewise.models.base import Recommender
from tests.reference import metrics as ref

LOG2_3 = math.log2(3)

# Implicit data. Train popularity (users per item): a 4, b 3, c 1, d 1, e 0.
TRAIN = [
    ("u1", "a"),
    ("u1", "b"),
    ("u2", "a"),
    ("u2", "c"),
    ("u3", "a"),
    ("u3", "b"),
    ("u3", "d"),
    ("u4", "b"),
    ("u5", "a"),
]
TEST = [("u1", "c"), ("u2", "b"), ("u2", "e"), ("u3", "e"), ("u4", "d")]  # u5: no test row


def split_of(train_pairs, test_pairs, values=None, kind="implicit"):
    pairs = train_pairs + test_pairs
    frame = pd.DataFrame(pairs, columns=["user", "item"])
    if values is not None:
        frame["rating"] = values
        data = Interactions.from_frame(frame, rating="rating", rating_scale=(1, 5))
    else:
        data = Interactions.from_frame(frame)
    in_test = set(test_pairs)
    csr_pairs = data.to_frame()[["user", "item"]].itertuples(index=False, name=None)
    mask = np.array([pair in in_test for pair in csr_pairs])
    return data.subset(~mask), data.subset(mask)


@pytest.fixture
def implicit_split():
    return split_of(TRAIN, TEST)


@pytest.fixture
def popularity(implicit_split):
    return Popularity().fit(implicit_split[0])


def column(result, name):
    return result.per_user.set_index("user")[name].to_dict()


class TestPopularityByHand:
    # Popularity order a(4) b(3) c(1) d(1) e(0); ties broken by index (c before d).
    # k = 2, seen items excluded:
    #   u1 saw a, b    -> [c, d]; test {c}     hit at rank 1
    #   u2 saw a, c    -> [b, d]; test {b, e}  hit at rank 1 (e missed)
    #   u3 saw a, b, d -> [c, e]; test {e}     hit at rank 2
    #   u4 saw b       -> [a, c]; test {d}     no hit
    ALL: ClassVar[list[str]] = [
        "precision",
        "recall",
        "ndcg",
        "map",
        "mrr",
        "hit_rate",
        "auc",
        "coverage",
        "gini",
        "personalisation",
        "novelty",
        "popularity_bias",
    ]

    def test_ranking_metrics(self, popularity, implicit_split):
        train, test = implicit_split
        result = evaluate(popularity, train, test, k=2, metrics=self.ALL)
        expected = {
            "precision": {"u1": 0.5, "u2": 0.5, "u3": 0.5, "u4": 0.0},
            "recall": {"u1": 1.0, "u2": 0.5, "u3": 1.0, "u4": 0.0},
            # u2: DCG 1, IDCG 1 + 1/log2(3); u3: DCG 1/log2(3), IDCG 1
            "ndcg": {"u1": 1.0, "u2": 1 / (1 + 1 / LOG2_3), "u3": 1 / LOG2_3, "u4": 0.0},
            # u2: P@1 / min(2, 2); u3: P@2 / min(2, 1)
            "map": {"u1": 1.0, "u2": 0.5, "u3": 0.5, "u4": 0.0},
            "mrr": {"u1": 1.0, "u2": 1.0, "u3": 0.5, "u4": 0.0},
            "hit_rate": {"u1": 1.0, "u2": 1.0, "u3": 1.0, "u4": 0.0},
            # scores a4 b3 c1 d1 e0 over unseen candidates:
            #   u1 {c,d,e}: c vs d tie 1/2, c > e 1          -> 1.5/2
            #   u2 {b,d,e}: pos b, e; neg d: b > d, e < d     -> 1/2
            #   u3 {c,e}:   e < c                             -> 0
            #   u4 {a,c,d,e}: d < a 0, d = c 1/2, d > e 1    -> 1.5/3
            "auc": {"u1": 0.75, "u2": 0.5, "u3": 0.0, "u4": 0.5},
        }
        for name, per_user in expected.items():
            got = column(result, name)
            assert got == pytest.approx(per_user), name
            assert result[name] == pytest.approx(np.mean(list(per_user.values()))), name
        assert result["precision"] == pytest.approx(0.375)
        assert result["ndcg"] == pytest.approx(0.561019, abs=1e-6)
        assert result["auc"] == pytest.approx(0.4375)
        assert column(result, "n_test") == {"u1": 1, "u2": 2, "u3": 1, "u4": 1}

    def test_beyond_accuracy(self, popularity, implicit_split):
        train, test = implicit_split
        result = evaluate(popularity, train, test, k=2, metrics=self.ALL)
        # every item is recommended to someone: 5 / 5
        assert result["coverage"] == pytest.approx(1.0)
        # counts a1 b1 c3 d2 e1 -> sorted [1,1,1,2,3], weights -4,-2,0,2,4: 10 / (5 * 8)
        assert result["gini"] == pytest.approx(0.25)
        # cosine overlaps (each 1/2 when sharing one of two items): u1-u2 {d}, u1-u3 {c},
        # u1-u4 {c}, u3-u4 {c}; u2-u3, u2-u4 none -> mean 2/6
        assert result["personalisation"] == pytest.approx(2 / 3)
        # 5 training users; self-information -log2(n_i / 5), e (0 users) counted as 1
        info = {"a": -math.log2(4 / 5), "b": -math.log2(3 / 5), "c": math.log2(5), "d": math.log2(5), "e": math.log2(5)}
        assert column(result, "novelty") == pytest.approx(
            {
                "u1": (info["c"] + info["d"]) / 2,
                "u2": (info["b"] + info["d"]) / 2,
                "u3": (info["c"] + info["e"]) / 2,
                "u4": (info["a"] + info["c"]) / 2,
            }
        )
        # catalogue mean popularity (4+3+1+1+0)/5 = 1.8
        assert column(result, "popularity_bias") == pytest.approx(
            {"u1": 1 / 1.8, "u2": 2 / 1.8, "u3": 0.5 / 1.8, "u4": 2.5 / 1.8}
        )
        batch = result.summary.set_index("metric").loc[["coverage", "gini", "personalisation"]]
        assert batch["ci_low"].isna().all() and (batch["n_users"] == 4).all()

    def test_k1_coverage(self, popularity, implicit_split):
        # k = 1: u1 [c], u2 [b], u3 [c], u4 [a] -> 3 of 5 items
        result = evaluate(popularity, *implicit_split, k=1, metrics=["coverage"])
        assert result["coverage"] == pytest.approx(0.6)

    def test_default_metrics_and_info(self, popularity, implicit_split):
        result = evaluate(popularity, *implicit_split, k=2)
        assert list(result.summary["metric"]) == ["precision", "recall", "ndcg", "map", "mrr", "hit_rate", "coverage"]
        assert list(result.summary.columns) == ["metric", "mean", "ci_low", "ci_high", "n_users"]
        assert list(result.per_user.columns) == [
            "user",
            "n_test",
            "n_relevant",
            "precision",
            "recall",
            "ndcg",
            "map",
            "mrr",
            "hit_rate",
        ]
        info = result.info
        assert info["n_users_evaluated"] == 4
        assert info["n_users_skipped"] == {"no test interactions": 1}  # u5
        assert info["n_test_interactions"] == 5
        assert info["n_relevant_in_train"] == 0
        assert info["n_test_items_unknown"] == 0
        payload = json.loads(json.dumps(result.to_dict(per_user=True), allow_nan=False))
        assert payload["summary"][0] == {
            "metric": "precision",
            "mean": 0.375,
            "ci_low": pytest.approx(0.125),
            "ci_high": pytest.approx(0.5),
            "n_users": 4,
        }
        assert payload["summary"][-1]["ci_low"] is None  # coverage has no interval
        assert payload["per_user"][0]["user"] == "u1"

    def test_users_subset(self, popularity, implicit_split):
        result = evaluate(popularity, *implicit_split, k=2, users=["u2", "u1", "nobody", "u5"])
        assert sorted(result.per_user["user"]) == ["u1", "u2"]
        assert result["precision"] == pytest.approx(0.5)
        # "nobody" is not in the test data; u5 has an empty test row
        assert result.info["n_users_skipped"] == {"no test interactions": 2}

    def test_leakage_is_counted(self, popularity, implicit_split):
        train, _ = implicit_split
        # u1's test says a, which u1 also had in training: never recommendable
        _, test = split_of(TRAIN[1:], [("u1", "a"), ("u1", "c")])
        result = evaluate(popularity, train, test, k=2)
        assert result.info["n_relevant_in_train"] == 1
        assert column(result, "recall") == pytest.approx({"u1": 0.5})


def test_unknown_users_and_items_are_counted(popularity, implicit_split):
    train, _ = implicit_split
    # separate id maps: u9 is unknown to the model, item z too
    test = Interactions.from_frame(pd.DataFrame({"user": ["u1", "u1", "u9"], "item": ["c", "z", "a"]}))
    result = evaluate(popularity, train, test, k=2)
    assert result.info["n_users_skipped"] == {"unknown to the model": 1}
    assert result.info["n_test_items_unknown"] == 1
    # u1 -> [c, d]; relevant {c, z}: z can never be recommended but still counts
    assert column(result, "recall") == pytest.approx({"u1": 0.5})
    assert column(result, "precision") == pytest.approx({"u1": 0.5})


def test_random_model_against_reference(implicit_split):
    train, test = implicit_split
    model = Random(random_state=3).fit(train)
    users = ["u1", "u2", "u3", "u4"]
    result = evaluate(model, train, test, k=3, metrics=["precision", "ndcg", "map", "mrr", "auc"])
    recs = model.recommend(users, n=3).indices.tolist()
    rel = [{2: 1.0}, {1: 1.0, 4: 1.0}, {4: 1.0}, {3: 1.0}]  # items a..e are indices 0..4
    frame = result.per_user.set_index("user").loc[users]
    np.testing.assert_allclose(frame["precision"], ref.precision(recs, rel, 3))
    np.testing.assert_allclose(frame["ndcg"], ref.ndcg(recs, rel, 3))
    np.testing.assert_allclose(frame["map"], ref.average_precision(recs, rel, 3))
    np.testing.assert_allclose(frame["mrr"], ref.reciprocal_rank(recs, rel, 3))
    scores = np.array([model.predict([u] * 5, list("abcde")) for u in users], dtype=np.float64)
    seen = [{0, 1}, {0, 2}, {0, 1, 3}, {1}]
    np.testing.assert_allclose(frame["auc"], ref.auc(scores, rel, seen))


def test_random_model_full_lists_find_everything(implicit_split):
    # With k = 5 >= the catalogue, every unseen item is listed whatever the order: each
    # user's relevant items (all unseen in training) are found -> recall = hit rate = 1.
    train, test = implicit_split
    model = Random(random_state=0).fit(train)
    result = evaluate(model, train, test, k=5, metrics=["recall", "hit_rate", "precision"])
    assert result["recall"] == 1.0 and result["hit_rate"] == 1.0
    # precision = |R_u| / 5: (1 + 2 + 1 + 1) / 4 / 5
    assert result["precision"] == pytest.approx(0.25)


class TestBootstrap:
    def test_interval_brackets_mean_and_is_seeded(self, popularity, implicit_split):
        result = evaluate(popularity, *implicit_split, k=2, metrics=["precision", "ndcg", "recall"])
        summary = result.summary
        assert (summary["ci_low"] <= summary["mean"]).all()
        assert (summary["mean"] <= summary["ci_high"]).all()
        assert (summary["ci_low"] < summary["ci_high"]).all()
        again = evaluate(popularity, *implicit_split, k=2, metrics=["precision", "ndcg", "recall"])
        pd.testing.assert_frame_equal(summary, again.summary)

    def test_wider_with_more_confidence(self, popularity, implicit_split):
        narrow = evaluate(popularity, *implicit_split, k=2, metrics=["ndcg"], confidence=0.5)
        wide = evaluate(popularity, *implicit_split, k=2, metrics=["ndcg"], confidence=0.99)
        assert wide.summary["ci_low"][0] <= narrow.summary["ci_low"][0]
        assert wide.summary["ci_high"][0] >= narrow.summary["ci_high"][0]

    def test_constant_values_give_a_point_interval(self, popularity, implicit_split):
        result = evaluate(popularity, *implicit_split, k=5, metrics=["hit_rate"], n_bootstrap=50)
        assert result.summary.loc[0, ["mean", "ci_low", "ci_high"]].tolist() == [1.0, 1.0, 1.0]

    def test_no_bootstrap(self, popularity, implicit_split):
        result = evaluate(popularity, *implicit_split, k=2, n_bootstrap=0)
        assert result.summary["ci_low"].isna().all()
        assert result["precision"] == pytest.approx(0.375)


# --------------------------------------------------------------------------- explicit ratings


class ItemMean(Recommender):
    """Predicts each item's mean training rating (the global mean for unrated items)."""

    predicts_ratings = True

    def __init__(self) -> None:
        pass

    def _fit(self, data, callback):
        sums = np.bincount(data.item_indices, weights=data.values, minlength=data.n_items)
        counts = np.bincount(data.item_indices, minlength=data.n_items)
        mean = float(data.values.mean())
        self.item_mean_ = np.where(counts > 0, sums / np.maximum(counts, 1), mean).astype(np.float32)

    def _score_users(self, uidx):
        return np.broadcast_to(self.item_mean_, (uidx.size, self.item_mean_.size))

    def _explain(self, uidx, iidx, score):
        return pd.DataFrame({"kind": [], "id": [], "weight": []}), "item mean"


@pytest.fixture
def explicit_split():
    # train u1: a 4, b 2; u2: a 2, c 5; u3: b 4  -> means a 3, b 3, c 5, d 3.4 (global 17/5)
    # test  u1: c 4;  u2: b 5, d 3;  u3: a 1
    train = [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "c"), ("u3", "b")]
    test = [("u1", "c"), ("u2", "b"), ("u2", "d"), ("u3", "a")]
    return split_of(train, test, values=[4, 2, 2, 5, 4, 4, 5, 3, 1], kind="explicit")


def test_rating_metrics_by_hand(explicit_split):
    train, test = explicit_split
    model = ItemMean().fit(train)
    result = evaluate(model, train, test, k=1, relevance_threshold=4)
    assert list(result.summary["metric"])[-2:] == ["rmse", "mae"]
    # errors: u1 c 5-4 = 1; u2 b 3-5 = -2, d 3.4-3 = 0.4; u3 a 3-1 = 2
    # RMSE = sqrt((1 + 4 + 0.16 + 4) / 4) = sqrt(2.29); MAE = (1 + 2 + 0.4 + 2) / 4 = 1.35
    assert result["rmse"] == pytest.approx(math.sqrt(2.29), rel=1e-6)
    assert result["mae"] == pytest.approx(1.35, rel=1e-6)
    assert column(result, "rmse") == pytest.approx({"u1": 1.0, "u2": math.sqrt(4.16 / 2), "u3": 2.0})
    assert column(result, "mae") == pytest.approx({"u1": 1.0, "u2": 1.2, "u3": 2.0})
    # ratings >= 4 are relevant: u1 {c}, u2 {b}; u3 (rated a 1) has none and is counted.
    # k = 1: u1 (saw a, b) -> c (5): hit; u2 (saw a, c) -> d (3.4) before b (3): miss
    assert column(result, "precision") == pytest.approx({"u1": 1.0, "u2": 0.0, "u3": np.nan}, nan_ok=True)
    assert result["precision"] == pytest.approx(0.5)
    rows = result.summary.set_index("metric")["n_users"]
    assert rows["precision"] == 2 and rows["rmse"] == 3
    assert result.info["n_users_skipped"] == {"no relevant test items": 1}
    assert result.info["n_users_rated"] == 3
    assert result.info["n_ratings_unpredicted"] == 0
    summary = result.summary.set_index("metric").loc[["rmse", "mae"]]
    assert (summary["ci_low"] <= summary["mean"]).all() and (summary["mean"] <= summary["ci_high"]).all()


def test_everybody_skipped_warns(explicit_split):
    train, test = explicit_split
    model = ItemMean().fit(train)
    with pytest.warns(DataWarning, match="3 no relevant test items"):
        result = evaluate(model, train, test, k=1, relevance_threshold=6, metrics=["ndcg"])
    assert math.isnan(result["ndcg"])
    assert result.summary.loc[0, "n_users"] == 0


def test_diversity_uses_train_item_features(popularity, implicit_split):
    train, test = implicit_split
    feats = FeatureMatrix.from_pairs(train.items, ["a", "b", "c", "d", "d"], ["x", "x", "y", "x", "y"])
    train = train.with_features(item_features=feats)
    result = evaluate(popularity, train, test, k=2, metrics=["diversity"])
    # u1 [c, d] and u2 [b, d]: cosine 1/sqrt(2) -> distance 1 - 1/sqrt(2);
    # u3 [c, e]: e has no feature -> 1; u4 [a, c]: orthogonal -> 1
    d = 1 - 1 / math.sqrt(2)
    assert column(result, "diversity") == pytest.approx({"u1": d, "u2": d, "u3": 1.0, "u4": 1.0})


class TestValidation:
    def test_unknown_metric(self, popularity, implicit_split):
        with pytest.raises(InvalidParameterError, match="unknown metric 'ndgc'; metrics are"):
            evaluate(popularity, *implicit_split, metrics=["ndgc"])

    def test_rating_metric_needs_rating_model(self, popularity, implicit_split):
        with pytest.raises(InvalidParameterError, match="'rmse' needs a model that predicts ratings"):
            evaluate(popularity, *implicit_split, metrics=["rmse"])

    def test_rating_metric_needs_explicit_data(self, implicit_split):
        model = ItemMean().fit(implicit_split[0])
        with pytest.raises(InvalidParameterError, match="needs explicit ratings; the test data is implicit"):
            evaluate(model, *implicit_split, metrics=["mae"])

    def test_diversity_needs_features(self, popularity, implicit_split):
        with pytest.raises(InvalidParameterError, match="'diversity' needs item features"):
            evaluate(popularity, *implicit_split, metrics=["diversity"])

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"k": 0}, "k must be an integer >= 1, got 0"),
            ({"n_bootstrap": -1}, "n_bootstrap must be an integer >= 0"),
            ({"confidence": 1.0}, "confidence must be a number strictly between 0 and 1"),
            ({"relevance_threshold": "4"}, "relevance_threshold must be a finite number"),
            ({"random_state": -3}, "random_state must be a non-negative int"),
            ({"metrics": []}, "metrics is empty"),
        ],
    )
    def test_bad_arguments(self, popularity, implicit_split, kwargs, message):
        with pytest.raises(InvalidParameterError, match=message):
            evaluate(popularity, *implicit_split, **kwargs)

    def test_bad_inputs(self, popularity, implicit_split):
        train, test = implicit_split
        with pytest.raises(NotFittedError, match="not fitted"):
            evaluate(Popularity(), train, test)
        with pytest.raises(InvalidParameterError, match="model must be a likewise Recommender"):
            evaluate("model", train, test)  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match="test must be a likewise Interactions"):
            evaluate(popularity, train, test.to_frame())  # type: ignore[arg-type]
