"""The model contract every likewise recommender follows.

A subclass stores its hyper-parameters in a keyword-only constructor (no logic), lists their
constraints in ``_parameter_constraints`` and implements a few index-level hooks:

- ``_fit(data, callback)``                 learn state (attributes ending in ``_``)
- ``_score_users(uidx) -> (b, n_items)``   dense scores for a block of known users
- ``_score_history(iidx, weights) -> (n_items,)``   fold-in for an unseen user
- ``_predict_pairs(uidx, iidx)``           pointwise scores (default: gathered from _score_users)
- ``_top_n_users(uidx, n, seen, allowed)`` batch top-n (default: _score_users blocks + top-k kernel)
- ``_reported_scores(scores)``             recommendation scores as shown, after ranking (rating models clip)
- ``_default_history_weights(n)``          fold-in weights when none are given (default 1)
- ``_similar_items(iidx) -> (b, n_items)`` item-item similarities, when meaningful
- ``_explain(uidx, iidx) -> (DataFrame, text)``
- ``_state() / _set_state()``              arrays and JSON scalars to persist
- ``_fill_caches(allowed)``                what queries compute once and keep (default: nothing)

The base class does everything at the edges once: raw id <-> index mapping, validation,
batching in memory-bounded blocks, filters (seen items, exclude, candidates), top-n selection
(numba kernel), thread limits, `Recs` construction, and save/load (`_saving`).

Why this file is longer than 600 lines: it is one class, the whole public contract (the raw-id
API, the unknown-id policies, the index-level API and the hooks), and a reader should find every
public method of a model in one place; what is not the contract lives elsewhere (persistence in
`_saving` / `_persistence`, registration in `_registry`, parameters in `_params`).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp

from likewise._util import as_1d, plain
from likewise.data._memory import release_freed_memory
from likewise.data.idmap import IdMap
from likewise.data.interactions import Interactions
from likewise.exceptions import (
    InvalidParameterError,
    NotFittedError,
    NotSupportedError,
)
from likewise.kernels._threads import thread_limits
from likewise.kernels.topk import topk_rows
from likewise.models import _registry, _saving
from likewise.models._params import validate_params
from likewise.models.recs import Explanation, Recs

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["FitCallback", "Recommender", "load"]

FitCallback = Callable[[int, dict[str, float]], bool | None]
"""Called after each training epoch with (epoch counted from 0, metrics such as {"loss": ...});
returning ``True`` stops training after that epoch (every iterative model; see models/_epochs.py)."""

# Dense score blocks are capped at this many float32 cells (~64 MB) per batch of users.
_BLOCK_CELLS = 16_000_000


class Recommender(ABC):
    """Base class of every likewise model (see the module docstring for the contract)."""

    supports_fold_in: ClassVar[bool] = True
    supports_similar_items: ClassVar[bool] = False
    supports_similar_users: ClassVar[bool] = False
    supports_features: ClassVar[bool] = False
    predicts_ratings: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}
    n_threads: int | None = None
    """Threads for fitting and scoring (None: all cores): the constructor parameter when the model has one."""

    # Registration (see models/_registry.py), read from each class's own body, never inherited:
    algorithm: ClassVar[str]
    """``--algo`` name, `ALGORITHMS` key and the name saved in meta.json; declare it to publish a model."""
    label: ClassVar[str]
    """Display name in tables (default: the class name)."""
    demo_params: ClassVar[dict[str, Any] | None] = None
    """Parameters for ``likewise demo`` (None: not in the demo); a ``random_state`` gets the demo's seed."""

    users_: IdMap
    items_: IdMap
    seen_: sp.csr_matrix

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "label" not in cls.__dict__:
            cls.label = cls.__name__
        if "demo_params" not in cls.__dict__:
            cls.demo_params = None
        if not inspect.isabstract(cls):
            _registry.register(cls)

    # ----------------------------------------------------------------- parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values() if p.name != "self" and p.kind is p.KEYWORD_ONLY]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise InvalidParameterError(
                    f"{type(self).__name__} has no parameter {name!r}; parameters are {sorted(valid)}"
                )
            setattr(self, name, value)
        return self

    def clone(self) -> Self:
        """An unfitted copy with the same parameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # ----------------------------------------------------------------- fitting
    def fit(self, interactions: Interactions, *, callback: FitCallback | None = None) -> Self:
        """Learn from `interactions`; refitting forgets all previous state."""
        if not isinstance(interactions, Interactions):
            raise InvalidParameterError(
                f"fit expects likewise Interactions, got {type(interactions).__name__}; build one with "
                "likewise.Interactions.from_frame(...) or a reader such as likewise.read_csv(...)"
            )
        validate_params(self)
        self._forget()
        self.users_ = interactions.users
        self.items_ = interactions.items
        self.seen_ = interactions.matrix
        self.kind_ = interactions.kind
        self.rating_scale_ = interactions.rating_scale
        self.item_titles_ = interactions.item_titles()
        self._fit(interactions, callback)
        release_freed_memory()  # the fit's freed workspace, kept by malloc (likewise.data._memory)
        return self

    def _forget(self) -> None:
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("__")]:
            delattr(self, name)

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "items_")

    def check_is_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(...) or likewise.load(...)")

    @property
    def n_users(self) -> int:
        self.check_is_fitted()
        return len(self.users_)

    @property
    def n_items(self) -> int:
        self.check_is_fitted()
        return len(self.items_)

    # ----------------------------------------------------------------- hooks
    @abstractmethod
    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        """Learn the model's state from `data`."""

    @abstractmethod
    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        """Scores (len(uidx), n_items) float32 for known users; NaN = not scorable."""

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Scores (n_items,) float32 for an unseen user who interacted with `iidx`."""
        raise NotSupportedError(f"{type(self).__name__} cannot score a new user without retraining")

    def _predict_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        out = np.empty(uidx.size, dtype=np.float32)
        users, inverse = np.unique(uidx, return_inverse=True)
        for block in self._blocks(users.size):
            scores = self._score_users(users[block])
            sel = (inverse >= block.start) & (inverse < block.stop)
            out[sel] = scores[inverse[sel] - block.start, iidx[sel]]
        return out

    def _similar_items(self, iidx: np.ndarray) -> np.ndarray:
        raise NotSupportedError(f"{type(self).__name__} has no notion of item similarity")

    def _similar_users(self, uidx: np.ndarray) -> np.ndarray:
        raise NotSupportedError(f"{type(self).__name__} has no notion of user similarity")

    @abstractmethod
    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        """(contributions frame with columns kind, id, weight; one-sentence text)."""

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Model-specific (arrays, JSON scalars) to persist."""
        return {}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Restore what `_state` returned."""

    def _index_state(self) -> tuple[dict[str, Any], dict[str, bytes]] | None:
        """(description for meta.json, {file name: bytes}) of a built item index, or None."""
        return None

    def _restore_index(self, description: Any, files: dict[str, bytes]) -> None:
        """Restore what `_index_state` returned (ValueError when it does not fit the model)."""
        raise ValueError(f"{type(self).__name__} has no item index, but the directory holds one")

    # ----------------------------------------------------------------- public API
    def predict(self, users: Any, items: Any, *, unknown: Literal["nan", "raise"] = "nan") -> np.ndarray:
        """Pointwise scores for (user, item) pairs (ratings for explicit models), float32.

        Pairs with a user or item the model cannot map score NaN: an unknown id, and also an id
        of the wrong type (a string for integer ids or the reverse), a null or a non-whole float.
        ``unknown="raise"`` raises UnknownIdError naming the id instead.
        """
        uidx, iidx = self._pair_indices(users, items, unknown)
        if uidx.size != iidx.size:
            if uidx.size == 1:
                uidx = np.repeat(uidx, iidx.size)
            elif iidx.size == 1:
                iidx = np.repeat(iidx, uidx.size)
            else:
                raise InvalidParameterError(
                    f"users and items must have the same length (or one of them one); got {uidx.size} and {iidx.size}"
                )
        out = np.full(uidx.size, np.nan, dtype=np.float32)
        known = (uidx >= 0) & (iidx >= 0)
        if known.any():
            with self._threads():
                out[known] = self._predict_pairs(uidx[known], iidx[known])
        return out

    def _pair_indices(self, users: Any, items: Any, unknown: str) -> tuple[np.ndarray, np.ndarray]:
        """User and item indices of pointwise calls (`predict`, ``predict_at``): unknown ids are -1
        with ``unknown="nan"``, an UnknownIdError with ``"raise"``."""
        self.check_is_fitted()
        if unknown not in ("nan", "raise"):
            raise InvalidParameterError(f"unknown must be 'nan' or 'raise', got {unknown!r}")
        policy: Literal["raise", "lenient"] = "raise" if unknown == "raise" else "lenient"
        return self.users_.to_index(users, missing=policy), self.items_.to_index(items, missing=policy)

    def recommend(
        self,
        users: Any,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        exclude: Any = None,
        candidates: Any = None,
        unknown: Literal["raise", "skip", "popular"] = "raise",
    ) -> Recs:
        """Top-`n` items for each of `users` (a raw id or an array of them).

        ``exclude_seen`` drops items the user interacted with in training; ``exclude`` drops
        the given items for everybody; ``candidates`` restricts the choice to the given items
        (ids the model does not know are ignored in both). A scalar user gives a one-row Recs.

        ``unknown`` says what happens to a user the model cannot map (unknown, or an id of
        the wrong type):

        - ``"raise"`` (default): UnknownIdError naming the id(s);
        - ``"skip"``: rows only for the known users, in the order given; ``Recs.queries`` says
          which users they are (an all-unknown batch gives zero rows);
        - ``"popular"``: one row per user given; an unknown user gets the items with the most
          training interactions (users who interacted with them; ties by lower index), honouring
          ``exclude`` / ``candidates``, scored by that count. ``Recs.fallback`` is True on those
          rows and ``Recs.queries`` holds the ids as given.
        """
        self.check_is_fitted()
        self._check_n(n)
        if unknown not in ("raise", "skip", "popular"):
            raise InvalidParameterError(f"unknown must be 'raise', 'skip' or 'popular', got {unknown!r}")
        raw = as_1d(users)
        uidx = self.users_.to_index(raw, missing="raise" if unknown == "raise" else "lenient")
        known = uidx >= 0
        allowed = self._allowed_mask(exclude, candidates)
        rows = uidx[known]
        if rows.size:
            with self._threads():
                indices, scores = self._top_n_users(rows, n, self.seen_ if exclude_seen else None, allowed)
            valid = indices >= 0
            scores[valid] = self._reported_scores(scores[valid])
        else:
            indices, scores = np.empty((0, n), np.int32), np.empty((0, n), np.float32)
        if unknown != "popular" or known.all():
            return self._recs(indices, scores, self.users_.to_ids(rows), "user", fallback=np.zeros(rows.size, bool))
        all_indices = np.empty((uidx.size, n), dtype=np.int32)
        all_scores = np.empty((uidx.size, n), dtype=np.float32)
        all_indices[known], all_scores[known] = indices, scores
        all_indices[~known], all_scores[~known] = self._popular_top_n(n, allowed)
        queries = np.asarray(raw.to_numpy() if hasattr(raw, "to_numpy") else raw, dtype=object).reshape(-1)
        queries[known] = [plain(v) for v in self.users_.to_ids(rows)]
        return self._recs(all_indices, all_scores, queries, "user", fallback=~known)

    def _popular_top_n(self, n: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The fallback of ``unknown="popular"``: items by training interaction count, (1, n)."""
        counts = np.bincount(self.seen_.indices, minlength=self.n_items).astype(np.float32)
        return topk_rows(counts.reshape(1, -1), n, allowed=allowed, parallel=False)

    def _top_n_users(
        self, uidx: np.ndarray, n: int, seen: sp.csr_matrix | None, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(indices, scores) of the top `n` for known users: dense score blocks + the top-k kernel.

        Models that can score and select in one pass (factor models) override this.
        """
        indices = np.empty((uidx.size, n), dtype=np.int32)
        scores = np.empty((uidx.size, n), dtype=np.float32)
        for block in self._blocks(uidx.size):
            rows = uidx[block]
            block_scores = self._score_users(rows)
            indices[block], scores[block] = topk_rows(
                block_scores,
                n,
                seen_indptr=None if seen is None else seen.indptr,
                seen_indices=None if seen is None else seen.indices,
                seen_rows=None if seen is None else rows,
                allowed=allowed,
            )
        return indices, scores

    # ----------------------------------------------------------------- index-level API
    def score_indices(self, uidx: Any, iidx: Any = None) -> np.ndarray:
        """Dense scores of known users (by index) over every item, or over the given items.

        The scores the model ranks by (`recommend_indices` orders items by them): for rating
        models the raw estimates, before the clipping `predict` and `recommend` report. NaN
        marks an item the model cannot score for that user. Computed in memory-bounded blocks
        of users, inside the model's thread limits.

        Parameters
        ----------
        uidx : int array-like (b,)
            Dense user indices in ``[0, n_users)`` (a scalar counts as one user).
        iidx : int array-like (m,), optional
            Dense item indices in ``[0, n_items)``, in the column order wanted (repeats
            allowed). Default: every item, in index order.

        Returns
        -------
        numpy.ndarray
            float32 of shape ``(b, n_items)``, or ``(b, m)`` with `iidx`.

        Raises
        ------
        InvalidParameterError
            When `uidx` or `iidx` is not integer, not 1-D, or holds an index out of range.
        NotFittedError
            When the model is not fitted.
        """
        self.check_is_fitted()
        users = self._index_array(uidx, "uidx", self.n_users)
        items = None if iidx is None else self._index_array(iidx, "iidx", self.n_items)
        out = np.empty((users.size, self.n_items if items is None else items.size), dtype=np.float32)
        with self._threads():
            for block in self._blocks(users.size):
                scores = self._score_users(users[block])
                out[block] = scores if items is None else scores[:, items]
        return out

    def recommend_indices(
        self,
        uidx: Any,
        n: int = 10,
        *,
        seen: bool | sp.spmatrix | sp.sparray = True,
        allowed: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` item indices and scores for known users, by index: `recommend` without ids.

        The same selection as `recommend` (the model's batch top-n path, ties broken by the
        lower item index), the same scores (as reported: rating models clip them to the rating
        scale after ranking), entered in the model's thread limits. Rows are padded with index
        -1 and score -inf when fewer than `n` items are eligible.

        Parameters
        ----------
        uidx : int array-like (b,)
            Dense user indices in ``[0, n_users)`` (a scalar counts as one user; repeats allowed).
        n : int
            Length of every list (>= 1).
        seen : bool or sparse matrix
            True (default): drop the items each user had in training (``exclude_seen=True``);
            False: drop none; a sparse matrix of shape ``(b, n_items)``: drop, from row r, the
            items stored in its row r (the training items then count only if they are in it).
        allowed : bool array-like (n_items,), optional
            Items that may be recommended at all (False: never); default every item.

        Returns
        -------
        indices : numpy.ndarray
            int32 ``(b, n)``, best first.
        scores : numpy.ndarray
            float32 ``(b, n)``.

        Raises
        ------
        InvalidParameterError
            For a non-integer or out-of-range `uidx`, a bad `n`, a `seen` matrix of the wrong
            shape, or an `allowed` that is not a boolean mask over the items.
        NotFittedError
            When the model is not fitted.
        """
        self.check_is_fitted()
        self._check_n(n)
        users = self._index_array(uidx, "uidx", self.n_users)
        mask = self._item_mask(allowed)
        if isinstance(seen, (bool, np.bool_)):
            with self._threads():
                indices, scores = self._top_n_users(users, int(n), self.seen_ if seen else None, mask)
        elif sp.issparse(seen):
            drop = sp.csr_matrix(seen, copy=True)
            if drop.shape != (users.size, self.n_items):
                raise InvalidParameterError(
                    f"seen must have one row per user and one column per item {(users.size, self.n_items)}, "
                    f"got shape {drop.shape}"
                )
            drop.sum_duplicates()
            drop.sort_indices()
            indices = np.empty((users.size, int(n)), dtype=np.int32)
            scores = np.empty((users.size, int(n)), dtype=np.float32)
            # The hook takes a seen CSR indexed by user: place row r at user uidx[r]. A user
            # asked for twice (with different rows) goes in a later round.
            order = np.argsort(users, kind="stable")
            starts = np.flatnonzero(np.r_[True, users[order][1:] != users[order][:-1]])
            occurrence = np.empty(users.size, dtype=np.int64)
            occurrence[order] = np.arange(users.size) - np.repeat(starts, np.diff(np.r_[starts, users.size]))
            with self._threads():
                for round_ in range(int(occurrence.max(initial=-1)) + 1):
                    rows = np.flatnonzero(occurrence == round_)
                    by_user = rows[np.argsort(users[rows], kind="stable")]
                    part = drop[by_user]
                    counts = np.zeros(self.n_users + 1, dtype=np.int64)
                    counts[users[by_user] + 1] = np.diff(part.indptr)
                    placed = sp.csr_matrix(
                        (part.data, part.indices, np.cumsum(counts)), shape=(self.n_users, self.n_items)
                    )
                    indices[rows], scores[rows] = self._top_n_users(users[rows], int(n), placed, mask)
        else:
            raise InvalidParameterError(
                f"seen must be True, False or a sparse matrix of the items to drop per row, got {type(seen).__name__}"
            )
        indices = np.asarray(indices, dtype=np.int32)
        scores = np.asarray(scores, dtype=np.float32)
        valid = indices >= 0
        scores[valid] = self._reported_scores(scores[valid])
        return indices, scores

    def _index_array(self, values: Any, name: str, size: int) -> np.ndarray:
        """`values` as int32 indices in [0, size) (part of the index-level API's validation)."""
        arr = np.asarray(values)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise InvalidParameterError(f"{name} must be a 1-D array of indices, got shape {arr.shape}")
        if arr.size == 0:
            return np.zeros(0, dtype=np.int32)
        if arr.dtype.kind not in "iu":
            raise InvalidParameterError(f"{name} must hold integer indices, got dtype {arr.dtype}")
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high >= size:
            bad = low if low < 0 else high
            raise InvalidParameterError(f"{name} must hold indices in [0, {size}), got {bad}")
        return np.ascontiguousarray(arr, dtype=np.int32)

    def _item_mask(self, allowed: Any) -> np.ndarray:
        """`allowed` checked as a boolean mask over the items (part of the index-level API)."""
        if allowed is None:
            return np.ones(self.n_items, dtype=bool)
        mask = np.asarray(allowed)
        if mask.dtype != np.bool_ or mask.shape != (self.n_items,):
            raise InvalidParameterError(
                f"allowed must be a boolean mask of shape ({self.n_items},), got dtype {mask.dtype} "
                f"and shape {mask.shape}"
            )
        return np.ascontiguousarray(mask)

    def recommend_from_history(
        self,
        items: Any,
        *,
        weights: Any = None,
        n: int = 10,
        exclude_seen: bool = True,
        exclude: Any = None,
        candidates: Any = None,
    ) -> Recs:
        """Top-`n` for a user the model has never seen, from the items they interacted with.

        ``weights`` are ratings (explicit models) or interaction strengths, one per item
        (default: `_default_history_weights`, 1 each; rating models use the top of the rating
        scale, i.e. "liked"). No retraining happens; unknown item ids raise UnknownIdError.
        """
        self.check_is_fitted()
        if not self.supports_fold_in:
            raise NotSupportedError(f"{type(self).__name__} cannot recommend for a new user without retraining")
        self._check_n(n)
        iidx = self.items_.to_index(as_1d(items))
        w = self._history_weights(iidx, weights)
        allowed = self._allowed_mask(exclude, candidates)
        with self._threads():
            indices, top = self._top_n_history_without(iidx, w, n, allowed, iidx if exclude_seen else iidx[:0])
        return self._user_recs(indices, top, np.array([None], dtype=object))

    def recommend_indices_from_history(
        self,
        iidx: Any,
        *,
        weights: Any = None,
        n: int = 10,
        exclude_seen: bool = True,
        allowed: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`recommend_from_history` by index: the fold-in of `recommend_indices` for a new user.

        The same selection and scores as `recommend_from_history` with the items `iidx` (dense
        indices, no id mapping) and the boolean mask `allowed` in place of ``exclude`` /
        ``candidates``; a server that keeps its filters as masks pays no id round trip.

        Parameters
        ----------
        iidx : int array-like (m,)
            Dense indices of the items the user interacted with, in ``[0, n_items)``.
        weights : float array-like (m,), optional
            As in `recommend_from_history` (default `_default_history_weights`).
        n : int
            Length of the list (>= 1).
        exclude_seen : bool
            Drop the items of `iidx` from the answer (default).
        allowed : bool array-like (n_items,), optional
            Items that may be recommended at all; default every item. Not modified.

        Returns
        -------
        indices : numpy.ndarray
            int32 ``(1, n)``, best first, padded with -1.
        scores : numpy.ndarray
            float32 ``(1, n)``, padded with -inf.

        Raises
        ------
        NotSupportedError
            When the model cannot fold in (``supports_fold_in`` is False).
        InvalidParameterError
            For indices that are not integers in range, a bad `n`, bad weights, or an
            `allowed` that is not a boolean mask over the items.
        NotFittedError
            When the model is not fitted.
        """
        self.check_is_fitted()
        if not self.supports_fold_in:
            raise NotSupportedError(f"{type(self).__name__} cannot recommend for a new user without retraining")
        self._check_n(n)
        items = self._index_array(iidx, "iidx", self.n_items)
        w = self._history_weights(items, weights)
        mask = self._item_mask(allowed)
        with self._threads():
            indices, scores = self._top_n_history_without(items, w, int(n), mask, items if exclude_seen else items[:0])
        indices = np.asarray(indices, dtype=np.int32)
        scores = np.asarray(scores, dtype=np.float32)
        valid = indices >= 0
        scores[valid] = self._reported_scores(scores[valid])
        return indices, scores

    def _history_weights(self, iidx: np.ndarray, weights: Any) -> np.ndarray:
        """The weights of a fold-in history, checked (one finite value per item), float32."""
        if weights is None:
            return self._default_history_weights(iidx.size)
        w = np.asarray(weights, dtype=np.float32).reshape(-1)
        if w.shape != iidx.shape:
            raise InvalidParameterError(f"weights must have one value per item ({iidx.size}), got {w.size}")
        if not np.isfinite(w).all():
            raise InvalidParameterError("weights must be finite numbers")
        return w

    def _top_n_history_without(
        self, iidx: np.ndarray, weights: np.ndarray, n: int, allowed: np.ndarray, drop: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """`_top_n_history` with the items `drop` (the history, for exclude_seen) disallowed too.

        `allowed` itself is never modified (a caller's mask may be shared and read-only);
        factor models override this to keep a selective filter's packed rows across users.
        """
        if drop.size:
            allowed = allowed.copy()
            allowed[drop] = False
        return self._top_n_history(iidx, weights, n, allowed)

    def _top_n_history(
        self, iidx: np.ndarray, weights: np.ndarray, n: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(1, n) top-n of a new user (fold-in): dense scores + the top-k kernel; models with an
        item index (factor models, docs/ann.md) search it instead."""
        scores = self._score_history(iidx, weights).reshape(1, -1)
        return topk_rows(scores, n, allowed=allowed, parallel=False)

    def similar_items(
        self,
        items: Any,
        n: int = 10,
        *,
        exclude: Any = None,
        candidates: Any = None,
        unknown: Literal["raise", "skip"] = "raise",
    ) -> Recs:
        """The `n` items most similar to each of `items` (the item itself excluded).

        An item the model cannot map raises UnknownIdError (``unknown="raise"``, default) or
        gets no row (``unknown="skip"``; ``Recs.queries`` says which items the rows are for).
        """
        self.check_is_fitted()
        self._check_n(n)
        if unknown not in ("raise", "skip"):
            raise InvalidParameterError(f"unknown must be 'raise' or 'skip', got {unknown!r}")
        raw = as_1d(items)
        iidx = self.items_.to_index(raw, missing="lenient" if unknown == "skip" else "raise")
        iidx = iidx[iidx >= 0]
        allowed = self._allowed_mask(exclude, candidates)
        with self._threads():
            indices, scores = self._top_n_similar(iidx, n, allowed)
        return self._recs(indices, scores, self.items_.to_ids(iidx), "item")

    def _top_n_similar(self, iidx: np.ndarray, n: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(len(iidx), n) most similar items, each item itself excluded: `_similar_items` blocks
        + the top-k kernel; factor models with a similarity index search it instead."""
        self_rows = sp.csr_matrix(
            (np.ones(iidx.size, np.float32), iidx, np.arange(iidx.size + 1)), shape=(iidx.size, self.n_items)
        )
        indices = np.empty((iidx.size, n), dtype=np.int32)
        scores = np.empty((iidx.size, n), dtype=np.float32)
        for block in self._blocks(iidx.size):
            sims = self._similar_items(iidx[block])
            indices[block], scores[block] = topk_rows(
                sims,
                n,
                seen_indptr=self_rows.indptr,
                seen_indices=self_rows.indices,
                seen_rows=np.arange(block.start, block.stop),
                allowed=allowed,
            )
        return indices, scores

    def similar_users(self, users: Any, n: int = 10) -> Recs:
        """The `n` users most similar to each of `users`; `Recs.items` then maps users."""
        self.check_is_fitted()
        self._check_n(n)
        uidx = self.users_.to_index(as_1d(users))
        self_rows = sp.csr_matrix(
            (np.ones(uidx.size, np.float32), uidx, np.arange(uidx.size + 1)), shape=(uidx.size, self.n_users)
        )
        indices = np.empty((uidx.size, n), dtype=np.int32)
        scores = np.empty((uidx.size, n), dtype=np.float32)
        with self._threads():
            for block in self._blocks(uidx.size, width=self.n_users):
                sims = self._similar_users(uidx[block])
                indices[block], scores[block] = topk_rows(
                    sims,
                    n,
                    seen_indptr=self_rows.indptr,
                    seen_indices=self_rows.indices,
                    seen_rows=np.arange(block.start, block.stop),
                )
        return Recs(indices, scores, self.users_, self.users_.to_ids(uidx), "user")

    def explain(self, user: Any, item: Any) -> Explanation:
        """Which of the user's items, neighbours or statistics drove the score of `item`."""
        self.check_is_fitted()
        uidx = int(self.users_.to_index([user])[0])
        iidx = int(self.items_.to_index([item])[0])
        with self._threads():
            score = float(self._predict_pairs(np.array([uidx], np.int32), np.array([iidx], np.int32))[0])
        contributions, text = self._explain(uidx, iidx, score)
        return Explanation(
            user=plain(self.users_.ids[uidx]),
            item=plain(self.items_.ids[iidx]),
            score=score,
            contributions=contributions,
            text=text,
        )

    def fill_caches(self, allowed: Sequence[np.ndarray] = ()) -> None:
        """Compute now what the first queries would compute and keep, so that none of them pays.

        A server calls this on a model before swapping it in: the id maps' hash tables, the
        model's own caches (`_fill_caches`: e.g. ALS's ``Y^T Y`` for fold-in) and, for each
        boolean item mask in `allowed` (the filters being served), what a query under that
        filter reuses (a factor model's packed rows). Answers do not change.
        """
        self.check_is_fitted()
        self.users_.build_lookup()
        self.items_.build_lookup()
        self._fill_caches([self._item_mask(mask) for mask in allowed])

    def _fill_caches(self, allowed: list[np.ndarray]) -> None:
        """Hook: fill the model's own lazy caches (`fill_caches`); most models keep none."""
        return None  # a default, not an abstract hook

    # ----------------------------------------------------------------- persistence
    def save(self, path: Any) -> None:
        """Write the fitted model to directory `path` (meta.json + arrays.npz + manifest.json), atomically.

        Replaces only an empty directory or exactly a likewise model; anything else is refused
        with ModelFormatError and left untouched.
        """
        self.check_is_fitted()
        _saving.save_model(self, path)

    @classmethod
    def load(cls, path: Any) -> Recommender:
        """Read a model directory written by `save`, trusting nothing in it.

        The format, both checksums of manifest.json, every array's dtype and shape (no pickle),
        the class (resolved only through likewise's registry: nothing named in the file is
        imported), the parameters (the constructor's names, validated like `fit` does), the
        id maps, the training matrix and the model's own state are all checked; any problem is
        a ModelFormatError naming the file and the reason (see docs/models.md, "Security model
        of saved files").
        """
        return _saving.load_model(path, cls)

    # ----------------------------------------------------------------- helpers
    def _threads(self) -> Any:
        return thread_limits(self.n_threads)

    def _blocks(self, count: int, *, width: int | None = None) -> Iterator[slice]:
        width = width or max(self.n_items, 1)
        size = max(1, min(count, _BLOCK_CELLS // width))
        for start in range(0, count, size):
            yield slice(start, min(start + size, count))

    @staticmethod
    def _check_n(n: Any) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InvalidParameterError(f"n must be a positive integer, got {n!r}")

    def _allowed_mask(self, exclude: Any, candidates: Any) -> np.ndarray:
        if exclude is not None and candidates is not None:
            raise InvalidParameterError("give either exclude= or candidates=, not both")
        allowed = np.ones(self.n_items, dtype=bool)
        if exclude is not None:
            idx = self.items_.to_index(exclude, missing="lenient")
            allowed[idx[idx >= 0]] = False
        if candidates is not None:
            idx = self.items_.to_index(candidates, missing="lenient")
            allowed[:] = False
            allowed[idx[idx >= 0]] = True
        return allowed

    def _recs(
        self,
        indices: np.ndarray,
        scores: np.ndarray,
        queries: np.ndarray,
        query_name: str,
        fallback: np.ndarray | None = None,
    ) -> Recs:
        return Recs(
            indices, scores, self.items_, np.asarray(queries), query_name, titles=self.item_titles_, fallback=fallback
        )

    def _user_recs(self, indices: np.ndarray, scores: np.ndarray, queries: np.ndarray) -> Recs:
        """Recommendations for users, their scores as `_reported_scores` makes them (after ranking)."""
        valid = indices >= 0
        scores[valid] = self._reported_scores(scores[valid])
        return self._recs(indices, scores, queries, "user")

    def _reported_scores(self, scores: np.ndarray) -> np.ndarray:
        """Recommendation scores as users see them, from the scores they were ranked by.

        Identity here. Rating models clip to the rating scale: ranking happens on the raw
        estimates (clipping first would tie every item predicted above the top of the scale)
        and the reported scores equal `predict`.
        """
        return scores

    def _default_history_weights(self, n_items: int) -> np.ndarray:
        """`recommend_from_history`'s weights when none are given: 1 per item."""
        return np.ones(n_items, dtype=np.float32)

    def item_label(self, iidx: int) -> str:
        """A readable label for an item index: its title when known, else its id."""
        if self.item_titles_ is not None:
            return str(self.item_titles_[iidx])
        return str(self.items_.ids[iidx])


def load(path: Any) -> Recommender:
    """Load any likewise model saved with `save` (see `Recommender.load`)."""
    return Recommender.load(path)
