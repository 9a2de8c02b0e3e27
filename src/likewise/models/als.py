"""ALS for implicit feedback (Hu, Koren & Volinsky 2008), with conjugate-gradient and Cholesky solvers.

Every interaction value r_ui (a play count, a click, a rating) becomes a binary preference
p_ui = 1[r_ui > 0] and a confidence c_ui, and the model minimises, over **every** user x item
cell (unobserved cells have p = 0 and c = 1),

    sum_ui c_ui (p_ui - x_u . y_i)^2 + reg (sum_u |x_u|^2 + sum_i |y_i|^2)

with ``c_ui = 1 + alpha * |r_ui|`` (``confidence="linear"``, the paper's eq. 6) or
``1 + alpha * log(1 + |r_ui| / epsilon)`` (``"log"``, eq. 7). Each half-step solves one small
f x f system per user (then per item), built as ``Y^T Y + reg I + Y^T (C_u - I) Y`` so the
dense confidence matrix is never formed: ``Y^T Y`` is one BLAS product per half-step and the
rest costs O(nnz_u) per row (see `likewise.kernels.als`).

``solver="cg"`` takes ``cg_steps`` conjugate-gradient steps per row warm-started from the
previous factors (Takács, Pilászy & Tikk 2011; what implicit does); ``"cholesky"`` solves each
system exactly. Each epoch updates the users, then the items (the paper's and implicit's
order; from the same seed likewise and implicit start from the same factors). A new user
(`recommend_from_history`) and `partial_fit` use the exact per-row solve, the same code as
training's user half-step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from likewise._util import check_random_state, join_words
from likewise.data.idmap import IdMap
from likewise.data.interactions import Interactions
from likewise.exceptions import InvalidParameterError
from likewise.kernels._threads import thread_limits
from likewise.kernels.als import als_loss, solve_rows
from likewise.models._epochs import Divergence, FitRequest, history_arrays, restore_history, run_epochs
from likewise.models._factor import FactorModel, item_contributions
from likewise.models._params import BOOL, NONE, Interval, Options, RandomState
from likewise.models.base import FitCallback

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["ALS"]


class ALS(FactorModel):
    """Implicit-feedback matrix factorisation by alternating least squares (Hu et al. 2008).

    Parameters
    ----------
    n_factors : int, default 64
        Length of the user and item vectors.
    reg : float, default 20.0
        L2 regularisation ``reg`` on every factor (not scaled by activity, as in the paper).
        64 factors over-fit small data sets badly with tiny values (MovieLens 100K: NDCG@10
        0.35 at reg 0.05, 0.45 at reg 20); tune it with the confidence slope.
    alpha : float, default 1.0
        Confidence slope: ``c = 1 + alpha * r`` (or ``1 + alpha * log(1 + r / epsilon)``).
        ``alpha = 0`` weighs every observed cell like an unobserved one.
    confidence : {"linear", "log"}, default "linear"
    epsilon : float, default 1.0
        Scale of the values inside the log for ``confidence="log"``.
    n_epochs : int, default 15
        ALS iterations (each updates the users, then the items).
    solver : {"cg", "cholesky"}, default "cg"
        Conjugate gradient (fast, approximate, warm-started) or exact Cholesky solves.
    cg_steps : int, default 3
        Conjugate-gradient steps per row and half-step.
    calculate_loss : bool, default False
        Compute the objective after each epoch (also done whenever ``fit`` gets a callback);
        it lands in ``loss_history_``, normalised by the total confidence of all cells.
    random_state : int, numpy Generator or None
        Seeds the initial factors.
    n_threads : int or None
        Threads for fitting and scoring (None: all cores).

    Attributes
    ----------
    user_factors_, item_factors_ : float32 arrays (n_users, n_factors), (n_items, n_factors)
    loss_history_ : LossHistory (a list of float)
        One value per epoch when the loss was computed, else empty.
    n_iter_ : int
        Epochs run (fewer than ``n_epochs`` when the fit callback returned True).

    Notes
    -----
    Scores are ``x_u . y_i``: they approximate a preference in [0, 1], not a rating.
    References: Y. Hu, Y. Koren, C. Volinsky, "Collaborative Filtering for Implicit Feedback
    Datasets", ICDM 2008; G. Takács, I. Pilászy, D. Tikk, "Applications of the Conjugate
    Gradient Method for Implicit Feedback Collaborative Filtering", RecSys 2011.
    """

    algorithm = "als"
    demo_params: ClassVar[dict[str, Any] | None] = {"reg": 20.0, "alpha": 0.5, "random_state": None}

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_factors": [Interval(int, 1, None)],
        "reg": [Interval(float, 0, None)],
        "alpha": [Interval(float, 0, None)],
        "confidence": [Options(("linear", "log"))],
        "epsilon": [Interval(float, 0, None, closed="neither")],
        "n_epochs": [Interval(int, 0, None)],
        "solver": [Options(("cg", "cholesky"))],
        "cg_steps": [Interval(int, 1, None)],
        "calculate_loss": [BOOL],
        "random_state": [RandomState, NONE],
        "n_threads": [Interval(int, 0, None), NONE],
    }

    def __init__(
        self,
        *,
        n_factors: int = 64,
        reg: float = 20.0,
        alpha: float = 1.0,
        confidence: Literal["linear", "log"] = "linear",
        epsilon: float = 1.0,
        n_epochs: int = 15,
        solver: Literal["cg", "cholesky"] = "cg",
        cg_steps: int = 3,
        calculate_loss: bool = False,
        random_state: int | np.random.Generator | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.reg = reg
        self.alpha = alpha
        self.confidence = confidence
        self.epsilon = epsilon
        self.n_epochs = n_epochs
        self.solver = solver
        self.cg_steps = cg_steps
        self.calculate_loss = calculate_loss
        self.random_state = random_state
        self.n_threads = n_threads

    # ----------------------------------------------------------------- training
    def confidence_of(self, values: np.ndarray) -> np.ndarray:
        """Signed confidences for raw interaction values: ``+c`` where r > 0, ``-c`` elsewhere.

        Parameters
        ----------
        values : array of float
            Interaction values (counts, weights, ratings).

        Returns
        -------
        float32 array
            ``c = 1 + alpha * |r|`` (or the log form), negative where the preference is 0.
        """
        values = np.asarray(values)
        c = np.abs(values, dtype=np.float32)  # one float32 array, transformed in place (nnz may be large)
        if self.confidence == "log":
            c /= np.float32(self.epsilon)
            np.log1p(c, out=c)
        c *= np.float32(self.alpha)
        c += np.float32(1.0)
        np.negative(c, out=c, where=~(values > 0))
        return c

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        rng = check_random_state(self.random_state)
        # the kernels read the raw values and derive confidences on the fly: the only copy of
        # the interactions made here is the item-major one the item half-step needs
        users = data.matrix
        items = users.T.tocsr()
        f = int(self.n_factors)
        # uniform [0, 0.01) start, users drawn first (as implicit does); Cholesky only uses the items'
        self.user_factors_ = rng.random((data.n_users, f), dtype=np.float32) * np.float32(0.01)
        self.item_factors_ = rng.random((data.n_items, f), dtype=np.float32) * np.float32(0.01)
        request = FitRequest.of(callback)
        with_loss = self.calculate_loss or request.callback is not None

        def step(epoch: int) -> dict[str, float]:
            self._half_step(users, self.user_factors_, self.item_factors_)
            self._half_step(items, self.item_factors_, self.user_factors_)
            if not with_loss:
                return {}
            objective, total_conf = als_loss(
                users.indptr, users.indices, users.data, self.user_factors_, self.item_factors_, self.reg,
                **self._conf_kwargs(),
            )  # fmt: skip
            return {"loss": objective / max(total_conf, 1.0)}

        def finite() -> bool:
            return bool(np.isfinite(self.user_factors_).all() and np.isfinite(self.item_factors_).all())

        advice = f"raise reg (got {self.reg}) or lower alpha (got {self.alpha})"
        divergence = Divergence("ALS", advice, "the factors became NaN or infinite")
        with thread_limits(self.n_threads):
            result = run_epochs(
                step, int(self.n_epochs), callback=request.callback, divergence=divergence,
                finite=finite, check_loss=False, report_seconds=True,
            )  # fmt: skip
        self.n_iter_ = result.n_iter
        self.loss_history_ = result.loss_history

    def _half_step(self, csr: sp.csr_matrix, X: np.ndarray, Y: np.ndarray, *, solver: str | None = None) -> None:
        gram = Y.T @ Y
        solve_rows(
            csr.indptr, csr.indices, csr.data, X, Y, self.reg, solver=solver or self.solver,
            cg_steps=self.cg_steps, gram=gram, **self._conf_kwargs(),
        )  # fmt: skip

    def _conf_kwargs(self) -> dict[str, Any]:
        return {"alpha": float(self.alpha), "confidence": self.confidence, "epsilon": float(self.epsilon)}

    def solve_user(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Exact factors of a user with the given item indices and raw values, item factors fixed.

        This is the user half-step of training (Cholesky) for one row: fold-in for new users
        (`recommend_from_history`) and `partial_fit` use it.

        Parameters
        ----------
        items : int array
            Dense item indices (duplicates are summed).
        values : float array
            Raw interaction values, one per item.

        Returns
        -------
        float32 array (n_factors,)
        """
        self.check_is_fitted()
        iidx, inverse = np.unique(np.asarray(items, dtype=np.int64), return_inverse=True)
        summed = np.bincount(inverse, weights=np.asarray(values, dtype=np.float64), minlength=iidx.size)
        x = np.zeros((1, self.item_factors_.shape[1]), dtype=np.float32)
        solve_rows(
            np.array([0, iidx.size], dtype=np.int64), iidx.astype(np.int32), summed.astype(np.float32),
            x, self.item_factors_, self.reg, solver="cholesky", gram=self._item_gram(), parallel=False,
            **self._conf_kwargs(),
        )  # fmt: skip
        return x[0]

    def _fill_caches(self, allowed: list[np.ndarray]) -> None:
        super()._fill_caches(allowed)
        self._item_gram()  # every fold-in (a server's user with new events) solves with it

    def _item_gram(self) -> np.ndarray:
        """``Y^T Y`` of the item factors, cached like the cosines (keyed on the array, see `_factor`)."""
        gram: tuple[np.ndarray, np.ndarray] | None = self.__dict__.get("_item_gram_cache_")
        if gram is None or gram[0] is not self.item_factors_:
            gram = (self.item_factors_, self.item_factors_.T @ self.item_factors_)
            self._item_gram_cache_ = gram
        return gram[1]

    # ----------------------------------------------------------------- partial fit
    def partial_fit(self, interactions: Interactions, *, update: Literal["users", "items"] = "users") -> ALS:
        """Update some users (or items) from their new complete histories, without retraining.

        With ``update="users"`` every user who has interactions in `interactions` gets that
        history as their new training row (it replaces the old one) and factors solved
        exactly with the item factors fixed; users the model has not seen are added. Items
        must already be known. ``update="items"`` does the same for items (their columns are
        replaced, user factors fixed; new items are added, users must be known).

        Parameters
        ----------
        interactions : Interactions
            The new histories (ids are raw ids; its id maps need not match the model's).
        update : {"users", "items"}

        Returns
        -------
        ALS
            self, updated in place.
        """
        self.check_is_fitted()
        if not isinstance(interactions, Interactions):
            raise InvalidParameterError(f"partial_fit expects likewise Interactions, got {type(interactions).__name__}")
        if update not in ("users", "items"):
            raise InvalidParameterError(f"update must be 'users' or 'items', got {update!r}")
        coo = interactions.matrix.tocoo()
        users = interactions.users.to_ids(coo.row)
        items = interactions.items.to_ids(coo.col)
        if update == "users":
            self._partial_rows(users, items, coo.data, "user")
        else:
            self._partial_rows(items, users, coo.data, "item")
        return self

    def _partial_rows(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, side: str) -> None:
        seen = self.seen_ if side == "user" else self.seen_.T.tocsr()
        row_map, col_map = (self.users_, self.items_) if side == "user" else (self.items_, self.users_)
        own, other = (
            (self.user_factors_, self.item_factors_) if side == "user" else (self.item_factors_, self.user_factors_)
        )
        cidx = col_map.to_index(cols)  # every column must be known (raises UnknownIdError)
        new_map = IdMap(np.concatenate([row_map.ids, rows]) if rows.size else row_map.ids, name=side)
        old_pos = new_map.to_index(row_map.ids).astype(np.int64)
        ridx = new_map.to_index(rows).astype(np.int64)
        n_new = len(new_map)
        # rebuild the training rows: old rows moved to their new positions, updated rows replaced
        counts = np.zeros(n_new, dtype=np.int64)
        counts[old_pos] = np.diff(seen.indptr)
        updated = np.unique(ridx)
        counts[updated] = 0
        keep_rows = np.ones(len(row_map), dtype=bool)
        keep_rows[np.isin(old_pos, updated)] = False
        old_rows_of_nz = np.repeat(np.arange(len(row_map)), np.diff(seen.indptr))
        keep = keep_rows[old_rows_of_nz]
        all_rows = np.concatenate([old_pos[old_rows_of_nz[keep]], ridx])
        all_cols = np.concatenate([seen.indices[keep].astype(np.int64), cidx.astype(np.int64)])
        all_vals = np.concatenate([seen.data[keep], np.asarray(values, dtype=np.float32)])
        merged = sp.csr_matrix((all_vals, (all_rows, all_cols)), shape=(n_new, len(col_map)), dtype=np.float32)
        merged.sum_duplicates()
        merged.sort_indices()
        factors = np.zeros((n_new, own.shape[1]), dtype=np.float32)
        factors[old_pos] = own
        sub = merged[updated]
        with thread_limits(self.n_threads):
            block = np.zeros((updated.size, own.shape[1]), dtype=np.float32)
            solve_rows(
                sub.indptr, sub.indices, sub.data, block, other, self.reg,
                solver="cholesky", gram=other.T @ other, **self._conf_kwargs(),
            )  # fmt: skip
        factors[updated] = block
        if side == "user":
            self.users_ = new_map
            self.user_factors_ = factors
            self.seen_ = merged
        else:
            if self.item_titles_ is not None and n_new != len(row_map):
                titles = np.asarray(new_map.ids, dtype=str).astype(object)
                titles[old_pos] = self.item_titles_
                self.item_titles_ = np.asarray(titles, dtype=str)
            self.items_ = new_map
            self.item_factors_ = factors
            self.seen_ = merged.T.tocsr()
            self.seen_.sort_indices()
        self._forget_similarities()

    # ----------------------------------------------------------------- scoring
    def _history_vector(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self.solve_user(iidx, weights)

    # ----------------------------------------------------------------- explain
    def explain_weights(self, uidx: int, iidx: int) -> tuple[np.ndarray, np.ndarray]:
        """Hu et al.'s decomposition of a score into the user's past items (section 5).

        With ``W_u = (Y^T C_u Y + reg I)^-1`` the exact user factors are ``x_u = W_u Y^T C_u p_u``,
        so ``x_u . y_i = sum_j s_ij c_uj p_uj`` with ``s_ij = y_i^T W_u y_j``: item j's
        contribution is ``s_ij c_uj`` for each positive item j of the user.

        Parameters
        ----------
        uidx, iidx : int
            Dense user and item indices.

        Returns
        -------
        (item indices, contributions)
            The user's positive items and their contributions (float64), unsorted. They sum
            to the score of the user's exact solve against the final item factors; the stored
            user factors come from the last user half-step (before the last item half-step),
            so the stored score differs slightly.
        """
        self.check_is_fitted()
        start, end = self.seen_.indptr[uidx], self.seen_.indptr[uidx + 1]
        items = self.seen_.indices[start:end]
        conf = self.confidence_of(self.seen_.data[start:end]).astype(np.float64)
        Y = self.item_factors_.astype(np.float64)
        Yu = Y[items]
        c = np.abs(conf)
        A = Y.T @ Y + np.diag(np.full(Y.shape[1], self.reg)) + (Yu.T * (c - 1.0)) @ Yu
        weighted = np.linalg.solve(A, Y[iidx])  # W_u y_i (W_u is symmetric)
        positive = conf > 0
        return items[positive], (Yu[positive] @ weighted) * c[positive]

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        frame, top = item_contributions(self, *self.explain_weights(uidx, iidx))
        if not top:
            return frame, f"{self.item_label(iidx)} scores {score:.3g}; the user has no past items to explain it."
        return frame, f"{self.item_label(iidx)} scores {score:.3g}, mostly because of {join_words(top)}."

    # ----------------------------------------------------------------- persistence
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {**self._factor_arrays(), **history_arrays(self.loss_history_)}, {"n_iter": self.n_iter_}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self._set_factor_arrays(arrays)
        self.loss_history_, self.n_iter_ = restore_history(arrays, state)
