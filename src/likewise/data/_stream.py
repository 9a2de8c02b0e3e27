"""Build Interactions from a log read in chunks, in bounded memory (private).

The readers validate each chunk as it arrives (`likewise.data._build.validate_rows`, the
rules and messages of a one-shot build) and hand the surviving rows to a `ChunkedBuilder`,
which keeps per row only what the CSR needs: two int32 codes into the chunk's own id maps, the
value (float32 when that is exact, else float64) and the timestamp. Line labels are kept as
ranges when they are consecutive (the usual case), so they cost nothing per row. At the end
the chunks' small id maps are merged into the two sorted maps, every chunk's codes are
renumbered with one gather, and duplicates are merged and the CSR built as in a one-shot build
(`likewise.data._build.assemble`). No DataFrame, no Python object per row.
"""

from __future__ import annotations

import bisect
import copy
from dataclasses import dataclass

import numpy as np

from likewise.data._build import Built, Rows, Settings, assemble
from likewise.data.idmap import IdMap
from likewise.data.report import LoadReport
from likewise.exceptions import DataError

__all__ = ["ChunkedBuilder"]


@dataclass
class _Chunk:
    users: IdMap
    user_codes: np.ndarray
    items: IdMap
    item_codes: np.ndarray
    values: np.ndarray
    timestamps: np.ndarray | None


class _Labels:
    """The source and line (or row) label of every kept row, chunk by chunk."""

    def __init__(self) -> None:
        self.starts: list[int] = []  # position of each chunk's first row
        self.sources: list[str] = []
        self.labels: list[np.ndarray | int] = []  # an array, or the first label of a consecutive run
        self.n = 0

    def add(self, source: str, labels: np.ndarray) -> None:
        self.starts.append(self.n)
        self.sources.append(source)
        consecutive = labels.size and int(labels[-1]) - int(labels[0]) == labels.size - 1
        self.labels.append(int(labels[0]) if consecutive else labels.astype(np.int64))
        self.n += int(labels.size)

    def truncate(self, n_chunks: int) -> None:
        """Forget every chunk from the `n_chunks`-th on."""
        if n_chunks < len(self.starts):
            self.n = self.starts[n_chunks]
            del self.starts[n_chunks:], self.sources[n_chunks:], self.labels[n_chunks:]

    def lookup(self, position: int) -> tuple[str, int]:
        k = bisect.bisect_right(self.starts, position) - 1
        found = self.labels[k]
        offset = position - self.starts[k]
        return self.sources[k], (found + offset if isinstance(found, int) else int(found[offset]))


class ChunkedBuilder:
    """Accumulate validated chunks (`add`) and build the CSR once (`finish`).

    Parameters
    ----------
    settings : the checked build options
    report : the LoadReport every chunk's validation writes into
    label_kind : "line" or "row", for messages
    text_ids : ids were parsed from text, where a column that is not all canonical integers
        stays text; a chunk of integer ids then becomes text too (its ids' canonical decimal
        form is exactly the text they were read from), as in a one-shot read of the file
    """

    def __init__(self, settings: Settings, report: LoadReport, label_kind: str, *, text_ids: bool) -> None:
        self.settings = settings
        self.report = report
        self.label_kind = label_kind
        self.text_ids = text_ids
        self.chunks: list[_Chunk] = []
        self.labels = _Labels()
        self.rows_parsed = 0  # well-formed rows seen, kept or not

    def add(self, rows: Rows, source: str) -> None:
        """Index one chunk's valid rows against its own small id maps."""
        if rows.values.size == 0:
            return
        users, user_codes = IdMap.encode(rows.users, name="user")
        items, item_codes = IdMap.encode(rows.items, name="item")
        values = rows.values
        narrow = values.astype(np.float32)
        if np.array_equal(narrow, values):  # ratings like 4.5: exact in float32, half the memory
            values = narrow
        self.chunks.append(_Chunk(users, user_codes, items, item_codes, values, rows.timestamps))
        self.labels.add(source, rows.labels)

    def checkpoint(self) -> tuple[int, int, LoadReport]:
        """A state to `rollback` to (e.g. before a file that may have to be read in one piece)."""
        return len(self.chunks), self.rows_parsed, copy.deepcopy(self.report)

    def rollback(self, state: tuple[int, int, LoadReport]) -> None:
        n_chunks, self.rows_parsed, report = state
        del self.chunks[n_chunks:]
        self.labels.truncate(n_chunks)
        self.report.__dict__.update(copy.deepcopy(report.__dict__))

    def finish(self, source: str) -> Built:
        """Merge the chunks' id maps, renumber, merge duplicates and build the CSR."""
        if not self.chunks:
            skipped = self.report.rows_skipped
            if self.rows_parsed == 0 and not skipped:
                raise DataError(f"{source}: the file has no data rows")
            what = "lines" if self.rows_parsed == 0 else "rows"
            raise DataError(f"{source}: no interactions left after skipping {skipped:,} bad {what}")
        chunks, self.chunks = self.chunks, []
        user_map, uidx = self._merge([c.users for c in chunks], [c.user_codes for c in chunks], "user")
        item_map, iidx = self._merge([c.items for c in chunks], [c.item_codes for c in chunks], "item")
        values = np.concatenate([c.values for c in chunks])
        with_ts = chunks[0].timestamps is not None
        stamps = np.concatenate([c.timestamps for c in chunks if c.timestamps is not None]) if with_ts else None
        del chunks
        labels, kind = self.labels, self.label_kind

        def describe(first: int, second: int) -> str:
            (src_a, a), (src_b, b) = labels.lookup(min(first, second)), labels.lookup(max(first, second))
            if src_a == src_b:
                return f"{src_a}, {kind}s {min(a, b)} and {max(a, b)}"
            return f"{src_a}, {kind} {a} and {src_b}, {kind} {b}"

        return assemble(user_map, item_map, uidx, iidx, values, stamps, self.settings, self.report, describe)

    def _merge(self, maps: list[IdMap], codes: list[np.ndarray], name: str) -> tuple[IdMap, np.ndarray]:
        """One sorted map over the chunks' maps, and every row's code in it (one int32 array)."""
        is_str = [m.is_str for m in maps]
        ids = [m.ids for m in maps]
        if any(is_str) and not all(is_str):
            if not self.text_ids:
                raise DataError(f"{name} ids mix integers and strings across the input's parts; use one type")
            ids = [part if part.dtype.kind == "U" else part.astype(str) for part in ids]
        merged, where = IdMap.encode(np.concatenate(ids), name=name)
        out = np.empty(sum(c.size for c in codes), dtype=np.int32)
        at = cut = 0
        for part, local in zip(ids, codes, strict=True):
            np.take(where[cut : cut + part.size], local, out=out[at : at + local.size])
            at += local.size
            cut += part.size
        return merged, out
