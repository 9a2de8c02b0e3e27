"""A real `likewise serve` process: SIGKILL during an event stream, parallel requests, freshness across workers."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from likewise.serving.store import sqlite_url
from likewise.testing.serving import check_durability
from tests.serving.conftest import TOKEN, LiveServer

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def live_store(request, tmp_path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "events.db")
    return request.getfixturevalue("pg_store_url")


def test_every_acknowledged_event_survives_sigkill_exactly_once(model_dir, live_store):
    found = check_durability(model_dir, live_store, token=TOKEN, min_acked=300)
    assert found.acked >= 300
    assert found.lost == 0  # every acknowledged event is in the store after the restart
    assert found.duplicated == 0 and found.phantom == 0
    assert found.acked_retries_accepted == 0  # a retry of an acknowledged event is a duplicate
    assert found.retry_miscounts == 0
    assert found.stored == found.sent  # the unacknowledged in-flight batch is stored once, by the retry
    assert found.ok


@pytest.fixture
def live(model_dir, tmp_path):
    server = LiveServer(model_dir, sqlite_url(tmp_path / "events.db"))
    server.start()
    yield server
    server.stop()


def test_parallel_requests_equal_serial_answers(live):
    requests = [
        (f"/v1/users/{u % 10}/recommendations", {"n": 1 + u % 6, "explain": str(u % 2 == 0).lower()}) for u in range(40)
    ]
    requests += [(f"/v1/items/{i % 8}/similar", {"n": 3}) for i in range(16)]
    with httpx.Client(base_url=live.url, timeout=30) as client:
        serial = [client.get(path, params=params).json() for path, params in requests]

        def one(k: int) -> dict:
            path, params = requests[k % len(requests)]
            return client.get(path, params=params).json()

        with ThreadPoolExecutor(max_workers=16) as pool:
            parallel = list(pool.map(one, range(len(requests) * 5)))
    for k, body in enumerate(parallel):
        assert body == serial[k % len(requests)]


def test_an_acknowledged_event_changes_the_next_answer_within_a_second(live, model_dir, tmp_path):
    # a second worker on the same store sees the event through its poll of the store
    other = LiveServer(model_dir, live.store)
    other.start()
    try:
        with httpx.Client(timeout=10) as client:
            first = client.get(f"{live.url}/v1/users/0/recommendations", params={"n": 1}).json()["items"][0]["item"]
            acked = client.post(f"{live.url}/v1/events", headers=AUTH, json={"events": [{"user": 0, "item": first}]})
            assert acked.status_code == 200
            t0 = time.monotonic()
            same = client.get(f"{live.url}/v1/users/0/recommendations", params={"n": 5}).json()
            assert first not in [r["item"] for r in same["items"]]  # the worker that stored it: at once
            while True:
                seen = client.get(f"{other.url}/v1/users/0/recommendations", params={"n": 5}).json()
                if first not in [r["item"] for r in seen["items"]]:
                    break
                assert time.monotonic() - t0 < 1.0, "the other worker did not see the event within 1 s"
                time.sleep(0.02)
            assert seen["items"] == same["items"]
    finally:
        other.stop()


def test_another_workers_put_changes_the_filters_within_a_second(live, model_dir):
    other = LiveServer(model_dir, live.store)
    other.start()
    try:
        with httpx.Client(timeout=10) as client:
            top = client.get(f"{other.url}/v1/users/0/recommendations", params={"n": 1}).json()["items"][0]["item"]
            params = {"n": 8, "filter": "genre:Rare"}
            assert client.get(f"{other.url}/v1/users/0/recommendations", params=params).json()["items"] == []
            body = {"title": "rare one", "attributes": {"genre": "Rare"}}
            assert client.put(f"{live.url}/v1/items/{top}", headers=AUTH, json=body).status_code == 200
            t0 = time.monotonic()
            while True:
                rows = client.get(f"{other.url}/v1/users/0/recommendations", params=params).json()["items"]
                if rows:
                    break
                assert time.monotonic() - t0 < 1.0, "the other worker did not see the PUT within 1 s"
                time.sleep(0.02)
            assert [(r["item"], r["title"]) for r in rows] == [(top, "rare one")]
    finally:
        other.stop()
