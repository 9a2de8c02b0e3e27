"""The one epoch runner (likewise.models._epochs) and every iterative model that uses it."""

from __future__ import annotations

import json
import math
import pickle
import re

import numpy as np
import pytest

from likewise.exceptions import FitError
from likewise.models import ALS, BPR, NMF, SVD, Baseline, CoClustering, SVDpp, load
from likewise.models._epochs import Divergence, FitRequest, LossHistory, restore_history, run_epochs
from likewise.models._persistence import read_model_dir
from likewise.testing import checkerboard, tiny_ratings

ITERATIVE = {
    "als": lambda: ALS(n_factors=3, n_epochs=10, random_state=0),
    "als-cholesky": lambda: ALS(n_factors=3, n_epochs=10, solver="cholesky", random_state=0),
    "bpr": lambda: BPR(n_factors=3, n_epochs=10, deterministic=True, random_state=0),
    "bpr-hogwild": lambda: BPR(n_factors=3, n_epochs=10, random_state=0),
    "svd": lambda: SVD(n_factors=3, n_epochs=10, random_state=0),
    "svdpp": lambda: SVDpp(n_factors=3, n_epochs=10, random_state=0),
    "nmf": lambda: NMF(n_factors=3, n_epochs=10, random_state=0),
    "baseline-als": lambda: Baseline(n_epochs=10),
    "baseline-sgd": lambda: Baseline(method="sgd", n_epochs=10, random_state=0),
    "coclustering": lambda: CoClustering(n_epochs=10, random_state=0),
}

# each SGD model with a learning rate that makes it blow up
DIVERGING = {
    "bpr": lambda: BPR(n_factors=4, learning_rate=1e30, n_epochs=5, deterministic=True, random_state=0),
    "svd": lambda: SVD(n_factors=3, learning_rate=50.0, n_epochs=50, random_state=0),
    "svdpp": lambda: SVDpp(n_factors=3, learning_rate=50.0, n_epochs=50, random_state=0),
    "nmf": lambda: NMF(n_factors=3, biased=True, lr_bu=1e3, lr_bi=1e3, n_epochs=50, random_state=0),
    "baseline-sgd": lambda: Baseline(method="sgd", learning_rate=50.0, n_epochs=50, random_state=0),
}


def data_for(model):
    return checkerboard()[0] if isinstance(model, (ALS, BPR)) else tiny_ratings()


# --------------------------------------------------------------------------- every iterative model


@pytest.mark.parametrize("name", sorted(ITERATIVE))
def test_callback_returning_true_stops_every_model(name):
    model = ITERATIVE[name]()
    seen = []

    def stop_after_the_second(epoch, metrics):
        seen.append(epoch)
        return epoch == 1  # epochs count from 0: epoch 1 is the second

    model.fit(data_for(model), callback=stop_after_the_second)
    assert seen == [0, 1]
    assert model.n_iter_ == 2
    assert len(model.loss_history_) == 2 and model.loss_history_.size == 2
    assert isinstance(model.loss_history_, LossHistory)


@pytest.mark.parametrize("name", sorted(ITERATIVE))
def test_callbacks_returning_none_or_other_values_do_not_stop(name):
    model = ITERATIVE[name]()
    model.fit(data_for(model), callback=lambda epoch, metrics: {"not": "True"})  # type: ignore[arg-type,return-value]
    assert model.n_iter_ == 10


@pytest.mark.parametrize("name", sorted(DIVERGING))
def test_divergence_raises_fit_error_naming_the_epoch(name):
    model = DIVERGING[name]()
    seen = []
    with pytest.raises(FitError, match=r"training diverged at epoch \d+ \(epochs count from 0") as info:
        model.fit(data_for(model), callback=lambda epoch, metrics: seen.append(epoch))
    # the epoch named is the one that failed: every earlier epoch reached the callback
    epoch = int(re.search(r"epoch (\d+)", str(info.value)).group(1))
    assert seen == list(range(epoch))
    assert str(info.value).startswith(type(model).__name__ + ":")


def test_bpr_divergence_without_a_callback_is_found_in_the_factors():
    with pytest.raises(FitError, match=r"BPR: training diverged at epoch 0 .*factors became NaN or infinite"):
        DIVERGING["bpr"]().fit(checkerboard()[0])


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_implicit_models_save_the_history_as_an_array(name, tmp_path):
    data = checkerboard()[0]
    model = ITERATIVE[name]().set_params(calculate_loss=True).fit(data)
    model.save(tmp_path / "new")
    loaded = load(tmp_path / "new")
    assert loaded.loss_history_ == model.loss_history_ and loaded.n_iter_ == 10
    assert isinstance(loaded.loss_history_, LossHistory)
    meta, arrays = read_model_dir(tmp_path / "new")
    assert "loss_history" not in meta["state"]
    np.testing.assert_array_equal(arrays["loss_history"], np.asarray(model.loss_history_, dtype=np.float64))


# --------------------------------------------------------------------------- the runner itself


def counting_step(losses):
    def step(epoch):
        return {"loss": losses[epoch]}

    return step


def test_run_epochs_records_losses_and_times_each_epoch():
    reported = []
    result = run_epochs(
        counting_step([3.0, 2.0, 1.0]),
        3,
        callback=lambda e, m: reported.append((e, dict(m))),
        divergence=Divergence("M", "advice"),
        report_seconds=True,
    )
    assert result.n_iter == 3 and result.loss_history == [3.0, 2.0, 1.0] and result.best_epoch == 2
    assert [e for e, _ in reported] == [0, 1, 2]
    assert all(m["seconds"] >= 0 for _, m in reported) and len(result.seconds) == 3
    quiet = []
    run_epochs(counting_step([1.0]), 1, callback=lambda e, m: quiet.append(m), divergence=Divergence("M", "a"))
    assert quiet == [{"loss": 1.0}]  # seconds only when asked for


def test_run_epochs_without_a_loss_keeps_an_empty_history():
    result = run_epochs(lambda e: {}, 4, callback=None, divergence=Divergence("M", "a"))
    assert result.n_iter == 4 and result.loss_history == []


def test_run_epochs_checks_the_loss_unless_told_not_to():
    losses = [1.0, math.nan, 1.0]
    with pytest.raises(FitError, match=r"^M: training diverged at epoch 1 .*the loss is nan; do this$"):
        run_epochs(counting_step(losses), 3, callback=None, divergence=Divergence("M", "do this"))
    result = run_epochs(counting_step(losses), 3, callback=None, divergence=Divergence("M", "a"), check_loss=False)
    assert result.n_iter == 3 and math.isnan(result.loss_history[1])


def test_run_epochs_checks_the_parameters():
    state = {"epoch": -1}

    def step(epoch):
        state["epoch"] = epoch
        return {}

    with pytest.raises(FitError, match=r"epoch 2 .*the parameters became NaN or infinite; a$"):
        run_epochs(step, 5, callback=None, divergence=Divergence("M", "a"), finite=lambda: state["epoch"] < 2)


def test_early_stopping_restores_the_best_epoch():
    scores = iter([5.0, 3.0, 4.0, 4.5, 6.0, 1.0])
    state = {"value": None}
    restored = []

    def step(epoch):
        state["value"] = epoch
        return {"loss": 1.0}

    result = run_epochs(
        step,
        6,
        callback=None,
        divergence=Divergence("M", "a"),
        validate=lambda: next(scores),
        early_stopping_rounds=2,
        snapshot=lambda: state["value"],
        restore=restored.append,
    )
    assert result.n_iter == 4  # epochs 2 and 3 did not beat epoch 1
    assert result.best_epoch == 1 and restored == [1]
    assert result.validation_history == [5.0, 3.0, 4.0, 4.5]


def test_validation_without_early_stopping_only_reports():
    seen = []
    result = run_epochs(
        counting_step([1.0, 1.0]),
        2,
        callback=lambda e, m: seen.append(m["val_rmse"]),
        divergence=Divergence("M", "a"),
        validate=iter([2.0, 3.0]).__next__,
    )
    assert seen == [2.0, 3.0] and result.best_epoch == 1


def test_fit_request_wraps_a_callback_and_passes_requests_through():
    calls = []
    request = FitRequest(lambda e, m: calls.append(e) or True)
    assert request(4, {}) is True and calls == [4]
    assert FitRequest.of(request) is request
    assert FitRequest.of(None).callback is None and FitRequest.of(None)(0, {}) is None


def test_validation_is_not_kept_on_the_model():
    data = tiny_ratings()
    model = SVD(n_factors=2, n_epochs=3, early_stopping_rounds=1, random_state=0).fit(data, validation=data)
    assert not [name for name, value in vars(model).items() if value is data]


# --------------------------------------------------------------------------- LossHistory


def test_loss_history_is_a_list_with_an_array_view():
    history = LossHistory([np.float64(0.5), 0.25])
    assert history == [0.5, 0.25] and type(history[0]) is float
    assert history.size == 2 and history.shape == (2,)
    assert np.asarray(history).dtype == np.float64
    np.testing.assert_array_equal(np.diff(history), [-0.25])
    assert json.dumps(history) == "[0.5, 0.25]"
    again = pickle.loads(pickle.dumps(history))
    assert again == history and isinstance(again, LossHistory)


def test_restore_history_reads_the_saved_array():
    history, n_iter = restore_history({"loss_history": np.array([1.0, 2.0])}, {"n_iter": 2})
    assert history == [1.0, 2.0] and n_iter == 2
    history, n_iter = restore_history({"loss_history": np.array([3.0])}, {})
    assert history == [3.0] and n_iter == 1
