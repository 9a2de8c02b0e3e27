"""IdMap: raw ids (int or str) <-> dense int32 indices.

Raw ids exist only at the edges of likewise; models and kernels see dense indices. An IdMap
keeps its ids sorted and unique, so both directions are vectorised (`searchsorted` one way,
fancy indexing the other) and two maps built from the same ids are equal whatever the input
order was.

Ids are either all integers (stored as int64) or all strings (stored as a numpy unicode
array, so they round-trip through `.npz` without pickle). Mixing the two is refused: a
column holding both ``7`` and ``"7"`` almost always signals a parsing problem.

Speed (docs/large.md, "Id mapping"): construction hashes the raw ids once (Arrow's dictionary
encoding for strings, pandas' factorize for integers) and sorts only the distinct ids, and
bulk lookups hash through Arrow's index_in, so mapping n raw ids over m distinct ones costs
O(n + m log m) instead of sorting all n unicode strings. The order is unchanged: always
sorted, never first-seen, so a map does not depend on how the input was ordered or chunked.
The plain-dict twin in tests/reference/idmap.py states the semantics these fast paths keep.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from likewise._util import plain
from likewise.exceptions import DataError, UnknownIdError

__all__ = ["IdMap", "as_id_array", "encode_arrow_strings", "factorize_strings"]

MissingPolicy = Literal["raise", "negative"]
_MAX_NAMED = 10
_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
# Below this many ids, plain numpy is as fast and keeps pandas out of a serving process
# (tests/test_startup_imports.py); above it, hashing through pandas wins by far.
BULK = 4096
# Below this many rows a slice is not worth a thread of its own (encode_arrow_strings).
_ROWS_PER_SLICE = 1 << 18


def as_id_array(values: Any, *, what: str = "ids", keep_objects: bool = False) -> np.ndarray:
    """Turn a scalar, list, numpy array or pandas Series of raw ids into an int64 or str array.

    Raises DataError for nulls, floats that are not whole numbers, and mixed int/str ids.
    ``keep_objects`` returns a big object array of Python strings as it is, for a lookup that
    hashes it rather than stores it: no unicode copy, and no trailing-NUL check (such an id can
    never be found, so `IdMap.to_index` checks only the ids it did not find).
    """
    if hasattr(values, "to_numpy"):  # pandas / polars Series
        values = values.to_numpy()
    arr = np.asarray(values)
    if not isinstance(values, np.ndarray) and arr.dtype.kind in "US":
        # np.asarray([7, "a"]) silently turns 7 into "7": inspect the elements instead.
        arr = np.asarray(values, dtype=object)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise DataError(f"{what} must be one-dimensional, got shape {arr.shape}")
    kind = arr.dtype.kind
    if kind in "iu":
        if kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise DataError(f"{what} exceed the int64 range")
        return arr.astype(np.int64, copy=False)
    if kind == "b":
        raise DataError(f"{what} must be integers or strings, got booleans")
    if kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataError(f"{what} contain a null or non-finite value at position {pos}")
        if (arr != np.round(arr)).any():
            pos = int(np.flatnonzero(arr != np.round(arr))[0])
            raise DataError(f"{what} must be integers or strings, got {arr[pos]!r} at position {pos}")
        big = (arr < -(2.0**63)) | (arr >= 2.0**63)
        if big.any():
            pos = int(np.flatnonzero(big)[0])
            raise DataError(f"{what} contain {plain(arr[pos])!r} at position {pos}, outside the int64 range")
        return arr.astype(np.int64)
    if kind == "U":
        return arr
    if kind in "OST":
        return _object_ids(arr, what, keep_objects)
    raise DataError(f"{what} must be integers or strings, got dtype {arr.dtype}")


def _object_ids(arr: np.ndarray, what: str, keep_objects: bool = False) -> np.ndarray:
    if arr.size == 0:
        return np.array([], dtype=np.int64)
    if arr.size >= BULK:
        from pandas.api.types import infer_dtype

        if infer_dtype(arr, skipna=False) == "string":  # one C loop: every element is a str
            if keep_objects and arr.dtype == object:
                return arr
            _refuse_trailing_nul(arr, what)
            return arr.astype(str)
    is_str = np.fromiter((isinstance(v, str) for v in arr), dtype=bool, count=arr.size)
    if is_str.all():
        _refuse_trailing_nul(arr, what)  # before astype(str), which would drop it
        return arr.astype(str)
    is_int = np.fromiter(
        (isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr),
        dtype=bool,
        count=arr.size,
    )
    if is_int.all():
        big = next((pos for pos, v in enumerate(arr) if not _INT64_MIN <= int(v) <= _INT64_MAX), None)
        if big is not None:
            raise DataError(f"{what} contain {plain(arr[big])!r} at position {big}, outside the int64 range")
        return arr.astype(np.int64)
    bad = ~(is_str | is_int)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        value = arr[pos]
        reason = "a null" if value is None or value != value else f"{value!r}"
        raise DataError(f"{what} contain {reason} at position {pos}; ids must be integers or strings")
    raise DataError(
        f"{what} mix integers and strings (e.g. {arr[np.flatnonzero(is_int)[0]]!r} "
        f"and {arr[np.flatnonzero(is_str)[0]]!r}); use one type"
    )


def _refuse_trailing_nul(arr: np.ndarray, what: str) -> None:
    """Refuse string ids ending in NUL: numpy's unicode arrays would drop it (and merge "a\\x00" with "a")."""
    ends = trailing_nul_mask(arr)
    if ends.any():
        pos = int(np.argmax(ends))
        raise DataError(f"{what} contain {arr[pos]!r} at position {pos}: ids must not end with a NUL character")


def trailing_nul_mask(arr: np.ndarray) -> np.ndarray:
    """Which elements of an object array of str end with NUL (Arrow's ends_with for many)."""
    if arr.size < BULK:
        return np.fromiter((v.endswith("\x00") for v in arr), dtype=bool, count=arr.size)
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return np.asarray(pc.ends_with(pa.array(arr, type=pa.string()), pattern="\x00"), dtype=bool)
    except (pa.ArrowException, UnicodeError):  # lone surrogates: hash, check each distinct id
        codes, uniques = factorize_strings(arr)
        per_unique = np.fromiter((v.endswith("\x00") for v in uniques), dtype=bool, count=len(uniques))
        return per_unique[codes]


def factorize_strings(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values as an object array) of an array of str, NUL-exact.

    Not pandas.factorize: its string hash table reads C strings, so "a\\x00b" and "a" would
    be one value. Arrow's dictionary encoding keeps every character; what Arrow cannot hold
    (lone surrogates) is sorted by numpy instead, slower but exact. The distinct values come
    sorted (``codes`` index them), as `encode_arrow_strings` gives them.
    """
    import pyarrow as pa

    try:
        strings = pa.array(arr.astype(object, copy=False), type=pa.string())
    except (pa.ArrowException, UnicodeError):
        uniques, codes = np.unique(arr.astype(object, copy=False), return_inverse=True)
        return codes.reshape(-1), uniques
    return encode_arrow_strings(strings)


def encode_arrow_strings(strings: Any) -> tuple[np.ndarray, np.ndarray]:
    """(int32 codes, sorted distinct values as an object array of str) of an Arrow string array.

    Hashing dominates (about 180 ns a row for 25M ids over 162k distinct ones: every probe of
    Arrow's hash table is a cache miss), so the array is cut into one slice per thread of
    Arrow's CPU pool and the slices are dictionary-encoded at once (Arrow releases the GIL).
    The slices' small dictionaries are then merged and sorted (UTF-8 byte order is code-point
    order, numpy's order for str) and each slice's codes renumbered with one gather: nothing
    proportional to the rows is ever sorted or turned into Python objects.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    if pa.types.is_string_view(strings.type):
        strings = strings.cast(pa.string())
    n = len(strings)
    n_parts = max(1, min(pa.cpu_count(), n // _ROWS_PER_SLICE))
    bounds = [int(b) for b in np.linspace(0, n, n_parts + 1)]
    slices = [strings.slice(lo, hi - lo) for lo, hi in pairwise(bounds)]
    encoded = _in_threads([lambda part=part: part.dictionary_encode() for part in slices])
    # The slices' dictionaries, merged: where[k] is the merged code of the k-th entry of them all.
    merged = pa.concat_arrays([e.dictionary for e in encoded]).dictionary_encode()
    order = np.asarray(pc.array_sort_indices(merged.dictionary).to_numpy(zero_copy_only=False))
    rank = np.empty(order.size, dtype=np.int32)
    rank[order] = np.arange(order.size, dtype=np.int32)
    rank_of_entry = rank[np.asarray(merged.indices.to_numpy(zero_copy_only=False))]
    cuts = np.cumsum([0] + [len(e.dictionary) for e in encoded])
    codes = np.empty(n, dtype=np.int32)

    def renumber(k: int) -> None:
        local = np.asarray(encoded[k].indices.to_numpy(zero_copy_only=False))
        np.take(rank_of_entry[cuts[k] : cuts[k + 1]], local, out=codes[bounds[k] : bounds[k + 1]])

    _in_threads([lambda k=k: renumber(k) for k in range(n_parts)])
    uniques = np.asarray(merged.dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False), dtype=object)
    return codes, uniques


def _in_threads(tasks: list[Any]) -> list[Any]:
    """Run callables that release the GIL (Arrow kernels, numpy gathers) on one thread each."""
    if len(tasks) == 1:
        return [tasks[0]()]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="likewise-ids") as pool:
        return list(pool.map(lambda task: task(), tasks))


def _refuse_nul_in_uniques(uniques: np.ndarray, codes: np.ndarray, what: str) -> None:
    """_refuse_trailing_nul for factorized ids: check the distinct ids, report the first row."""
    ends = np.fromiter((v.endswith("\x00") for v in uniques), dtype=bool, count=uniques.size)
    if ends.any():
        pos = int(np.argmax(ends[codes]))
        raise DataError(
            f"{what} contain {uniques[codes[pos]]!r} at position {pos}: ids must not end with a NUL character"
        )


def _arrow_ids(arr: np.ndarray) -> Any:
    """Ids as an Arrow array. Unicode arrays go through Python strings: pyarrow cuts a numpy
    unicode element at its first NUL ("a\\x00b" would become "a")."""
    import pyarrow as pa

    return pa.array(arr.astype(object) if arr.dtype.kind == "U" else arr)


def _is_arrow(values: Any) -> bool:
    return type(values).__module__.startswith("pyarrow")


class IdMap:
    """A sorted, unique vocabulary of raw ids with vectorised lookups both ways.

    Parameters
    ----------
    ids
        Raw ids (ints or strings). Duplicates are removed; order does not matter.
    name
        What the ids are ("user", "item"); used in error messages.
    """

    __slots__ = ("_hash", "_lookup", "ids", "name")

    def __init__(self, ids: Iterable[Any] | npt.ArrayLike, *, name: str = "id") -> None:
        if isinstance(ids, (set, frozenset)):
            ids = list(ids)
        if _is_arrow(ids) or (hasattr(ids, "__len__") and len(ids) >= BULK):  # type: ignore[arg-type]
            self.ids: np.ndarray = IdMap.encode(ids, name=name)[0].ids  # hash once, sort the distinct ids
        else:
            self.ids = np.unique(as_id_array(ids, what=f"{name} ids"))
        self.ids.flags.writeable = False
        self.name = name
        self._hash: str | None = None
        self._lookup: Any = None

    @classmethod
    def encode(cls, ids: Any, *, name: str = "id") -> tuple[IdMap, np.ndarray]:
        """The map of `ids` and the int32 index of every element, from one hashing pass.

        Equal to ``(m := IdMap(ids), m.to_index(ids))`` but about twice as fast; a pyarrow
        string array (what the readers produce) is dictionary-encoded by Arrow without ever
        becoming Python strings.
        """
        if _is_arrow(ids):
            return cls._encode_arrow(ids, name)
        if hasattr(ids, "to_numpy"):
            ids = ids.to_numpy()
        if isinstance(ids, np.ndarray) and ids.dtype == object and ids.ndim == 1 and ids.size >= BULK:
            from pandas.api.types import infer_dtype

            if infer_dtype(ids, skipna=False) == "string":  # hash the Python strings as they are
                return cls._encode_strings(ids, name)
        arr = as_id_array(ids, what=f"{name} ids")
        if arr.size < BULK:
            idmap = cls(arr, name=name)
            return idmap, idmap.to_index(arr)
        if arr.dtype.kind == "U":
            codes, uniques = factorize_strings(arr)
            return cls._sorted(uniques, codes, name)
        import pandas as pd  # integers: pandas' int64 hash table

        codes, uniques = pd.factorize(arr)
        return cls._from_codes(np.asarray(uniques).astype(arr.dtype, copy=False), codes, name)

    @classmethod
    def _encode_strings(cls, ids: np.ndarray, name: str) -> tuple[IdMap, np.ndarray]:
        codes, uniques = factorize_strings(ids)
        _refuse_nul_in_uniques(uniques, codes, f"{name} ids")
        return cls._sorted(uniques, codes, name)

    @classmethod
    def _encode_arrow(cls, ids: Any, name: str) -> tuple[IdMap, np.ndarray]:
        import pyarrow as pa

        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        if ids.null_count:
            pos = int(np.argmax(np.asarray(ids.is_null())))
            raise DataError(f"{name} ids contain a null at position {pos}; ids must be integers or strings")
        if not (
            pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type) or pa.types.is_string_view(ids.type)
        ):
            return cls.encode(ids.to_numpy(zero_copy_only=False), name=name)
        codes, uniques = encode_arrow_strings(ids)
        _refuse_nul_in_uniques(uniques, codes, f"{name} ids")
        return cls._sorted(uniques, codes, name)

    @classmethod
    def _sorted(cls, uniques: np.ndarray, codes: np.ndarray, name: str) -> tuple[IdMap, np.ndarray]:
        """Wrap sorted distinct ids and codes into them (from `encode_arrow_strings`)."""
        return cls.from_sorted_unique(uniques.astype(str), name=name), codes

    @classmethod
    def _from_codes(cls, uniques: np.ndarray, codes: np.ndarray, name: str) -> tuple[IdMap, np.ndarray]:
        """Sort first-seen distinct ids and renumber the codes to match (sorted order is the contract)."""
        order = np.argsort(uniques, kind="stable")
        rank = np.empty(order.size, dtype=np.int32)
        rank[order] = np.arange(order.size, dtype=np.int32)
        idmap = cls.from_sorted_unique(uniques[order], name=name)
        return idmap, rank[codes]

    @classmethod
    def from_sorted_unique(cls, ids: np.ndarray, *, name: str = "id") -> IdMap:
        """Wrap an array already known to be sorted and unique (e.g. loaded from a model)."""
        arr = as_id_array(ids, what=f"{name} ids")
        if arr.size > 1 and not (arr[1:] > arr[:-1]).all():
            raise DataError(f"{name} ids are not sorted and unique")
        obj = cls.__new__(cls)
        obj.ids = arr
        obj.ids.flags.writeable = False
        obj.name = name
        obj._hash = None
        obj._lookup = None
        return obj

    def __len__(self) -> int:
        return int(self.ids.size)

    def __repr__(self) -> str:
        kind = "str" if self.is_str else "int"
        return f"IdMap(name={self.name!r}, n={len(self)}, kind={kind})"

    @property
    def is_str(self) -> bool:
        return self.ids.dtype.kind == "U"

    def __contains__(self, raw_id: object) -> bool:
        try:
            return bool(self.to_index([raw_id], missing="negative")[0] >= 0)
        except UnknownIdError:  # an id of the other type (or not an id at all)
            return False

    def to_index(self, ids: Any, *, missing: MissingPolicy | Literal["lenient"] = "raise") -> np.ndarray:
        """Map raw ids to dense int32 indices.

        ``missing="raise"`` raises UnknownIdError naming the unknown ids;
        ``missing="negative"`` maps them to -1 (ids of the other type still raise: a whole
        column of them is usually a parsing mistake); ``missing="lenient"`` maps to -1 anything
        that cannot be one of this map's ids: an unknown id, an id of the other type (``"7"``
        for an integer map, ``7`` for a string map), a null, a non-whole float, a boolean.
        """
        if missing == "lenient":
            query, mappable = self._lenient_query(ids)
            if not mappable.all():
                idx = np.full(query.size, -1, dtype=np.int32)
                idx[mappable] = self.to_index(query[mappable], missing="negative")
                return idx
            ids, missing = query, "negative"  # every id is of this map's type: look them up below
        query = self._coerce_query(ids)
        if len(self) == 0 or query.size == 0:
            idx = np.full(query.size, -1, dtype=np.int32)
        elif query.size >= BULK:
            idx = self._bulk_index(query)
            if query.dtype == object and (idx < 0).any():  # unchecked strings: refuse NULs as before
                self._refuse_unknown_nul(query, np.flatnonzero(idx < 0))
        else:
            pos = np.searchsorted(self.ids, query)
            pos_clipped = np.minimum(pos, len(self) - 1)
            found = self.ids[pos_clipped] == query
            idx = np.where(found, pos_clipped, -1).astype(np.int32)
        if missing == "raise" and (idx < 0).any():
            unknown = query[idx < 0]
            shown = ", ".join(repr(plain(v)) for v in unknown[:_MAX_NAMED])
            more = f" and {unknown.size - _MAX_NAMED} more" if unknown.size > _MAX_NAMED else ""
            raise UnknownIdError(
                f"unknown {self.name} id{'s' if unknown.size > 1 else ''}: {shown}{more}",
                tuple(plain(v) for v in unknown),
            )
        return idx

    def _refuse_unknown_nul(self, query: np.ndarray, unknown: np.ndarray) -> None:
        """The trailing-NUL refusal of `as_id_array`, run only on the ids a bulk lookup missed."""
        ends = trailing_nul_mask(query[unknown])
        if ends.any():
            at = int(unknown[np.argmax(ends)])
            raise UnknownIdError(
                f"{self.name} ids contain {query[at]!r} at position {at}: ids must not end with a NUL character"
            )

    def build_lookup(self) -> None:
        """Build the Arrow table of the ids that bulk lookups hash into (kept: ids are immutable).

        The first bulk `to_index` builds it anyway; a server calls this before a model answers
        requests, so that no request pays for it, nor for importing pyarrow (and the pandas it
        brings in): ~0.35 s in a fresh process. Ids Arrow cannot hold keep the pandas path.
        """
        import pyarrow as pa

        if self._lookup is None:
            try:
                self._lookup = _arrow_ids(self.ids)
            except (pa.ArrowException, UnicodeError):  # e.g. lone surrogates: `_bulk_index` uses pandas
                pass

    def _bulk_index(self, query: np.ndarray) -> np.ndarray:
        """Hash lookup of many ids: Arrow's index_in (measured fastest), pandas for what UTF-8 cannot hold."""
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            if self._lookup is None:
                self._lookup = _arrow_ids(self.ids)
            found = pc.index_in(_arrow_ids(query), value_set=self._lookup)
        except (pa.ArrowException, UnicodeError):  # e.g. lone surrogates in Python strings
            import pandas as pd

            # object dtype: pandas 3 would infer its Arrow-backed string dtype, which cannot hold them either
            return np.asarray(
                pd.Index(self.ids, dtype=object).get_indexer(pd.Index(query, dtype=object)), dtype=np.int32
            )
        return np.asarray(found.fill_null(-1).to_numpy(), dtype=np.int32)

    def to_ids(self, indices: npt.ArrayLike) -> np.ndarray:
        """Map dense indices back to raw ids. Negative indices (padding) are not allowed."""
        idx = np.asarray(indices)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"{self.name} index out of range [0, {len(self)}): min {idx.min()}, max {idx.max()}")
        return self.ids[idx]

    def coerce(self, values: Any) -> np.ndarray:
        """Convert text typed by a person (CLI, URL) to this map's id type.

        "196" becomes 196 for an integer map; anything else is left to `to_index`.
        """
        arr = np.asarray(values, dtype=object).reshape(-1)
        if self.is_str:
            nul = next((v for v in arr if isinstance(v, str) and v.endswith("\x00")), None)
            if nul is not None:  # astype(str) would drop the trailing NUL and find another id
                raise UnknownIdError(f"unknown {self.name} id: {nul!r} (ids never end with a NUL character)", (nul,))
            return arr.astype(str)
        out = np.empty(arr.size, dtype=np.int64)
        for pos, value in enumerate(arr):
            try:
                out[pos] = int(str(value).strip())
            except ValueError:
                raise UnknownIdError(
                    f"unknown {self.name} id: {value!r} ({self.name} ids are integers)", (value,)
                ) from None
            except OverflowError:  # beyond int64: no id of this map can match
                raise UnknownIdError(
                    f"unknown {self.name} id: {value!r} ({self.name} ids are int64 integers)", (value,)
                ) from None
        return out

    def _lenient_query(self, ids: Any) -> tuple[np.ndarray, np.ndarray]:
        """(query, mask of the positions that can be ids of this map) for ``missing="lenient"``."""
        try:
            query = as_id_array(ids, what=f"{self.name} ids")
        except (DataError, OverflowError):
            values = ids.to_numpy() if hasattr(ids, "to_numpy") else ids
            if np.ndim(values) > 1:
                raise UnknownIdError(f"{self.name} ids must be one-dimensional, got shape {np.shape(values)}") from None
            items = np.asarray(values, dtype=object).reshape(-1)
            mappable = np.zeros(items.size, dtype=bool)
            for pos, value in enumerate(items):
                try:
                    one = as_id_array([value], what=f"{self.name} ids")
                except (DataError, OverflowError):  # not an id at all, or an int beyond int64
                    continue
                mappable[pos] = (one.dtype.kind == "U") == self.is_str
            if self.is_str:
                return np.array([str(v) if ok else "" for v, ok in zip(items, mappable, strict=True)]), mappable
            return np.array([int(v) if ok else 0 for v, ok in zip(items, mappable, strict=True)], np.int64), mappable
        if len(self) and query.size and (query.dtype.kind == "U") != self.is_str:
            return query, np.zeros(query.size, dtype=bool)
        return query, np.ones(query.size, dtype=bool)

    def _coerce_query(self, ids: Any) -> np.ndarray:
        try:
            query = as_id_array(ids, what=f"{self.name} ids", keep_objects=True)
        except DataError as exc:
            raise UnknownIdError(str(exc)) from exc
        if len(self) and query.size and (query.dtype.kind in "UO") != self.is_str:
            want = "strings" if self.is_str else "integers"
            raise UnknownIdError(
                f"unknown {self.name} id {plain(query[0])!r}: this map's ids are {want}",
                (plain(query[0]),),
            )
        return query

    @property
    def digest(self) -> str:
        """sha256 of the ids: equal maps have equal digests."""
        if self._hash is None:
            h = hashlib.sha256(self.ids.dtype.kind.encode())
            if self.is_str:
                lengths = np.fromiter(map(len, self.ids.tolist()), dtype="<i8", count=len(self))
                h.update(lengths.tobytes())
                h.update("\x00".join(self.ids.tolist()).encode("utf-8"))
            else:
                h.update(np.ascontiguousarray(self.ids, dtype="<i8").tobytes())
            self._hash = h.hexdigest()
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdMap):
            return NotImplemented
        return len(self) == len(other) and self.digest == other.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __getstate__(self) -> dict[str, Any]:
        return {"ids": self.ids, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.ids = state["ids"]
        self.name = state["name"]
        self._hash = None
        self._lookup = None
