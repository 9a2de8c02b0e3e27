"""A real `likewise serve` process: SIGKILL during an event stream, parallel requests, freshness across workers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from likewise.serving.store import EventStore, sqlite_url
from tests.serving.conftest import TOKEN, LiveServer

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def live_store(request, tmp_path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "events.db")
    return request.getfixturevalue("pg_store_url")


def _stream(server: LiveServer, sent: list[list[str]], acked: set[str], stop: threading.Event) -> None:
    """Post batches of 5 events with fresh ids until stopped or the server dies."""
    with httpx.Client(base_url=server.url, timeout=10, headers=AUTH) as client:
        k = 0
        while not stop.is_set():
            ids = [f"e{k}-{j}" for j in range(5)]
            batch = [{"user": f"s{k % 7}", "item": (k + j) % 8, "event_id": e} for j, e in enumerate(ids)]
            sent.append(ids)
            k += 1
            try:
                response = client.post("/v1/events", json={"events": batch})
            except httpx.HTTPError:
                return
            if response.status_code == 200:
                acked.update(ids)


def test_every_acknowledged_event_survives_sigkill_exactly_once(model_dir, live_store):
    server = LiveServer(model_dir, live_store)
    server.start()
    sent: list[list[str]] = []
    acked: set[str] = set()
    stop = threading.Event()
    thread = threading.Thread(target=_stream, args=(server, sent, acked, stop))
    thread.start()
    deadline = time.monotonic() + 60
    while len(acked) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # SIGKILL mid-stream: batches are in flight
    stop.set()
    thread.join(timeout=30)
    assert len(acked) >= 300
    restarted = LiveServer(model_dir, live_store)
    restarted.start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=10, headers=AUTH) as client:
            # the client retries everything it sent, acknowledged or not, with the same ids
            for k, ids in enumerate(sent):
                batch = [{"user": f"s{k % 7}", "item": (k + j) % 8, "event_id": e} for j, e in enumerate(ids)]
                body = client.post("/v1/events", json={"events": batch}).json()
                assert body["accepted"] + body["duplicates"] == 5
                if set(ids) <= acked:
                    assert body == {"accepted": 0, "duplicates": 5}
    finally:
        restarted.stop()
    store = EventStore(live_store)
    with store.engine.connect() as conn:
        counts = dict(conn.execute(sa.text("SELECT event_id, count(*) FROM events GROUP BY event_id")).all())
    store.close()
    assert acked <= set(counts)
    assert set(counts) == {e for ids in sent for e in ids}
    assert set(counts.values()) == {1}


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
