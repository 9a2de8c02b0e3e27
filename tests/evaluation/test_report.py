"""Report folders: files written, JSON equal to the in-memory results, plots are real PNGs."""

import json
import math

import pandas as pd
import pytest

from likewise import Popularity, Random
from likewise.datasets import synthetic
from likewise.evaluation import compare, cross_validate, user_split, write_cv_report, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Lossy(Popularity):
    """Popularity that reports a decreasing loss for four epochs."""

    def _fit(self, data, callback):
        super()._fit(data, callback)
        for epoch in range(1, 5):
            if callback is not None:
                callback(epoch, {"loss": 10.0 / epoch})


@pytest.fixture(scope="module")
def comparison():
    data = synthetic(120, 50, 2500, kind="explicit", random_state=3)
    train, test = user_split(data, 0.2, random_state=0)
    models = {"Popularity": Lossy(), "Random": Random(random_state=0)}
    return compare(models, train, test, k=5, relevance_threshold=4.0, n_bootstrap=100)


def png_size(path):
    raw = path.read_bytes()
    assert raw[:8] == PNG_MAGIC
    return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")


def test_report_files_and_values(comparison, tmp_path):
    files = write_report(comparison, tmp_path / "rep", title="Test report", description="synthetic data")
    expected = {
        "json",
        "per_user",
        "markdown",
        "leaderboard",
        "metric_vs_k",
        "precision_recall",
        "training_loss",
        "popularity",
    }
    assert set(files) == expected
    for path in files.values():
        assert path.exists() and path.stat().st_size > 0
    for name in ("leaderboard", "metric_vs_k", "precision_recall", "training_loss", "popularity"):
        width, height = png_size(files[name])
        assert width >= 500 and height >= 250

    payload = json.loads(files["json"].read_text())
    assert payload["title"] == "Test report" and payload["primary"] == "ndcg"
    for name, result in comparison.results.items():
        saved = {row["metric"]: row for row in payload["results"][name]["summary"]}
        for row in result.summary.itertuples():
            assert saved[row.metric]["mean"] == pytest.approx(row.mean)
            if math.isfinite(row.ci_low):
                assert saved[row.metric]["ci_low"] == pytest.approx(row.ci_low)
    assert payload["history"]["Popularity"][0] == {"epoch": 1, "loss": 10.0}
    tests = pd.DataFrame(payload["tests"])
    assert tests["p_ttest_holm"].tolist() == pytest.approx(comparison.tests["p_ttest_holm"].tolist())

    per_user = pd.read_csv(files["per_user"])
    assert set(per_user["model"]) == {"Popularity", "Random"}
    assert len(per_user) == sum(len(r.per_user) for r in comparison.results.values())

    text = files["markdown"].read_text()
    assert text.startswith("# Test report")
    assert "synthetic data" in text and "held-out values >= 4 are relevant" in text
    best = comparison.leaderboard.iloc[0]
    assert f"| {best['model']} | " in text and f"{best['ndcg']:.4f} [{best['ndcg_ci_low']:.4f}" in text
    assert "Is the difference real?" in text and "![Training loss per epoch](training_loss.png)" in text


def test_no_loss_plot_without_history(tmp_path):
    data = synthetic(80, 30, 1200, kind="implicit", random_state=1)
    train, test = user_split(data, 0.2, random_state=0)
    result = compare({"pop": Popularity()}, train, test, k=3, n_bootstrap=0, n_negatives=10)
    files = write_report(result, tmp_path)
    assert "training_loss" not in files
    text = files["markdown"].read_text()
    assert "no loss plot" in text
    assert "10 sampled negatives" in text and "not comparable" in text


def test_cv_report(tmp_path):
    data = synthetic(80, 30, 1200, kind="implicit", random_state=1)
    results = {"pop": cross_validate(Popularity(), data, folds=2, metrics=["ndcg", "recall"])}
    files = write_cv_report(results, tmp_path)
    payload = json.loads(files["json"].read_text())
    saved = payload["cross_validation"]["pop"]["summary"]
    assert saved[0]["metric"] == "ndcg" and saved[0]["mean"] == pytest.approx(results["pop"]["ndcg"])
    assert "| pop |" in files["markdown"].read_text()
