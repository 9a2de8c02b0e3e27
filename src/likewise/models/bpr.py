"""BPR: Bayesian Personalized Ranking from implicit feedback (Rendle et al. 2009).

BPR learns to rank each user's positive items above the items they did not interact with.
The score is ``x_ui = x_u . y_i + b_i`` (the item bias is optional) and training maximises

    sum_(u,i,j) ln sigmoid(x_ui - x_uj) - reg terms

over triples of a user u, a positive item i and a negative item j, by stochastic gradient
ascent on sampled triples (LearnBPR: (u, i) drawn uniformly from the interactions, j uniformly
from the catalogue, redrawn while it is one of u's positives). Interaction values are
ignored: any stored interaction is a positive.

Training runs Hogwild-style in parallel (lock-free SGD, one random stream per thread over
its own block of users; see `likewise.kernels.bpr`) and is therefore not bit-reproducible;
``deterministic=True`` runs the serial variant, which is. A new user
(`recommend_from_history`) gets a vector learned by the same SGD steps on their items with
the item parameters fixed (deterministic for a fitted model, approximate by nature).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from likewise._util import check_random_state, join_words
from likewise.data.interactions import Interactions
from likewise.kernels._threads import thread_limits
from likewise.kernels.bpr import bpr_epoch, bpr_fold_in, positives_bitset
from likewise.models._epochs import Divergence, FitRequest, history_arrays, restore_history, run_epochs
from likewise.models._factor import FactorModel
from likewise.models._params import BOOL, NONE, Interval, RandomState
from likewise.models.base import FitCallback

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["BPR"]


class BPR(FactorModel):
    """Matrix factorisation trained with the BPR pairwise ranking loss (Rendle et al. 2009).

    Parameters
    ----------
    n_factors : int, default 64
    learning_rate : float, default 0.01
        SGD step size.
    reg : float, default 0.01
        L2 regularisation of every term unless a term's own value is given.
    reg_user, reg_pos, reg_neg, reg_bias : float or None
        Per-term regularisation (Rendle's lambda_Theta, lambda_H+, lambda_H- and the bias's);
        None uses ``reg``.
    n_epochs : int, default 100
        Passes; each draws as many triples as there are interactions.
    item_bias : bool, default True
        Learn a per-item bias b_i.
    verify_negatives : bool, default True
        Redraw a negative item that is one of the user's positives.
    deterministic : bool, default False
        Serial, bit-reproducible SGD instead of parallel Hogwild.
    calculate_loss : bool, default False
        Track the mean loss of each epoch's triples (also done whenever ``fit`` gets a
        callback); it costs a log and an exp per triple, about 15% of an epoch.
    random_state : int, numpy Generator or None
    n_threads : int or None
        Threads (Hogwild streams) for fitting and scoring (None: all cores).

    Attributes
    ----------
    user_factors_, item_factors_ : float32 arrays
    item_bias_ : float32 array (zeros when ``item_bias=False``)
    loss_history_ : LossHistory (a list of float)
        Mean ``-ln sigmoid(x_uij)`` of each epoch's triples (before their steps), when tracked.
    n_iter_ : int
        Epochs run (fewer than ``n_epochs`` when the fit callback returned True).

    Notes
    -----
    S. Rendle, C. Freudenthaler, Z. Gantner, L. Schmidt-Thieme, "BPR: Bayesian Personalized
    Ranking from Implicit Feedback", UAI 2009. Hogwild: B. Recht, C. Re, S. Wright, F. Niu,
    NeurIPS 2011.
    """

    algorithm = "bpr"
    demo_params: ClassVar[dict[str, Any] | None] = {"random_state": None}

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_factors": [Interval(int, 1, None)],
        "learning_rate": [Interval(float, 0, None, closed="neither")],
        "reg": [Interval(float, 0, None)],
        "reg_user": [Interval(float, 0, None), NONE],
        "reg_pos": [Interval(float, 0, None), NONE],
        "reg_neg": [Interval(float, 0, None), NONE],
        "reg_bias": [Interval(float, 0, None), NONE],
        "n_epochs": [Interval(int, 0, None)],
        "item_bias": [BOOL],
        "verify_negatives": [BOOL],
        "deterministic": [BOOL],
        "calculate_loss": [BOOL],
        "random_state": [RandomState, NONE],
        "n_threads": [Interval(int, 0, None), NONE],
    }

    def __init__(
        self,
        *,
        n_factors: int = 64,
        learning_rate: float = 0.01,
        reg: float = 0.01,
        reg_user: float | None = None,
        reg_pos: float | None = None,
        reg_neg: float | None = None,
        reg_bias: float | None = None,
        n_epochs: int = 100,
        item_bias: bool = True,
        verify_negatives: bool = True,
        deterministic: bool = False,
        calculate_loss: bool = False,
        random_state: int | np.random.Generator | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.learning_rate = learning_rate
        self.reg = reg
        self.reg_user = reg_user
        self.reg_pos = reg_pos
        self.reg_neg = reg_neg
        self.reg_bias = reg_bias
        self.n_epochs = n_epochs
        self.item_bias = item_bias
        self.verify_negatives = verify_negatives
        self.deterministic = deterministic
        self.calculate_loss = calculate_loss
        self.random_state = random_state
        self.n_threads = n_threads

    def _regs(self) -> dict[str, float]:
        def pick(value: float | None) -> float:
            return float(self.reg if value is None else value)

        return {
            "reg_user": pick(self.reg_user),
            "reg_pos": pick(self.reg_pos),
            "reg_neg": pick(self.reg_neg),
            "reg_bias": pick(self.reg_bias),
        }

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        rng = check_random_state(self.random_state)
        f = int(self.n_factors)
        scale = np.float32(0.1 / np.sqrt(f))
        self.user_factors_ = (rng.standard_normal((data.n_users, f), dtype=np.float32) * scale).copy()
        self.item_factors_ = (rng.standard_normal((data.n_items, f), dtype=np.float32) * scale).copy()
        self.item_bias_ = np.zeros(data.n_items, dtype=np.float32)
        self.seed_ = int(rng.integers(0, 2**63))
        csr = data.matrix
        user_of = data.user_indices
        regs = self._regs()
        request = FitRequest.of(callback)
        with_loss = bool(self.calculate_loss) or request.callback is not None
        bits = positives_bitset(csr.indptr, csr.indices, data.n_items) if self.verify_negatives else None
        advice = f"lower learning_rate (got {self.learning_rate}) or raise reg (got {self.reg})"
        divergence = Divergence("BPR", advice, "the factors became NaN or infinite")
        with thread_limits(self.n_threads) as threads:
            streams = 1 if self.deterministic else threads

            def step(epoch: int) -> dict[str, float]:
                stats = bpr_epoch(
                    csr.indptr, csr.indices, user_of, self.user_factors_, self.item_factors_, self.item_bias_,
                    learning_rate=float(self.learning_rate), reg_user=regs["reg_user"], reg_pos=regs["reg_pos"],
                    reg_neg=regs["reg_neg"], reg_bias=regs["reg_bias"], use_bias=bool(self.item_bias),
                    seed=self.seed_, epoch=epoch, n_streams=streams, verify=bool(self.verify_negatives),
                    positive_bits=bits, track_loss=with_loss,
                )  # fmt: skip
                if not with_loss:
                    del stats["loss"]  # NaN: not tracked
                return stats

            def finite() -> bool:
                return bool(np.isfinite(self.item_factors_).all())

            result = run_epochs(
                step, int(self.n_epochs), callback=request.callback, divergence=divergence,
                finite=finite, check_loss=False, report_seconds=True,
            )  # fmt: skip
        self.n_iter_ = result.n_iter
        self.loss_history_ = result.loss_history

    # ----------------------------------------------------------------- scoring
    def _item_offsets(self) -> np.ndarray:
        return self.item_bias_

    def fold_in(self, items: np.ndarray) -> np.ndarray:
        """A new user's vector from their item indices, by BPR steps with the items fixed.

        ``n_epochs * max(10, len(items))`` serial steps starting from zero, seeded by the
        model's seed, so the same history always gives the same vector.

        Parameters
        ----------
        items : int array
            Dense item indices of the user's positives.

        Returns
        -------
        float32 array (n_factors,)
        """
        self.check_is_fitted()
        items = np.unique(np.asarray(items, dtype=np.int32))
        return bpr_fold_in(
            items, self.item_factors_, self.item_bias_, learning_rate=float(self.learning_rate),
            reg_user=self._regs()["reg_user"], use_bias=bool(self.item_bias),
            n_steps=int(self.n_epochs) * max(10, items.size), seed=self.seed_,
        )  # fmt: skip

    def _history_vector(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self.fold_in(iidx[weights > 0])

    # ----------------------------------------------------------------- explain
    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        import pandas as pd

        item_id = self.items_.ids[iidx]
        bias = float(self.item_bias_[iidx])
        frame = pd.DataFrame(
            {"kind": ["factors", "item_bias"], "id": [item_id, item_id], "weight": [score - bias, bias]}
        )
        frame = frame.reindex(np.argsort(-np.abs(frame["weight"].to_numpy()), kind="stable")).reset_index(drop=True)
        start, end = self.seen_.indptr[uidx], self.seen_.indptr[uidx + 1]
        history = self.seen_.indices[start:end]
        text = f"{self.item_label(iidx)} scores {score:.3g} (taste match {score - bias:+.3g}, item bias {bias:+.3g})"
        if history.size:
            _, norms = self._cosine_basis("item")
            sims = (self.item_factors_[history] @ self.item_factors_[iidx]) / np.maximum(
                norms[history] * norms[iidx], np.float32(1e-12)
            )
            order = np.argsort(-sims, kind="stable")[:3]
            text += "; closest of the user's items: " + join_words([self.item_label(int(history[k])) for k in order])
        return frame, text + "."

    # ----------------------------------------------------------------- persistence
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {**self._factor_arrays(), "item_bias": self.item_bias_, **history_arrays(self.loss_history_)}
        return arrays, {"n_iter": self.n_iter_, "seed": self.seed_}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self._set_factor_arrays(arrays)
        self.item_bias_ = np.ascontiguousarray(arrays["item_bias"], dtype=np.float32)
        if self.item_bias_.shape != (self.n_items,):
            raise ValueError("item_bias does not match the items")
        self.seed_ = int(state["seed"])
        self.loss_history_, self.n_iter_ = restore_history(arrays, state)
