r"""The event store: interaction events and item metadata in SQLite or PostgreSQL (SQLAlchemy Core).

Schema (version 2; ``schema_version`` holds the version a database is at):

- ``events``: ``seq`` (autoincrement, the order events were stored), ``event_id`` (unique: a
  retried post with the same id is a duplicate, never a second row), ``user_id`` / ``item_id``
  (raw ids as text), ``value`` (nullable: the model's default weight), ``ts`` (the client's
  timestamp, seconds since the epoch, nullable) and ``received`` (server time of the commit).
- ``items``: ``item_id`` primary key, ``title``, ``attributes`` and ``features`` (JSON text),
  ``updated`` (server time of the write; indexed since version 2, so each process can poll for
  other workers' ``PUT``\ s cheaply).

Migrations are an ordered list of functions; `EventStore.migrate` applies, in one transaction
each, every step above the stored version. A database newer than this code is refused.
Decision: no alembic - the schema is two tables, and a list of steps with a version row is
the whole of what alembic would do for us here.

Durability: SQLite runs in WAL mode with ``synchronous=FULL`` (the commit is on disk before
`add_events` returns); PostgreSQL commits with its defaults (``synchronous_commit=on``).
Events are acknowledged only after `add_events` returns, i.e. after the commit.

Order: SQLite has one writer at a time and assigns ``seq`` inside the write transaction, so
events become visible in ``seq`` order (`EventStore.commits_in_seq_order`); PostgreSQL draws
``seq`` from a sequence before commit, so a lower one may become visible after a higher one.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from likewise.exceptions import StoreError

if TYPE_CHECKING:
    from likewise.data.interactions import Interactions

__all__ = ["SCHEMA_VERSION", "EventStore", "NewEvent", "StoredEvent", "interactions_from_store", "sqlite_url"]

metadata = sa.MetaData()

schema_version = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(200), nullable=False, unique=True),
    sa.Column("user_id", sa.String(200), nullable=False),
    sa.Column("item_id", sa.String(200), nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("ts", sa.Float, nullable=True),
    sa.Column("received", sa.Float, nullable=False),
    sa.Index("events_user", "user_id", "seq"),
)

items = sa.Table(
    "items",
    metadata,
    sa.Column("item_id", sa.String(200), primary_key=True),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Column("features", sa.Text, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)


def _create_v1(conn: sa.Connection) -> None:
    for table in (events, items):
        table.create(conn, checkfirst=True)


def _index_items_updated(conn: sa.Connection) -> None:
    # DDL text, not sa.Index: an Index object would attach itself to the shared `items` table
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS items_updated ON items (updated)"))


MIGRATIONS: list[tuple[int, Callable[[sa.Connection], None]]] = [(1, _create_v1), (2, _index_items_updated)]
"""(version reached, step) in order; a new schema version appends a step, never edits one."""
SCHEMA_VERSION = MIGRATIONS[-1][0]


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    event_id: str
    user: str
    item: str
    value: float | None
    timestamp: float | None
    received: float


@dataclass(frozen=True)
class NewEvent:
    user: str
    item: str
    value: float | None = None
    timestamp: float | None = None
    event_id: str | None = None


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class EventStore:
    """Events and item metadata behind one SQLAlchemy engine (thread-safe; one per process)."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        try:
            self.url = sa.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise StoreError(f"store URL {url!r} is not a database URL: {exc}") from exc
        backend = self.url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise StoreError(f"store URL {url!r}: only sqlite:/// and postgresql+psycopg:// are supported")
        if backend == "postgresql" and self.url.drivername == "postgresql":
            self.url = self.url.set(drivername="postgresql+psycopg")
        self.backend = backend
        self.engine = sa.create_engine(self.url, pool_pre_ping=True)
        if backend == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        if migrate:
            self.migrate()

    @property
    def commits_in_seq_order(self) -> bool:
        """Whether an event becomes visible only after every lower ``seq`` has (SQLite: yes)."""
        return self.backend == "sqlite"

    # ------------------------------------------------------------ schema
    def version(self) -> int:
        """The schema version of the database (0: empty)."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("schema_version"):
                return 0
            value = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
            return int(value or 0)

    def migrate(self) -> int:
        """Bring the schema up to `SCHEMA_VERSION`, one transaction per step; returns the version."""
        try:
            with self.engine.begin() as conn:
                schema_version.create(conn, checkfirst=True)
            current = self.version()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot open the store {self.url.render_as_string(hide_password=True)}: {exc}") from exc
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the store is at schema version {current}, newer than this likewise "
                f"({SCHEMA_VERSION}): upgrade likewise"
            )
        for target, step in MIGRATIONS:
            if target <= current:
                continue
            with self.engine.begin() as conn:
                step(conn)
                conn.execute(schema_version.delete())
                conn.execute(schema_version.insert().values(version=target))
            current = target
        return current

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------ events
    def _insert(self) -> Any:
        dialect = postgresql if self.backend == "postgresql" else sqlite
        return dialect.insert(events).on_conflict_do_nothing(index_elements=["event_id"])

    def add_events(self, batch: Sequence[NewEvent]) -> tuple[list[StoredEvent], int]:
        """Store `batch` in one transaction; returns (the events stored now, number of duplicates).

        An event whose ``event_id`` is already stored (or repeated in the batch) is a duplicate
        and changes nothing; an event without one gets a fresh random id. Returns after commit.
        """
        now = time.time()
        rows: dict[str, dict[str, Any]] = {}
        for event in batch:
            event_id = event.event_id or uuid.uuid4().hex
            rows.setdefault(
                event_id,
                {
                    "event_id": event_id,
                    "user_id": event.user,
                    "item_id": event.item,
                    "value": event.value,
                    "ts": event.timestamp,
                    "received": now,
                },
            )
        if not rows:
            return [], 0
        stmt = self._insert().returning(*events.c)
        with self.engine.begin() as conn:
            stored = [self._event(row) for row in conn.execute(stmt, list(rows.values()))]
        return sorted(stored, key=lambda e: e.seq), len(batch) - len(stored)

    @staticmethod
    def _event(row: Any) -> StoredEvent:
        return StoredEvent(
            seq=int(row.seq),
            event_id=row.event_id,
            user=row.user_id,
            item=row.item_id,
            value=row.value,
            timestamp=row.ts,
            received=row.received,
        )

    def events_after(self, seq: int, *, limit: int = 100_000) -> list[StoredEvent]:
        """Events with ``seq`` above `seq`, in order (the overlay's feed)."""
        query = sa.select(events).where(events.c.seq > seq).order_by(events.c.seq).limit(limit)
        with self.engine.connect() as conn:
            return [self._event(row) for row in conn.execute(query)]

    def user_events(self, user: str, *, limit: int | None = None, newest_first: bool = False) -> list[StoredEvent]:
        order = events.c.seq.desc() if newest_first else events.c.seq
        query = sa.select(events).where(events.c.user_id == user).order_by(order)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [self._event(row) for row in conn.execute(query)]

    def all_events(self, *, batch: int = 50_000) -> Iterable[StoredEvent]:
        """Every event in ``seq`` order, read in batches (for retraining)."""
        last = 0
        while True:
            chunk = self.events_after(last, limit=batch)
            if not chunk:
                return
            yield from chunk
            last = chunk[-1].seq

    def count_events(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() or 0)

    def max_seq(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(events.c.seq))).scalar() or 0)

    # ------------------------------------------------------------ items
    def put_item(
        self, item: str, title: str | None, attributes: dict[str, list[str]], features: dict[str, float]
    ) -> None:
        self.put_items([(item, title, attributes, features)])

    def put_items(self, entries: Iterable[tuple[str, str | None, dict[str, list[str]], dict[str, float]]]) -> int:
        """Insert or replace (item, title, attributes, features) rows in one transaction (a
        catalogue import: one commit, not one per item); returns how many were written."""
        now = time.time()
        rows = [
            {
                "item_id": item,
                "title": title,
                "attributes": json.dumps(attributes, sort_keys=True),
                "features": json.dumps(features, sort_keys=True),
                "updated": now,
            }
            for item, title, attributes, features in entries
        ]
        if not rows:
            return 0
        dialect = postgresql if self.backend == "postgresql" else sqlite
        stmt = dialect.insert(items)
        stmt = stmt.on_conflict_do_update(
            index_elements=["item_id"],
            set_={k: stmt.excluded[k] for k in ("title", "attributes", "features", "updated")},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)
        return len(rows)

    def all_items(self) -> dict[str, tuple[str | None, dict[str, list[str]], dict[str, float]]]:
        return {item: (title, attrs, feats) for item, (title, attrs, feats, _u) in self.items_since(None).items()}

    def items_since(
        self, updated: float | None
    ) -> dict[str, tuple[str | None, dict[str, list[str]], dict[str, float], float]]:
        """Items written at or after server time `updated` (all for None): item -> (title,
        attributes, features, updated)."""
        query = sa.select(items)
        if updated is not None:
            query = query.where(items.c.updated >= updated)
        with self.engine.connect() as conn:
            return {
                row.item_id: (row.title, json.loads(row.attributes), json.loads(row.features), row.updated)
                for row in conn.execute(query)
            }


def interactions_from_store(url: str) -> Interactions:
    """Every stored event as `Interactions` (for ``likewise train --from-store``).

    Events without a value count 1. When no event has a value the data is implicit (repeats
    summed); otherwise explicit, the latest event of a (user, item) pair winning, as the
    server's fold-in does.
    """
    from likewise.data.interactions import Interactions

    store = EventStore(url)
    try:
        stored = list(store.all_events())
    finally:
        store.close()
    if not stored:
        raise StoreError(f"the store {url!r} holds no events to train on")
    users = np.array([e.user for e in stored], dtype=object)
    items_ = np.array([e.item for e in stored], dtype=object)
    users, items_ = _typed(users), _typed(items_)
    stamps = [e.timestamp if e.timestamp is not None else e.received for e in stored]
    if all(e.value is None for e in stored):
        return Interactions.from_arrays(users, items_, None, np.array(stamps), source=f"store {url}")
    values = np.array([1.0 if e.value is None else e.value for e in stored], dtype=np.float32)
    return Interactions.from_arrays(users, items_, values, np.array(stamps), duplicates="last", source=f"store {url}")


def _typed(ids: np.ndarray) -> np.ndarray:
    """Stored ids are text; a column of integers only goes back to integers (the model's ids then are)."""
    try:
        as_int = np.array([int(v) for v in ids], dtype=np.int64)
    except ValueError:
        return ids.astype(str)
    if all(str(i) == v for i, v in zip(as_int.tolist(), ids, strict=True)):
        return as_int
    return ids.astype(str)
