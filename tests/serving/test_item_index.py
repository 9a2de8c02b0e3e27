"""The server answers from a saved model's item index (issue 15): no serving code knows about it,
`likewise.load` restores it and the model's recommend / fold-in / similar-items paths search it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from likewise import ALS, load
from likewise.data.synthetic import synthetic
from likewise.retrieval import HNSWIndex
from tests.serving.conftest import make_client

pytest.importorskip("faiss")


def test_server_searches_the_saved_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = synthetic(300, 2000, 9000, kind="implicit", random_state=0)
    model = ALS(n_factors=8, random_state=0, n_threads=1).fit(data).build_index("hnsw", similar_items=True)
    model.save(tmp_path / "model")
    calls: list[int] = []
    original = HNSWIndex.search

    def counted(self: HNSWIndex, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HNSWIndex, "search", counted)
    saved = load(tmp_path / "model")
    user, items = int(data.users.ids[0]), data.items.ids
    with make_client(tmp_path / "model") as client:
        body = client.get(f"/v1/users/{user}/recommendations", params={"n": 10}).json()
        assert calls, "the user's recommendations did not come from the index"
        got = [row["item"] for row in body["items"]]
        assert got == saved.recommend(user, 10).ids()[0].tolist()
        seen = set(data.items.to_ids(data.matrix[0].indices).tolist())
        assert len(got) == 10 and not set(got) & seen
        calls.clear()
        history = [{"item": int(i)} for i in items[:3]]
        body = client.post("/v1/recommendations", json={"history": history, "n": 5}).json()
        assert calls and len(body["items"]) == 5
        calls.clear()
        body = client.get(f"/v1/items/{int(items[0])}/similar", params={"n": 4}).json()
        assert calls and [row["item"] for row in body["items"]] == saved.similar_items(items[:1], 4).ids()[0].tolist()
        assert np.isin([row["item"] for row in body["items"]], items[1:]).all()
