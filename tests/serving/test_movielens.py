"""A model trained from ml-latest-small answers every endpoint (skipped when the data is absent)."""

from __future__ import annotations

import pytest

from likewise.data.movielens import read_movielens
from likewise.models import ALS
from tests._paths import SHARED_DATA
from tests.serving.conftest import make_client

ML = SHARED_DATA / "ml-latest-small"


@pytest.fixture(scope="module")
def ml_model(tmp_path_factory):
    if not (ML / "ratings.csv").exists():
        pytest.skip(f"{ML} is not available")
    data = read_movielens(ML)
    path = tmp_path_factory.mktemp("ml") / "model"
    ALS(n_factors=16, n_epochs=5, random_state=0).fit(data).save(path)
    return path


def test_every_endpoint_answers_on_ml_latest_small(ml_model):
    with make_client(ml_model) as c:
        body = c.get("/v1/users/1/recommendations", params={"n": 10, "explain": "true"}).json()
        assert body["fallback"] is None and len(body["items"]) == 10
        assert all(r["title"] and r["reason"] for r in body["items"])
        toy = c.get("/v1/items", params={"q": "toy story"}).json()["items"]
        assert toy and "Toy Story" in toy[0]["title"]
        toy_id = toy[0]["item"]
        assert c.put(f"/v1/items/{toy_id}", json={"attributes": {"genre": ["Animation", "Comedy"]}}).status_code == 200
        only = c.get("/v1/users/1/recommendations", params={"n": 10, "filter": "genre:Animation"}).json()["items"]
        assert [r["item"] for r in only] in ([toy_id], [])  # the only tagged item, unless user 1 saw it
        visitor = c.post("/v1/recommendations", json={"history": [{"item": toy_id, "weight": 5}], "n": 5}).json()
        assert visitor["fallback"] is None and len(visitor["items"]) == 5
        assert toy_id not in [r["item"] for r in visitor["items"]]
        assert len(c.get(f"/v1/items/{toy_id}/similar", params={"n": 5}).json()["items"]) == 5
        assert len(c.get("/v1/users/1/similar", params={"n": 5}).json()["items"]) == 5
        assert c.post("/v1/events", json={"events": [{"user": "visitor-1", "item": toy_id}]}).json()["accepted"] == 1
        assert c.get("/v1/users/visitor-1/recommendations").json()["fallback"] == "events"
        assert c.get("/v1/users/1/history", params={"limit": 5}).json()["known"] is True
        assert c.post("/v1/admin/reload").status_code == 200
        assert c.get("/readyz").status_code == 200 and c.get("/healthz").status_code == 200
        assert "likewise_requests_total" in c.get("/metrics").text
