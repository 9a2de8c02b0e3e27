"""TimeSVDpp: Koren's timeSVD++ (2009), SVD++ with time-drifting biases and user factors.

.. math::
    \\hat r_{ui}(t) = \\mu + b_i + b_{i,\\mathrm{Bin}(t)} + b_u + \\alpha_u \\mathrm{dev}_u(t) + b_{u,t}
        + q_i^T \\big(p_u + \\alpha_{p_u} \\mathrm{dev}_u(t) + |N(u)|^{-1/2} \\sum_{j \\in N(u)} y_j\\big),
    \\quad \\mathrm{dev}_u(t) = \\mathrm{sign}(t - t_u) |t - t_u|^{\\beta}

with t in days, :math:`t_u` the mean day of the user's training ratings, :math:`\\beta = 0.4`,
``n_bins`` equal-width bins over the training period for the item biases, and one day-specific
bias :math:`b_{u,t}` per (user, day) seen in training (0 for any other day). Trained by SGD
(`likewise.kernels.timesvd`); the data must carry timestamps.

Time at prediction: `predict_at(users, items, timestamps)` uses the given times. The model
contract's `predict` / `recommend` have no time: they score at the user's mean date
:math:`t_u`, where :math:`\\mathrm{dev}_u = 0` and the item biases are those of :math:`t_u`'s bin
(no day bias). A new user (``recommend_from_history``) is scored "now": the last bin, no drift,
with SVD++'s regularised least-squares fold-in.

Deviations from the paper: no :math:`c_u(t)` scaling of the item biases and no day-specific
factor term :math:`p_{u,t}` (Koren's ablations give them the smallest gains); the :math:`y_j` are
updated once per user with the user's summed gradient (see the kernel).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from likewise._util import check_random_state
from likewise.data.interactions import Interactions
from likewise.exceptions import DataError
from likewise.kernels._threads import thread_limits
from likewise.kernels.sgd import implicit_sums
from likewise.kernels.timesvd import timesvdpp_epoch
from likewise.models._factor import FactorRatingModel, ridge_user
from likewise.models._params import NONE, Interval, RandomState
from likewise.models.base import FitCallback

__all__ = ["TimeSVDpp"]

_DAY = 86_400
_POSITIVE = Interval(float, 0, None, closed="neither")
_NON_NEGATIVE = Interval(float, 0, None)


class TimeSVDpp(FactorRatingModel):
    """timeSVD++ (Koren 2009): SVD++ plus item-bias bins, user-bias drift, day biases and
    drifting user factors (module docstring for the model and for time at prediction).

    Parameters
    ----------
    n_factors, n_epochs : int, default 20 and 20
    learning_rate, reg : float, default 0.007 and 0.03
        Step and penalty of the SVD++ terms (b_u, b_i, p_u, q_i, y_j): Surprise's SVD++ step, a
        slightly larger penalty (the time terms add parameters).
    lr_drift, reg_drift : float, default 1e-5 and 50
        Of :math:`\\alpha_u` and :math:`\\alpha_{p_u}` (Koren 2009's values for :math:`\\alpha_u`).
    lr_day, reg_day : float, default 0.01 and 0.05
        Of the day biases :math:`b_{u,t}` (Koren's Netflix values, 0.0025 and 0.005, learn too
        little in 20 epochs on MovieLens; these were chosen on fold 1 of the ML-100K 5-fold
        split among 4 settings - see docs/algorithms/rating.md).
    lr_bin, reg_bin : float, default 0.0005 and 0.1
        Of the bin biases :math:`b_{i,\\mathrm{Bin}(t)}`.
    n_bins : int, default 30
        Item-bias time bins over the training period (Koren used 30).
    beta : float, default 0.4
        Exponent of :math:`\\mathrm{dev}_u(t)`.
    init_std : float, default 0.1
    fold_in_reg : float, default 0.1
        As `SVDpp`.
    n_threads : int, optional
        Scoring threads (training is serial, as SVD++'s).
    random_state : int, numpy Generator or None
    """

    algorithm = "timesvdpp"
    supports_index = False  # scores hold time-dependent item biases (bins), not one item vector
    label = "timeSVD++"
    demo_params: ClassVar[dict[str, Any] | None] = {"n_epochs": 10, "random_state": None}

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_factors": [Interval(int, 1, None)],
        "n_epochs": [Interval(int, 1, None)],
        "learning_rate": [_POSITIVE],
        "reg": [_NON_NEGATIVE],
        "lr_drift": [_NON_NEGATIVE],
        "reg_drift": [_NON_NEGATIVE],
        "lr_day": [_NON_NEGATIVE],
        "reg_day": [_NON_NEGATIVE],
        "lr_bin": [_NON_NEGATIVE],
        "reg_bin": [_NON_NEGATIVE],
        "n_bins": [Interval(int, 1, None)],
        "beta": [_NON_NEGATIVE],
        "init_std": [_NON_NEGATIVE],
        "fold_in_reg": [_NON_NEGATIVE],
        "n_threads": [Interval(int, 0, None), NONE],
        "random_state": [RandomState, NONE],
    }

    implicit_factors_: np.ndarray
    user_implicit_: np.ndarray
    user_drift_: np.ndarray
    factor_drift_: np.ndarray
    day_keys_: np.ndarray
    day_bias_: np.ndarray
    bin_bias_: np.ndarray
    user_mean_day_: np.ndarray
    first_day_: int
    bin_days_: float

    def __init__(
        self,
        *,
        n_factors: int = 20,
        n_epochs: int = 20,
        learning_rate: float = 0.007,
        reg: float = 0.03,
        lr_drift: float = 1e-5,
        reg_drift: float = 50.0,
        lr_day: float = 0.01,
        reg_day: float = 0.05,
        lr_bin: float = 0.0005,
        reg_bin: float = 0.1,
        n_bins: int = 30,
        beta: float = 0.4,
        init_std: float = 0.1,
        fold_in_reg: float = 0.1,
        n_threads: int | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.reg = reg
        self.lr_drift = lr_drift
        self.reg_drift = reg_drift
        self.lr_day = lr_day
        self.reg_day = reg_day
        self.lr_bin = lr_bin
        self.reg_bin = reg_bin
        self.n_bins = n_bins
        self.beta = beta
        self.init_std = init_std
        self.fold_in_reg = fold_in_reg
        self.n_threads = n_threads
        self.random_state = random_state

    # ------------------------------------------------------------------ time features
    def _bins(self, days: np.ndarray) -> np.ndarray:
        raw = np.floor((days - self.first_day_) / self.bin_days_)
        return np.clip(raw, 0, int(self.n_bins) - 1).astype(np.int32)

    def _dev(self, uidx: np.ndarray, days: np.ndarray) -> np.ndarray:
        delta = days - self.user_mean_day_[uidx]
        return np.asarray(np.sign(delta) * np.abs(delta) ** float(self.beta), dtype=np.float64)

    def _day_key(self, uidx: np.ndarray, days: np.ndarray) -> np.ndarray:
        return uidx.astype(np.int64) * (1 << 32) + (days.astype(np.int64) - self.first_day_)

    def _day_slots(self, uidx: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Index into `day_bias_` of each (user, day), -1 when training never saw it."""
        keys = self._day_key(uidx, days)
        pos = np.searchsorted(self.day_keys_, keys)
        pos = np.minimum(pos, max(self.day_keys_.size - 1, 0))
        found = self.day_keys_.size > 0
        return np.where(found & (self.day_keys_[pos] == keys) if found else False, pos, -1)

    # ------------------------------------------------------------------ fitting
    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        if data.timestamps is None:
            raise DataError(
                "TimeSVDpp needs timestamps: the training Interactions have none (timestamps is None); "
                "read the data with its timestamp column (e.g. from_frame(..., timestamp='timestamp'))"
            )
        self._start_fit(data)
        rng = check_random_state(self.random_state)
        matrix = data.matrix
        rows = np.repeat(np.arange(data.n_users, dtype=np.int32), np.diff(matrix.indptr))
        days = (data.timestamps // _DAY).astype(np.int64)
        self.first_day_ = int(days.min()) if days.size else 0
        span = (int(days.max()) - self.first_day_ + 1) if days.size else 1
        self.bin_days_ = span / int(self.n_bins)
        counts = np.maximum(np.diff(matrix.indptr), 1)
        self.user_mean_day_ = np.bincount(rows, weights=days.astype(np.float64), minlength=data.n_users) / counts
        self.day_keys_, slots = np.unique(self._day_key(rows, days), return_inverse=True)
        f, n_users, n_items = int(self.n_factors), data.n_users, data.n_items

        def normal(shape: tuple[int, int]) -> np.ndarray:
            return np.asarray(rng.normal(0.0, self.init_std, shape), dtype=np.float32)

        self.user_factors_, self.item_factors_, self.implicit_factors_ = (
            normal((n_users, f)),
            normal((n_items, f)),
            normal((n_items, f)),
        )
        self.user_bias_, self.item_bias_ = np.zeros(n_users, np.float32), np.zeros(n_items, np.float32)
        self.user_drift_, self.factor_drift_ = np.zeros(n_users, np.float32), np.zeros((n_users, f), np.float32)
        self.day_bias_ = np.zeros(self.day_keys_.size, np.float32)
        self.bin_bias_ = np.zeros((n_items, int(self.n_bins)), np.float32)
        position = np.concatenate([np.arange(matrix.indptr[u], matrix.indptr[u + 1]) for u in rng.permutation(n_users)])
        position = position.astype(np.int64)
        order = (
            rows[position],
            matrix.indices[position],
            matrix.data[position],
            self._dev(rows[position], days[position]).astype(np.float32),
            self._bins(days[position]),
            slots.reshape(-1)[position],
        )
        lr, reg = float(self.learning_rate), float(self.reg)
        lrs = (lr,) * 5 + (float(self.lr_drift), float(self.lr_day), float(self.lr_bin))
        regs = (reg,) * 5 + (float(self.reg_drift), float(self.reg_day), float(self.reg_bin))
        state = self._trained_arrays()

        def epoch() -> float:
            return timesvdpp_epoch(order, matrix.indptr, matrix.indices, self.global_mean_, state, lrs, regs)

        with thread_limits(self.n_threads):
            self._run_epochs(data.nnz, epoch, callback, self._snapshot, self._restore, self._refresh_implicit)
            self._zero_unknown()
            self.implicit_factors_[~self.item_known_] = 0.0
            self._refresh_implicit()

    def _trained_arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.user_bias_,
            self.item_bias_,
            self.user_factors_,
            self.item_factors_,
            self.implicit_factors_,
            self.user_drift_,
            self.factor_drift_,
            self.day_bias_,
            self.bin_bias_,
        )

    def _refresh_implicit(self) -> None:
        seen = self.seen_
        self.user_implicit_ = implicit_sums(seen.indptr, seen.indices, self.implicit_factors_)

    # ------------------------------------------------------------------ scoring
    def _user_vectors(self, uidx: np.ndarray) -> np.ndarray:
        return self.user_factors_[uidx] + self.user_implicit_[uidx]

    def _user_vector_sources(self) -> tuple[np.ndarray, ...]:
        return (self.user_factors_, self.user_implicit_)

    def _user_bins(self, uidx: np.ndarray) -> np.ndarray:
        return self._bins(self.user_mean_day_[uidx])

    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        scores = super()._score_users(uidx)
        scores += self.bin_bias_[:, self._user_bins(uidx)].T
        return scores

    def _raw_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        base = super()._raw_pairs(uidx, iidx)
        return (base + self.bin_bias_[iidx, self._user_bins(uidx)]).astype(np.float32)

    def predict_at(
        self, users: Any, items: Any, timestamps: Any, *, unknown: Literal["nan", "raise"] = "nan"
    ) -> np.ndarray:
        """Ratings of (user, item) pairs at the given times (seconds, as the training timestamps).

        Parameters
        ----------
        users, items, timestamps : array-likes of one length
        unknown : "nan" or "raise"
            As `predict`.
        """
        uidx, iidx, stamps = self._timed_pairs(users, items, timestamps, unknown)
        out = np.full(uidx.size, np.nan, dtype=np.float32)
        known = (uidx >= 0) & (iidx >= 0)
        u, i = uidx[known], iidx[known]
        days = (stamps[known].astype(np.int64) // _DAY).astype(np.int64)
        dev = self._dev(u, days.astype(np.float64))
        slots = self._day_slots(u, days)
        day_bias = np.where(slots >= 0, self.day_bias_[np.maximum(slots, 0)] if self.day_bias_.size else 0.0, 0.0)
        vectors = self._user_vectors(u) + self.factor_drift_[u] * dev[:, None].astype(np.float32)
        raw = (
            self.global_mean_
            + self.user_bias_[u]
            + self.user_drift_[u] * dev
            + day_bias
            + self.item_bias_[i]
            + self.bin_bias_[i, self._bins(days.astype(np.float64))]
            + np.einsum("ij,ij->i", vectors, self.item_factors_[i])
        )
        out[known] = self._clip(raw.astype(np.float32))
        return out

    # ------------------------------------------------------------------ fold-in: a new user rates "now"
    def _now_bin_bias(self) -> np.ndarray:
        return self.bin_bias_[:, int(self.n_bins) - 1]

    def _fold_in(self, iidx: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        known = self.item_known_[iidx]
        iidx, ratings = iidx[known], ratings[known]
        implicit_items = np.unique(iidx)
        z = np.zeros(int(self.n_factors))
        if implicit_items.size:
            z = self.implicit_factors_[implicit_items].astype(np.float64).sum(axis=0) / np.sqrt(implicit_items.size)
        q = self.item_factors_[iidx]
        item_terms = self.item_bias_[iidx] + self._now_bin_bias()[iidx]
        targets = ratings - self.global_mean_ - item_terms - q.astype(np.float64) @ z
        reg = float(self.fold_in_reg)
        bias, factors = ridge_user(q, targets, reg, reg, biased=True)
        return bias, factors + z

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return super()._score_history(iidx, weights) + self._now_bin_bias()

    # ------------------------------------------------------------------ persistence
    _EXTRA: ClassVar[tuple[str, ...]] = (
        "implicit_factors",
        "user_drift",
        "factor_drift",
        "day_keys",
        "day_bias",
        "bin_bias",
        "user_mean_day",
    )

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, state = super()._state()
        for name in self._EXTRA:
            arrays[name] = getattr(self, name + "_")
        state.update(first_day=self.first_day_, bin_days=self.bin_days_)
        return arrays, state

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        super()._set_state(arrays, state)
        for name in self._EXTRA:
            setattr(self, name + "_", np.ascontiguousarray(arrays[name]))
        self.first_day_, self.bin_days_ = int(state["first_day"]), float(state["bin_days"])
        f, n_users, n_items = int(self.n_factors), self.n_users, self.n_items
        shapes = {
            "implicit_factors_": (n_items, f),
            "user_drift_": (n_users,),
            "factor_drift_": (n_users, f),
            "day_bias_": self.day_keys_.shape,
            "bin_bias_": (n_items, int(self.n_bins)),
            "user_mean_day_": (n_users,),
        }
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name[:-1]} has shape {getattr(self, name).shape}, expected {shape}")
        self._refresh_implicit()
