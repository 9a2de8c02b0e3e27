"""cross_validate, grid_search, random_search: fold counts, aggregation, known best parameters."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from likewise import Popularity
from likewise.datasets import synthetic
from likewise.evaluation import (
    CrossValidationResult,
    cross_validate,
    evaluate,
    grid_search,
    kfold,
    optuna_search,
    random_search,
    user_split,
)
from likewise.exceptions import InvalidParameterError, NotSupportedError
from likewise.models.base import Recommender


@pytest.fixture(scope="module")
def data():
    # strong popularity: the most popular items are what users hold out most often
    return synthetic(150, 60, 3000, kind="implicit", popularity_exponent=1.2, random_state=7)


class Tilted(Recommender):
    """Scores item i by (users of i) ** power: power 1 is Popularity, -1 its reverse."""

    def __init__(self, *, power: float = 1.0, n_threads: int | None = None) -> None:
        self.power = power
        self.n_threads = n_threads

    def _fit(self, data, callback):
        counts = np.bincount(data.item_indices, minlength=data.n_items).astype(np.float64)
        self.scores_ = (np.maximum(counts, 0.5) ** self.power).astype(np.float32)

    def _score_users(self, uidx):
        return np.broadcast_to(self.scores_, (uidx.size, self.scores_.size))

    def _explain(self, uidx, iidx, score):
        return pd.DataFrame({"kind": [], "id": [], "weight": []}), "tilted"


class TestCrossValidate:
    def test_folds_and_aggregation(self, data):
        result = cross_validate(Popularity(), data, folds=3, k=5, metrics=["ndcg", "precision", "coverage"])
        assert isinstance(result, CrossValidationResult)
        assert result.per_fold["fold"].tolist() == [0, 1, 2]
        assert result.per_fold["n_test"].sum() == data.nnz  # the test folds partition the data
        assert (result.per_fold["n_train"] + result.per_fold["n_test"] == data.nnz).all()
        # each fold's values are evaluate() on that fold
        for split, row in zip(kfold(data, n_splits=3, random_state=0), result.per_fold.itertuples(), strict=True):
            model = Popularity().fit(split.train)
            alone = evaluate(model, split.train, split.test, k=5, metrics=["ndcg", "precision", "coverage"])
            assert row.ndcg == pytest.approx(alone["ndcg"])
            assert row.coverage == pytest.approx(alone["coverage"])
        summary = result.summary.set_index("metric")
        values = result.per_fold["ndcg"].to_numpy()
        assert summary.loc["ndcg", "mean"] == pytest.approx(values.mean())
        assert summary.loc["ndcg", "std"] == pytest.approx(values.std(ddof=1))
        half = stats.t.ppf(0.975, df=2) * values.std(ddof=1) / math.sqrt(3)
        assert summary.loc["ndcg", "ci_low"] == pytest.approx(values.mean() - half)
        assert summary.loc["ndcg", "ci_high"] == pytest.approx(values.mean() + half)
        assert (summary["n_folds"] == 3).all()
        assert result["precision"] == pytest.approx(result.per_fold["precision"].mean())
        assert result.info["n_folds"] == 3 and result.info["folds"] == "interaction"

    def test_given_splits_and_user_folds(self, data):
        splits = [user_split(data, 0.2, random_state=s) for s in (1, 2)]
        result = cross_validate(Popularity(), folds=[(s.train, s.test) for s in splits], k=3, metrics=["recall"])
        assert len(result.per_fold) == 2 and result.info["folds"] == "given"
        by_user = cross_validate(Popularity(), data, folds=4, by="user", metrics=["ndcg"])
        assert len(by_user.per_fold) == 4

    def test_parallel_matches_serial(self, data):
        serial = cross_validate(Popularity(), data, folds=2, metrics=["ndcg", "hit_rate"])
        parallel = cross_validate(Popularity(), data, folds=2, metrics=["ndcg", "hit_rate"], n_jobs=2)
        pd.testing.assert_frame_equal(serial.summary, parallel.summary)
        assert parallel.info["n_jobs"] == 2 and parallel.info["threads_per_worker"] >= 1

    def test_progress_and_validation(self, data):
        calls = []
        cross_validate(Popularity(), data, folds=2, metrics=["ndcg"], progress=lambda d, t: calls.append((d, t)))
        assert calls == [(1, 2), (2, 2)]
        with pytest.raises(InvalidParameterError, match="n_jobs must be a positive integer or -1"):
            cross_validate(Popularity(), data, n_jobs=0)
        with pytest.raises(InvalidParameterError, match="needs data"):
            cross_validate(Popularity(), folds=3)
        with pytest.raises(InvalidParameterError, match="fold 0 is not a Split"):
            cross_validate(Popularity(), folds=["nope"])


class TestSearch:
    def test_grid_search_finds_the_known_best(self, data):
        result = grid_search(Tilted(), {"power": [-1.0, 0.0, 1.0]}, data, k=5, metrics=["precision"])
        assert result.best_params == {"power": 1.0}
        assert result.results["param_power"].tolist() == [-1.0, 0.0, 1.0]
        best_row = result.results.set_index("param_power").loc[1.0]
        assert best_row["rank"] == 1 and result.best_score == pytest.approx(best_row["mean_ndcg"])
        assert result.results["mean_ndcg"].is_monotonic_increasing  # reverse < flat < popularity here
        # the score is evaluate() on the documented holdout
        train, test = user_split(data, 0.2, random_state=0)
        expected = evaluate(Tilted(power=1.0).fit(train), train, test, k=5, metrics=["ndcg"])["ndcg"]
        assert result.best_score == pytest.approx(expected)
        assert isinstance(result.best_model, Tilted) and result.best_model.power == 1.0
        assert result.best_model.n_users == data.n_users  # refitted on everything
        assert "mean_precision" in result.results and "std_ndcg" in result.results

    def test_grid_product_and_cv(self, data):
        result = grid_search(
            Popularity(), {"by": ["count", "rating"], "damping": [0.0, 5.0]}, data, folds=2, refit=False
        )
        assert len(result.results) == 4 and result.best_model is None
        assert set(zip(result.results["param_by"], result.results["param_damping"], strict=True)) == {
            ("count", 0.0),
            ("count", 5.0),
            ("rating", 0.0),
            ("rating", 5.0),
        }
        assert result.info["validation"] == "2-fold cross-validation"
        assert (result.results["std_ndcg"] >= 0).all()

    def test_lower_is_better_metric(self, data):
        result = grid_search(Tilted(), {"power": [-1.0, 1.0]}, data, metric="popularity_bias", refit=False)
        assert result.best_params == {"power": -1.0}  # reverse popularity recommends the least popular
        assert result.info["larger_is_better"] is False

    def test_random_search(self, data):
        space = {"power": stats.uniform(-1, 2), "n_threads": [1, None]}
        one = random_search(Tilted(), space, data, n_trials=5, refit=False, random_state=3)
        two = random_search(Tilted(), space, data, n_trials=5, refit=False, random_state=3)
        pd.testing.assert_frame_equal(one.results.drop(columns="fit_s"), two.results.drop(columns="fit_s"))
        powers = one.results["param_power"]
        assert len(powers) == 5 and powers.between(-1, 1).all()
        assert one.best_params["power"] == pytest.approx(powers.max())  # monotone: the largest power wins

    @pytest.mark.slow
    def test_parallel_search(self, data):
        result = grid_search(Popularity(), {"by": ["count", "rating"]}, data, n_jobs=2, refit=False)
        serial = grid_search(Popularity(), {"by": ["count", "rating"]}, data, refit=False)
        pd.testing.assert_series_equal(result.results["mean_ndcg"], serial.results["mean_ndcg"])

    def test_validation(self, data):
        with pytest.raises(InvalidParameterError, match="has no parameter 'nope'"):
            grid_search(Popularity(), {"nope": [1]}, data)
        with pytest.raises(InvalidParameterError, match="is empty"):
            grid_search(Popularity(), {"by": []}, data)
        with pytest.raises(InvalidParameterError, match="unknown metric 'foo'"):
            grid_search(Popularity(), {"by": ["count"]}, data, metric="foo")
        with pytest.raises(InvalidParameterError, match=r"distribution with \.rvs"):
            random_search(Popularity(), {"damping": 3.0}, data)
        with pytest.raises(InvalidParameterError, match="n_trials"):
            random_search(Popularity(), {"by": ["count"]}, data, n_trials=0)

    def test_optuna_is_optional(self, data):
        try:
            import optuna  # noqa: F401
        except ImportError:
            with pytest.raises(NotSupportedError, match="pip install optuna"):
                optuna_search(Popularity(), lambda t: {}, data)
