"""What every explicit-rating model shares: clipping, fallbacks, fold-in ratings, epochs.

- ``predict`` returns ratings clipped to ``rating_scale_`` (as Surprise does). ``recommend``
  ranks by the *unclipped* estimate - clipping would tie every item predicted above the top
  of the scale - and reports the clipped rating, so scores still equal ``predict``.
- Users or items without a single training rating (present in the id maps because a split
  shares them) get the estimate Surprise gives an unknown user or item: the model's formula
  with their learned terms at zero, or the global mean for models that cannot do better.
- ``recommend_from_history(items, weights=ratings)``: ``weights`` are ratings; without them
  every item counts as rated at the top of the scale ("liked").
- Iterative models (`EpochModel`, through `likewise.models._epochs.run_epochs`) report
  ``{"loss": mean squared training error of the epoch, "rmse": its root[, "val_rmse"]}`` to
  the fit callback after each epoch (counted from 0); a callback that returns ``True`` stops
  training. ``fit(..., validation=Interactions)`` scores held-out ratings after each epoch
  and, with ``early_stopping_rounds``, stops when the validation RMSE has not improved for
  that many epochs and restores the best epoch's parameters.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from likewise.data.interactions import Interactions
from likewise.exceptions import DataWarning, InvalidParameterError
from likewise.kernels._threads import resolve_threads
from likewise.models._epochs import Divergence, FitRequest, LossHistory, history_arrays, restore_history, run_epochs
from likewise.models.base import FitCallback, Recommender

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["EpochModel", "RatingModel", "clip_note", "sgd_schedule"]


class RatingModel(Recommender):
    """Base of the explicit-rating models (see the module docstring)."""

    predicts_ratings: ClassVar[bool] = True

    rating_scale_: tuple[float, float] | None
    """(lowest, highest) rating of the training data (set by `fit` and `load`); None: no clipping."""
    global_mean_: float
    user_known_: np.ndarray
    item_known_: np.ndarray

    # ------------------------------------------------------------------ hooks for subclasses
    def _raw_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        """Unclipped estimates for index pairs (default: gathered from `_score_users`)."""
        return super()._predict_pairs(uidx, iidx)

    # ------------------------------------------------------------------ shared machinery
    def _start_fit(self, data: Interactions) -> None:
        """Common state: global mean and which users/items have training ratings."""
        if data.kind != "explicit":
            warnings.warn(
                f"{type(self).__name__} predicts ratings; fitting it on {data.kind} data treats the "
                "interaction weights as ratings",
                DataWarning,
                stacklevel=4,
            )
        values = data.values
        self.global_mean_ = float(values.mean()) if values.size else 0.0
        self._set_known()

    def _set_known(self) -> None:
        seen = self.seen_
        self.user_known_ = np.diff(seen.indptr) > 0
        self.item_known_ = np.bincount(seen.indices, minlength=seen.shape[1]) > 0

    def _clip(self, scores: np.ndarray) -> np.ndarray:
        scale = self.rating_scale_
        if scale:
            np.clip(scores, scale[0], scale[1], out=scores)
        return scores

    def _mean_fallback(self, scores: np.ndarray, uidx: np.ndarray | None) -> np.ndarray:
        """Global mean for users (rows, when `uidx` given) and items without training ratings."""
        if uidx is not None:
            scores[~self.user_known_[uidx]] = self.global_mean_
        scores[:, ~self.item_known_] = self.global_mean_
        return scores

    def _timed_pairs(
        self, users: Any, items: Any, timestamps: Any, unknown: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The (user index, item index, timestamp) arrays of a ``predict_at`` call, checked: one
        length, 1-D, numeric times; unknown ids are -1 (``unknown="nan"``) or an error."""
        uidx, iidx = self._pair_indices(users, items, unknown)
        stamps = np.asarray(timestamps)
        if not (uidx.shape == iidx.shape == stamps.shape) or stamps.ndim != 1:
            raise InvalidParameterError(
                f"users, items and timestamps must be 1-D of one length; got {uidx.shape}, {iidx.shape}, {stamps.shape}"
            )
        if not np.issubdtype(stamps.dtype, np.number):
            raise InvalidParameterError(f"timestamps must be numbers (seconds), got dtype {stamps.dtype}")
        return uidx, iidx, stamps

    def _predict_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        out = np.asarray(self._raw_pairs(uidx, iidx), dtype=np.float32)
        return self._clip(out.copy() if not out.flags.writeable else out)

    def _reported_scores(self, scores: np.ndarray) -> np.ndarray:
        return self._clip(scores)

    def _default_history_weights(self, n_items: int) -> np.ndarray:
        """Every item of a new user's history counts as rated at the top of the scale ("liked")."""
        return np.full(n_items, self._liked_rating(), dtype=np.float32)

    def _liked_rating(self) -> float:
        scale = self.rating_scale_
        return float(scale[1]) if scale else 1.0

    # ------------------------------------------------------------------ explanations
    def _terms_frame(self, rows: list[tuple[str, Any, float]]) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            {"kind": [r[0] for r in rows], "id": [r[1] for r in rows], "weight": [float(r[2]) for r in rows]}
        )

    def _rated_items(self, uidx: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.seen_.indptr[uidx], self.seen_.indptr[uidx + 1]
        return self.seen_.indices[start:end], self.seen_.data[start:end]

    def _base_state(self) -> dict[str, Any]:
        return {"global_mean": self.global_mean_}

    def _restore_base(self, state: dict[str, Any]) -> None:
        self.global_mean_ = float(state["global_mean"])
        self._set_known()


class EpochModel(RatingModel):
    """A rating model trained in epochs (`likewise.models._epochs.run_epochs`): the fit
    callback, validation and early stopping.

    Subclasses define ``n_epochs`` and ``random_state`` parameters and call `_run_epochs`
    from `_fit`.
    """

    n_epochs: int
    early_stopping_rounds: int | None = None
    """Patience of early stopping on the validation RMSE (the constructor parameter when the model has one)."""
    deterministic: bool = False
    """Serial SGD in Surprise's order (the constructor parameter when the model has one)."""

    loss_history_: LossHistory
    validation_history_: np.ndarray
    n_iter_: int
    best_epoch_: int

    def fit(
        self,
        interactions: Interactions,
        *,
        callback: FitCallback | None = None,
        validation: Interactions | None = None,
    ) -> Self:
        """Learn from `interactions`.

        Parameters
        ----------
        interactions : Interactions
            Training ratings.
        callback : callable, optional
            ``callback(epoch, metrics)`` after every epoch (counted from 0) with ``metrics``
            holding ``"loss"`` (mean squared training error seen during the epoch), ``"rmse"``
            and, with `validation`, ``"val_rmse"``. Returning ``True`` stops training after
            that epoch.
        validation : Interactions, optional
            Held-out ratings scored after every epoch (pairs whose user or item the training
            data does not know are ignored); needed by ``early_stopping_rounds``.

        Returns
        -------
        self
        """
        if validation is not None and not isinstance(validation, Interactions):
            raise InvalidParameterError(
                f"validation must be likewise Interactions or None, got {type(validation).__name__}"
            )
        if self.early_stopping_rounds is not None and validation is None:
            raise InvalidParameterError(
                f"{type(self).__name__}: early_stopping_rounds={self.early_stopping_rounds} needs "
                "fit(..., validation=held_out_interactions)"
            )
        # the base class hands its callback argument to _fit untouched: validation travels in it
        return super().fit(interactions, callback=FitRequest(callback, validation))

    def _n_groups(self) -> int:
        """Number of SGD blocks per side: 1 when deterministic, else the thread count."""
        if self.deterministic:
            return 1
        return resolve_threads(self.n_threads)

    def _validation_pairs(self, validation: Interactions | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        if validation is None:
            return None
        if validation.users == self.users_:
            umap = np.arange(len(self.users_))
        else:
            umap = self.users_.to_index(validation.users.ids, missing="negative")
        if validation.items == self.items_:
            imap = np.arange(len(self.items_))
        else:
            imap = self.items_.to_index(validation.items.ids, missing="negative")
        vu = umap[validation.user_indices]
        vi = imap[validation.item_indices]
        keep = (vu >= 0) & (vi >= 0)
        return vu[keep].astype(np.int32), vi[keep].astype(np.int32), validation.values[keep].astype(np.float64)

    def _run_epochs(
        self,
        n_ratings: int,
        epoch: Callable[[], float],
        callback: FitCallback | None,
        snapshot: Callable[[], Any],
        restore: Callable[[Any], None],
        before_predict: Callable[[], None] | None = None,
        n_epochs: int | None = None,
    ) -> None:
        """Run up to `n_epochs` (default ``self.n_epochs``) epochs; `epoch()` returns the epoch's
        sum of squared errors; `snapshot`/`restore` save and bring back the best epoch's state;
        `before_predict` refreshes derived state before validation predictions. `callback` is
        what `_fit` received (a `FitRequest` when `fit` was given validation data)."""
        request = FitRequest.of(callback)
        pairs = self._validation_pairs(request.validation)

        def step(number: int) -> dict[str, float]:
            loss = epoch() / max(n_ratings, 1)
            return {"loss": loss, "rmse": math.sqrt(loss)}  # a NaN loss stops the runner

        validate = None
        if pairs is not None and pairs[0].size:
            users, items, ratings = pairs

            def validate() -> float:
                if before_predict is not None:
                    before_predict()
                pred = self._predict_pairs(users, items).astype(np.float64)
                return float(np.sqrt(np.mean((pred - ratings) ** 2)))

        result = run_epochs(
            step,
            self.n_epochs if n_epochs is None else n_epochs,
            callback=request.callback,
            divergence=Divergence(type(self).__name__, "lower the learning rate or raise the regularisation"),
            validate=validate,
            early_stopping_rounds=self.early_stopping_rounds,
            snapshot=snapshot,
            restore=restore,
        )
        self.n_iter_ = result.n_iter
        self.best_epoch_ = result.best_epoch
        self.loss_history_ = result.loss_history
        if result.validation_history:
            self.validation_history_ = np.asarray(result.validation_history, dtype=np.float64)

    def _history_state(self) -> dict[str, np.ndarray]:
        return history_arrays(self.loss_history_, getattr(self, "validation_history_", None))

    def _epoch_state(self) -> dict[str, Any]:
        """JSON state of an epoch-trained rating model: the base state, n_iter and best_epoch."""
        return {**self._base_state(), "n_iter": self.n_iter_, "best_epoch": self.best_epoch_}

    def _restore_history(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.loss_history_, self.n_iter_ = restore_history(arrays, state)
        if "validation_history" in arrays:
            self.validation_history_ = arrays["validation_history"]
        self.best_epoch_ = int(state.get("best_epoch", self.n_iter_ - 1))


def clip_note(raw: float, score: float) -> str:
    """The clause a rating explanation adds when the shown score is the clipped `raw` estimate."""
    if abs(raw - score) > 1e-6:
        return f" (the raw estimate {raw:.2f} is clipped to the rating scale)"
    return ""


def sgd_schedule(
    data: Interactions, n_groups: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The SGD processing order of `data` for ``n_groups`` blocks per side (seeded).

    Users and items are dealt into groups balanced by rating count, and users are visited in
    a random order within each block (each user's ratings in a row, as Surprise does).
    """
    from likewise.kernels.sgd import build_schedule, group_assignment

    matrix = data.matrix
    user_group = group_assignment(np.diff(matrix.indptr), n_groups, rng)
    item_group = group_assignment(np.bincount(matrix.indices, minlength=data.n_items), n_groups, rng)
    order = rng.permutation(data.n_users)
    return build_schedule(matrix.indptr, matrix.indices, matrix.data, order, user_group, item_group, n_groups)
