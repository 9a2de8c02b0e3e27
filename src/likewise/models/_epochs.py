"""The one epoch loop of every iterative model (ALS, BPR, SVD, SVD++, NMF, Baseline, CoClustering).

A model's ``_fit`` prepares its state and calls `run_epochs` with a ``step(epoch)`` that
trains one epoch and returns that epoch's metrics; the runner does the rest, the same way
for every model:

- **Numbering**: epochs count from 0 everywhere - the first argument of the fit callback,
  ``best_epoch_`` and the epoch a `FitError` names (the callback always received 0-based
  epochs; only ALS's and BPR's error messages said ``epoch + 1``). ``n_iter_`` is the number
  of epochs run.
- **Divergence**: after each epoch a non-finite ``metrics["loss"]`` (unless the model
  says ``check_loss=False``) or a failed ``finite()`` check of the model's parameters raises
  FitError naming the model, the epoch and the model's own advice (`Divergence`).
- **Callback**: ``callback(epoch, metrics)`` after each epoch; returning ``True`` stops
  training after that epoch, for every model (`likewise.models.base.FitCallback`).
- **Validation and early stopping** are explicit arguments: ``validate()`` scores the held-out
  data after each epoch (lower is better) and ``early_stopping_rounds`` stops when it has not
  improved for that many epochs, bringing back the best epoch with ``snapshot``/``restore``.
  `fit(..., validation=...)` reaches a model's ``_fit`` inside a `FitRequest` (the base
  class passes the callback argument through untouched), never as an attribute of the model.
- **History**: ``loss_history_`` is a `LossHistory`, one float per epoch whose loss was
  computed, persisted as the float64 array ``loss_history`` (`history_arrays` /
  `restore_history`).
- **Timing**: every epoch is timed; models whose callback has always received
  ``"seconds"`` (ALS, BPR) ask for it with ``report_seconds=True`` (the rating models never
  reported it, and their callback metrics stay as they were).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from likewise.data.interactions import Interactions
from likewise.exceptions import FitError
from likewise.models.base import FitCallback

__all__ = [
    "Divergence",
    "EpochResult",
    "FitRequest",
    "LossHistory",
    "history_arrays",
    "restore_history",
    "run_epochs",
]


class LossHistory(list[float]):
    """``loss_history_``: the training loss of each epoch, as Python floats.

    A list, so ``history == [0.5, 0.4]`` compares like one and it serialises as JSON, that
    also answers the ``size``/``shape`` the rating models' float64 arrays had and converts to
    one with ``np.asarray(history)``.
    """

    __slots__ = ()

    def __init__(self, values: Iterable[Any] = ()) -> None:
        super().__init__(float(v) for v in values)

    @property
    def size(self) -> int:
        return len(self)

    @property
    def shape(self) -> tuple[int]:
        return (len(self),)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.array(list(self), dtype=np.float64 if dtype is None else dtype)


@dataclass(frozen=True)
class FitRequest:
    """What a ``fit`` call asked for besides the data: the callback and the validation data.

    `EpochModel.fit` wraps its arguments in one and hands it to the base class as the
    callback (it is one: calling it calls the user's callback), so validation reaches
    ``_fit`` as an argument instead of an attribute of the model. `of` turns whatever
    ``_fit`` received (a plain callback, None, or a request) into a request.
    """

    callback: FitCallback | None = None
    validation: Interactions | None = None

    def __call__(self, epoch: int, metrics: dict[str, float]) -> bool | None:
        return None if self.callback is None else self.callback(epoch, metrics)

    @classmethod
    def of(cls, callback: FitCallback | FitRequest | None) -> FitRequest:
        return callback if isinstance(callback, FitRequest) else cls(callback)


@dataclass(frozen=True)
class Divergence:
    """How a model words a diverged fit: its name, what went wrong, and what to change."""

    model: str
    advice: str
    state: str = "the parameters became NaN or infinite"

    def error(self, epoch: int, what: str) -> FitError:
        return FitError(
            f"{self.model}: training diverged at epoch {epoch} (epochs count from 0, as the fit callback's do): "
            f"{what}; {self.advice}"
        )


@dataclass
class EpochResult:
    """What `run_epochs` did: epochs run, their losses, validation scores and the best epoch."""

    n_iter: int = 0
    loss_history: LossHistory = field(default_factory=LossHistory)
    validation_history: list[float] = field(default_factory=list)
    best_epoch: int = -1
    seconds: list[float] = field(default_factory=list)


def run_epochs(
    step: Callable[[int], dict[str, float]],
    n_epochs: int,
    *,
    callback: FitCallback | None,
    divergence: Divergence,
    finite: Callable[[], bool] | None = None,
    check_loss: bool = True,
    report_seconds: bool = False,
    validate: Callable[[], float] | None = None,
    validation_name: str = "val_rmse",
    early_stopping_rounds: int | None = None,
    snapshot: Callable[[], Any] | None = None,
    restore: Callable[[Any], None] | None = None,
) -> EpochResult:
    """Run up to `n_epochs` epochs of `step` (see the module docstring for the conventions).

    Parameters
    ----------
    step : callable
        ``step(epoch) -> metrics`` trains one epoch; ``metrics["loss"]``, when present, is
        checked and recorded in the loss history.
    n_epochs : int
    callback : FitCallback or None
        Called after each epoch; returning True stops training.
    divergence : Divergence
        Wording of the FitError a non-finite loss or a failed `finite` check raises.
    finite : callable, optional
        ``finite() -> bool``: the model's parameters are all finite (checked every epoch).
    check_loss : bool
        A non-finite loss is divergence (the rating models). ALS and BPR check their
        parameters with `finite` instead: a BPR epoch without one usable triple has a NaN
        loss and nothing wrong.
    report_seconds : bool
        Put the epoch's wall time into the callback's metrics as ``"seconds"``.
    validate : callable, optional
        ``validate() -> float`` scores held-out data after each epoch (lower is better); the
        value goes into the metrics as `validation_name`.
    early_stopping_rounds : int, optional
        With `validate`: stop when the score has not improved for this many epochs, and
        restore the best epoch (``snapshot()`` copies the state, ``restore(copy)`` puts it back).

    Returns
    -------
    EpochResult
    """
    result = EpochResult()
    best = math.inf
    best_state: Any = None
    watch = validate is not None and early_stopping_rounds is not None
    for epoch in range(int(n_epochs)):
        started = time.perf_counter()
        metrics = step(epoch)
        seconds = time.perf_counter() - started
        result.seconds.append(seconds)
        if report_seconds:
            metrics["seconds"] = seconds
        if "loss" in metrics:
            loss = metrics["loss"]
            if check_loss and not math.isfinite(loss):
                raise divergence.error(epoch, f"the loss is {loss}")
            result.loss_history.append(float(loss))
        if finite is not None and not finite():
            raise divergence.error(epoch, divergence.state)
        if validate is not None:
            score = validate()
            metrics[validation_name] = score
            result.validation_history.append(score)
            if watch and score < best:
                best, result.best_epoch = score, epoch
                best_state = None if snapshot is None else snapshot()
        result.n_iter = epoch + 1
        stop = callback is not None and callback(epoch, metrics) is True
        if watch and result.best_epoch >= 0 and epoch - result.best_epoch >= int(early_stopping_rounds or 0):
            stop = True
        if stop:
            break
    if best_state is not None and restore is not None and result.best_epoch != result.n_iter - 1:
        restore(best_state)
    if result.best_epoch < 0:
        result.best_epoch = result.n_iter - 1
    return result


def history_arrays(loss_history: LossHistory, validation_history: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The arrays a model saves for its training history (float64)."""
    arrays = {"loss_history": np.asarray(loss_history, dtype=np.float64)}
    if validation_history is not None:
        arrays["validation_history"] = np.asarray(validation_history, dtype=np.float64)
    return arrays


def restore_history(arrays: dict[str, np.ndarray], state: dict[str, Any]) -> tuple[LossHistory, int]:
    """(loss history, n_iter) from a saved model's ``loss_history`` array and state. (Files of
    likewise 0.1, which kept ALS's and BPR's history in meta.json, are format 1: refused.)"""
    history = LossHistory(arrays["loss_history"].tolist())
    return history, int(state.get("n_iter", len(history)))
