"""`likewise evaluate` and `likewise compare` through Typer's CliRunner on the sample data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from likewise import Popularity, Random
from likewise.cli._app import app
from likewise.cli.evaluate_cmds import models_from_options
from likewise.datasets import sample
from likewise.evaluation import evaluate, user_split
from likewise.exceptions import InvalidParameterError

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "220"})
    return result, " ".join(result.output.split())


def test_compare_writes_a_report_matching_evaluate(tmp_path: Path) -> None:
    report = tmp_path / "report"
    result, out = invoke(
        "compare", "sample", "--algo", "popularity", "--algo", "random", "-p", "random.random_state=1",
        "--threshold", "4", "--seed", "0", "--report", report, "--bootstrap", "200",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Leaderboard, top-10" in out and "Paired tests on ndcg@10" in out
    assert "popularity is better" in out
    for name in ("results.json", "summary.md", "per_user.csv", "leaderboard.png", "metric_vs_k.png",
                 "precision_recall.png", "popularity.png"):  # fmt: skip
        assert (report / name).stat().st_size > 0, name
    assert not (report / "training_loss.png").exists()  # neither model reports a loss

    payload = json.loads((report / "results.json").read_text())
    train, test = user_split(sample(), 0.2, random_state=0)
    for name, model in (("popularity", Popularity()), ("random", Random(random_state=1))):
        expected = evaluate(model.fit(train), train, test, k=10, relevance_threshold=4.0, n_bootstrap=200)
        saved = {row["metric"]: row for row in payload["results"][name]["summary"]}
        for row in expected.summary.itertuples():
            assert saved[row.metric]["mean"] == pytest.approx(row.mean), (name, row.metric)
            if row.metric != "coverage":
                assert saved[row.metric]["ci_low"] == pytest.approx(row.ci_low), (name, row.metric)
                assert saved[row.metric]["ci_high"] == pytest.approx(row.ci_high), (name, row.metric)
    ndcg_tests = [t for t in payload["tests"] if t["metric"] == "ndcg"]
    assert len(ndcg_tests) == 1 and ndcg_tests[0]["p_ttest_holm"] < 1e-10
    assert "# likewise evaluation" in (report / "summary.md").read_text()


def test_evaluate_one_model_with_options(tmp_path: Path) -> None:
    result, out = invoke(
        "evaluate", "sample", "--algo", "popularity", "-p", "by=rating", "--split", "last-k", "--last-k", "2",
        "-k", "5", "--metric", "ndcg", "--metric", "recall", "--metric", "auc", "--negatives", "50",
        "--bootstrap", "0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ndcg@5" in out and "recall@5" in out and "auc" in out
    assert "50 sampled negatives" in out and "not comparable" in out
    assert "each user's last 2 interaction(s) held out" in out
    assert "Paired tests" not in out


def test_evaluate_cross_validation_report(tmp_path: Path) -> None:
    result, out = invoke(
        "evaluate", "sample", "--algo", "popularity", "--algo", "pop-rating=popularity", "-p", "pop-rating.by=rating",
        "--folds", "2", "--metric", "ndcg", "--report", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2-fold cross-validation" in out and "pop-rating" in out
    payload = json.loads((tmp_path / "results.json").read_text())
    assert set(payload["cross_validation"]) == {"popularity", "pop-rating"}
    folds = payload["cross_validation"]["popularity"]["per_fold"]
    assert len(folds) == 2


def test_usage_errors_are_one_line() -> None:
    result, out = invoke("compare", "sample", "--algo", "popularity")
    assert result.exit_code == 1 and "compare needs at least two --algo" in out
    result, out = invoke("evaluate", "sample", "--algo", "nope")
    assert result.exit_code == 1 and "unknown algorithm 'nope'" in out
    result, out = invoke("evaluate", "sample", "--algo", "popularity", "--split", "sideways")
    assert result.exit_code == 1 and "--split must be one of" in out
    result, out = invoke("compare", "sample", "--algo", "popularity", "--algo", "random", "-p", "by=rating")
    assert result.exit_code == 1 and "prefix the parameter with the algorithm" in out


def test_models_from_options() -> None:
    models = models_from_options(["popularity", "r=popularity"], ["r.by=rating", "r.damping=2"])
    assert list(models) == ["popularity", "r"]
    assert models["r"].by == "rating" and models["r"].damping == 2
    assert models["popularity"].by == "count"
    with pytest.raises(InvalidParameterError, match="given twice"):
        models_from_options(["popularity", "popularity"], [])
    with pytest.raises(InvalidParameterError, match="not one of the --algo labels"):
        models_from_options(["popularity"], ["x.by=rating"])
