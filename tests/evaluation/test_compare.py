"""compare(), paired tests with Holm's correction, sampled candidates and graded relevance."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from likewise import Interactions, Popularity, Random
from likewise.evaluation import Comparison, EvaluationResult, compare, evaluate, holm, paired_tests
from likewise.exceptions import InvalidParameterError
from likewise.models.base import Recommender

LOG2_3 = math.log2(3)

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
TEST = [("u1", "c"), ("u2", "b"), ("u2", "e"), ("u3", "e"), ("u4", "d")]


def split_of(train_pairs, test_pairs, values=None, scale=(1, 5)):
    train_pairs, test_pairs = list(train_pairs), list(test_pairs)
    frame = pd.DataFrame(train_pairs + test_pairs, columns=["user", "item"])
    if values is not None:
        frame["rating"] = list(values)
        data = Interactions.from_frame(frame, rating="rating", rating_scale=scale)
    else:
        data = Interactions.from_frame(frame)
    in_test = set(test_pairs)
    pairs = data.to_frame()[["user", "item"]].itertuples(index=False, name=None)
    mask = np.array([pair in in_test for pair in pairs])
    return data.subset(~mask), data.subset(mask)


@pytest.fixture
def implicit_split():
    return split_of(TRAIN, TEST)


def fake_result(values: dict[str, list[float]], metric: str = "ndcg") -> dict[str, EvaluationResult]:
    """EvaluationResults with given per-user values (users u0, u1, ...)."""
    out = {}
    for name, vals in values.items():
        per_user = pd.DataFrame({"user": [f"u{i}" for i in range(len(vals))], metric: np.asarray(vals, float)})
        summary = pd.DataFrame(
            {"metric": [metric], "mean": [np.nanmean(vals)], "ci_low": [np.nan], "ci_high": [np.nan], "n_users": [0]}
        )
        out[name] = EvaluationResult(per_user, summary, {"metrics": [metric]})
    return out


class TestHolm:
    def test_by_hand(self):
        # sorted 0.01, 0.03, 0.04 -> 3*0.01=0.03, 2*0.03=0.06, 1*0.04=0.04 -> running max 0.03, 0.06, 0.06
        assert holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])

    def test_capped_at_one_and_nan_ignored(self):
        out = holm([0.5, np.nan, 0.2])  # family of 2: 2*0.2 = 0.4, max(0.4, 1*0.5) = 0.5
        assert out[0] == pytest.approx(0.5) and out[2] == pytest.approx(0.4) and math.isnan(out[1])
        assert holm([0.6, 0.7]).tolist() == [1.0, 1.0]
        assert holm([]).size == 0

    def test_single_p_value_unchanged(self):
        assert holm([0.023]).tolist() == [0.023]

    def test_rejects_out_of_range(self):
        with pytest.raises(InvalidParameterError, match=r"\[0, 1\]"):
            holm([0.5, 1.5])


class TestPairedTests:
    A = (0.9, 0.8, 0.7, 0.95, 0.6, 0.85, 0.75, 0.9)
    B = (0.5, 0.7, 0.4, 0.6, 0.65, 0.5, 0.55, 0.45)
    C = (0.52, 0.69, 0.41, 0.61, 0.66, 0.5, 0.52, 0.47)

    def test_p_values_match_scipy_and_holm(self):
        tests = paired_tests(fake_result({"A": self.A, "B": self.B, "C": self.C}))
        assert list(zip(tests["model_a"], tests["model_b"], strict=True)) == [("A", "B"), ("A", "C"), ("B", "C")]
        pairs = {("A", "B"): (self.A, self.B), ("A", "C"): (self.A, self.C), ("B", "C"): (self.B, self.C)}
        raw_t = []
        raw_w = []
        for row in tests.itertuples():
            x, y = pairs[(row.model_a, row.model_b)]
            ref_t = stats.ttest_rel(x, y)
            ref_w = stats.wilcoxon(x, y)
            assert row.t_statistic == pytest.approx(ref_t.statistic)
            assert row.p_ttest == pytest.approx(ref_t.pvalue)
            assert row.w_statistic == pytest.approx(ref_w.statistic)
            assert row.p_wilcoxon == pytest.approx(ref_w.pvalue)
            assert row.mean_diff == pytest.approx(np.mean(x) - np.mean(y))
            assert row.n_users == 8
            raw_t.append(ref_t.pvalue)
            raw_w.append(ref_w.pvalue)
        # Holm by hand over the family of three pairs
        order = np.argsort(raw_t)
        expected = np.empty(3)
        running = 0.0
        for rank, idx in enumerate(order):
            running = max(running, min(1.0, (3 - rank) * raw_t[idx]))
            expected[idx] = running
        assert tests["p_ttest_holm"].tolist() == pytest.approx(expected.tolist())
        assert tests["p_wilcoxon_holm"].tolist() == pytest.approx(holm(raw_w).tolist())

    def test_known_t_test_outcome(self):
        # differences 1, 2, 3, 4: mean 2.5, sd sqrt(5/3): t = 2.5 / (sd / 2) = 3.8730; p = 0.03047 (df 3)
        tests = paired_tests(fake_result({"A": [2, 4, 6, 8], "B": [1, 2, 3, 4]}))
        row = tests.iloc[0]
        assert row["t_statistic"] == pytest.approx(2.5 / (math.sqrt(5 / 3) / 2))
        assert row["p_ttest"] == pytest.approx(0.030466, abs=1e-5)
        assert row["p_ttest_holm"] == row["p_ttest"]  # a family of one
        assert row["better"] == "A" and bool(row["significant"])

    def test_verdicts(self):
        tests = paired_tests(fake_result({"A": self.A, "B": self.B, "C": self.C}))
        rows = {(r.model_a, r.model_b): r for r in tests.itertuples()}
        assert rows[("A", "B")].better == "A" and rows[("A", "B")].significant
        assert rows[("B", "C")].better == "C" and not rows[("B", "C")].significant

    def test_lower_is_better_metrics(self):
        tests = paired_tests(fake_result({"A": [1.0, 1.1, 0.9, 1.2], "B": [0.5, 0.6, 0.4, 0.7]}, metric="rmse"))
        assert tests.iloc[0]["better"] == "B"

    def test_identical_models_give_p_one(self):
        tests = paired_tests(fake_result({"A": self.A, "B": self.A}))
        row = tests.iloc[0]
        assert row["p_ttest"] == 1.0 and row["p_wilcoxon"] == 1.0
        assert row["better"] is None and not row["significant"]

    def test_users_paired_by_id_and_nan_dropped(self):
        results = fake_result({"A": [0.5, np.nan, 0.9, 0.2], "B": [0.4, 0.3, 0.8, 0.1]})
        reordered = results["B"].per_user.iloc[::-1].reset_index(drop=True)
        results["B"] = EvaluationResult(reordered, results["B"].summary, results["B"].info)
        row = paired_tests(results).iloc[0]
        assert row["n_users"] == 3
        assert row["mean_diff"] == pytest.approx(0.1)

    def test_too_few_users(self):
        row = paired_tests(fake_result({"A": [0.5], "B": [0.4]})).iloc[0]
        assert math.isnan(row["p_ttest"]) and not row["significant"]


class EpochPopularity(Recommender):
    """Popularity by count raised to `power`, reporting a fake loss for three epochs."""

    def __init__(self, *, power: float = 1.0) -> None:
        self.power = power

    def _fit(self, data, callback):
        counts = np.bincount(data.item_indices, minlength=data.n_items).astype(np.float64)
        self.scores_ = np.where(counts > 0, counts, 0.5) ** self.power
        for epoch in range(1, 4):
            if callback is not None:
                callback(epoch, {"loss": 1.0 / epoch})

    def _score_users(self, uidx):
        return np.broadcast_to(self.scores_.astype(np.float32), (uidx.size, self.scores_.size))

    def _explain(self, uidx, iidx, score):
        return pd.DataFrame({"kind": [], "id": [], "weight": []}), "count"


class TestCompare:
    def test_leaderboard_tests_and_curves(self, implicit_split):
        train, test = implicit_split
        models = {"random": Random(random_state=3), "pop": Popularity(), "anti": EpochPopularity(power=-1.0)}
        result = compare(models, train, test, k=2, n_bootstrap=200)
        assert isinstance(result, Comparison)
        # each model's evaluation is exactly evaluate() with the same settings
        for name, model in models.items():
            alone = evaluate(model, train, test, k=2, n_bootstrap=200)
            pd.testing.assert_frame_equal(result.results[name].summary, alone.summary)
        assert result.primary == "ndcg"
        board = result.leaderboard
        assert board["ndcg"].is_monotonic_decreasing
        assert board.loc[0, "ndcg"] == board["ndcg"].max()
        by_model = board.set_index("model")
        assert by_model.loc["pop", "ndcg"] == pytest.approx(0.561019, abs=1e-6)  # as in test_evaluate
        assert {"ndcg_ci_low", "ndcg_ci_high", "fit_s"} <= set(board.columns)
        assert result.fit_seconds.keys() == models.keys()
        # three pairs per per-user metric (coverage is a batch metric: not tested)
        assert len(result.tests) == 3 * 6 and "coverage" not in set(result.tests["metric"])
        assert result.p_value("pop", "anti") == result.p_value("anti", "pop")
        assert 0.0 <= result.p_value("pop", "anti", test="wilcoxon", corrected=False) <= 1.0
        # curves at k equal the evaluated means; ndcg at k = 1 is precision at 1
        curves = result.curves.set_index(["model", "k", "metric"])["value"]
        assert curves[("pop", 2, "ndcg")] == pytest.approx(by_model.loc["pop", "ndcg"])
        assert curves[("pop", 1, "ndcg")] == pytest.approx(curves[("pop", 1, "precision")])
        assert result.curves["k"].max() == 20
        # the loss reported through the fit callback is kept
        assert result.history == {
            "anti": [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}, {"epoch": 3, "loss": 1 / 3}]
        }
        payload = result.to_dict()
        assert payload["primary"] == "ndcg" and len(payload["leaderboard"]) == 3

    def test_fit_modes(self, implicit_split):
        train, test = implicit_split
        fitted = Popularity().fit(train)
        result = compare({"a": fitted, "b": Popularity()}, train, test, k=2, n_bootstrap=0)
        assert set(result.fit_seconds) == {"b"}  # "auto" fits only the unfitted one
        assert math.isnan(result.leaderboard.set_index("model").loc["a", "fit_s"])
        with pytest.raises(Exception, match="not fitted"):
            compare({"x": Popularity()}, train, test, fit=False)

    def test_validation(self, implicit_split):
        train, test = implicit_split
        with pytest.raises(InvalidParameterError, match="non-empty mapping"):
            compare({}, train, test)
        with pytest.raises(InvalidParameterError, match="must be a likewise Recommender"):
            compare({"x": object()}, train, test)
        with pytest.raises(InvalidParameterError, match="alpha"):
            compare({"x": Popularity()}, train, test, alpha=1.5)
        with pytest.raises(InvalidParameterError, match="primary metric 'auc' was not evaluated"):
            compare({"x": Popularity()}, train, test, primary="auc")


class TestSampledCandidates:
    def test_enough_negatives_is_the_full_ranking(self, implicit_split):
        train, test = implicit_split
        model = Popularity().fit(train)
        metrics = ["precision", "recall", "ndcg", "auc"]
        full = evaluate(model, train, test, k=2, metrics=metrics, n_bootstrap=0)
        sampled = evaluate(model, train, test, k=2, metrics=metrics, n_bootstrap=0, n_negatives=100)
        pd.testing.assert_frame_equal(full.per_user, sampled.per_user)
        assert full.info["candidates"] == "all items not seen in training"
        assert sampled.info["candidates"] == "each user's relevant test items + 100 sampled negatives"
        assert sampled.info["n_negatives"] == 100

    def test_lists_hold_only_candidates(self, implicit_split):
        train, test = implicit_split
        result = compare({"pop": Popularity()}, train, test, k=5, n_negatives=1, n_bootstrap=0, curve_k=5)
        lists = result.lists["pop"].recs
        items = list(train.items.ids)
        seen = {u: {i for uu, i in TRAIN if uu == u} for u in ("u1", "u2", "u3", "u4")}
        assert result.results["pop"].per_user["user"].tolist() == ["u1", "u2", "u3", "u4"]
        tested = {u: {i for uu, i in TEST if uu == u} for u in ("u1", "u2", "u3", "u4")}
        for user, row in zip(["u1", "u2", "u3", "u4"], lists, strict=True):
            got = [items[i] for i in row if i >= 0]
            negatives = [i for i in got if i not in tested[user]]
            assert len(negatives) <= 1  # one sampled negative
            assert not set(got) & seen[user]
            assert set(got) >= tested[user]  # every relevant test item is a candidate
        # u1: test c (1 user) and one of d (1 user, index after c) or e (0): c is first either way
        per_user = result.results["pop"].per_user.set_index("user")
        assert per_user.loc["u1", "ndcg"] == pytest.approx(1.0)

    def test_seeded(self, implicit_split):
        train, test = implicit_split
        model = Random(random_state=0).fit(train)
        one = evaluate(model, train, test, k=2, n_negatives=1, random_state=5)
        two = evaluate(model, train, test, k=2, n_negatives=1, random_state=5)
        pd.testing.assert_frame_equal(one.per_user, two.per_user)

    def test_validation(self, implicit_split):
        train, test = implicit_split
        model = Popularity().fit(train)
        with pytest.raises(InvalidParameterError, match="n_negatives must be an integer >= 1"):
            evaluate(model, train, test, n_negatives=0)


class ItemMean(Recommender):
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


class TestGradedRelevance:
    # train u1: a 4, b 2; u2: a 2, c 5; u3: b 4 -> item means a 3, b 3, c 5, d 3.4 (global mean)
    # test u1: c 4; u2: b 5, d 3; u3: a 1
    TRAIN = (("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "c"), ("u3", "b"))
    TEST = (("u1", "c"), ("u2", "b"), ("u2", "d"), ("u3", "a"))
    VALUES = (4, 2, 2, 5, 4, 4, 5, 3, 1)

    def test_ndcg_by_hand(self):
        train, test = split_of(self.TRAIN, self.TEST, self.VALUES)
        model = ItemMean().fit(train)
        graded = evaluate(model, train, test, k=2, metrics=["ndcg", "precision"], relevance="graded")
        binary = evaluate(model, train, test, k=2, metrics=["ndcg", "precision"])
        # u1 [c, d]: gain 4 first = ideal -> 1. u2 [d (3.4), b (3)]: gains 3, 5 -> (3 + 5/log2 3) / (5 + 3/log2 3)
        # u3 [c, d]: relevant a (gain 1) missed -> 0
        expected = {"u1": 1.0, "u2": (3 + 5 / LOG2_3) / (5 + 3 / LOG2_3), "u3": 0.0}
        assert graded.per_user.set_index("user")["ndcg"].to_dict() == pytest.approx(expected)
        assert binary.per_user.set_index("user")["ndcg"].to_dict() == pytest.approx({"u1": 1.0, "u2": 1.0, "u3": 0.0})
        # other metrics stay binary
        pd.testing.assert_series_equal(graded.per_user["precision"], binary.per_user["precision"])
        assert graded.info["relevance"] == "graded"

    def test_threshold_then_graded(self):
        train, test = split_of(self.TRAIN, self.TEST, self.VALUES)
        model = ItemMean().fit(train)
        result = evaluate(model, train, test, k=2, metrics=["ndcg"], relevance="graded", relevance_threshold=4)
        # u2: only b (5) relevant; list [d, b] -> (5/log2 3) / 5
        assert result.per_user.set_index("user")["ndcg"].to_dict() == pytest.approx(
            {"u1": 1.0, "u2": 1 / LOG2_3, "u3": np.nan}, nan_ok=True
        )

    def test_non_positive_gains_are_refused(self):
        train, test = split_of(self.TRAIN, self.TEST, [4, 2, 2, 5, 4, 4, 5, 3, 0], scale=(0, 5))
        model = ItemMean().fit(train)
        with pytest.raises(InvalidParameterError, match="gains, which must be positive"):
            evaluate(model, train, test, relevance="graded")
        with pytest.raises(InvalidParameterError, match="relevance must be 'binary' or 'graded'"):
            evaluate(model, train, test, relevance="ordinal")
