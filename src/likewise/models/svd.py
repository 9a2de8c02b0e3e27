"""SVD (biased Funk SVD) and SVD++ trained by SGD - the models of the Netflix Prize.

SVD (Funk 2006; Koren, Bell & Volinsky 2009), :math:`\\hat r_{ui} = \\mu + b_u + b_i + q_i^T p_u`,
minimises :math:`\\sum_{r_{ui}} (r_{ui} - \\hat r_{ui})^2 + \\lambda (b_u^2 + b_i^2 + |p_u|^2 + |q_i|^2)`
by SGD, one rating at a time. SVD++ (Koren 2008) adds the implicit feedback of *which* items a user
rated: :math:`\\hat r_{ui} = \\mu + b_u + b_i + q_i^T (p_u + |N(u)|^{-1/2} \\sum_{j \\in N(u)} y_j)`.

Both follow Surprise's definitions, defaults and update rules exactly (normal initialisation
with ``init_mean``/``init_std``, biases at zero, predictions clipped to the rating scale), so
results can be checked against it; the kernels are in `likewise.kernels.sgd` (see there how the
parallel schedule keeps results reproducible, and how SVD++ avoids the quadratic cost).

A new user (``recommend_from_history``) gets the regularised least-squares solution for their
bias and factors with the item parameters fixed, the per-rating objective SGD optimises:
:math:`\\min \\sum_{i} (r_{ui} - \\mu - b_i - b_u - q_i^T p_u)^2 + |I_u| \\lambda_f (b_u^2 + |p_u|^2)`
with :math:`\\lambda_f` = ``fold_in_reg``; SVD++ adds the implicit term of the given items first.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from likewise._util import check_random_state, plain
from likewise.data.interactions import Interactions
from likewise.kernels._threads import thread_limits
from likewise.kernels.sgd import implicit_sums, svd_epoch, svdpp_epoch_exact
from likewise.models._factor import FactorRatingModel, ridge_user
from likewise.models._params import BOOL, NONE, Interval, RandomState
from likewise.models._rating import sgd_schedule
from likewise.models.base import FitCallback

__all__ = ["SVD", "SVDpp"]

_POSITIVE = Interval(float, 0, None, closed="neither")
_NON_NEGATIVE = Interval(float, 0, None)
_OPTIONAL_RATE = [_POSITIVE, NONE]
_OPTIONAL_REG = [_NON_NEGATIVE, NONE]

_COMMON_CONSTRAINTS: dict[str, list[Any]] = {
    "n_factors": [Interval(int, 1, None)],
    "n_epochs": [Interval(int, 1, None)],
    "init_mean": [Interval(float, None, None)],
    "init_std": [_NON_NEGATIVE],
    "learning_rate": [_POSITIVE],
    "reg": [_NON_NEGATIVE],
    "lr_bu": _OPTIONAL_RATE,
    "lr_bi": _OPTIONAL_RATE,
    "lr_pu": _OPTIONAL_RATE,
    "lr_qi": _OPTIONAL_RATE,
    "reg_bu": _OPTIONAL_REG,
    "reg_bi": _OPTIONAL_REG,
    "reg_pu": _OPTIONAL_REG,
    "reg_qi": _OPTIONAL_REG,
    "fold_in_reg": [_NON_NEGATIVE],
    "early_stopping_rounds": [Interval(int, 1, None), NONE],
    "deterministic": [BOOL],
    "n_threads": [Interval(int, 0, None), NONE],
    "random_state": [RandomState, NONE],
}


def _or(value: float | None, default: float) -> float:
    return float(default if value is None else value)


class SVD(FactorRatingModel):
    """Biased matrix factorisation trained by SGD (Funk; Koren et al. 2009), as Surprise's SVD.

    Parameters
    ----------
    n_factors : int, default 100
        Number of latent factors.
    n_epochs : int, default 20
        Passes over the ratings.
    biased : bool, default True
        Use :math:`\\mu + b_u + b_i`; False gives plain :math:`q_i^T p_u` (probabilistic MF).
    init_mean, init_std : float, default 0 and 0.1
        Normal initialisation of the factors (biases start at 0).
    learning_rate, reg : float, default 0.005 and 0.02
        Step size and regularisation of every term ...
    lr_bu, lr_bi, lr_pu, lr_qi, reg_bu, reg_bi, reg_pu, reg_qi : float, optional
        ... unless overridden for one term (user bias, item bias, user factors, item factors).
    fold_in_reg : float, default 0.1
        Per-rating L2 penalty of the least-squares solve for a new user's bias and factors
        (``recommend_from_history``). SGD's early stopping regularises more than ``reg`` says:
        on ML-100K cold users (half of each history folded in, the rest predicted) ``0.1`` gave
        RMSE 0.947 where ``reg = 0.02`` gave 0.984 and the bias alone 0.966.
    early_stopping_rounds : int, optional
        With ``fit(..., validation=...)``: stop when the validation RMSE has not improved for
        this many epochs, and keep the best epoch's parameters.
    deterministic : bool, default False
        One thread, one block: bit-identical results for a seed, in Surprise's order (users
        in a seeded random order, each user's ratings in a row). Otherwise ratings are
        processed in ``n_threads x n_threads`` conflict-free blocks in parallel; results are
        then identical for a seed and a given thread count.
    n_threads : int, optional
        Threads for training and scoring (None: all cores).
    random_state : int, numpy Generator or None
        Seed of the initialisation and of the processing order.

    Attributes
    ----------
    user_factors_, item_factors_ : ndarray of float32, (n_users, n_factors), (n_items, n_factors)
    user_bias_, item_bias_ : ndarray of float32
    global_mean_ : float
    loss_history_ : ndarray
        Mean squared training error of each epoch; ``validation_history_`` with validation.
    n_iter_ : int
        Epochs run.
    """

    algorithm = "svd"
    demo_params: ClassVar[dict[str, Any] | None] = {"random_state": None}

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {**_COMMON_CONSTRAINTS, "biased": [BOOL]}

    def __init__(
        self,
        *,
        n_factors: int = 100,
        n_epochs: int = 20,
        biased: bool = True,
        init_mean: float = 0.0,
        init_std: float = 0.1,
        learning_rate: float = 0.005,
        reg: float = 0.02,
        lr_bu: float | None = None,
        lr_bi: float | None = None,
        lr_pu: float | None = None,
        lr_qi: float | None = None,
        reg_bu: float | None = None,
        reg_bi: float | None = None,
        reg_pu: float | None = None,
        reg_qi: float | None = None,
        fold_in_reg: float = 0.1,
        early_stopping_rounds: int | None = None,
        deterministic: bool = False,
        n_threads: int | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.biased = biased
        self.init_mean = init_mean
        self.init_std = init_std
        self.learning_rate = learning_rate
        self.reg = reg
        self.lr_bu = lr_bu
        self.lr_bi = lr_bi
        self.lr_pu = lr_pu
        self.lr_qi = lr_qi
        self.reg_bu = reg_bu
        self.reg_bi = reg_bi
        self.reg_pu = reg_pu
        self.reg_qi = reg_qi
        self.fold_in_reg = fold_in_reg
        self.early_stopping_rounds = early_stopping_rounds
        self.deterministic = deterministic
        self.n_threads = n_threads
        self.random_state = random_state

    def _rates(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        lr, reg = float(self.learning_rate), float(self.reg)
        lrs = (_or(self.lr_bu, lr), _or(self.lr_bi, lr), _or(self.lr_pu, lr), _or(self.lr_qi, lr))
        regs = (_or(self.reg_bu, reg), _or(self.reg_bi, reg), _or(self.reg_pu, reg), _or(self.reg_qi, reg))
        return lrs, regs

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        self._start_fit(data)
        rng = check_random_state(self.random_state)
        shape_u, shape_i = (data.n_users, self.n_factors), (data.n_items, self.n_factors)
        self.user_factors_ = rng.normal(self.init_mean, self.init_std, shape_u).astype(np.float32)
        self.item_factors_ = rng.normal(self.init_mean, self.init_std, shape_i).astype(np.float32)
        self.user_bias_ = np.zeros(data.n_users, dtype=np.float32)
        self.item_bias_ = np.zeros(data.n_items, dtype=np.float32)
        n_groups = self._n_groups()
        schedule = sgd_schedule(data, n_groups, rng)
        lrs, regs = self._rates()
        offset = self._offset()

        def epoch() -> float:
            return svd_epoch(
                schedule,
                n_groups,
                offset,
                self.user_bias_,
                self.item_bias_,
                self.user_factors_,
                self.item_factors_,
                lrs,  # type: ignore[arg-type]
                regs,  # type: ignore[arg-type]
                update_bias=bool(self.biased),
            )

        with thread_limits(self.n_threads):
            self._run_epochs(data.nnz, epoch, callback, self._snapshot, self._restore)
        self._zero_unknown()


class SVDpp(FactorRatingModel):
    """SVD++ (Koren 2008): SVD plus the implicit feedback of which items each user rated.

    :math:`\\hat r_{ui} = \\mu + b_u + b_i + q_i^T (p_u + |N(u)|^{-1/2} \\sum_{j \\in N(u)} y_j)`,
    trained by SGD with Surprise's update rules and defaults, in O(n_factors) per rating (the
    implicit sum is cached per user; see `likewise.kernels.sgd`). Parameters as `SVD` (always
    biased; no ``deterministic``, training is always serial) plus ``lr_yj``/``reg_yj`` for the
    implicit factors :math:`y_j`.

    Training reproduces Surprise's per-rating algorithm exactly (up to float rounding) and is
    serial by design (parallel blocks conflict on the implicit factors; see
    `likewise.kernels.sgd` for the measurements behind that choice), so results are
    bit-identical for a seed. ``n_threads`` applies to scoring.

    Attributes
    ----------
    user_factors_, item_factors_, implicit_factors_ : ndarray of float32
        :math:`p_u`, :math:`q_i`, :math:`y_j`.
    user_implicit_ : ndarray of float32 (n_users, n_factors)
        The implicit term :math:`|N(u)|^{-1/2} \\sum_j y_j` of each training user.
    user_bias_, item_bias_, global_mean_, loss_history_, n_iter_
        As `SVD`.
    """

    algorithm = "svdpp"
    label = "SVD++"
    demo_params: ClassVar[dict[str, Any] | None] = {"random_state": None}

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **{k: v for k, v in _COMMON_CONSTRAINTS.items() if k != "deterministic"},
        "lr_yj": _OPTIONAL_RATE,
        "reg_yj": _OPTIONAL_REG,
    }

    implicit_factors_: np.ndarray
    user_implicit_: np.ndarray

    def __init__(
        self,
        *,
        n_factors: int = 20,
        n_epochs: int = 20,
        init_mean: float = 0.0,
        init_std: float = 0.1,
        learning_rate: float = 0.007,
        reg: float = 0.02,
        lr_bu: float | None = None,
        lr_bi: float | None = None,
        lr_pu: float | None = None,
        lr_qi: float | None = None,
        lr_yj: float | None = None,
        reg_bu: float | None = None,
        reg_bi: float | None = None,
        reg_pu: float | None = None,
        reg_qi: float | None = None,
        reg_yj: float | None = None,
        fold_in_reg: float = 0.1,
        early_stopping_rounds: int | None = None,
        n_threads: int | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.init_mean = init_mean
        self.init_std = init_std
        self.learning_rate = learning_rate
        self.reg = reg
        self.lr_bu = lr_bu
        self.lr_bi = lr_bi
        self.lr_pu = lr_pu
        self.lr_qi = lr_qi
        self.lr_yj = lr_yj
        self.reg_bu = reg_bu
        self.reg_bi = reg_bi
        self.reg_pu = reg_pu
        self.reg_qi = reg_qi
        self.reg_yj = reg_yj
        self.fold_in_reg = fold_in_reg
        self.early_stopping_rounds = early_stopping_rounds
        self.n_threads = n_threads
        self.random_state = random_state

    def _rates(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        lr, reg = float(self.learning_rate), float(self.reg)
        lrs = tuple(_or(v, lr) for v in (self.lr_bu, self.lr_bi, self.lr_pu, self.lr_qi, self.lr_yj))
        regs = tuple(_or(v, reg) for v in (self.reg_bu, self.reg_bi, self.reg_pu, self.reg_qi, self.reg_yj))
        return lrs, regs

    def _user_vectors(self, uidx: np.ndarray) -> np.ndarray:
        return self.user_factors_[uidx] + self.user_implicit_[uidx]

    def _user_vector_sources(self) -> tuple[np.ndarray, ...]:
        return (self.user_factors_, self.user_implicit_)

    def _refresh_implicit(self) -> None:
        seen = self.seen_
        self.user_implicit_ = implicit_sums(seen.indptr, seen.indices, self.implicit_factors_)

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        self._start_fit(data)
        rng = check_random_state(self.random_state)
        f = self.n_factors
        self.user_factors_ = rng.normal(self.init_mean, self.init_std, (data.n_users, f)).astype(np.float32)
        self.item_factors_ = rng.normal(self.init_mean, self.init_std, (data.n_items, f)).astype(np.float32)
        self.implicit_factors_ = rng.normal(self.init_mean, self.init_std, (data.n_items, f)).astype(np.float32)
        self.user_bias_ = np.zeros(data.n_users, dtype=np.float32)
        self.item_bias_ = np.zeros(data.n_items, dtype=np.float32)
        schedule = sgd_schedule(data, 1, rng)  # serial by design, see likewise.kernels.sgd
        lrs, regs = self._rates()
        matrix = data.matrix
        state = (self.user_bias_, self.item_bias_, self.user_factors_, self.item_factors_, self.implicit_factors_)
        mu = self.global_mean_

        def epoch() -> float:
            return svdpp_epoch_exact(schedule, matrix.indptr, matrix.indices, mu, *state, lrs, regs)  # type: ignore[arg-type]

        with thread_limits(self.n_threads):
            self._run_epochs(data.nnz, epoch, callback, self._snapshot, self._restore, self._refresh_implicit)
            self._zero_unknown()
            self.implicit_factors_[~self.item_known_] = 0.0
            self._refresh_implicit()

    def _trained_arrays(self) -> tuple[np.ndarray, ...]:
        return (*super()._trained_arrays(), self.implicit_factors_)

    def _fold_in(self, iidx: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        known = self.item_known_[iidx]
        iidx, ratings = iidx[known], ratings[known]
        implicit_items = np.unique(iidx)
        z = np.zeros(self.n_factors)
        if implicit_items.size:
            z = self.implicit_factors_[implicit_items].astype(np.float64).sum(axis=0) / np.sqrt(implicit_items.size)
        q = self.item_factors_[iidx]
        targets = ratings - self.global_mean_ - self.item_bias_[iidx] - q.astype(np.float64) @ z
        reg_bu, reg_pu = self._fold_in_regs()
        bias, factors = ridge_user(q, targets, reg_bu, reg_pu, biased=True)
        return bias, factors + z

    def _factor_terms(self, uidx: int, iidx: int) -> tuple[list[tuple[str, Any, float]], float, str]:
        rows, raw, text = super()._factor_terms(uidx, iidx)
        items, _ = self._rated_items(uidx)
        if items.size:
            q = self.item_factors_[iidx]
            parts = (self.implicit_factors_[items] @ q) / np.sqrt(items.size)
            explicit = float(self.user_factors_[uidx] @ q)
            rows[-1] = ("factors", "user x item factors", explicit)
            order = np.argsort(-np.abs(parts), kind="stable")[:5]
            rows += [("implicit", plain(self.items_.ids[items[k]]), float(parts[k])) for k in order]
            text += f" (user factors {explicit:+.2f}, rated items {float(parts.sum()):+.2f})"
        return rows, raw, text

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, state = super()._state()
        arrays["implicit_factors"] = self.implicit_factors_
        return arrays, state

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        super()._set_state(arrays, state)
        self.implicit_factors_ = np.ascontiguousarray(arrays["implicit_factors"], dtype=np.float32)
        if self.implicit_factors_.shape != self.item_factors_.shape:
            raise ValueError("implicit factors do not match the item factors")
        self._refresh_implicit()
