"""EASE: Embarrassingly Shallow Autoencoder (Steck 2019), a closed-form item-item model.

EASE learns an item x item weight matrix B with a zero diagonal that reconstructs the
interaction matrix X from itself, ``min |X - X B|^2 + reg |B|^2  s.t. diag(B) = 0``. The
solution is closed form:

    P = (X^T X + reg I)^-1,   B_ij = -P_ij / P_jj  (i != j),   B_jj = 0

and a user's scores are ``x_u B`` (fold-in for a new user is therefore exact). One dense
item x item matrix is the whole model, so memory is about ``4 n_items^2`` bytes (float32; the
inversion is done in place with LAPACK's Cholesky routines) and fitting costs O(n_items^3):
fine up to a few tens of thousands of items, impossible beyond. Above ``max_items`` the model
refuses with the numbers, and points to ItemKNN (sparse neighbours) or ALS (factors).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse as sp

from likewise._util import join_words
from likewise.data.interactions import Interactions
from likewise.exceptions import FitError, NotSupportedError
from likewise.kernels._threads import blas_threads
from likewise.models._factor import item_contributions
from likewise.models._params import BOOL, NONE, Interval
from likewise.models.base import FitCallback, Recommender

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["EASE"]

_BLOCK = 1024  # rows per block when symmetrising in place
_GRAM_BLOCK_NNZ = 4_000_000  # interactions per block of users when accumulating X^T X


class EASE(Recommender):
    """Steck's EASE^R: a closed-form, L2-regularised item-item linear model.

    Parameters
    ----------
    reg : float, default 500.0
        L2 regularisation lambda (Steck uses 200-1000 on MovieLens 20M / Netflix; smaller
        data sets want smaller values).
    binary : bool, default True
        Use X = 1 for every interaction (as in the paper); False uses the stored values
        (ratings, counts) as X.
    max_items : int, default 40_000
        Largest catalogue EASE accepts: the model is a dense n_items x n_items float32
        matrix, ``4 * n_items^2`` bytes (6.4 GB at 40,000 items).
    n_threads : int or None
        Threads for the LAPACK inversion and the scoring products (None: all cores).

    Attributes
    ----------
    item_weights_ : float32 array (n_items, n_items)
        B; ``item_weights_[j, i]`` is how much having item j adds to item i's score.

    Notes
    -----
    H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019.
    """

    algorithm = "ease"
    demo_params: ClassVar[dict[str, Any] | None] = {"reg": 500.0}

    supports_similar_items: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "reg": [Interval(float, 0, None)],
        "binary": [BOOL],
        "max_items": [Interval(int, 1, None)],
        "n_threads": [Interval(int, 0, None), NONE],
    }

    def __init__(
        self, *, reg: float = 500.0, binary: bool = True, max_items: int = 40_000, n_threads: int | None = None
    ) -> None:
        self.reg = reg
        self.binary = binary
        self.max_items = max_items
        self.n_threads = n_threads

    # ----------------------------------------------------------------- training
    def _fit(self, data: Interactions, callback: FitCallback | None) -> None:
        n = data.n_items
        if n > self.max_items:
            raise NotSupportedError(
                f"EASE needs a dense {n:,} x {n:,} item matrix ({_gigabytes(n)} as float32) for {n:,} items, "
                f"above max_items={self.max_items:,} ({_gigabytes(self.max_items)}). For a catalogue this size "
                "use ItemKNN (sparse neighbours) or ALS (factors), or raise max_items if the memory is there."
            )
        X = self._design(data.matrix)
        with blas_threads(self.n_threads):
            weights = _ease_weights(X, float(self.reg))
        self.item_weights_ = weights
        if callback is not None:
            callback(0, {})
        self.n_iter_ = 1

    def _design(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        if not self.binary:
            return matrix
        return sp.csr_matrix((np.ones(matrix.nnz, np.float32), matrix.indices, matrix.indptr), shape=matrix.shape)

    # ----------------------------------------------------------------- scoring
    def _score_users(self, uidx: np.ndarray) -> np.ndarray:
        rows = self.seen_[uidx]
        if self.binary:
            rows.data = np.ones_like(rows.data)
        with blas_threads(self.n_threads):
            return np.asarray(rows @ self.item_weights_, dtype=np.float32)

    def _score_history(self, iidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        x = (weights != 0).astype(np.float32) if self.binary else weights.astype(np.float32)
        return np.asarray(x @ self.item_weights_[iidx], dtype=np.float32).reshape(-1)

    def _similar_items(self, iidx: np.ndarray) -> np.ndarray:
        # row i of B: the scores of a user whose only item is i
        return np.ascontiguousarray(self.item_weights_[iidx])

    # ----------------------------------------------------------------- explain
    def _explain(self, uidx: int, iidx: int, score: float) -> tuple[pd.DataFrame, str]:
        start, end = self.seen_.indptr[uidx], self.seen_.indptr[uidx + 1]
        items = self.seen_.indices[start:end]
        x = np.ones(items.size, np.float32) if self.binary else self.seen_.data[start:end]
        frame, top = item_contributions(self, items, x * self.item_weights_[items, iidx])
        if not top:
            return frame, f"{self.item_label(iidx)} scores {score:.3g}; the user has no past items to explain it."
        text = (
            f"{self.item_label(iidx)} scores {score:.3g}, the sum of the weights of the user's "
            f"{items.size} item{'s' if items.size != 1 else ''}; the largest: {join_words(top)}."
        )
        return frame, text

    # ----------------------------------------------------------------- persistence
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"item_weights": self.item_weights_}, {"n_iter": self.n_iter_}

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.item_weights_ = np.ascontiguousarray(arrays["item_weights"], dtype=np.float32)
        if self.item_weights_.shape != (self.n_items, self.n_items):
            raise ValueError("item_weights do not match the items")
        self.n_iter_ = int(state.get("n_iter", 1))


def _gigabytes(n_items: int) -> str:
    return f"{4 * n_items * n_items / 1e9:.1f} GB"


def _gram(X: sp.csr_matrix) -> np.ndarray:
    """Dense X^T X (float32), accumulated over blocks of users so the sparse products stay small."""
    n = X.shape[1]
    G = np.zeros((n, n), dtype=np.float32)
    indptr = X.indptr
    start = 0
    while start < X.shape[0]:
        stop = int(np.searchsorted(indptr, indptr[start] + _GRAM_BLOCK_NNZ, side="right")) - 1
        stop = min(max(stop, start + 1), X.shape[0])
        block = X[start:stop]
        product = (block.T @ block).tocoo()
        G[product.row, product.col] += product.data.astype(np.float32)
        start = stop
    return G


def _ease_weights(X: sp.csr_matrix, reg: float) -> np.ndarray:
    """B = I - P diag(1/diag(P)) with P = (X^T X + reg I)^-1 and diag(B) = 0, in one n x n buffer."""
    from scipy.linalg import lapack  # scipy.linalg costs ~0.1 s to import: only fitting needs it

    G = _gram(X)
    n = G.shape[0]
    if n == 0:
        return G
    G[np.diag_indices(n)] += np.float32(reg)
    # G is symmetric, so its transpose is the same matrix in Fortran order: LAPACK works in place.
    fortran = G.T
    factor, info = lapack.spotrf(fortran, lower=0, overwrite_a=1, clean=0)
    if info != 0:
        raise FitError(f"X^T X + reg I is not positive definite (LAPACK potrf info={info}); use reg > 0 (got {reg})")
    inverse, info = lapack.spotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise FitError(f"inverting X^T X + reg I failed (LAPACK potri info={info}); raise reg (got {reg})")
    P = np.ascontiguousarray(inverse.T)  # G itself when LAPACK worked in place
    # potri filled the Fortran upper triangle = the C lower triangle of P; mirror it block by block
    for lo in range(0, n, _BLOCK):
        hi = min(lo + _BLOCK, n)
        P[lo:hi, hi:] = P[hi:, lo:hi].T
        diag_block = P[lo:hi, lo:hi]
        lower = np.tril(diag_block)
        P[lo:hi, lo:hi] = lower + np.tril(diag_block, -1).T
    diag = P.diagonal().copy()
    P /= -diag[None, :]
    P[np.diag_indices(n)] = 0.0
    return P
