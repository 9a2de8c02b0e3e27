"""Interactions: who interacted with what, as a CSR users x items matrix plus its id maps.

The canonical layout is CSR with rows sorted by item index, float32 values, int32 indices
(int64 indptr past 2**31 entries). Optional per-interaction timestamps are aligned with the
CSR data array. A stored value of 0 is an interaction (a 0 rating on a 0-2 scale), never
"missing": likewise never calls `eliminate_zeros` on interaction matrices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp

from likewise.data._build import DuplicatePolicy, OnError, build_arrays
from likewise.data.idmap import IdMap
from likewise.data.report import LoadReport
from likewise.exceptions import DataError, InvalidParameterError

if TYPE_CHECKING:  # pandas costs ~0.2 s to import; it loads only where a DataFrame is made
    import pandas as pd

__all__ = ["FeatureMatrix", "Interactions", "Kind"]

Kind = Literal["explicit", "implicit"]


@dataclass(frozen=True, eq=False)
class FeatureMatrix:
    """Sparse side features, one row per user (or item) index, one column per named feature."""

    matrix: sp.csr_matrix
    names: np.ndarray

    def __post_init__(self) -> None:
        if self.matrix.shape[1] != len(self.names):
            raise DataError(f"feature matrix has {self.matrix.shape[1]} columns but {len(self.names)} names")

    @classmethod
    def from_pairs(cls, idmap: IdMap, entity_ids: Any, feature_names: Any, values: Any = None) -> FeatureMatrix:
        """Build from (entity id, feature name[, value]) pairs; every entity must be in `idmap`."""
        rows = idmap.to_index(entity_ids)
        names_arr = np.asarray(feature_names, dtype=str)
        names, cols = np.unique(names_arr, return_inverse=True)
        data = np.ones(rows.size, dtype=np.float32) if values is None else np.asarray(values, np.float32)
        matrix = sp.csr_matrix((data, (rows, cols)), shape=(len(idmap), names.size), dtype=np.float32)
        matrix.sum_duplicates()
        return cls(matrix, names)

    def subset_rows(self, rows: np.ndarray) -> FeatureMatrix:
        return FeatureMatrix(sp.csr_matrix(self.matrix[rows]), self.names)

    def row_names(self, row: int) -> list[str]:
        start, end = self.matrix.indptr[row], self.matrix.indptr[row + 1]
        return [str(n) for n in self.names[self.matrix.indices[start:end]]]


class Interactions:
    """A log of user-item interactions, indexed densely, ready for models.

    Build with `from_frame`, `from_arrays`, `from_scipy` or a reader (`likewise.read_csv`,
    `likewise.read_parquet`, `likewise.data.movielens`). Every constructor validates every row.

    Attributes
    ----------
    users, items : IdMap
    matrix : scipy.sparse.csr_matrix, float32, shape (n_users, n_items)
    timestamps : int64 array aligned with ``matrix.data`` (seconds), or None
    kind : "explicit" (ratings on ``rating_scale``) or "implicit" (positive weights)
    user_features, item_features : FeatureMatrix or None
    item_info, user_info : DataFrame (one row per index, indexed by raw id) or None
    report : LoadReport describing how the data was read
    """

    def __init__(
        self,
        users: IdMap,
        items: IdMap,
        matrix: sp.csr_matrix | sp.csr_array,
        *,
        timestamps: np.ndarray | None = None,
        kind: Kind = "implicit",
        rating_scale: tuple[float, float] | None = None,
        user_features: FeatureMatrix | None = None,
        item_features: FeatureMatrix | None = None,
        item_info: pd.DataFrame | None = None,
        user_info: pd.DataFrame | None = None,
        report: LoadReport | None = None,
    ) -> None:
        matrix = sp.csr_matrix(matrix)
        if matrix.shape != (len(users), len(items)):
            raise DataError(f"matrix shape {matrix.shape} does not match {len(users)} users x {len(items)} items")
        if kind not in ("explicit", "implicit"):
            raise InvalidParameterError(f"kind must be 'explicit' or 'implicit', got {kind!r}")
        if matrix.dtype != np.float32:
            matrix = matrix.astype(np.float32)
        if not matrix.has_sorted_indices:
            if timestamps is not None:
                raise DataError("timestamps need a matrix with sorted indices")
            matrix.sort_indices()
        if timestamps is not None and np.asarray(timestamps).shape != (matrix.nnz,):
            raise DataError(f"timestamps must have one entry per interaction ({matrix.nnz})")
        for name, feats, idmap in (("user", user_features, users), ("item", item_features, items)):
            if feats is not None and feats.matrix.shape[0] != len(idmap):
                raise DataError(f"{name} features have {feats.matrix.shape[0]} rows for {len(idmap)} {name}s")
        for name, info, idmap in (("user", user_info, users), ("item", item_info, items)):
            if info is not None and len(info) != len(idmap):
                raise DataError(f"{name}_info has {len(info)} rows for {len(idmap)} {name}s")
        self.users = users
        self.items = items
        self.matrix = matrix
        self.timestamps = None if timestamps is None else np.asarray(timestamps, dtype=np.int64)
        self.kind: Kind = kind
        self.rating_scale = rating_scale if kind == "explicit" else None
        self.user_features = user_features
        self.item_features = item_features
        self.item_info = item_info
        self.user_info = user_info
        self.report = report or LoadReport(
            source="matrix",
            rows_read=matrix.nnz,
            n_users=len(users),
            n_items=len(items),
            n_interactions=matrix.nnz,
        )

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_arrays(
        cls,
        user_ids: Any,
        item_ids: Any,
        values: Any = None,
        timestamps: Any = None,
        *,
        kind: Kind | None = None,
        rating_scale: tuple[float, float] | None = None,
        duplicates: DuplicatePolicy | None = None,
        on_error: OnError = "raise",
        users: IdMap | None = None,
        items: IdMap | None = None,
        source: str = "arrays",
        row_labels: np.ndarray | None = None,
        label_kind: str = "row",
        report: LoadReport | None = None,
    ) -> Interactions:
        """Build from parallel columns of raw ids, values (ratings or weights) and timestamps.

        ``kind`` defaults to "explicit" when values are given, else "implicit" (weight 1).
        ``duplicates`` defaults to "error" for explicit data and "sum" for implicit data.
        ``on_error="skip"`` drops invalid rows and counts them in ``report``.
        ``users`` / ``items`` fix the id universe (e.g. a catalogue with unrated items).
        """
        for field, column in (("user", user_ids), ("item", item_ids), ("rating", values), ("timestamp", timestamps)):
            if column is not None and np.ndim(column) != 1:
                raise DataError(f"{source}: {field}: expected a 1-dimensional array (got {np.ndim(column)} dimensions)")
        built = build_arrays(
            user_ids,
            item_ids,
            values,
            timestamps,
            kind=kind,
            rating_scale=rating_scale,
            duplicates=duplicates,
            on_error=on_error,
            users=users,
            items=items,
            source=source,
            row_labels=row_labels,
            label_kind=label_kind,
            report=report,
        )
        matrix = sp.csr_matrix((built.data, built.indices, built.indptr), shape=(len(built.users), len(built.items)))
        return cls(
            built.users,
            built.items,
            matrix,
            timestamps=built.timestamps,
            kind=built.kind,
            rating_scale=built.rating_scale,
            report=built.report,
        )

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        *,
        user: str = "user",
        item: str = "item",
        rating: str | None = None,
        weight: str | None = None,
        timestamp: str | None = None,
        rating_scale: tuple[float, float] | None = None,
        duplicates: DuplicatePolicy | None = None,
        on_error: OnError = "raise",
        users: IdMap | None = None,
        items: IdMap | None = None,
        source: str = "DataFrame",
    ) -> Interactions:
        """Build from a pandas (or polars) DataFrame.

        Give ``rating`` for explicit ratings or ``weight`` for implicit weights (counts, plays);
        with neither, every row is an implicit interaction of weight 1.
        """
        import pandas as pd

        if rating is not None and weight is not None:
            raise InvalidParameterError("give either rating= (explicit) or weight= (implicit), not both")
        if hasattr(frame, "to_pandas") and not isinstance(frame, pd.DataFrame):
            frame = frame.to_pandas()  # polars
        if not isinstance(frame, pd.DataFrame):
            raise InvalidParameterError(f"expected a pandas or polars DataFrame, got {type(frame).__name__}")
        wanted = {"user": user, "item": item, "rating": rating, "weight": weight, "timestamp": timestamp}
        missing = [f"{col!r} ({role})" for role, col in wanted.items() if col is not None and col not in frame.columns]
        if missing:
            raise DataError(
                f"{source}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                f"columns are {list(map(str, frame.columns))}"
            )
        value_col = rating if rating is not None else weight
        labels = np.arange(len(frame))
        return cls.from_arrays(
            frame[user],
            frame[item],
            None if value_col is None else frame[value_col],
            None if timestamp is None else frame[timestamp],
            kind="explicit" if rating is not None else "implicit",
            rating_scale=rating_scale,
            duplicates=duplicates,
            on_error=on_error,
            users=users,
            items=items,
            source=source,
            row_labels=labels,
            label_kind="row",
        )

    @classmethod
    def from_scipy(
        cls,
        matrix: Any,
        *,
        users: IdMap | Sequence[Any] | None = None,
        items: IdMap | Sequence[Any] | None = None,
        kind: Kind = "implicit",
        rating_scale: tuple[float, float] | None = None,
    ) -> Interactions:
        """Wrap a scipy sparse users x items matrix; ids default to 0..n-1."""
        csr = sp.csr_matrix(matrix, dtype=np.float32)
        csr.sum_duplicates()
        if not np.isfinite(csr.data).all():
            raise DataError("matrix holds NaN or infinite values")
        user_map = (
            users
            if isinstance(users, IdMap)
            else IdMap(np.arange(csr.shape[0]) if users is None else users, name="user")
        )
        item_map = (
            items
            if isinstance(items, IdMap)
            else IdMap(np.arange(csr.shape[1]) if items is None else items, name="item")
        )
        if kind == "explicit" and rating_scale is None and csr.nnz:
            rating_scale = (float(csr.data.min()), float(csr.data.max()))
        return cls(user_map, item_map, csr, kind=kind, rating_scale=rating_scale)

    # ----------------------------------------------------------------- views
    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    def __len__(self) -> int:
        return self.nnz

    @property
    def density(self) -> float:
        cells = self.n_users * self.n_items
        return self.nnz / cells if cells else 0.0

    @property
    def user_indices(self) -> np.ndarray:
        """Row (user index) of every stored interaction, aligned with ``matrix.data``."""
        return np.repeat(np.arange(self.n_users, dtype=np.int32), np.diff(self.matrix.indptr))

    @property
    def item_indices(self) -> np.ndarray:
        return self.matrix.indices

    @property
    def values(self) -> np.ndarray:
        return self.matrix.data

    def to_csr(self) -> sp.csr_matrix:
        """A copy of the users x items matrix (float32)."""
        return self.matrix.copy()

    def to_frame(self) -> pd.DataFrame:
        """Long format: user, item, rating (explicit) or weight (implicit)[, timestamp]."""
        import pandas as pd

        cols: dict[str, Any] = {
            "user": self.users.to_ids(self.user_indices),
            "item": self.items.to_ids(self.item_indices),
            "rating" if self.kind == "explicit" else "weight": self.values.copy(),
        }
        if self.timestamps is not None:
            cols["timestamp"] = self.timestamps.copy()
        return pd.DataFrame(cols)

    def subset(self, selection: np.ndarray) -> Interactions:
        """Keep the interactions at `selection` (boolean mask or positions in CSR order).

        Id maps, features and info are shared, so indices stay comparable between the pieces
        of a split (a user with no interactions left keeps an empty row).
        """
        sel = np.asarray(selection)
        if sel.dtype == bool:
            if sel.shape != (self.nnz,):
                raise InvalidParameterError(f"mask must have shape ({self.nnz},), got {sel.shape}")
            positions = np.flatnonzero(sel)
        else:
            positions = np.unique(sel.astype(np.int64))
            if positions.size and (positions[0] < 0 or positions[-1] >= self.nnz):
                raise InvalidParameterError("positions out of range")
        rows = self.user_indices[positions]
        counts = np.bincount(rows, minlength=self.n_users)
        indptr = np.zeros(self.n_users + 1, dtype=self.matrix.indptr.dtype)
        np.cumsum(counts, out=indptr[1:])
        matrix = sp.csr_matrix(
            (self.matrix.data[positions], self.matrix.indices[positions], indptr),
            shape=self.matrix.shape,
        )
        report = LoadReport(
            source=f"subset of {self.report.source}",
            rows_read=positions.size,
            n_users=self.n_users,
            n_items=self.n_items,
            n_interactions=positions.size,
        )
        return self._replace(matrix, None if self.timestamps is None else self.timestamps[positions], report)

    def _replace(self, matrix: sp.csr_matrix, timestamps: np.ndarray | None, report: LoadReport) -> Interactions:
        return Interactions(
            self.users,
            self.items,
            matrix,
            timestamps=timestamps,
            kind=self.kind,
            rating_scale=self.rating_scale,
            user_features=self.user_features,
            item_features=self.item_features,
            item_info=self.item_info,
            user_info=self.user_info,
            report=report,
        )

    def with_features(
        self,
        *,
        user_features: FeatureMatrix | None = None,
        item_features: FeatureMatrix | None = None,
        item_info: pd.DataFrame | None = None,
        user_info: pd.DataFrame | None = None,
    ) -> Interactions:
        """A copy with side information attached (keeps what is not given)."""
        return Interactions(
            self.users,
            self.items,
            self.matrix,
            timestamps=self.timestamps,
            kind=self.kind,
            rating_scale=self.rating_scale,
            user_features=user_features if user_features is not None else self.user_features,
            item_features=item_features if item_features is not None else self.item_features,
            item_info=item_info if item_info is not None else self.item_info,
            user_info=user_info if user_info is not None else self.user_info,
            report=self.report,
        )

    def user_counts(self) -> np.ndarray:
        return np.diff(self.matrix.indptr).astype(np.int64)

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.matrix.indices, minlength=self.n_items).astype(np.int64)

    def item_titles(self) -> np.ndarray | None:
        """Titles aligned with item indices, when ``item_info`` has a 'title' column."""
        if self.item_info is None or "title" not in self.item_info.columns:
            return None
        return self.item_info["title"].astype(str).to_numpy()

    def summary(self) -> str:
        scale = f", ratings {self.rating_scale[0]:g}-{self.rating_scale[1]:g}" if self.rating_scale else ""
        return (
            f"{self.nnz:,} {self.kind} interactions{scale}: {self.n_users:,} users x "
            f"{self.n_items:,} items, density {self.density:.4%}"
        )

    def __repr__(self) -> str:
        return f"<Interactions {self.summary()}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Interactions):
            return NotImplemented
        if (self.timestamps is None) != (other.timestamps is None):
            return False
        if self.timestamps is not None and not np.array_equal(self.timestamps, other.timestamps):  # type: ignore[arg-type]
            return False
        return (
            self.users == other.users
            and self.items == other.items
            and self.kind == other.kind
            and np.array_equal(self.matrix.data, other.matrix.data)
            and np.array_equal(self.matrix.indptr, other.matrix.indptr)
            and np.array_equal(self.matrix.indices, other.matrix.indices)
        )

    __hash__ = None  # type: ignore[assignment]
