"""The rating baselines: NormalPredictor (random) and Baseline (global mean + biases).

``NormalPredictor`` predicts a random rating drawn from :math:`N(\\hat\\mu, \\hat\\sigma^2)` fitted by
maximum likelihood to the training ratings (Surprise's NormalPredictor) - the floor any rating
model must beat. Draws are a seeded hash of (user, item), so they are reproducible and the same
in ``predict`` and ``recommend``.

``Baseline`` is Koren's baseline estimate (Koren 2010, section 2.1; Surprise's BaselineOnly):
:math:`b_{ui} = \\mu + b_u + b_i`, minimising
:math:`\\sum_{r_{ui}} (r_{ui} - \\mu - b_u - b_i)^2 + \\lambda_u \\sum_u b_u^2 + \\lambda_i \\sum_i b_i^2`
either by alternating least squares (``method="als"``: each epoch sets every
:math:`b_i = \\sum_{u \\in U_i} (r_{ui} - \\mu - b_u) / (\\lambda_i + |U_i|)`, then every
:math:`b_u = \\sum_{i \\in I_u} (r_{ui} - \\mu - b_i) / (\\lambda_u + |I_u|)`; defaults 10 epochs,
:math:`\\lambda_u = 15`, :math:`\\lambda_i = 10`) or by SGD (``method="sgd"``: Surprise's per-rating
steps with regularisation 0.02 and learning rate 0.005 for 20 epochs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from likewise._util import check_random_state, plain
from likewise.data.interactions import Interactions
from likewise.kernels._threads import thread_limits
from likewise.kernels.sgd import svd_epoch
from likewise.models._params import BOOL, NONE, Interval, Options, RandomState
from likewise.models._rating import EpochModel, RatingModel, clip_note, sgd_schedule
from likewise.models.base import FitCallback
from likewise.models.random import uniform_hash

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["Baseline", "NormalPredictor"]

_ANONYMOUS = np.int64(2**40)  # pseudo-user index for fold-in, outside any real index range
_DEFAULTS = {"als": (10, 15.0, 10.0), "sgd": (20, 0.02, 0.02)}  # n_epochs, reg_user, reg_item


class NormalPredictor(RatingModel):
    """A random rating from the normal distribution of the training ratings (the floor).

    Parameters
    ----------
    random_state : int, numpy Generator or None
        Fixes the draws (None draws a seed once, at fit).
    n_threads : int or None
        Threads for batch scoring and recommendation (None: all available cores).

    Attributes
    ----------
    global_mean_, sigma_ : float
        Mean and (maximum-likelihood) standard deviation of the training ratings.
    seed_ : int
    """

    algorithm = "normal-predictor"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "random_state": [RandomState, NONE],
        "n_threads": [Interval(int, 0, None), NONE],
    }

    def __init__(self, *, random_state: int | np.random.Generator | None = None, n_threads: int | None = None) -> None:
        self.random_state = random_state
        self.n_threads = n_threads

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        self._start_fit(data)
        values = data.values.astype(np.float64)
        self.sigma_ = float(np.sqrt(np.mean((values - self.global_mean_) ** 2))) if values.size else 0.0
        if isinstance(self.random_state, np.random.Generator):
            self.seed_ = int(self.random_state.integers(0, 2**63))
        elif self.random_state is None:
            self.seed_ = int(np.random.default_rng().integers(0, 2**63))
        else:
            self.seed_ = int(self.random_state)

    def _draw(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        uniform = uniform_hash(self.seed_, rows, cols).astype(np.float64) + 0.5 / 2**24  # in (0, 1)
        from scipy.special import ndtri  # imported on use: it pulls in most of scipy.special

        return (self.global_mean_ + self.sigma_ * ndtri(uniform)).astype(np.float32)

    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        return self._draw(uidx[:, None], np.arange(self.n_items)[None, :])

    def _raw_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        return self._draw(uidx, iidx)

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self._draw(np.array([_ANONYMOUS]), np.arange(self.n_items))

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        raw = float(self._draw(np.array([uidx]), np.array([iidx]))[0])
        frame = self._terms_frame(
            [("global_mean", "mean", self.global_mean_), ("random", "draw", raw - self.global_mean_)]
        )
        text = (
            f"A random rating {score:.2f} for {self.item_label(iidx)}, drawn from N({self.global_mean_:.2f}, "
            f"{self.sigma_:.2f}^2) (seed {self.seed_}){clip_note(raw, score)}."
        )
        return frame, text

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {**self._base_state(), "sigma": self.sigma_, "seed": self.seed_}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self._restore_base(state)
        self.sigma_ = float(state["sigma"])
        self.seed_ = int(state["seed"])


class Baseline(EpochModel):
    """Global mean plus regularised user and item biases (Koren's baseline estimates).

    Parameters
    ----------
    method : {"als", "sgd"}, default "als"
        Alternating least squares (exact block minimisation) or SGD.
    n_epochs : int, optional
        Default 10 for ALS, 20 for SGD.
    reg_user, reg_item : float, optional
        :math:`\\lambda_u, \\lambda_i`. Defaults 15 and 10 (ALS, a total penalty) or 0.02 and 0.02
        (SGD, a per-rating penalty), as Surprise.
    learning_rate : float, default 0.005
        SGD step size.
    early_stopping_rounds : int, optional
        With ``fit(..., validation=...)``: stop when the validation RMSE has not improved for
        this many epochs and keep the best epoch.
    deterministic : bool, default False
        SGD only: serial, in Surprise's order (see `SVD`).
    n_threads : int, optional
    random_state : int, numpy Generator or None
        SGD only: the order users are visited in.

    Attributes
    ----------
    global_mean_ : float
    user_bias_, item_bias_ : ndarray of float32
    loss_history_, n_iter_
    """

    algorithm = "baseline"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "method": [Options(("als", "sgd"))],
        "n_epochs": [Interval(int, 1, None), NONE],
        "reg_user": [Interval(float, 0, None), NONE],
        "reg_item": [Interval(float, 0, None), NONE],
        "learning_rate": [Interval(float, 0, None, closed="neither")],
        "early_stopping_rounds": [Interval(int, 1, None), NONE],
        "deterministic": [BOOL],
        "n_threads": [Interval(int, 0, None), NONE],
        "random_state": [RandomState, NONE],
    }

    user_bias_: np.ndarray
    item_bias_: np.ndarray

    def __init__(
        self,
        *,
        method: Literal["als", "sgd"] = "als",
        n_epochs: int | None = None,
        reg_user: float | None = None,
        reg_item: float | None = None,
        learning_rate: float = 0.005,
        early_stopping_rounds: int | None = None,
        deterministic: bool = False,
        n_threads: int | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.method = method
        self.n_epochs = n_epochs  # type: ignore[assignment]
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.learning_rate = learning_rate
        self.early_stopping_rounds = early_stopping_rounds
        self.deterministic = deterministic
        self.n_threads = n_threads
        self.random_state = random_state

    def _settings(self) -> tuple[int, float, float]:
        epochs, reg_u, reg_i = _DEFAULTS[self.method]
        return (
            epochs if self.n_epochs is None else int(self.n_epochs),
            reg_u if self.reg_user is None else float(self.reg_user),
            reg_i if self.reg_item is None else float(self.reg_item),
        )

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        self._start_fit(data)
        n_epochs, reg_u, reg_i = self._settings()
        self.user_bias_ = np.zeros(data.n_users, dtype=np.float32)
        self.item_bias_ = np.zeros(data.n_items, dtype=np.float32)
        mu = self.global_mean_
        users, items = data.user_indices, data.item_indices
        ratings = data.values.astype(np.float64)

        def snapshot() -> tuple[np.ndarray, np.ndarray]:
            return self.user_bias_.copy(), self.item_bias_.copy()

        def restore(saved: tuple[np.ndarray, np.ndarray]) -> None:
            self.user_bias_[:], self.item_bias_[:] = saved

        if self.method == "als":
            user_counts = np.bincount(users, minlength=data.n_users)
            item_counts = np.bincount(items, minlength=data.n_items)

            def epoch() -> float:
                bu = self.user_bias_.astype(np.float64)
                dev_i = np.bincount(items, weights=ratings - mu - bu[users], minlength=data.n_items)
                bi = np.divide(dev_i, reg_i + item_counts, out=np.zeros(data.n_items), where=reg_i + item_counts > 0)
                dev_u = np.bincount(users, weights=ratings - mu - bi[items], minlength=data.n_users)
                bu = np.divide(dev_u, reg_u + user_counts, out=np.zeros(data.n_users), where=reg_u + user_counts > 0)
                self.item_bias_[:] = bi
                self.user_bias_[:] = bu
                return float(np.sum((ratings - mu - bu[users] - bi[items]) ** 2))

            self._run_epochs(data.nnz, epoch, callback, snapshot, restore, n_epochs=n_epochs)
            return

        n_groups = self._n_groups()
        schedule = sgd_schedule(data, n_groups, check_random_state(self.random_state))
        user_factors = np.zeros((data.n_users, 0), dtype=np.float32)
        item_factors = np.zeros((data.n_items, 0), dtype=np.float32)
        lr = float(self.learning_rate)

        def sgd_epoch() -> float:
            return svd_epoch(
                schedule,
                n_groups,
                mu,
                self.user_bias_,
                self.item_bias_,
                user_factors,
                item_factors,
                (lr, lr, lr, lr),
                (reg_u, reg_i, 0.0, 0.0),
            )

        with thread_limits(self.n_threads):
            self._run_epochs(data.nnz, sgd_epoch, callback, snapshot, restore, n_epochs=n_epochs)

    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        scores = np.empty((uidx.size, self.n_items), dtype=np.float32)
        scores[:] = self.item_bias_[None, :]
        scores += (self.global_mean_ + self.user_bias_[uidx])[:, None]
        return scores

    def _raw_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        return (self.global_mean_ + self.user_bias_[uidx] + self.item_bias_[iidx]).astype(np.float32)

    def _user_bias_for(self, iidx: np.ndarray, ratings: np.ndarray) -> float:
        """Bias of a new user: the ALS user step (SGD: the per-rating penalised mean)."""
        known = self.item_known_[iidx]
        targets = ratings[known].astype(np.float64) - self.global_mean_ - self.item_bias_[iidx[known]]
        n = targets.size
        if n == 0:
            return 0.0
        _, reg_u, _ = self._settings()
        if self.method == "als":
            return float(targets.sum() / (reg_u + n))
        return float(targets.sum() / (n * (1.0 + reg_u)))

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        bias = self._user_bias_for(iidx, weights)
        return (self.global_mean_ + bias + self.item_bias_).astype(np.float32)

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        mu, bu, bi = self.global_mean_, float(self.user_bias_[uidx]), float(self.item_bias_[iidx])
        frame = self._terms_frame(
            [
                ("global_mean", "mean", mu),
                ("user_bias", plain(self.users_.ids[uidx]), bu),
                ("item_bias", plain(self.items_.ids[iidx]), bi),
            ]
        )
        n_item = int(np.count_nonzero(self.seen_.indices == iidx))
        text = (
            f"Predicted rating {score:.2f} for {self.item_label(iidx)}: mean rating {mu:.2f}, the user rates "
            f"{abs(bu):.2f} {'above' if bu >= 0 else 'below'} average, the item is rated {abs(bi):.2f} "
            f"{'above' if bi >= 0 else 'below'} average ({n_item} rating{'s' if n_item != 1 else ''})"
            f"{clip_note(mu + bu + bi, score)}."
        )
        return frame, text

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"user_bias": self.user_bias_, "item_bias": self.item_bias_, **self._history_state()}
        return arrays, self._epoch_state()

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.user_bias_ = np.ascontiguousarray(arrays["user_bias"], dtype=np.float32)
        self.item_bias_ = np.ascontiguousarray(arrays["item_bias"], dtype=np.float32)
        if self.user_bias_.shape != (self.n_users,) or self.item_bias_.shape != (self.n_items,):
            raise ValueError("bias shapes do not match the users and items")
        self._restore_base(state)
        self._restore_history(arrays, state)
