"""The accuracy suites' interval and summary helpers (benchmarks/suites/_accuracy.py)."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.harness import Row
from benchmarks.suites import _accuracy


def test_t_interval_matches_the_formula():
    values = np.array([0.90, 0.91, 0.89, 0.92, 0.88])
    # t(0.975, 4) = 2.776445; sd = 0.0158114
    assert _accuracy.t_interval(values) == pytest.approx(2.776445 * 0.0158114 / np.sqrt(5), rel=1e-4)
    assert _accuracy.t_interval(np.array([0.9])) == 0.0


def test_bootstrap_interval_of_rmse():
    rng = np.random.default_rng(0)
    assert _accuracy.bootstrap_interval(np.full(500, 0.7), seed=0) == pytest.approx(0.0, abs=1e-12)
    errors = rng.normal(0, 1, 20_000)
    # RMSE of n standard normals: sd of the RMSE ~ 1 / sqrt(2 n), so the 95% half-width ~ 1.96 / sqrt(2 n)
    expected = 1.96 / np.sqrt(2 * errors.size)
    assert _accuracy.bootstrap_interval(errors, seed=1) == pytest.approx(expected, rel=0.15)
    assert _accuracy.bootstrap_interval(errors, seed=1) == _accuracy.bootstrap_interval(errors, seed=1)


def test_best_notes_pick_each_librarys_lowest_rmse():
    def row(library, algorithm, rmse):
        return Row(
            suite="s", task="t", dataset="d", library=library, algorithm=algorithm, params={},
            metrics={"rmse": rmse, "rmse ±95%": 0.01}, fit_s=1.0,
        )  # fmt: skip

    rows = [row("surprise", "SVD", 0.93), row("likewise", "SVD", 0.935), row("likewise", "Blend", 0.885)]
    rows.append(row("surprise", "SVDpp", 0.92))
    (note,) = _accuracy.best_notes(rows)
    assert note == "best per library, d, t: likewise Blend 0.8850 ± 0.0100; surprise SVDpp 0.9200 ± 0.0100"


def test_cv_and_fold_rows():
    measured = _accuracy.Measured({"k": 1})
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    measured.add(truth + 0.5, truth, 2.0)
    measured.add(truth - 1.0, truth, 4.0)
    (cv,) = _accuracy.cv_rows("s", "t", "d", {("likewise", "SVD"): measured})
    assert cv.metrics["rmse"] == pytest.approx(0.75) and cv.metrics["folds"] == 2
    assert cv.fit_s == pytest.approx(3.0) and cv.threads == 1 and cv.pair == "svd"
    (one,) = _accuracy.fold_rows("s", "t", "d", {("likewise", "SVD"): measured}, fold=1, seed=0)
    assert one.metrics["rmse"] == pytest.approx(1.0) and one.metrics["rmse ±95%"] == pytest.approx(0.0)
    assert one.fit_s == 4.0
