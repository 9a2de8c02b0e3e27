"""Defining a model class is all it takes to reach the CLI (issue 10, item 6).

`ToyModel` lives only in this test module and nothing else is edited: it must appear in
`likewise.models.ALGORITHMS`, train through ``likewise train --algo toy-test`` with its own
parameter as ``--some-param``, load back for ``likewise recommend``, stay out of the demo
(no ``demo_params``) and pass the conformance suite every built-in model passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from likewise import load
from likewise.cli._app import app
from likewise.cli.demo import demo_models
from likewise.data.interactions import Interactions
from likewise.models import ALGORITHMS, Recommender
from likewise.models.base import FitCallback
from likewise.testing import RecommenderConformance


class ToyModel(Recommender):
    """Item co-occurrence: a user's score for an item is how often it was seen with their items."""

    algorithm = "toy-test"
    supports_fold_in = False

    def __init__(self, *, some_param: int = 1) -> None:
        self.some_param = some_param

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        pass  # everything it needs is the training matrix `seen_`, which the base class keeps and saves

    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        cooccurrence = self.seen_.T @ self.seen_
        return (self.seen_[uidx] @ cooccurrence).toarray().astype(np.float32) * self.some_param

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        frame = pd.DataFrame({"kind": ["co-occurrence"], "id": [self.items_.ids[iidx]], "weight": [score]})
        return frame, f"seen together with your items (score {score:g})"


class TestToyModelConformance(RecommenderConformance):
    def make_model(self) -> Recommender:
        return ToyModel(some_param=3)


runner = CliRunner()


def invoke(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def ratings_csv(tmp_path: Path) -> Path:
    path = tmp_path / "ratings.csv"
    path.write_text("user,item\nann,matrix\nann,alien\nbob,matrix\nbob,heat\nbob,brazil\ncat,alien\ncat,brazil\n")
    return path


def test_toy_model_is_registered() -> None:
    assert ALGORITHMS["toy-test"] is ToyModel
    assert "ToyModel" not in demo_models(0) and "toy-test" not in demo_models(0)


def test_toy_model_trains_saves_and_recommends_through_the_cli(tmp_path: Path, ratings_csv: Path) -> None:
    code, out = invoke("train", "--help")
    assert code == 0 and "toy-test" in out  # the --algo help is read from the registry

    model_dir = tmp_path / "toy"
    code, out = invoke("train", ratings_csv, "--algo", "toy-test", "-o", model_dir, "--some-param", "3")
    assert code == 0, out
    assert "trained ToyModel" in out
    assert json.loads((model_dir / "meta.json").read_text())["params"] == {"some_param": 3}
    model = load(model_dir)
    assert isinstance(model, ToyModel) and model.some_param == 3

    # cat has alien and brazil; matrix co-occurs with both (via ann and bob), heat only with brazil
    code, out = invoke("recommend", model_dir, "--user", "cat", "-n", "2", "--explain")
    assert code == 0, out
    assert out.index("matrix") < out.index("heat")
    assert "seen together with your items" in out


def test_toy_model_parameter_typo_is_one_line(tmp_path: Path, ratings_csv: Path) -> None:
    code, out = invoke("train", ratings_csv, "--algo", "toy-test", "-o", tmp_path / "toy", "--some-parm", "3")
    assert code == 1
    assert "no parameter 'some_parm'" in out and "some_param" in out
    assert "Traceback" not in out and not (tmp_path / "toy").exists()
