"""What the load target needs from the server's code paths (issue 13, section 7).

- a reload builds the new model off the request path: requests keep being answered, quickly and
  by the old model, while it loads, and by the new one after the swap;
- the overlay's cheaper poll (no re-read lookback on SQLite) still finds every other worker's
  events, including ones committed below this worker's own newest write;
- the server's fold-in (by index, the cached filter mask) answers exactly like the model's own
  raw-id `recommend_from_history` with the same filter.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from likewise import ALS
from likewise.serving import app as app_module
from likewise.serving.runtime import Overlay
from likewise.serving.store import EventStore, NewEvent, sqlite_url
from likewise.testing.fixtures import checkerboard
from tests.serving.conftest import make_client


class _SlowServedModel(app_module.ServedModel):
    """A ServedModel whose loading takes `delay` seconds (as a large model's would)."""

    started = threading.Event()
    delay = 1.5

    def __init__(self, *args: object, **kwargs: object) -> None:
        type(self).started.set()
        time.sleep(self.delay)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def test_requests_are_answered_quickly_by_the_old_model_while_a_reload_runs(model_dir, tmp_path, monkeypatch):
    other = tmp_path / "other"
    data, _ = checkerboard()
    ALS(n_factors=4, n_epochs=3, random_state=0).fit(data).save(other)
    with make_client(model_dir) as client:
        before = client.get("/readyz").json()["model"]["version"]
        _SlowServedModel.started.clear()
        monkeypatch.setattr(app_module, "ServedModel", _SlowServedModel)
        answer: dict[str, object] = {}

        def reload() -> None:
            response = client.post("/v1/admin/reload", json={"path": str(other)})
            answer["status"], answer["body"] = response.status_code, response.json()

        thread = threading.Thread(target=reload)
        start = time.monotonic()
        thread.start()
        assert _SlowServedModel.started.wait(10)
        latencies, versions = [], set()
        while thread.is_alive() and time.monotonic() - start < _SlowServedModel.delay - 0.3:
            t0 = time.perf_counter()
            response = client.get("/v1/users/3/recommendations", params={"n": 2})
            latencies.append(time.perf_counter() - t0)
            assert response.status_code == 200 and len(response.json()["items"]) == 2
            versions.add(response.json()["model"]["version"])
        thread.join(30)
        assert len(latencies) >= 5, "too few requests ran during the reload"
        assert versions == {before}  # the old model answered while the new one loaded
        assert max(latencies) < 0.5, f"a request waited {max(latencies):.2f} s behind the reload"
        assert answer["status"] == 200
        new_version = answer["body"]["model"]["version"]  # type: ignore[index]
        assert new_version != before
        assert client.get("/v1/users/3/recommendations").json()["model"]["version"] == new_version


def test_the_poll_finds_another_workers_event_committed_below_its_own(tmp_path):
    url = sqlite_url(tmp_path / "events.db")
    ours, theirs = EventStore(url), EventStore(url)
    overlay = Overlay(ours)
    overlay.refresh()
    (other_event,), _ = theirs.add_events([NewEvent("u", "a", 1.0, event_id="theirs")])  # seq 1, another worker
    own, _ = ours.add_events([NewEvent("u", "b", 2.0, event_id="ours")])  # seq 2, this worker
    overlay.apply(own)  # its own write, at once; seq 1 is not read yet
    assert overlay.events_for("u", 0.0) == {"b": 2.0}
    assert overlay.cursor == 0  # own writes do not move the read cursor past seq 1
    overlay.refresh()
    assert overlay.events_for("u", 0.0) == {"a": 1.0, "b": 2.0}
    assert overlay.cursor == own[0].seq > other_event.seq
    assert ours.commits_in_seq_order
    for store in (ours, theirs):
        store.close()


def test_the_poll_reads_only_new_events_on_sqlite(tmp_path, monkeypatch):
    store = EventStore(sqlite_url(tmp_path / "events.db"))
    store.add_events([NewEvent("u", str(i), 1.0) for i in range(50)])
    overlay = Overlay(store)
    overlay.refresh()
    starts: list[int] = []
    real = store.events_after
    monkeypatch.setattr(store, "events_after", lambda seq, **kw: (starts.append(seq), real(seq, **kw))[1])
    overlay.refresh()
    assert starts == [50]  # from the cursor itself, not 1000 behind it
    store.close()


@pytest.fixture(scope="module")
def als_dir(tmp_path_factory):
    from likewise.datasets import synthetic

    data = synthetic(80, 300, 2_500, kind="implicit", n_genres=4, random_state=1)
    path = tmp_path_factory.mktemp("als") / "model"
    ALS(n_factors=8, n_epochs=4, random_state=0).fit(data).save(path)
    genres = {str(i): str(g).split("|") for i, g in zip(data.items.ids.tolist(), data.item_info["genres"], strict=True)}
    return path, genres


def test_server_fold_in_with_a_filter_is_the_models_own(als_dir, tmp_path):
    import shutil

    from likewise.models import load

    source, genres = als_dir
    model_dir = tmp_path / "model"
    shutil.copytree(source, model_dir)
    model = load(model_dir)
    genre = sorted({g for gs in genres.values() for g in gs})[0]
    with make_client(model_dir) as client:
        for item, values in genres.items():
            assert client.put(f"/v1/items/{item}", json={"attributes": {"genre": values}}).status_code == 200
        users = [str(u) for u in model.users_.ids[:6].tolist()]
        posted = {user: [str(i) for i in model.items_.ids[k * 7 : k * 7 + 3].tolist()] for k, user in enumerate(users)}
        events = [{"user": u, "item": i, "value": 2.0} for u, items in posted.items() for i in items]
        assert client.post("/v1/events", json={"events": events}).json()["accepted"] == len(events)
        keep = np.array([genre in genres[str(i)] for i in model.items_.ids.tolist()])
        for user in users:
            got = client.get(f"/v1/users/{user}/recommendations", params={"n": 5, "filter": f"genre:{genre}"}).json()
            uidx = int(model.users_.to_index([int(user)])[0])
            row = model.seen_[uidx]
            history = dict(zip(model.items_.ids[row.indices].tolist(), row.data.tolist(), strict=True))
            history.update({int(i): 2.0 for i in posted[user]})
            items = np.array(sorted(history))
            want = model.recommend_from_history(
                items,
                weights=np.array([history[i] for i in items], dtype=np.float32),
                n=5,
                candidates=model.items_.ids[keep],
            )
            assert [r["item"] for r in got["items"]] == want.ids()[0].tolist()
            np.testing.assert_allclose([r["score"] for r in got["items"]], want.scores[0], rtol=1e-5, atol=1e-6)
            assert all(genre in genres[str(r["item"])] for r in got["items"])
