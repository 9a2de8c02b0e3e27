"""EvaluationProtocol, the metric registry, and evaluation's use of public model API only."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import likewise.evaluation as ev
from likewise import ALS, Popularity
from likewise.evaluation import (
    LOWER_IS_BETTER,
    METRICS,
    REGISTRY,
    EvaluationProtocol,
    compare,
    cross_validate,
    evaluate,
    grid_search,
    user_split,
)
from likewise.evaluation._registry import CURVE_METRICS
from likewise.exceptions import InvalidParameterError
from likewise.testing import checkerboard

EVALUATION_SRC = Path(ev.__file__).parent


@pytest.fixture(scope="module")
def split():
    data, _ = checkerboard(12, 12)
    return user_split(data, 0.3, random_state=0)


SETTINGS = {"k": 3, "metrics": ["ndcg", "recall", "auc", "coverage"], "n_negatives": 4, "n_bootstrap": 50}


def test_protocol_gives_the_same_evaluation_as_keywords(split):
    train, test = split
    model = ALS(n_factors=3, n_epochs=2, random_state=0).fit(train)
    by_keywords = evaluate(model, train, test, random_state=5, **SETTINGS)
    by_protocol = evaluate(model, train, test, protocol=EvaluationProtocol(random_state=5, **SETTINGS))
    pd.testing.assert_frame_equal(by_keywords.summary, by_protocol.summary)
    pd.testing.assert_frame_equal(by_keywords.per_user, by_protocol.per_user)
    assert by_keywords.info == by_protocol.info


def test_compare_cross_validate_and_search_take_a_protocol(split):
    train, test = split
    models = {"pop": Popularity().fit(train), "als": ALS(n_factors=3, n_epochs=2, random_state=0).fit(train)}
    a = compare(models, train, test, fit=False, **SETTINGS)
    b = compare(models, train, test, fit=False, protocol=EvaluationProtocol(**SETTINGS))
    pd.testing.assert_frame_equal(a.leaderboard, b.leaderboard)
    pd.testing.assert_frame_equal(a.curves, b.curves)
    data = checkerboard(12, 12)[0]
    cv_kw = cross_validate(Popularity(), data, folds=2, k=3, metrics=["ndcg"])
    cv_pr = cross_validate(Popularity(), data, folds=2, protocol=EvaluationProtocol(k=3, metrics=["ndcg"]))
    pd.testing.assert_frame_equal(cv_kw.summary, cv_pr.summary)
    space = {"n_factors": [2, 3]}
    als = ALS(n_epochs=2, random_state=0)
    s_kw = grid_search(als, space, data, k=3, metrics=["recall"], refit=False)
    s_pr = grid_search(als, space, data, protocol=EvaluationProtocol(k=3, metrics=["recall"]), refit=False)
    pd.testing.assert_frame_equal(s_kw.results.drop(columns="fit_s"), s_pr.results.drop(columns="fit_s"))


def test_protocol_and_keywords_are_not_mixed(split):
    train, test = split
    model = Popularity().fit(train)
    with pytest.raises(InvalidParameterError, match=r"either as protocol= or as keywords, not both; .* k"):
        evaluate(model, train, test, k=5, protocol=EvaluationProtocol())
    with pytest.raises(InvalidParameterError, match="protocol must be an EvaluationProtocol, got dict"):
        evaluate(model, train, test, protocol={"k": 5})  # type: ignore[arg-type]
    # a keyword equal to its default cannot be told from an omitted one
    assert evaluate(model, train, test, k=10, protocol=EvaluationProtocol(k=2)).info["k"] == 2


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"k": 0}, "k must be an integer >= 1, got 0"),
        ({"n_bootstrap": -1}, "n_bootstrap must be an integer >= 0"),
        ({"confidence": 1.0}, "confidence must be a number strictly between 0 and 1"),
        ({"relevance_threshold": float("nan")}, "relevance_threshold must be a finite number or None"),
        ({"relevance": "soft"}, "relevance must be 'binary' or 'graded'"),
        ({"n_negatives": 0}, "n_negatives must be an integer >= 1"),
        ({"random_state": -1}, "random_state must be a non-negative int"),
        ({"metrics": []}, "metrics is empty"),
        ({"metrics": ["ndgc"]}, "unknown metric 'ndgc'"),
    ],
)
def test_protocol_checks_its_settings(settings, message):
    with pytest.raises(InvalidParameterError, match=message):
        EvaluationProtocol(**settings)


def test_protocol_normalises_and_replaces():
    protocol = EvaluationProtocol(metrics="ndcg", relevance_threshold=4, k=np.int64(5))
    assert protocol.metrics == ("ndcg",) and protocol.relevance_threshold == 4.0 and type(protocol.k) is int
    assert protocol.replace(k=7).k == 7 and protocol.k == 5
    with pytest.raises(InvalidParameterError, match="k must be"):
        protocol.replace(k=0)


def test_registry_is_the_one_list_of_metrics():
    assert tuple(REGISTRY) == METRICS
    assert LOWER_IS_BETTER == {"rmse", "mae", "gini", "popularity_bias"}
    assert CURVE_METRICS == ("precision", "recall", "ndcg", "map", "mrr", "hit_rate")
    for name, metric in REGISTRY.items():
        assert metric.name == name
        assert (metric.compute is not None) == (metric.source == "lists")
        assert metric.function.__module__.startswith("likewise.evaluation")


def test_evaluation_uses_public_model_api_only():
    """No private model hook (``model._x``) or kernel is reached from evaluation (the worker
    processes only size their thread pools with ``likewise.kernels._threads``)."""
    for path in EVALUATION_SRC.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"likewise\.kernels(?!\._threads import resolve_threads)", text), path
        assert not re.search(r"\b(model|candidate|best_model)\._[a-z]", text), path
