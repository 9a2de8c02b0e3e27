"""What one server process holds: the served model (swapped atomically), the event overlay and the catalogue.

- `ServedModel`: a loaded model plus what requests need from it precomputed once (popularity
  ranking, id types, version). Replaced as a whole on reload: a request takes the reference
  once and finishes on the model it started with, so a swap never fails a request in flight.
- `Overlay`: each user's events from the store, latest value per item, fed by this process's
  own writes at once and by a poll of the store (other workers' writes) every
  ``refresh_interval`` seconds. A model uses only the events received after it was written.
- `Catalogue`: item titles and attributes from ``PUT /v1/items`` (stored), with cached masks for
  ``filter=attribute:value``.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from likewise._util import count_values
from likewise.models.base import Recommender, load
from likewise.serving.store import EventStore, StoredEvent

__all__ = ["Catalogue", "Overlay", "ServedModel", "model_signature"]

# PostgreSQL may commit a lower sequence number after a higher one: there the overlay re-reads
# this many sequence numbers behind its cursor (it keeps the latest value per (user, item), so
# reading an event twice changes nothing). SQLite commits one writer at a time, in sequence
# order, so it needs none (`EventStore.commits_in_seq_order`): re-reading 1000 events on every
# poll cost a worker ~25 ms of CPU four times a second while events streamed in.
_LOOKBACK = 1000


def model_signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when a model is saved into `path` (save renames a new directory in)."""
    try:
        stat = (Path(path) / "manifest.json").stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


class ServedModel:
    """A loaded model and what requests need from it, immutable once built (`with_items` copies)."""

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        self.path = Path(path).resolve()
        manifest = self.path / "manifest.json"
        self.signature = model_signature(self.path)
        model = load(self.path)
        if "n_threads" in model.get_params():
            model.set_params(n_threads=threads)
        self.base_version = hashlib.sha256(manifest.read_bytes()).hexdigest()[:16]
        self.added: tuple[str, ...] = ()
        self.trained_ts = manifest.stat().st_mtime
        self.trained_at = dt.datetime.fromtimestamp(self.trained_ts, dt.UTC).isoformat(timespec="seconds")
        self._derive(model)

    def _derive(self, model: Recommender) -> None:
        """Everything computed from the model itself (per-item arrays change with `with_items`)."""
        self.model: Recommender = model
        self.name = str(getattr(type(model), "algorithm", type(model).__name__))
        self.version = self.base_version + (f"+{len(self.added)}" if self.added else "")
        self.int_users = not model.users_.is_str
        self.int_items = not model.items_.is_str
        # What a filter mask depends on: the items and their order (equal across a retrain on the
        # same items). The id map's digest hashes the id array's bytes; item text is made per
        # response row (`item_text`), not for the whole catalogue on every reload, which held the
        # GIL for ~10 ms on 60k items beside the requests being answered.
        self.items_key = model.items_.digest
        self.titles = model.item_titles_
        # Popularity from the training data: users per item, ties by the lower index.
        self.counts = count_values(model.seen_.indices, model.n_items).astype(np.float32)
        self.pop_order = np.lexsort((np.arange(model.n_items), -self.counts)).astype(np.int32)
        rating_scale = getattr(model, "rating_scale_", None)
        self.default_weight = float(rating_scale[1]) if model.predicts_ratings and rating_scale else 1.0

    @property
    def takes_new_items(self) -> bool:
        """Whether the model scores items from features alone (HybridMF, ContentKNN: ``add_items``)."""
        return bool(self.model.supports_features) and callable(getattr(self.model, "add_items", None))

    def with_items(self, features: dict[str, dict[str, float]]) -> ServedModel:
        """A copy whose model has the items (raw id text -> features) added by its ``add_items``,
        without retraining; this one is untouched (requests in flight keep using it).

        Items the model knows already, and ids of the wrong type (text for integer ids), are
        left out: the caller reports them as not in the model.
        """
        new = [
            (text, raw, values)
            for text, values in features.items()
            if (raw := self._raw(text, self.int_items)) is not None and self.item_indices([text])[0] < 0
        ]
        if not new or not self.takes_new_items:
            return self
        model = copy.deepcopy(self.model)
        ids = np.array([raw for _t, raw, _v in new], dtype=np.int64 if self.int_items else object)
        model.add_items(ids, [dict(values) for _t, _r, values in new])  # type: ignore[attr-defined]
        served = copy.copy(self)
        served.added = self.added + tuple(text for text, _r, _v in new)
        served._derive(model)
        return served

    @property
    def n_items(self) -> int:
        return self.model.n_items

    def info(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "trained_at": self.trained_at}

    # ids arrive as text (paths, the store) or JSON numbers; the model has int or str ids
    def _raw(self, text: str, as_int: bool) -> Any:
        if not as_int:
            return str(text)
        try:
            value = int(text)
        except ValueError:
            return None
        # beyond int64 no model id can match (and numpy would overflow)
        return value if -(2**63) <= value < 2**63 else None

    def user_index(self, user: str) -> int:
        raw = self._raw(user, self.int_users)
        if raw is None:
            return -1
        return int(self.model.users_.to_index([raw], missing="lenient")[0])

    def item_indices(self, texts: list[str]) -> np.ndarray:
        """Dense indices of the items (-1 for an item the model does not know)."""
        raws = [self._raw(t, self.int_items) for t in texts]
        out = np.full(len(raws), -1, dtype=np.int64)
        known = [k for k, r in enumerate(raws) if r is not None]
        if known:
            values = np.array([raws[k] for k in known], dtype=np.int64 if self.int_items else object)
            out[known] = self.model.items_.to_index(values, missing="lenient")
        return out

    def raw_item(self, iidx: int) -> Any:
        value = self.model.items_.ids[iidx]
        return value.item() if isinstance(value, np.generic) else value

    def raw_user(self, uidx: int) -> Any:
        value = self.model.users_.ids[uidx]
        return value.item() if isinstance(value, np.generic) else value

    def item_text(self, iidx: int) -> str:
        """An item's id as text (how the store and the catalogue key it)."""
        return str(self.raw_item(iidx))

    def title(self, iidx: int) -> str | None:
        return None if self.titles is None else str(self.titles[iidx])

    def training_row(self, uidx: int) -> tuple[np.ndarray, np.ndarray]:
        seen = self.model.seen_
        start, stop = seen.indptr[uidx], seen.indptr[uidx + 1]
        return np.asarray(seen.indices[start:stop]), np.asarray(seen.data[start:stop], dtype=np.float32)


@dataclass
class _Entry:
    value: float | None
    seq: int
    received: float
    timestamp: float | None


@dataclass
class Overlay:
    """Per-user stored events (latest per item), kept in memory and fed from the store."""

    store: EventStore
    users: dict[str, dict[str, _Entry]] = field(default_factory=dict)
    cursor: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def apply(self, stored: list[StoredEvent]) -> None:
        """Take events in (this process's own writes at once, and what `refresh` reads).

        The read cursor is not moved here: another worker may have committed a lower sequence
        number that this one has not read yet, and `refresh` must still find it.
        """
        with self.lock:
            for event in stored:
                items = self.users.setdefault(event.user, {})
                old = items.get(event.item)
                if old is None or old.seq < event.seq:
                    items[event.item] = _Entry(event.value, event.seq, event.received, event.timestamp)

    def refresh(self) -> None:
        """Read what the store has beyond the read cursor (less a lookback where commits can land
        out of sequence order; see _LOOKBACK)."""
        start = self.cursor if self.store.commits_in_seq_order else max(0, self.cursor - _LOOKBACK)
        while True:
            chunk = self.store.events_after(start)
            if not chunk:
                return
            self.apply(chunk)
            start = chunk[-1].seq
            with self.lock:
                self.cursor = max(self.cursor, start)

    def events_for(self, user: str, since: float) -> dict[str, float | None]:
        """item -> latest value of the user's events received after `since` (a model's write time)."""
        with self.lock:
            items = self.users.get(user)
            if not items:
                return {}
            return {item: e.value for item, e in items.items() if e.received > since}


# Re-read items written this many seconds before the newest seen: two workers' clocks and commit
# order may disagree a little; an entry read twice changes nothing.
_ITEMS_LOOKBACK_S = 5.0


class Catalogue:
    """Item titles and attributes from the store, with cached item masks for filters.

    `refresh` reads only what was written since the last read (every worker polls it, so a
    ``PUT`` by one is seen by all); masks are dropped only when an entry actually changed, and
    are keyed by the served model's item ids (not the model object), so a reload of a model
    over the same items keeps them.
    """

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[str | None, dict[str, list[str]]]] = {}
        # (attribute, value) -> the items that have it: a new filter's mask from set unions, not
        # a pass over every entry (~30 ms of held GIL on 60k items, once per filter and worker)
        self._holding: dict[tuple[str, str], set[str]] = {}
        self.generation = 0
        self._newest: float | None = None
        self._first_read: float | None = None
        self._masks: OrderedDict[tuple[str, int, str], np.ndarray] = OrderedDict()
        self._building: dict[tuple[str, int, str], threading.Event] = {}  # masks being built, by key
        self.refresh()

    def refresh(self) -> dict[str, dict[str, float]]:
        """Read new or changed items; returns the features of the changed ones that have any."""
        if self._first_read is None:
            since, self._first_read = None, time.time()
        else:
            # a row committed during the first full read may carry an earlier time: 1 s back
            since = max(self._newest - _ITEMS_LOOKBACK_S if self._newest else 0.0, self._first_read - 1.0)
        found = self.store.items_since(since)
        changed: dict[str, dict[str, float]] = {}
        with self.lock:
            before = self.generation
            for item, (title, attrs, features, updated) in found.items():
                self._newest = updated if self._newest is None else max(self._newest, updated)
                if self.entries.get(item) != (title, attrs):
                    self._set_entry(item, title, attrs)
                if features:
                    changed[item] = features
            if self.generation != before:
                self._drop_stale_masks()
        return changed

    def _set_entry(self, item: str, title: str | None, attributes: dict[str, list[str]]) -> None:
        """Replace an item's entry and its place in `_holding` (the caller holds the lock)."""
        _old_title, old = self.entries.get(item, (None, {}))
        for attribute, values in old.items():
            for value in values:
                self._holding[(attribute, value)].discard(item)
        for attribute, values in attributes.items():
            for value in values:
                self._holding.setdefault((attribute, value), set()).add(item)
        self.entries[item] = (title, attributes)
        self.generation += 1

    def _drop_stale_masks(self) -> None:
        for key in [k for k in self._masks if k[1] != self.generation]:
            del self._masks[key]

    def put(self, item: str, title: str | None, attributes: dict[str, list[str]]) -> None:
        with self.lock:
            if self.entries.get(item) != (title, attributes):
                self._set_entry(item, title, attributes)
                self._drop_stale_masks()

    def title(self, item: str) -> str | None:
        entry = self.entries.get(item)
        return entry[0] if entry else None

    def cached_masks(self, items_key: str) -> list[np.ndarray]:
        """The current masks cached for models over these items (the filters being served)."""
        with self.lock:
            return [mask for key, mask in self._masks.items() if key[0] == items_key and key[1] == self.generation]

    def mask(self, served: ServedModel, attribute: str, values: frozenset[str]) -> np.ndarray:
        """Items of `served` whose `attribute` holds any of `values` (cached per item ids and catalogue state).

        One thread builds a missing mask while the others asking for it wait: measured on a
        fresh 60k-item worker at 250 requests/s, every request of the first ~0.1 s built the
        mask of its genre itself, and together they stalled the worker for ~0.3 s.
        """
        key = (served.items_key, self.generation, attribute + "\0" + "\0".join(sorted(values)))
        with self.lock:
            cached = self._masks.get(key)
            if cached is not None:
                self._masks.move_to_end(key)
                return cached
            building = self._building.get(key)
            matching: list[str] | None = None
            if building is None:
                building = self._building[key] = threading.Event()
                matching = list(set().union(*(self._holding.get((attribute, value), ()) for value in values)))
        if matching is None:  # another thread builds it
            building.wait()
            return self.mask(served, attribute, values)  # cached now (or built here if that failed)
        try:
            mask = np.zeros(served.n_items, dtype=bool)
            idx = served.item_indices(matching)
            mask[idx[idx >= 0]] = True
            mask.flags.writeable = False  # shared by every request that uses it
            with self.lock:
                self._masks[key] = mask
                while len(self._masks) > 256:
                    self._masks.popitem(last=False)
        finally:
            with self.lock:
                del self._building[key]
            building.set()
        return mask
