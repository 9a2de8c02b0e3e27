"""Slope One (Lemire & Maclachlan 2005): item-to-item rating deviations, as Surprise's SlopeOne.

:math:`\\hat r_{ui} = \\mu_u + \\frac{1}{|R_i(u)|} \\sum_{j \\in R_i(u)} dev(i, j)`, with
:math:`dev(i, j)` the mean of :math:`r_{ui} - r_{uj}` over the users who rated both, :math:`\\mu_u`
the user's mean rating and :math:`R_i(u)` the user's items sharing at least ``min_support`` raters
with i. No parameters to learn and no iterations: fitting is two sparse products; a new user is
scored with the same formula from their ratings (fold-in is exact). Kernels:
`likewise.kernels.slopeone`. Cost: fit :math:`O(\\sum_u |I_u|^2)`, memory one float32 and one int32
per co-rated item pair (sparse).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse as sp

from likewise._util import plain
from likewise.data.interactions import Interactions
from likewise.kernels.slopeone import deviations, slopeone_pairs, slopeone_rows
from likewise.models._params import NONE, Interval
from likewise.models._rating import RatingModel, clip_note
from likewise.models.base import FitCallback

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["SlopeOne"]


class SlopeOne(RatingModel):
    """Slope One rating prediction (Surprise's unweighted form).

    Parameters
    ----------
    min_support : int, default 1
        Use a deviation only when at least this many users rated both items (1 = Surprise).
    n_threads : int, optional
        Threads for scoring (None: all cores).

    Attributes
    ----------
    deviations_ : scipy.sparse.csr_matrix of float32 (n_items, n_items)
        :math:`dev(i, j)` over co-rated pairs (antisymmetric).
    support_ : scipy.sparse.csr_matrix of int32
        Number of users behind each deviation (same pattern).
    user_mean_ : ndarray of float64
        Mean rating of each user (the global mean for users without ratings).
    global_mean_ : float
    """

    algorithm = "slope-one"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "min_support": [Interval(int, 1, None)],
        "n_threads": [Interval(int, 0, None), NONE],
    }

    deviations_: sp.csr_matrix
    support_: sp.csr_matrix
    user_mean_: np.ndarray

    def __init__(self, *, min_support: int = 1, n_threads: int | None = None) -> None:
        self.min_support = min_support
        self.n_threads = n_threads

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        self._start_fit(data)
        self.deviations_, self.support_ = deviations(data.matrix, int(self.min_support))
        self._set_user_means()

    def _set_user_means(self) -> None:
        seen = self.seen_
        counts = np.diff(seen.indptr)
        rows = np.repeat(np.arange(counts.size), counts)
        sums = np.bincount(rows, weights=seen.data.astype(np.float64), minlength=counts.size)
        self.user_mean_ = np.divide(sums, counts, out=np.full(counts.size, self.global_mean_), where=counts > 0)

    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        seen = self.seen_
        parallel = uidx.size > 1
        scores = slopeone_rows(
            seen.indptr,
            seen.indices,
            uidx,
            self.deviations_,
            self.user_mean_[uidx],
            self.global_mean_,
            parallel=parallel,
        )
        return self._mean_fallback(scores, uidx)

    def _raw_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        seen = self.seen_
        out = slopeone_pairs(
            uidx, iidx, seen.indptr, seen.indices, self.deviations_, self.user_mean_, self.global_mean_
        )
        out[~(self.user_known_[uidx] & self.item_known_[iidx])] = self.global_mean_
        return out

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        known = self.item_known_[iidx]
        items = np.unique(iidx[known])
        mean = float(np.mean(weights)) if weights.size else self.global_mean_
        if items.size == 0:
            return np.full(self.n_items, self.global_mean_ if weights.size == 0 else mean, dtype=np.float32)
        indptr = np.array([0, items.size], dtype=np.int64)
        scores = slopeone_rows(
            indptr, items, np.zeros(1, np.int64), self.deviations_, np.array([mean]), self.global_mean_, parallel=False
        )
        return self._mean_fallback(scores, None)[0]

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        items, ratings = self._rated_items(uidx)
        mean = float(self.user_mean_[uidx])
        row = slice(self.deviations_.indptr[iidx], self.deviations_.indptr[iidx + 1])
        dev_items = self.deviations_.indices[row]
        dev_values = self.deviations_.data[row]
        support = self.support_.data[row]
        common, in_dev, in_user = np.intersect1d(dev_items, items, assume_unique=True, return_indices=True)
        rows: list[tuple[str, Any, float]] = [("user_mean", plain(self.users_.ids[uidx]), mean)]
        if not (self.user_known_[uidx] and self.item_known_[iidx]):
            text = f"Predicted rating {score:.2f} for {self.item_label(iidx)}: the global mean (no ratings to compare)."
            return self._terms_frame([("global_mean", "mean", self.global_mean_)]), text
        if common.size == 0:
            text = (
                f"Predicted rating {score:.2f} for {self.item_label(iidx)}: the user's mean rating, as nobody rated "
                "it together with the user's items."
            )
            return self._terms_frame(rows), text
        shares = dev_values[in_dev].astype(np.float64) / common.size
        order = np.argsort(-np.abs(shares), kind="stable")
        rows += [("deviation", plain(self.items_.ids[common[k]]), float(shares[k])) for k in order]
        top = order[:3]
        named = ", ".join(
            f"{self.item_label(int(common[k]))} (rated {ratings[in_user[k]]:g}; this item is rated "
            f"{dev_values[in_dev[k]]:+.2f} vs it by {_users(int(support[in_dev[k]]))})"
            for k in top
        )
        raw = mean + float(shares.sum())
        text = (
            f"Predicted rating {score:.2f} for {self.item_label(iidx)}: the user's mean {mean:.2f} plus the average "
            f"deviation {float(shares.sum()):+.2f} over {common.size} of their items{clip_note(raw, score)}; "
            f"largest: {named}."
        )
        return self._terms_frame(rows), text

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        dev = self.deviations_
        arrays = {
            "dev_indptr": dev.indptr,
            "dev_indices": dev.indices,
            "dev_data": dev.data,
            "support_data": self.support_.data,
        }
        return arrays, self._base_state()

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        shape = (self.n_items, self.n_items)
        parts = (arrays["dev_indices"], arrays["dev_indptr"])
        self.deviations_ = sp.csr_matrix((arrays["dev_data"].astype(np.float32), *parts), shape=shape)
        self.support_ = sp.csr_matrix((arrays["support_data"].astype(np.int32), *parts), shape=shape)
        self.deviations_.check_format(full_check=True)
        self._restore_base(state)
        self._set_user_means()


def _users(count: int) -> str:
    return f"{count} user" if count == 1 else f"{count} users"
