"""What one server process holds (likewise.serving.runtime): filter masks, and a model made
ready before it is swapped in."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise.models import ALS
from likewise.serving.runtime import Catalogue, ServedModel
from likewise.serving.store import EventStore, sqlite_url
from likewise.testing.fixtures import checkerboard
from tests.serving.conftest import make_client

GENRES = ("A", "B", "C")
puts = st.lists(
    st.tuples(
        st.integers(0, 9),  # 8 and 9 are not in the model
        st.lists(st.sampled_from(GENRES), max_size=3),
        st.lists(st.sampled_from(("x", "y")), max_size=2),
    ),
    max_size=25,
)


def brute_mask(catalogue: Catalogue, n_items: int, attribute: str, values: frozenset[str]) -> np.ndarray:
    """The reference: a pass over every entry."""
    mask = np.zeros(n_items, dtype=bool)
    for item, (_title, attrs) in catalogue.entries.items():
        if int(item) < n_items and values & set(attrs.get(attribute, ())):
            mask[int(item)] = True
    return mask


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(puts)
def test_filter_masks_follow_every_put_and_match_a_pass_over_the_entries(checker_dir, changes):
    served = ServedModel(checker_dir)
    with tempfile.TemporaryDirectory() as folder:
        store = EventStore(sqlite_url(Path(folder) / "events.db"))
        try:
            _check_masks(served, store, changes)
        finally:
            store.close()


def _check_masks(served: ServedModel, store: EventStore, changes: list) -> None:
    """Put `changes` one by one; after each, every mask equals the reference."""
    catalogue = Catalogue(store)
    queries = [("genre", frozenset(v)) for v in ({"A"}, {"B"}, {"A", "C"})] + [("tag", frozenset({"x"}))]
    for item, genres, tags in changes:
        attributes = {"genre": genres, "tag": tags}
        store.put_item(str(item), None, attributes, {})
        catalogue.put(str(item), None, attributes)
        for attribute, values in queries:  # cached masks must be dropped when an entry changes
            np.testing.assert_array_equal(
                catalogue.mask(served, attribute, values), brute_mask(catalogue, served.n_items, attribute, values)
            )
    other = Catalogue(store)  # another worker reads the same entries from the store
    for attribute, values in queries:
        np.testing.assert_array_equal(
            other.mask(served, attribute, values), brute_mask(catalogue, served.n_items, attribute, values)
        )


def test_a_started_or_reloaded_model_has_its_caches_filled(tmp_path: Path):
    """Measured before: the first requests after a reload each computed Y^T Y and the packed
    rows of their filter; a fresh worker's first one imported pyarrow and pandas."""
    data = checkerboard()[0]
    for seed in (0, 1):
        ALS(n_factors=3, n_epochs=5, random_state=seed).fit(data).save(tmp_path / f"als-{seed}")
    with make_client(tmp_path / "als-0") as client:
        state = client.app.state.likewise  # type: ignore[attr-defined]
        model = state.served.model
        assert model.items_._lookup is not None and "_item_gram_cache_" in model.__dict__
        for item in (1, 4, 6):
            assert client.put(f"/v1/items/{item}", json={"attributes": {"genre": "B"}}).status_code == 200
        assert client.get("/v1/users/0/recommendations", params={"filter": "genre:B"}).status_code == 200
        reloaded = client.post("/v1/admin/reload", json={"path": str(tmp_path / "als-1")})
        assert reloaded.status_code == 200
        model = state.served.model
        assert model.items_._lookup is not None
        np.testing.assert_allclose(
            model.__dict__["_item_gram_cache_"][1], model.item_factors_.T @ model.item_factors_, rtol=1e-6
        )
        ((items, rows, _offsets),) = model.__dict__["_subset_cache_"][1].values()
        assert items.tolist() == [1, 4, 6]  # the filter being served, packed before the swap
        np.testing.assert_array_equal(rows, model.item_factors_[[1, 4, 6]])


def test_a_missing_mask_is_built_once_while_the_other_threads_wait(checker_dir, tmp_path):
    served = ServedModel(checker_dir)
    store = EventStore(sqlite_url(tmp_path / "events.db"))
    try:
        for item in (1, 4, 6):
            store.put_item(str(item), None, {"genre": ["B"]}, {})
        catalogue = Catalogue(store)
        calls, lookup = [], served.item_indices

        def slow_lookup(texts: list[str]) -> np.ndarray:
            calls.append(sorted(texts))
            time.sleep(0.2)  # every other thread arrives while this one builds
            if len(calls) == 1:
                raise RuntimeError("the first build fails")
            return lookup(texts)

        served.item_indices = slow_lookup  # type: ignore[method-assign]
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(catalogue.mask, served, "genre", frozenset({"B"})) for _ in range(8)]
            outcomes = [f.exception() or f.result() for f in futures]
        failed = [o for o in outcomes if isinstance(o, RuntimeError)]
        masks = [o for o in outcomes if isinstance(o, np.ndarray)]
        assert len(failed) == 1 and len(masks) == 7  # the failure reaches only the thread that built
        assert calls == [["1", "4", "6"]] * 2  # then one waiting thread built it, once, for all
        assert all(m is masks[0] for m in masks) and np.flatnonzero(masks[0]).tolist() == [1, 4, 6]
    finally:
        store.close()
