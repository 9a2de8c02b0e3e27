"""Co-clustering (George & Merugu 2005), as Surprise's CoClustering.

Users and items are each assigned to a few clusters; a rating is predicted as

:math:`\\hat r_{ui} = \\bar C_{ab} + (\\mu_u - \\bar C^U_a) + (\\mu_i - \\bar C^I_b)`

with :math:`a, b` the clusters of u and i, :math:`\\bar C_{ab}` the mean rating of the co-cluster,
:math:`\\bar C^U_a, \\bar C^I_b` the means of the user and item clusters and :math:`\\mu_u, \\mu_i` the
user and item means. Training starts from random clusters and alternates: averages, then each
user's best cluster, then each item's (Surprise's algorithm; kernels in
`likewise.kernels.coclustering`, parallel over rows and deterministic). A new user is assigned
to the cluster that best explains their ratings. Cost per epoch
:math:`O(|R| (k_U + k_I))`; memory :math:`O(|U| + |I| + k_U k_I)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from likewise._util import check_random_state, plain
from likewise.data.interactions import Interactions
from likewise.kernels._threads import thread_limits
from likewise.kernels.coclustering import assign_clusters, cluster_averages
from likewise.models._params import NONE, Interval, RandomState
from likewise.models._rating import EpochModel, clip_note
from likewise.models.base import FitCallback

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["CoClustering"]


class CoClustering(EpochModel):
    """Co-clustering rating prediction.

    Parameters
    ----------
    n_user_clusters, n_item_clusters : int, default 3
    n_epochs : int, default 20
    early_stopping_rounds : int, optional
        With ``fit(..., validation=...)``: stop when the validation RMSE has not improved for
        this many epochs and keep the best epoch.
    n_threads : int, optional
    random_state : int, numpy Generator or None
        Seed of the initial random clusters.

    Attributes
    ----------
    user_cluster_, item_cluster_ : ndarray of int64
    user_mean_, item_mean_ : ndarray of float64 (global mean when no ratings)
    user_cluster_mean_, item_cluster_mean_ : ndarray of float64
    cocluster_mean_ : ndarray of float64 (n_user_clusters, n_item_clusters)
    global_mean_, loss_history_, n_iter_
    """

    algorithm = "co-clustering"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_user_clusters": [Interval(int, 1, None)],
        "n_item_clusters": [Interval(int, 1, None)],
        "n_epochs": [Interval(int, 1, None)],
        "early_stopping_rounds": [Interval(int, 1, None), NONE],
        "n_threads": [Interval(int, 0, None), NONE],
        "random_state": [RandomState, NONE],
    }

    user_cluster_: np.ndarray
    item_cluster_: np.ndarray
    user_mean_: np.ndarray
    item_mean_: np.ndarray
    user_cluster_mean_: np.ndarray
    item_cluster_mean_: np.ndarray
    cocluster_mean_: np.ndarray

    def __init__(
        self,
        *,
        n_user_clusters: int = 3,
        n_item_clusters: int = 3,
        n_epochs: int = 20,
        early_stopping_rounds: int | None = None,
        n_threads: int | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.n_user_clusters = n_user_clusters
        self.n_item_clusters = n_item_clusters
        self.n_epochs = n_epochs
        self.early_stopping_rounds = early_stopping_rounds
        self.n_threads = n_threads
        self.random_state = random_state

    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        self._start_fit(data)
        rng = check_random_state(self.random_state)
        k_u, k_i = int(self.n_user_clusters), int(self.n_item_clusters)
        self.user_cluster_ = rng.integers(0, k_u, size=data.n_users).astype(np.int64)
        self.item_cluster_ = rng.integers(0, k_i, size=data.n_items).astype(np.int64)
        users, items = data.user_indices, data.item_indices
        ratings = data.values.astype(np.float64)
        mu = self.global_mean_
        self.user_mean_ = _means(users, ratings, data.n_users, mu)
        self.item_mean_ = _means(items, ratings, data.n_items, mu)
        csr = data.matrix
        csc = csr.tocsc()
        csc.sort_indices()

        def averages() -> None:
            self.user_cluster_mean_, self.item_cluster_mean_, self.cocluster_mean_ = cluster_averages(
                users, items, ratings, self.user_cluster_, self.item_cluster_, k_u, k_i, mu
            )

        def epoch() -> float:
            self.user_cluster_ = assign_clusters(
                csr.indptr,
                csr.indices,
                csr.data,
                self.user_mean_,
                self.item_mean_,
                self.item_cluster_,
                self.cocluster_mean_,
                self.user_cluster_mean_,
                self.item_cluster_mean_,
                rows_are_users=True,
            )
            self.item_cluster_ = assign_clusters(
                csc.indptr,
                csc.indices,
                csc.data,
                self.item_mean_,
                self.user_mean_,
                self.user_cluster_,
                self.cocluster_mean_,
                self.item_cluster_mean_,
                self.user_cluster_mean_,
                rows_are_users=False,
            )
            averages()
            return float(np.sum((ratings - self._formula(users, items)) ** 2))

        def snapshot() -> tuple[np.ndarray, ...]:
            return tuple(a.copy() for a in self._clusters())

        def restore(saved: tuple[np.ndarray, ...]) -> None:
            (
                self.user_cluster_,
                self.item_cluster_,
                self.user_cluster_mean_,
                self.item_cluster_mean_,
                self.cocluster_mean_,
            ) = saved

        averages()
        with thread_limits(self.n_threads):
            self._run_epochs(data.nnz, epoch, callback, snapshot, restore)

    def _clusters(self) -> tuple[np.ndarray, ...]:
        return (
            self.user_cluster_,
            self.item_cluster_,
            self.user_cluster_mean_,
            self.item_cluster_mean_,
            self.cocluster_mean_,
        )

    def _formula(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        a, b = self.user_cluster_[uidx], self.item_cluster_[iidx]
        return (
            self.cocluster_mean_[a, b]
            + self.user_mean_[uidx]
            - self.user_cluster_mean_[a]
            + self.item_mean_[iidx]
            - self.item_cluster_mean_[b]
        )

    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        a = self.user_cluster_[uidx]
        b = self.item_cluster_
        scores = self.cocluster_mean_[a][:, b]
        scores += (self.user_mean_[uidx] - self.user_cluster_mean_[a])[:, None]
        scores += (self.item_mean_ - self.item_cluster_mean_[b])[None, :]
        return self._mean_fallback(scores.astype(np.float32), uidx)

    def _raw_pairs(self, uidx: np.ndarray, iidx: np.ndarray) -> np.ndarray:
        out = self._formula(uidx, iidx)
        out[~(self.user_known_[uidx] & self.item_known_[iidx])] = self.global_mean_
        return out.astype(np.float32)

    def _assign_new_user(self, iidx: np.ndarray, ratings: np.ndarray) -> tuple[int, float]:
        """(best user cluster, user mean) for a new user's ratings."""
        known = self.item_known_[iidx]
        iidx, ratings = iidx[known], ratings[known].astype(np.float64)
        mean = float(ratings.mean())
        b = self.item_cluster_[iidx]
        errors = [
            float(
                np.sum(
                    (
                        ratings
                        - (
                            self.cocluster_mean_[a, b]
                            + mean
                            - self.user_cluster_mean_[a]
                            + self.item_mean_[iidx]
                            - self.item_cluster_mean_[b]
                        )
                    )
                    ** 2
                )
            )
            for a in range(self.cocluster_mean_.shape[0])
        ]
        return int(np.argmin(errors)), mean

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        if not self.item_known_[iidx].any():
            return np.full(self.n_items, self.global_mean_, dtype=np.float32)
        a, mean = self._assign_new_user(iidx, weights)
        b = self.item_cluster_
        scores = (
            self.cocluster_mean_[a, b]
            + mean
            - self.user_cluster_mean_[a]
            + self.item_mean_
            - self.item_cluster_mean_[b]
        )
        return self._mean_fallback(scores.astype(np.float32)[None, :], None)[0]

    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        if not (self.user_known_[uidx] and self.item_known_[iidx]):
            text = f"Predicted rating {score:.2f} for {self.item_label(iidx)}: the global mean (no ratings to use)."
            return self._terms_frame([("global_mean", "mean", self.global_mean_)]), text
        a, b = int(self.user_cluster_[uidx]), int(self.item_cluster_[iidx])
        co = float(self.cocluster_mean_[a, b])
        user_off = float(self.user_mean_[uidx] - self.user_cluster_mean_[a])
        item_off = float(self.item_mean_[iidx] - self.item_cluster_mean_[b])
        frame = self._terms_frame(
            [
                ("cocluster_mean", f"user cluster {a} x item cluster {b}", co),
                ("user_offset", plain(self.users_.ids[uidx]), user_off),
                ("item_offset", plain(self.items_.ids[iidx]), item_off),
            ]
        )
        raw = co + user_off + item_off
        text = (
            f"Predicted rating {score:.2f} for {self.item_label(iidx)}: users of cluster {a} rate items of cluster {b} "
            f"{co:.2f} on average; this user rates {user_off:+.2f} vs their cluster and this item is rated "
            f"{item_off:+.2f} vs its cluster{clip_note(raw, score)}."
        )
        return frame, text

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "user_cluster": self.user_cluster_,
            "item_cluster": self.item_cluster_,
            "user_mean": self.user_mean_,
            "item_mean": self.item_mean_,
            "user_cluster_mean": self.user_cluster_mean_,
            "item_cluster_mean": self.item_cluster_mean_,
            "cocluster_mean": self.cocluster_mean_,
            **self._history_state(),
        }
        return arrays, self._epoch_state()

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.user_cluster_ = arrays["user_cluster"].astype(np.int64)
        self.item_cluster_ = arrays["item_cluster"].astype(np.int64)
        self.user_mean_ = arrays["user_mean"].astype(np.float64)
        self.item_mean_ = arrays["item_mean"].astype(np.float64)
        self.user_cluster_mean_ = arrays["user_cluster_mean"].astype(np.float64)
        self.item_cluster_mean_ = arrays["item_cluster_mean"].astype(np.float64)
        self.cocluster_mean_ = arrays["cocluster_mean"].astype(np.float64)
        k_u, k_i = self.cocluster_mean_.shape
        if self.user_cluster_.shape != (self.n_users,) or self.item_cluster_.shape != (self.n_items,):
            raise ValueError("cluster assignments do not match the users and items")
        bad_user = self.user_cluster_.size > 0 and int(self.user_cluster_.max()) >= k_u
        bad_item = self.item_cluster_.size > 0 and int(self.item_cluster_.max()) >= k_i
        if bad_user or bad_item or self.user_cluster_.min(initial=0) < 0 or self.item_cluster_.min(initial=0) < 0:
            raise ValueError("cluster index out of range")
        self._restore_base(state)
        self._restore_history(arrays, state)


def _means(index: np.ndarray, ratings: np.ndarray, size: int, fallback: float) -> np.ndarray:
    sums = np.bincount(index, weights=ratings, minlength=size)
    counts = np.bincount(index, minlength=size)
    return np.divide(sums, counts, out=np.full(size, fallback), where=counts > 0)
