"""Every endpoint on the 8x8 checkerboard (ItemKNN), where the answers are known."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from likewise.exceptions import ConfigurationError
from likewise.models import ItemKNN, Popularity, load
from likewise.testing.fixtures import checkerboard, tiny_ratings
from tests.serving.conftest import TOKEN, make_client

WITHHELD = checkerboard()[1]


def items(response) -> list:
    assert response.status_code == 200, response.text
    return [row["item"] for row in response.json()["items"]]


def test_known_user_gets_the_model_answer_and_the_withheld_item_first(client, model_dir):
    model = load(model_dir)
    for user in range(8):
        body = client.get(f"/v1/users/{user}/recommendations", params={"n": 3}).json()
        assert body["fallback"] is None
        expected = model.recommend(user, n=3)
        assert [r["item"] for r in body["items"]] == expected.ids()[0].tolist()
        assert body["items"][0]["item"] == WITHHELD[user]
        np.testing.assert_allclose([r["score"] for r in body["items"]], expected.scores[0], rtol=1e-6)
        assert [r["rank"] for r in body["items"]] == [1, 2, 3]
        assert body["model"]["name"] == "itemknn" and len(body["model"]["version"]) == 16


def test_seen_items_are_excluded_and_n_is_exact_when_eligible(client):
    # user 0 saw 3 of the 8 items: 5 are eligible
    assert len(items(client.get("/v1/users/0/recommendations", params={"n": 5}))) == 5
    got = items(client.get("/v1/users/0/recommendations", params={"n": 100}))
    assert sorted(got) == [1, 4, 5, 6, 7]


def test_exclude_candidates_and_attribute_filters(client):
    got = items(client.get("/v1/users/0/recommendations", params={"n": 3, "exclude": "1,4"}))
    assert 1 not in got and 4 not in got and len(got) == 3
    got = items(client.get("/v1/users/0/recommendations", params={"n": 2, "candidates": "6,7,0"}))
    assert sorted(got) == [6, 7]  # 0 is seen
    for item, genre in ((1, "A"), (4, "B"), (5, "B"), (6, "B"), (7, "C")):
        assert (
            client.put(f"/v1/items/{item}", json={"title": f"Film {item}", "attributes": {"genre": genre}}).status_code
            == 200
        )
    got = client.get("/v1/users/0/recommendations", params={"n": 10, "filter": "genre:B"}).json()["items"]
    assert sorted(r["item"] for r in got) == [4, 5, 6]
    assert {r["title"] for r in got} == {"Film 4", "Film 5", "Film 6"}
    got = items(client.get("/v1/users/0/recommendations", params={"n": 10, "filter": "genre:A|C"}))
    assert sorted(got) == [1, 7]
    got = items(
        client.get("/v1/users/0/recommendations", params=[("n", 10), ("filter", "genre:B"), ("filter", "genre:C")])
    )
    assert got == []


def test_unknown_user_gets_popularity_then_their_events(client):
    body = client.get("/v1/users/newcomer/recommendations", params={"n": 3}).json()
    assert body["fallback"] == "popularity"
    # every item has 3 users; ties by the lower index
    assert [(r["item"], r["score"]) for r in body["items"]] == [(0, 3.0), (1, 3.0), (2, 3.0)]
    posted = client.post(
        "/v1/events", json={"events": [{"user": "newcomer", "item": 4}, {"user": "newcomer", "item": 5}]}
    )
    assert posted.json() == {"accepted": 2, "duplicates": 0}
    body = client.get("/v1/users/newcomer/recommendations", params={"n": 2}).json()
    assert body["fallback"] == "events"
    assert sorted(r["item"] for r in body["items"]) == [6, 7]  # the rest of block 1


def test_an_event_of_a_known_user_is_excluded_and_folded_in_at_once(client, model_dir):
    assert items(client.get("/v1/users/0/recommendations", params={"n": 1})) == [WITHHELD[0]]
    client.post("/v1/events", json={"events": [{"user": 0, "item": int(WITHHELD[0])}]})
    body = client.get("/v1/users/0/recommendations", params={"n": 4}).json()
    assert body["fallback"] is None
    got = [r["item"] for r in body["items"]]
    assert WITHHELD[0] not in got and sorted(got) == [4, 5, 6, 7]
    # the same answer as the model's fold-in of the user's whole history
    model = load(model_dir)
    expected = model.recommend_from_history([0, 1, 2, 3], n=4)
    assert got == expected.ids()[0].tolist()


def test_event_ids_make_retries_idempotent(client):
    batch = {"events": [{"user": "a", "item": 1, "event_id": "e1"}, {"user": "a", "item": 2, "event_id": "e2"}]}
    assert client.post("/v1/events", json=batch).json() == {"accepted": 2, "duplicates": 0}
    assert client.post("/v1/events", json=batch).json() == {"accepted": 0, "duplicates": 2}
    again = {"events": [{"user": "a", "item": 3, "event_id": "e3"}, {"user": "a", "item": 3, "event_id": "e3"}]}
    assert client.post("/v1/events", json=again).json() == {"accepted": 1, "duplicates": 1}
    history = client.get("/v1/users/a/history").json()
    assert [h["item"] for h in history["items"]] == [3, 2, 1] and history["known"] is False


def test_anonymous_visitor_is_folded_in(client, model_dir):
    body = client.post(
        "/v1/recommendations", json={"history": [{"item": 0}, {"item": 1}], "n": 2, "explain": True}
    ).json()
    assert body["fallback"] is None
    assert sorted(r["item"] for r in body["items"]) == [2, 3]
    assert all(r["reason"] for r in body["items"])
    expected = load(model_dir).recommend_from_history([0, 1], n=2)
    assert [r["item"] for r in body["items"]] == expected.ids()[0].tolist()
    empty = client.post("/v1/recommendations", json={"history": [], "n": 2}).json()
    assert empty["fallback"] == "popularity" and [r["item"] for r in empty["items"]] == [0, 1]
    unknown_only = client.post("/v1/recommendations", json={"history": [{"item": 99}], "n": 1}).json()
    assert unknown_only["fallback"] == "popularity"


def test_explain_gives_reasons(client):
    rows = client.get("/v1/users/0/recommendations", params={"n": 2, "explain": "true"}).json()["items"]
    assert all(isinstance(r["reason"], str) and r["reason"] for r in rows)
    rows = client.get("/v1/users/zz/recommendations", params={"n": 2, "explain": "true"}).json()["items"]
    assert rows[0]["reason"] == "popular: 3 users interacted with it"


def test_similar_items_and_users(client):
    assert sorted(items(client.get("/v1/items/0/similar", params={"n": 3}))) == [1, 2, 3]
    users = items(client.get("/v1/users/0/similar", params={"n": 3}))
    assert sorted(users) == [1, 2, 3]  # the same block of tastes
    assert client.get("/v1/items/99/similar").status_code == 404
    assert client.get("/v1/items/abc/similar").status_code == 404
    assert client.get("/v1/users/99/similar").status_code == 404


def test_item_search_and_history(client):
    client.put("/v1/items/3", json={"title": "The Third Man", "attributes": {"genre": ["Noir", "Thriller"]}})
    found = client.get("/v1/items", params={"q": "third"}).json()["items"]
    assert found == [
        {"item": 3, "title": "The Third Man", "attributes": {"genre": ["Noir", "Thriller"]}, "in_model": True}
    ]
    assert len(client.get("/v1/items", params={"limit": 5}).json()["items"]) == 5
    history = client.get("/v1/users/0/history").json()
    assert history["known"] is True
    assert sorted(h["item"] for h in history["items"]) == [0, 2, 3]
    assert {h["source"] for h in history["items"]} == {"training"}


@pytest.mark.parametrize(
    ("path", "params", "needle"),
    [
        ("/v1/users/0/recommendations", {"n": 0}, "greater than or equal to 1"),
        ("/v1/users/0/recommendations", {"n": "ten"}, "valid integer"),
        ("/v1/users/0/recommendations", {"n": 5000}, "less than or equal to 1000"),
        ("/v1/users/0/recommendations", {"filter": "genre"}, "should match pattern"),
        ("/v1/users/0/recommendations", {"exclude": "1," * 10_001}, "at most 20000 characters"),
    ],
)
def test_bad_query_is_a_clear_422(client, path, params, needle):
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert needle in response.json()["detail"]


def test_bad_bodies_are_422_and_big_ones_413(client):
    r = client.post("/v1/events", json={"events": []})
    assert r.status_code == 422 and "events" in r.json()["detail"]
    r = client.post("/v1/events", json={"events": [{"user": "a"}]})
    assert r.status_code == 422 and "item" in r.json()["detail"]
    r = client.post("/v1/events", json={"events": [{"user": "a", "item": 1, "colour": "red"}]})
    assert r.status_code == 422 and "colour" in r.json()["detail"]
    r = client.post("/v1/events", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/v1/events", json={"events": [{"user": "a", "item": i} for i in range(1001)]})
    assert r.status_code == 422 and "at most 1000 items" in r.json()["detail"]
    r = client.post("/v1/events", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "Traceback" not in r.text


def test_writes_need_the_token_when_one_is_set(model_dir):
    with make_client(model_dir, insecure=False, api_token=TOKEN) as c:
        body = {"events": [{"user": "a", "item": 1}]}
        assert c.post("/v1/events", json=body).status_code == 401
        assert c.post("/v1/events", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.post("/v1/events", json=body, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert c.put("/v1/items/1", json={"title": "x"}).status_code == 401
        assert c.post("/v1/admin/reload").status_code == 401
        assert c.get("/v1/users/0/recommendations").status_code == 200  # reads need none


def test_refuses_to_start_with_writes_and_no_token(model_dir):
    with pytest.raises(ConfigurationError, match="LIKEWISE_API_TOKEN"):
        make_client(model_dir, insecure=False)
    with make_client(model_dir, insecure=False, read_only=True) as c:
        assert c.post("/v1/events", json={"events": [{"user": "a", "item": 1}]}).status_code == 403


def test_settings_come_from_the_environment(model_dir, monkeypatch):
    from likewise.serving import Settings

    monkeypatch.setenv("LIKEWISE_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("LIKEWISE_API_TOKEN", "abc")
    monkeypatch.setenv("LIKEWISE_MAX_BODY_BYTES", "5000")
    settings = Settings()  # type: ignore[call-arg]
    assert settings.model_dir == model_dir and settings.api_token.get_secret_value() == "abc"
    assert settings.max_body_bytes == 5000


def test_reload_swaps_the_model(client, model_dir, tmp_path):
    before = client.get("/readyz").json()["model"]
    other = tmp_path / "other"
    data, _ = checkerboard()
    ItemKNN(k=2).fit(data).save(other)
    r = client.post("/v1/admin/reload", json={"path": str(other)})
    assert r.status_code == 200 and r.json()["model"]["version"] != before["version"]
    assert client.get("/readyz").json()["model"]["version"] == r.json()["model"]["version"]
    bad = client.post("/v1/admin/reload", json={"path": str(tmp_path / "missing")})
    assert bad.status_code == 409 and "cannot load" in bad.json()["detail"]
    assert client.get("/readyz").json()["model"]["version"] == r.json()["model"]["version"]  # still serving


def test_health_readiness_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    client.get("/v1/users/0/recommendations")
    client.post("/v1/events", json={"events": [{"user": "m", "item": 1}]})
    text = client.get("/metrics").text
    assert 'likewise_requests_total{method="GET",route="/v1/users/{user}/recommendations",status="200"} 1.0' in text
    assert "likewise_request_seconds_bucket" in text
    assert "likewise_events_ingested_total 1.0" in text
    assert 'likewise_model_info{name="itemknn"' in text


def test_openapi_and_docs(client):
    schema = client.get("/openapi.json").json()
    for path in (
        "/v1/users/{user}/recommendations",
        "/v1/recommendations",
        "/v1/events",
        "/v1/items/{item}",
        "/v1/items/{item}/similar",
        "/v1/users/{user}/similar",
        "/v1/admin/reload",
        "/v1/items",
        "/v1/users/{user}/history",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in schema["paths"], path
    assert client.get("/docs").status_code == 200


class NoFoldIn(Popularity):
    """Popularity that says it cannot fold in: every likewise model can, so the test brings its own."""

    algorithm = "test-serving-no-fold-in"
    supports_fold_in = False


def test_model_that_cannot_fold_in_falls_back_and_says_so(tmp_path):
    # counts on tiny_ratings: i3 5 users, i0 4, i1 3, i5 3, i2 1, i4 1; u0 saw i0, i1, i3
    NoFoldIn(by="count").fit(tiny_ratings()).save(tmp_path / "m")
    with make_client(tmp_path / "m") as c:
        body = c.get("/v1/users/u0/recommendations", params={"n": 2}).json()
        assert body["fallback"] is None and items_of(body) == ["i5", "i2"]
        c.post("/v1/events", json={"events": [{"user": "u0", "item": "i2", "value": 5}]})
        body = c.get("/v1/users/u0/recommendations", params={"n": 2}).json()
        assert body["fallback"] == "training-history" and items_of(body) == ["i5", "i4"]
        c.post("/v1/events", json={"events": [{"user": "new", "item": "i2", "value": 5}]})
        body = c.get("/v1/users/new/recommendations", params={"n": 3}).json()
        assert body["fallback"] == "popularity-no-fold-in" and items_of(body) == ["i3", "i0", "i1"]
        visitor = c.post("/v1/recommendations", json={"history": [{"item": "i3"}], "n": 1}).json()
        assert visitor["fallback"] == "popularity-no-fold-in" and items_of(visitor) == ["i0"]


def items_of(body: dict) -> list:
    return [r["item"] for r in body["items"]]


def test_events_survive_a_restart_through_the_store(model_dir):
    with make_client(model_dir) as c:
        c.post("/v1/events", json={"events": [{"user": "r", "item": 4}]})
    with make_client(model_dir) as c:
        body = c.get("/v1/users/r/recommendations", params={"n": 3}).json()
        assert body["fallback"] == "events" and sorted(r["item"] for r in body["items"]) == [5, 6, 7]
    assert (Path(model_dir).parent / "events.db").exists()
    shutil.rmtree(model_dir)


def test_watch_picks_up_a_model_saved_over_the_served_one(model_dir):
    import time

    with make_client(model_dir, watch=True, watch_interval=0.1, refresh_interval=0.05) as c:
        before = c.get("/readyz").json()["model"]["version"]
        ItemKNN(k=3).fit(checkerboard()[0]).save(model_dir)
        deadline = time.monotonic() + 10
        while c.get("/readyz").json()["model"]["version"] == before:
            assert time.monotonic() < deadline, "--watch did not reload within 10 s"
            time.sleep(0.05)
        assert c.get("/v1/users/0/recommendations", params={"n": 1}).status_code == 200


def _fold_in_score(model, history, item):
    recs = model.recommend_from_history(history, n=1, candidates=[item], exclude_seen=False)
    return float(recs.scores[0][0]) if recs.indices[0][0] >= 0 else 0.0


def test_fold_in_reasons_name_the_history_items_that_drove_each_row(client, model_dir):
    history = [0, 1, 4]
    body = client.post(
        "/v1/recommendations", json={"history": [{"item": i} for i in history], "n": 3, "explain": True}
    ).json()
    model = load(model_dir)
    assert len(body["items"]) == 3
    for row in body["items"]:
        full = _fold_in_score(model, history, row["item"])
        assert full == pytest.approx(row["score"], rel=1e-5)
        drops = {h: full - _fold_in_score(model, [k for k in history if k != h], row["item"]) for h in history}
        named = sorted((h for h in history if drops[h] > 0), key=lambda h: (-drops[h], h))
        assert named, "every recommended item is raised by some history item here"
        assert row["reason"].startswith(f"because of item {named[0]} (+{drops[named[0]]:.3g})")
        for h in history:
            assert (f"item {h} (" in row["reason"]) == (h in named[:3])


def test_a_new_users_events_give_fold_in_reasons(client):
    posted = client.post("/v1/events", json={"events": [{"user": "fresh", "item": 0}, {"user": "fresh", "item": 1}]})
    assert posted.status_code == 200
    body = client.get("/v1/users/fresh/recommendations", params={"n": 2, "explain": "true"}).json()
    assert body["fallback"] == "events"
    assert all(r["reason"].startswith("because of item ") for r in body["items"])


# ------------------------------------------------------------------ cold start
@pytest.fixture
def hybrid_dir(tmp_path) -> Path:
    """HybridMF on the 16x16 checkerboard, items described by their block (and a shared feature)."""
    from likewise.data.interactions import FeatureMatrix
    from likewise.models import HybridMF

    data = checkerboard(16, 16)[0]
    ids = data.items.ids
    blocks = [f"block={0 if k < data.n_items // 2 else 1}" for k in range(data.n_items)]
    features = FeatureMatrix.from_pairs(data.items, np.concatenate([ids, ids]), blocks + ["all"] * data.n_items)
    model = HybridMF(n_factors=8, n_epochs=40, item_identity=False, deterministic=True, random_state=0)
    model.fit(data.with_features(item_features=features)).save(tmp_path / "hybrid")
    return tmp_path / "hybrid"


def test_put_with_features_makes_a_new_item_recommendable(hybrid_dir):
    new = {1000: {"block=0": 1.0, "all": 1.0}, 1001: {"block=1": 1.0, "all": 1.0}}
    want = load(hybrid_dir).add_items(list(new), list(new.values()))
    with make_client(hybrid_dir) as c:
        version = c.get("/readyz").json()["model"]["version"]
        for item, features in new.items():
            put = c.put(f"/v1/items/{item}", json={"title": f"new {item}", "features": features})
            assert put.status_code == 200 and put.json()["in_model"] is True
        assert c.get("/readyz").json()["model"]["version"] == f"{version}+2"
        for user, expected in ((0, 1000), (15, 1001)):
            body = c.get(f"/v1/users/{user}/recommendations", params={"n": 2, "candidates": "1000,1001"}).json()
            assert body["items"][0]["item"] == expected
            assert body["items"][0]["title"] == f"new {expected}"
            mine = want.recommend(user, n=2, candidates=[1000, 1001])
            assert [r["score"] for r in body["items"]] == pytest.approx(mine.scores[0].tolist(), rel=1e-5)
        similar = c.get("/v1/items/1000/similar", params={"n": 3})
        assert similar.status_code == 200 and len(similar.json()["items"]) == 3
    # a restart (or another worker, or a reload) adds the stored items again
    with make_client(hybrid_dir) as c:
        body = c.get("/v1/users/0/recommendations", params={"n": 1, "candidates": "1000"}).json()
        assert [r["item"] for r in body["items"]] == [1000]
        assert c.post("/v1/admin/reload").status_code == 200
        body = c.get("/v1/users/15/recommendations", params={"n": 1, "candidates": "1001"}).json()
        assert [r["item"] for r in body["items"]] == [1001]


def test_features_a_model_cannot_use_change_nothing_in_it(client, hybrid_dir):
    # ItemKNN has no cold-item scoring: stored, not recommendable
    put = client.put("/v1/items/500", json={"features": {"x": 1.0}})
    assert put.status_code == 200 and put.json()["in_model"] is False
    with make_client(hybrid_dir) as c:
        bad = c.put("/v1/items/not-an-int", json={"features": {"all": 1.0}})  # integer ids
        assert bad.status_code == 200 and bad.json()["in_model"] is False
