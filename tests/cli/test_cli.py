"""The command line, driven through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from likewise import load
from likewise.cli._app import app
from tests._paths import SHARED_DATA

SHARED = SHARED_DATA
runner = CliRunner()


class Flat:
    """A CliRunner result whose output has rich's line wrapping undone (words joined by one space)."""

    def __init__(self, result):
        self.exit_code = result.exit_code
        self.raw = result.output
        self.output = " ".join(result.output.split())


def invoke(*args: str) -> Flat:
    return Flat(runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"}))


@pytest.fixture
def ratings_csv(tmp_path: Path) -> Path:
    path = tmp_path / "ratings.csv"
    path.write_text(
        "user,item,rating\n"
        "ann,matrix,5\nann,alien,4\nann,heat,1\n"
        "bob,matrix,4\nbob,heat,2\nbob,brazil,5\n"
        "cat,alien,5\ncat,brazil,4\n"
    )
    return path


def test_help_lists_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("demo", "train", "recommend", "similar", "datasets"):
        assert command in result.output


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and "likewise" in result.output


def test_train_and_recommend_from_csv(tmp_path: Path, ratings_csv: Path):
    model_dir = tmp_path / "model"
    result = invoke("train", ratings_csv, "--rating", "rating", "--algo", "popularity", "-o", model_dir)
    assert result.exit_code == 0, result.output
    assert "8 rows read" in result.output
    model = load(model_dir)
    assert model.n_users == 3 and model.n_items == 4

    result = invoke("recommend", model_dir, "--user", "cat", "-n", "2", "--explain")
    assert result.exit_code == 0, result.output
    # cat has alien and brazil; matrix (2 users) beats heat (2 users) on the index tie-break: heat < matrix
    lines = result.raw.splitlines()
    assert any("heat" in line for line in lines) and any("matrix" in line for line in lines)
    assert "users interacted" in result.output


def test_recommend_from_history(tmp_path: Path, ratings_csv: Path):
    model_dir = tmp_path / "model"
    assert invoke("train", ratings_csv, "--rating", "rating", "--algo", "popularity", "-o", model_dir).exit_code == 0
    result = invoke("recommend", model_dir, "--history", "matrix,heat", "-n", "3")
    assert result.exit_code == 0, result.output
    table_rows = [line for line in result.raw.splitlines() if line.startswith("│")]
    assert len(table_rows) == 2  # brazil and alien; the two liked items are excluded
    assert not [row for row in table_rows if "matrix" in row or "heat" in row]


def test_algorithm_parameters(tmp_path: Path, ratings_csv: Path):
    model_dir = tmp_path / "model"
    result = invoke(
        "train",
        ratings_csv,
        "--rating",
        "rating",
        "--algo",
        "popularity",
        "-p",
        "by=rating",
        "-p",
        "damping=0",
        "-o",
        model_dir,
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((model_dir / "meta.json").read_text())
    assert meta["params"] == {"by": "rating", "damping": 0, "n_threads": None}


def test_library_errors_are_one_line_exit_1(tmp_path: Path, ratings_csv: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\nann,matrix,5\nbob,heat,lots\n")
    result = invoke("train", bad, "--rating", "rating", "--algo", "popularity", "-o", tmp_path / "m")
    assert result.exit_code == 1
    assert "line 3" in result.output and "not a number" in result.output
    assert "Traceback" not in result.output

    result = invoke("train", ratings_csv, "--algo", "no-such-algo", "-o", tmp_path / "m")
    assert result.exit_code == 1 and "unknown algorithm" in result.output

    result = invoke("train", ratings_csv, "--algo", "popularity", "-p", "colour=red", "-o", tmp_path / "m")
    assert result.exit_code == 1 and "no parameter 'colour'" in result.output

    result = invoke("recommend", tmp_path / "nowhere", "--user", "ann")
    assert result.exit_code == 1 and "no such model directory" in result.output


def test_skip_bad_rows(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\nann,matrix,5\nbob,heat,lots\ncat,heat,3\n")
    result = invoke("train", bad, "--rating", "rating", "--algo", "popularity", "--skip-bad-rows", "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert "1 skipped" in result.output


def test_unknown_user_is_a_clear_error(tmp_path: Path, ratings_csv: Path):
    model_dir = tmp_path / "model"
    invoke("train", ratings_csv, "--rating", "rating", "--algo", "popularity", "-o", model_dir)
    result = invoke("recommend", model_dir, "--user", "zed")
    assert result.exit_code == 1 and "unknown user id: 'zed'" in result.output


def test_usage_error_exit_2():
    result = invoke("train")
    assert result.exit_code == 2


def test_similar_not_supported_by_popularity(tmp_path: Path, ratings_csv: Path):
    model_dir = tmp_path / "model"
    invoke("train", ratings_csv, "--rating", "rating", "--algo", "popularity", "-o", model_dir)
    result = invoke("similar", model_dir, "--item", "heat")
    assert result.exit_code == 1 and "no notion of item similarity" in result.output


def test_datasets_list_and_info():
    result = invoke("datasets", "list")
    assert result.exit_code == 0, result.output
    assert "ml-100k" in result.output and "sample" in result.output
    result = invoke("datasets", "info", "ml-100k")
    assert result.exit_code == 0 and "grouplens" in result.output.lower()


@pytest.mark.skipif(not (SHARED / "ml-100k").is_dir(), reason="shared ml-100k not available")
def test_train_movielens_and_recommend_with_titles(tmp_path: Path):
    model_dir = tmp_path / "model"
    result = invoke("train", SHARED / "ml-100k" / "u.data", "--algo", "popularity", "-o", model_dir)
    assert result.exit_code == 0, result.output
    assert "100,000 rows read" in result.output
    result = invoke("recommend", model_dir, "--user", "196", "-n", "5")
    assert result.exit_code == 0, result.output
    assert "(19" in result.output  # titles carry their year, e.g. "Star Wars (1977)"


def test_demo_runs(tmp_path: Path):
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    assert "Leaderboard" in result.output
    assert "Popularity" in result.output and "Random" in result.output
    assert "top 10 for user" in result.output


@pytest.mark.skipif(not (SHARED / "ml-100k").is_dir(), reason="shared ml-100k not available")
def test_datasets_fetch_from_local_folder(tmp_path: Path):
    result = invoke("datasets", "fetch", "ml-100k", "--from", SHARED / "ml-100k", "--data-dir", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert "ml-100k ready in" in result.output


def test_datasets_fetch_unknown_name():
    result = invoke("datasets", "fetch", "no-such-set")
    assert result.exit_code == 1 and "no-such-set" in result.output


def test_train_epoch_model_shows_progress_and_recommends(tmp_path: Path):
    model_dir = tmp_path / "svd"
    result = invoke("train", "sample", "--algo", "svd", "-p", "n_epochs=3", "--n-factors", "8", "-o", model_dir)
    assert result.exit_code == 0, result.output
    assert "training SVD" in result.output and "3/3" in result.output
    assert load(model_dir).get_params()["n_factors"] == 8
    result = invoke("recommend", model_dir, "--user", "u0001", "-n", "3", "--explain")
    assert result.exit_code == 0, result.output
    assert "user bias" in result.output
