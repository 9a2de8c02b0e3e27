"""NMF: non-negative matrix factorisation of the ratings by multiplicative updates.

:math:`\\hat r_{ui} = q_i^T p_u` with :math:`p_u, q_i \\ge 0` (Luo, Xia & Zhu 2014; Lee & Seung's
multiplicative rule with per-rating regularisation), optionally biased:
:math:`\\hat r_{ui} = \\mu + b_u + b_i + q_i^T p_u` with the biases learnt by SGD, exactly as Surprise's
NMF (same defaults: 15 factors, 50 epochs, uniform [0, 1] initialisation). The non-negative
factors read as additive "parts" (a user's weight on a theme times an item's share of it), which
makes the explanation per factor meaningful. Kernels: `likewise.kernels.nmf`.

A new user gets the non-negative regularised least-squares solution for their factors (and
bias) with the items fixed (``scipy.optimize.nnls`` on the regularised system).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from likewise._util import check_random_state, count_values
from likewise.data.interactions import Interactions
from likewise.exceptions import DataError, InvalidParameterError
from likewise.kernels._threads import thread_limits
from likewise.kernels.nmf import nmf_accumulate, nmf_multiplicative_update
from likewise.models._factor import FactorRatingModel
from likewise.models._params import BOOL, NONE, Interval, RandomState
from likewise.models._rating import sgd_schedule
from likewise.models.base import FitCallback

__all__ = ["NMF", "nonnegative_user"]

_NON_NEGATIVE = Interval(float, 0, None)


def nonnegative_user(
    item_rows: np.ndarray, targets: np.ndarray, reg_bias: float, reg_factors: float, *, biased: bool
) -> tuple[float, np.ndarray]:
    """Bias (free sign) and non-negative factors of one user, item parameters fixed.

    Solves :math:`\\min_{b, p \\ge 0} \\sum_k (t_k - b - q_k^T p)^2 + n (\\lambda_b b^2 + \\lambda_p |p|^2)`
    exactly with NNLS; the free bias is split as :math:`b = b^+ - b^-` (at the optimum one of the
    two is zero, so the penalty is unchanged).

    Returns
    -------
    (bias, factors) : (float, ndarray of float64 (f,))
    """
    n, n_factors = item_rows.shape
    if n == 0:
        return 0.0, np.zeros(n_factors)
    q = item_rows.astype(np.float64)
    blocks = [q]
    if biased:
        blocks = [np.ones((n, 1)), -np.ones((n, 1)), q]
    design = np.hstack(blocks)
    lam = np.full(n_factors, n * reg_factors)
    if biased:
        lam = np.concatenate([[n * reg_bias, n * reg_bias], lam])
    system = np.vstack([design, np.diag(np.sqrt(lam))])
    rhs = np.concatenate([targets.astype(np.float64), np.zeros(lam.size)])
    from scipy.optimize import nnls  # ~0.1 s to import: only fold-in needs it

    solution = nnls(system, rhs)[0]
    if biased:
        return float(solution[0] - solution[1]), solution[2:]
    return 0.0, solution


class NMF(FactorRatingModel):
    """Non-negative matrix factorisation (Surprise's NMF: multiplicative updates).

    Parameters
    ----------
    n_factors : int, default 15
    n_epochs : int, default 50
    biased : bool, default False
        Add :math:`\\mu + b_u + b_i` (learnt by SGD with ``lr_bu``/``lr_bi``/``reg_bu``/``reg_bi``).
        Surprise warns that the biased version overfits easily; so it is here.
    reg_pu, reg_qi : float, default 0.06
        Regularisation of the user and item factors.
    reg_bu, reg_bi : float, default 0.02
    lr_bu, lr_bi : float, default 0.005
    init_low, init_high : float, default 0 and 1
        Uniform initialisation of the factors (``init_low >= 0``).
    early_stopping_rounds : int, optional
        With ``fit(..., validation=...)``, as in `SVD`.
    deterministic : bool, default False
        One block, one thread, Surprise's order; else per-thread blocks (reproducible for a seed
        and thread count; see `likewise.kernels.sgd`). Only the biased variant depends on order.
    n_threads : int, optional
    random_state : int, numpy Generator or None

    Attributes
    ----------
    user_factors_, item_factors_ : ndarray of float32, non-negative
    user_bias_, item_bias_ : ndarray of float32 (zeros when unbiased)
    global_mean_, loss_history_, n_iter_
    """

    algorithm = "nmf"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_factors": [Interval(int, 1, None)],
        "n_epochs": [Interval(int, 1, None)],
        "biased": [BOOL],
        "reg_pu": [_NON_NEGATIVE],
        "reg_qi": [_NON_NEGATIVE],
        "reg_bu": [_NON_NEGATIVE],
        "reg_bi": [_NON_NEGATIVE],
        "lr_bu": [_NON_NEGATIVE],
        "lr_bi": [_NON_NEGATIVE],
        "init_low": [_NON_NEGATIVE],
        "init_high": [_NON_NEGATIVE],
        "early_stopping_rounds": [Interval(int, 1, None), NONE],
        "deterministic": [BOOL],
        "n_threads": [Interval(int, 0, None), NONE],
        "random_state": [RandomState, NONE],
    }

    def __init__(
        self,
        *,
        n_factors: int = 15,
        n_epochs: int = 50,
        biased: bool = False,
        reg_pu: float = 0.06,
        reg_qi: float = 0.06,
        reg_bu: float = 0.02,
        reg_bi: float = 0.02,
        lr_bu: float = 0.005,
        lr_bi: float = 0.005,
        init_low: float = 0.0,
        init_high: float = 1.0,
        early_stopping_rounds: int | None = None,
        deterministic: bool = False,
        n_threads: int | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.biased = biased
        self.reg_pu = reg_pu
        self.reg_qi = reg_qi
        self.reg_bu = reg_bu
        self.reg_bi = reg_bi
        self.lr_bu = lr_bu
        self.lr_bi = lr_bi
        self.init_low = init_low
        self.init_high = init_high
        self.early_stopping_rounds = early_stopping_rounds
        self.deterministic = deterministic
        self.n_threads = n_threads
        self.random_state = random_state

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        if self.init_high < self.init_low:
            raise InvalidParameterError(f"NMF: init_high ({self.init_high}) must be >= init_low ({self.init_low})")
        if data.nnz and float(data.values.min()) < 0:
            raise DataError(
                f"NMF needs non-negative ratings; {data.report.source}: the ratings have a "
                f"minimum of {float(data.values.min()):g} - shift the ratings or use SVD"
            )
        self._start_fit(data)
        rng = check_random_state(self.random_state)
        f = self.n_factors
        self.user_factors_ = rng.uniform(self.init_low, self.init_high, (data.n_users, f)).astype(np.float32)
        self.item_factors_ = rng.uniform(self.init_low, self.init_high, (data.n_items, f)).astype(np.float32)
        self.user_bias_ = np.zeros(data.n_users, dtype=np.float32)
        self.item_bias_ = np.zeros(data.n_items, dtype=np.float32)
        n_groups = self._n_groups()
        schedule = sgd_schedule(data, n_groups, rng)
        user_counts = np.diff(data.matrix.indptr)
        item_counts = count_values(data.matrix.indices, data.n_items)
        offset = self._offset()
        parallel = n_groups > 1

        def epoch() -> float:
            unum, uden, inum, iden, sse = nmf_accumulate(
                schedule,
                n_groups,
                offset,
                self.user_bias_,
                self.item_bias_,
                self.user_factors_,
                self.item_factors_,
                (self.lr_bu, self.lr_bi),
                (self.reg_bu, self.reg_bi),
                bool(self.biased),
            )
            nmf_multiplicative_update(self.user_factors_, unum, uden, user_counts, self.reg_pu, parallel=parallel)
            nmf_multiplicative_update(self.item_factors_, inum, iden, item_counts, self.reg_qi, parallel=parallel)
            return sse

        with thread_limits(self.n_threads):
            self._run_epochs(data.nnz, epoch, callback, self._snapshot, self._restore)
        self._zero_unknown()

    def _fold_in_regs(self) -> tuple[float, float]:
        return float(self.reg_bu), float(self.reg_pu)

    def _fold_in(self, iidx: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        known = self.item_known_[iidx]
        iidx, ratings = iidx[known], ratings[known]
        targets = ratings - self._offset() - (self.item_bias_[iidx] if self.biased else 0.0)
        return nonnegative_user(
            self.item_factors_[iidx], targets, float(self.reg_bu), float(self.reg_pu), biased=bool(self.biased)
        )

    def _factor_terms(self, uidx: int, iidx: int) -> tuple[list[tuple[str, Any, float]], float, str]:
        rows, raw, text = super()._factor_terms(uidx, iidx)
        parts = self.user_factors_[uidx] * self.item_factors_[iidx]
        order = np.argsort(-parts, kind="stable")[:5]
        rows += [("factor", int(k), float(parts[k])) for k in order if parts[k] > 0]
        if parts.sum() > 0:
            top = int(order[0])
            text += f" ({float(parts[top]) / float(parts.sum()):.0%} of it from factor {top})"
        return rows, raw, text
