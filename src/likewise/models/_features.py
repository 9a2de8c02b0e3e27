"""Side features as model inputs: what HybridMF and ContentKNN share (private).

- `design`: a model's design matrix, ``[identity | named features]``, rows optionally
  normalised to sum 1 (LightFM's ``Dataset`` default). Identity columns are the model's, never
  stored in `Interactions`; `design` gives one only to rows that have training interactions
  (an identity embedding of a row nobody interacted with can only learn "nobody wants me"
  from the negatives, which would bury every cold item under its features' worth).
- `feature_rows`: the rows of new users / items from what a caller passes (lists of names,
  {name: value} dicts, a sparse matrix in the model's column order, or a `FeatureMatrix`
  matched by name), with unknown feature names counted and reported, never dropped silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from likewise.data.interactions import FeatureMatrix
from likewise.exceptions import DataError, DataWarning

__all__ = ["design", "feature_rows", "grow_items", "new_ids", "normalise_rows", "remap_columns"]


def normalise_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Each row divided by its sum of absolute values (empty rows stay empty)."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    sums = np.asarray(abs(matrix).sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    matrix.data *= np.repeat(scale, np.diff(matrix.indptr)).astype(np.float32)
    return matrix


def design(
    n_rows: int, features: FeatureMatrix | None, identity_rows: np.ndarray | None, *, normalise: bool
) -> tuple[sp.csr_matrix, int]:
    """(design CSR, number of identity columns): identity columns first, one per row in
    `identity_rows` (a boolean mask; None: none), then the named features."""
    blocks = []
    n_identity = 0
    if identity_rows is not None:
        rows = np.flatnonzero(identity_rows)
        n_identity = rows.size
        blocks.append(
            sp.csr_matrix((np.ones(rows.size, np.float32), (rows, np.arange(rows.size))), shape=(n_rows, n_identity))
        )
    if features is not None:
        blocks.append(sp.csr_matrix(features.matrix, dtype=np.float32))
    if not blocks:
        return sp.csr_matrix((n_rows, 0), dtype=np.float32), 0
    matrix = sp.csr_matrix(sp.hstack(blocks, format="csr"), dtype=np.float32)
    matrix.sum_duplicates()
    matrix.sort_indices()
    return (normalise_rows(matrix) if normalise else matrix), n_identity


def remap_columns(features: FeatureMatrix, names: np.ndarray, what: str) -> tuple[sp.csr_matrix, list[str]]:
    """A FeatureMatrix's columns placed in `names`' order; returns the unknown names too."""
    position = {str(name): k for k, name in enumerate(names)}
    cols = np.array([position.get(str(name), -1) for name in features.names], dtype=np.int64)
    unknown = [str(name) for name, c in zip(features.names, cols, strict=True) if c < 0]
    coo = sp.coo_matrix(features.matrix)
    keep = cols[coo.col] >= 0
    matrix = sp.csr_matrix(
        (coo.data[keep], (coo.row[keep], cols[coo.col[keep]])), shape=(coo.shape[0], len(names)), dtype=np.float32
    )
    matrix.sum_duplicates()
    return matrix, unknown


def feature_rows(spec: Any, names: np.ndarray, n_rows: int, what: str) -> sp.csr_matrix:
    """CSR (n_rows, len(names)) of the features in `spec`, one entry of `spec` per row.

    Unknown feature names (never seen at fit time) cannot be scored: they are counted and a
    DataWarning names them. Non-finite values raise DataError.
    """
    unknown: list[str] = []
    if isinstance(spec, FeatureMatrix):
        if spec.matrix.shape[0] != n_rows:
            raise DataError(f"{what}: the FeatureMatrix has {spec.matrix.shape[0]} rows for {n_rows} ids")
        matrix, unknown = remap_columns(spec, names, what)
    elif sp.issparse(spec):
        matrix = sp.csr_matrix(spec, dtype=np.float32)
        if matrix.shape != (n_rows, len(names)):
            raise DataError(
                f"{what}: a sparse feature matrix must have shape ({n_rows}, {len(names)}) "
                f"(one column per known feature, in the model's order), got {matrix.shape}"
            )
    else:
        matrix, unknown = _from_rows(spec, names, n_rows, what)
    if not np.isfinite(matrix.data).all():
        raise DataError(f"{what}: feature values must be finite numbers")
    if unknown:
        shown = ", ".join(repr(u) for u in sorted(set(unknown))[:5])
        warnings.warn(
            f"{what}: {len(unknown)} feature assignment(s) name features unknown to the model "
            f"(e.g. {shown}); they cannot contribute and were left out",
            DataWarning,
            stacklevel=3,
        )
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix


def _from_rows(spec: Any, names: np.ndarray, n_rows: int, what: str) -> tuple[sp.csr_matrix, list[str]]:
    if isinstance(spec, (str, bytes)) or not isinstance(spec, Sequence):
        raise DataError(
            f"{what}: features must be a sequence with one entry per id (a list of feature names or a "
            f"{{name: value}} dict), a sparse matrix or a FeatureMatrix; got {type(spec).__name__}"
        )
    if len(spec) != n_rows:
        raise DataError(f"{what}: got features for {len(spec)} rows but {n_rows} ids")
    position = {str(name): k for k, name in enumerate(names)}
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    unknown: list[str] = []
    for row, entry in enumerate(spec):
        pairs = entry.items() if isinstance(entry, Mapping) else ((name, 1.0) for name in _names_of(entry, what, row))
        for name, value in pairs:
            col = position.get(str(name), -1)
            if col < 0:
                unknown.append(str(name))
                continue
            rows.append(row)
            cols.append(col)
            values.append(float(value))
    matrix = sp.csr_matrix(
        (np.asarray(values, np.float32), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
        shape=(n_rows, len(names)),
    )
    return matrix, unknown


def _names_of(entry: Any, what: str, row: int) -> Sequence[Any]:
    if isinstance(entry, str) or not isinstance(entry, (Sequence, np.ndarray)):
        raise DataError(f"{what}: row {row}: expected a list of feature names or a {{name: value}} dict, got {entry!r}")
    return list(entry)


def grow_items(model: Any, raw: np.ndarray) -> np.ndarray:
    """Add the new item ids `raw` to a fitted model's item map, training matrix and titles.

    Returns ``order``: row k of the new item-indexed arrays is row ``order[k]`` of the old
    rows followed by the new ones (ids stay sorted, so indices are re-assigned). DataError
    when an id is known already or repeated.
    """
    from likewise.data.idmap import IdMap

    old = model.items_
    new_map = IdMap(np.concatenate([old.ids, raw]), name=old.name)
    if len(new_map) != len(old) + raw.size:
        known = [v.item() if hasattr(v, "item") else v for v in raw if v in old][:5]
        raise DataError(f"add_items: ids must be new and distinct; already known or repeated: {known}")
    position = new_map.to_index(np.concatenate([old.ids, raw]))
    seen = sp.csr_matrix(model.seen_)
    remapped = sp.csr_matrix((seen.data, position[seen.indices], seen.indptr), shape=(seen.shape[0], len(new_map)))
    remapped.sort_indices()
    model.seen_ = remapped
    order = np.argsort(position)
    if model.item_titles_ is not None:
        titles = np.concatenate([model.item_titles_, np.asarray([str(v) for v in raw])])
        model.item_titles_ = titles[order]
    model.items_ = new_map
    return order


def new_ids(old: Any, ids: Any, side: str) -> np.ndarray:
    """`ids` as an id array of the same type as the IdMap `old` (DataError otherwise)."""
    from likewise.data.idmap import as_id_array

    raw = as_id_array(np.asarray(ids, dtype=object) if isinstance(ids, list) else ids, what=f"new {side} ids")
    if len(old) and (raw.dtype.kind == "U") != old.is_str:
        kinds = ("text", "integers") if raw.dtype.kind == "U" else ("integers", "text")
        raise DataError(f"add_{side}s: the new ids are {kinds[0]} but the model's {side} ids are {kinds[1]}")
    return raw
