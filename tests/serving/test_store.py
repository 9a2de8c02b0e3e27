"""The event store on SQLite and on a real PostgreSQL server: schema, migrations, idempotency, retraining."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from likewise.cli._app import app as cli_app
from likewise.exceptions import StoreError
from likewise.models import load
from likewise.serving.store import SCHEMA_VERSION, EventStore, NewEvent, interactions_from_store, sqlite_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "events.db")
    return request.getfixturevalue("pg_store_url")


def test_schema_is_versioned_and_migrating_twice_is_a_no_op(store_url):
    store = EventStore(store_url)
    assert store.version() == SCHEMA_VERSION == 2
    assert store.migrate() == SCHEMA_VERSION
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM schema_version")).scalar() == 1
        assert set(sa.inspect(conn).get_table_names()) >= {"events", "items", "schema_version"}
    store.close()


def test_a_version_1_store_migrates_to_2(store_url):
    store = EventStore(store_url)
    with store.engine.begin() as conn:  # what version 1 wrote: no index on items.updated
        conn.execute(sa.text("DROP INDEX items_updated"))
        conn.execute(sa.text("UPDATE schema_version SET version = 1"))
    store.close()
    store = EventStore(store_url)
    assert store.version() == 2
    with store.engine.connect() as conn:
        assert "items_updated" in {index["name"] for index in sa.inspect(conn).get_indexes("items")}
    store.put_item("a", "A", {"genre": ["x"]}, {})
    written = store.items_since(None)["a"][3]
    assert store.items_since(written)["a"][:3] == ("A", {"genre": ["x"]}, {})
    assert store.items_since(written + 1) == {}
    store.close()


def test_a_newer_schema_is_refused(store_url):
    store = EventStore(store_url)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE schema_version SET version = 99"))
    store.close()
    with pytest.raises(StoreError, match="schema version 99, newer"):
        EventStore(store_url)


def test_event_ids_are_idempotent_and_order_kept(store_url):
    store = EventStore(store_url)
    stored, dup = store.add_events([NewEvent("u", "a", 1.0, 10.0, "x"), NewEvent("u", "b", None, None, "y")])
    assert [e.event_id for e in stored] == ["x", "y"] and dup == 0
    stored, dup = store.add_events([NewEvent("u", "a", 2.0, None, "x"), NewEvent("v", "c", None, None, None)])
    assert len(stored) == 1 and dup == 1 and stored[0].user == "v"
    assert store.count_events() == 3
    events = store.user_events("u", newest_first=True)
    assert [(e.item, e.value, e.timestamp) for e in events] == [("b", None, None), ("a", 1.0, 10.0)]
    assert [e.seq for e in store.events_after(0)] == sorted(e.seq for e in store.events_after(0))
    store.close()


def test_items_are_upserted(store_url):
    store = EventStore(store_url)
    store.put_item("m1", "Heat", {"genre": ["Crime"]}, {"year": 1995.0})
    store.put_item("m1", "Heat (1995)", {"genre": ["Crime", "Drama"]}, {})
    assert store.all_items() == {"m1": ("Heat (1995)", {"genre": ["Crime", "Drama"]}, {})}
    store.close()


def test_put_items_writes_a_catalogue_in_one_call_and_replaces(store_url):
    store = EventStore(store_url)
    assert store.put_items([("1", "One", {"genre": ["A"]}, {}), ("2", "Two", {"genre": ["B", "C"]}, {"x": 1.0})]) == 2
    assert store.put_items([("2", "Deux", {}, {})]) == 1
    assert store.put_items([]) == 0
    assert store.all_items() == {"1": ("One", {"genre": ["A"]}, {}), "2": ("Deux", {}, {})}
    store.close()


def test_sqlite_runs_in_wal_with_full_sync(tmp_path):
    store = EventStore(sqlite_url(tmp_path / "e.db"))
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("PRAGMA synchronous")).scalar() == 2  # FULL
    store.close()


def test_bad_urls_are_clear_errors(tmp_path):
    with pytest.raises(StoreError, match="not a database URL"):
        EventStore("::nonsense")
    with pytest.raises(StoreError, match="only sqlite"):
        EventStore("mysql://x/y")


def test_train_from_store_builds_a_model_of_the_events(store_url, tmp_path):
    store = EventStore(store_url)
    rows = [NewEvent(str(u), str(i)) for u in range(6) for i in range(4) if (u + i) % 3]
    store.add_events(rows)
    store.close()
    data = interactions_from_store(store_url)
    assert data.nnz == len(rows) and data.kind == "implicit"
    assert sorted(data.users.ids.tolist()) == list(range(6))  # integer ids come back as integers
    out = tmp_path / "model"
    result = CliRunner().invoke(cli_app, ["train", "--from-store", store_url, "--algo", "itemknn", "-o", str(out)])
    assert result.exit_code == 0, result.output
    model = load(out)
    assert model.n_users == 6 and model.n_items == 4
    both = CliRunner().invoke(cli_app, ["train", "sample", "--from-store", store_url, "--algo", "als", "-o", str(out)])
    assert both.exit_code == 1 and "exactly one" in both.output
