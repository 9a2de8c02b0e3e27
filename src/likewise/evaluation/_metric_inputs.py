"""Argument checks and shared steps of the metrics (`likewise.evaluation.metrics`): list and
relevance inputs as documented there, hits, relevant counts.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.sparse as sp

from likewise.exceptions import InvalidParameterError

__all__ = ["check_k", "gains_at", "n_relevant", "prepare", "rec_matrix", "relevance", "undefined_where"]


# --------------------------------------------------------------------------- validation


def check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or int(k) < 1:
        raise InvalidParameterError(f"k must be a positive integer, got {k!r}")
    return int(k)


def rec_matrix(rec_indices: Any, k: int | None = None, n_items: int | None = None) -> np.ndarray:
    """Validate a recommendation matrix; return it as int64 (n_users, k)."""
    recs = np.asarray(rec_indices)
    if recs.ndim != 2:
        raise InvalidParameterError(f"rec_indices must be a 2-D array (n_users, k), got shape {recs.shape}")
    if recs.size and recs.dtype.kind not in "iu":
        raise InvalidParameterError(f"rec_indices must hold integer item indices, got dtype {recs.dtype}")
    recs = recs.astype(np.int64, copy=False)
    if k is not None:
        k = check_k(k)
        if k <= recs.shape[1]:
            recs = recs[:, :k]
        else:
            pad = np.full((recs.shape[0], k - recs.shape[1]), -1, dtype=np.int64)
            recs = np.hstack([recs, pad])
    if recs.size:
        low = int(recs.min())
        if low < -1:
            raise InvalidParameterError(f"rec_indices must be item indices >= 0 or -1 for padding, got {low}")
        if n_items is not None and int(recs.max()) >= n_items:
            raise InvalidParameterError(
                f"rec_indices hold item index {int(recs.max())} but there are only {n_items} items"
            )
        ordered = np.sort(recs, axis=1)
        dup = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
        if dup.any():
            row = int(np.flatnonzero(dup.any(axis=1))[0])
            item = int(ordered[row, 1:][dup[row]][0])
            raise InvalidParameterError(f"rec_indices row {row} recommends item {item} more than once")
    return recs


def relevance(relevant: Any, n_rows: int) -> sp.csr_matrix:
    """Validate a relevance matrix; return CSR float64, positive entries only, sorted indices."""
    if sp.issparse(relevant):
        rel = sp.csr_matrix(relevant, dtype=np.float64, copy=True)
    else:
        dense = np.asarray(relevant, dtype=np.float64)
        if dense.ndim != 2:
            raise InvalidParameterError(f"relevant must be a 2-D (n_users, n_items) matrix, got shape {dense.shape}")
        rel = sp.csr_matrix(dense)
    if rel.shape[0] != n_rows:
        raise InvalidParameterError(
            f"relevant has {rel.shape[0]} rows but rec_indices has {n_rows}; row r of both must be the same user"
        )
    rel.sum_duplicates()
    if not np.isfinite(rel.data).all():
        raise InvalidParameterError("relevant holds NaN or infinite gains")
    if rel.nnz and rel.data.min() < 0:
        raise InvalidParameterError(f"relevant holds a negative gain ({rel.data.min():g}); gains must be >= 0")
    rel.eliminate_zeros()
    rel.sort_indices()
    return rel


def prepare(rec_indices: Any, relevant: Any, k: int | None) -> tuple[np.ndarray, sp.csr_matrix]:
    recs = rec_matrix(rec_indices, k)
    rel = relevance(relevant, recs.shape[0])
    if recs.size and int(recs.max()) >= rel.shape[1]:
        raise InvalidParameterError(
            f"rec_indices hold item index {int(recs.max())} but there are only {rel.shape[1]} items"
        )
    return recs, rel


def gains_at(recs: np.ndarray, rel: sp.csr_matrix) -> np.ndarray:
    """Gain of the item at each list position (0 for a miss or padding), float64 (n, k)."""
    n_rows, width = recs.shape
    n_cols = rel.shape[1]
    out = np.zeros((n_rows, width), dtype=np.float64)
    if rel.nnz == 0 or recs.size == 0:
        return out
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(rel.indptr))
    keys = rows * n_cols + rel.indices  # ascending: CSR rows in order, indices sorted
    valid = recs >= 0
    query = np.nonzero(valid)[0].astype(np.int64) * n_cols + recs[valid]
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    out[valid] = np.where(keys[pos] == query, rel.data[pos], 0.0)
    return out


def n_relevant(rel: sp.csr_matrix) -> np.ndarray:
    return np.diff(rel.indptr).astype(np.float64)


def undefined_where(values: np.ndarray, undefined: np.ndarray) -> np.ndarray:
    values = values.astype(np.float64, copy=False)
    values[undefined] = np.nan
    return values
