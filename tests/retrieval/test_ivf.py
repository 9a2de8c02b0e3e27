"""The IVF-PQ index (issue 15): its answers against the brute-force twin, filters and exactly `k`,
recall, the exact fallback, serialisation and its checks, parameters."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likewise.exceptions import InvalidParameterError
from likewise.retrieval import ExactIndex, ItemVectors, IVFPQIndex, build_index, restore_index
from likewise.retrieval.ivf import default_nlist
from tests.reference.retrieval import search_reference
from tests.retrieval.test_retrieval import _exclude, _factors, _recall, problems

pytest.importorskip("faiss")


@settings(max_examples=40, deadline=None)
@given(problems(max_items=400), st.integers(1, 3), st.booleans())
def test_every_list_probed_gives_the_twins_answer_up_to_ties(case: dict, rerank: int, all_lists: bool) -> None:
    """Integer vectors with a handful of values, one code group per coordinate: the codes are
    (almost) exact, so with every list probed the re-ranked answer is the brute-force one; where
    several items tie at the k-th score either may be returned (the shortlist cuts ties in code
    order). With few lists probed the filters and exactly-k promises still hold."""
    items = ItemVectors.of(case["vectors"], case["offsets"])
    n_items, k = items.n_items, case["k"]
    nlist = default_nlist(n_items)
    index = IVFPQIndex.build(items, n_threads=1, rerank=rerank, nprobe=nlist if all_lists else 1)
    exclude = None if case["sets"] is None else _exclude(case["sets"], n_items)
    idx, scores = index.search(case["queries"], k, case["allowed"], exclude)
    ref_idx, ref_scores = search_reference(
        case["vectors"], case["offsets"], case["queries"], k, case["allowed"], case["sets"]
    )
    allowed = np.ones(n_items, bool) if case["allowed"] is None else case["allowed"]
    for row in range(idx.shape[0]):
        valid = idx[row] >= 0
        assert valid.sum() == (ref_idx[row] >= 0).sum()  # exactly k, or every eligible item
        assert (valid[1:] <= valid[:-1]).all() and np.isneginf(scores[row][~valid]).all()
        got = idx[row][valid]
        banned = set() if case["sets"] is None else case["sets"][row]
        assert len(set(got.tolist())) == got.size and allowed[got].all() and not set(got.tolist()) & banned
        exact = case["queries"][row].astype(np.float64) @ case["vectors"][got].T.astype(np.float64)
        if case["offsets"] is not None:
            exact = exact + case["offsets"][got]
        np.testing.assert_array_equal(scores[row][valid], exact.astype(np.float32))  # exact scores
        assert (np.diff(scores[row][valid]) <= 0).all()
        if all_lists:
            np.testing.assert_array_equal(scores[row], ref_scores[row])
            kth = ref_scores[row][valid][-1] if valid.any() else np.inf
            above = ref_idx[row][ref_scores[row] > kth]
            assert set(above.tolist()) <= set(got.tolist())


def test_the_lists_answer_when_the_probe_holds_enough() -> None:
    """With defaults on 5000 factor-like items the index answers (no exact fallback), with
    recall@10 >= 0.95 against the exact index, seen items and an offset included."""
    vectors, queries = _factors(5000, 16, 0)
    offsets = np.random.default_rng(1).normal(0, 0.2, 5000).astype(np.float32)
    items = ItemVectors.of(vectors, offsets)
    rng = np.random.default_rng(2)
    seen = _exclude([set(rng.choice(5000, 40, replace=False).tolist()) for _ in range(100)], 5000)
    index = IVFPQIndex.build(items, n_threads=1)
    calls = []
    propose = index._propose
    index._propose = lambda *args: calls.append(args[1]) or propose(*args)  # type: ignore[method-assign]
    truth = ExactIndex(items).search(queries, 10, exclude=seen)[0]
    found = index.search(queries, 10, exclude=seen)[0]
    assert calls and _recall(found, truth) >= 0.95
    single = np.vstack([index.search(q, 10, exclude=seen[r])[0] for r, q in enumerate(queries[:10])])
    np.testing.assert_array_equal(single, found[:10])  # a batch is the same searches


def test_a_single_query_over_two_threads_splits_its_lists_and_answers_the_same() -> None:
    """With 2 threads a single query goes through the probe-parallel view (faiss implem 15), a
    batch through the default object; both search the same lists, so after the exact re-rank the
    answers agree (a tie in code score at the shortlist's end may differ: allow 1% of the items)."""
    vectors, queries = _factors(20_000, 16, 4)
    items = ItemVectors.of(vectors)
    index = IVFPQIndex.build(items, n_threads=2)
    assert index._one_query.implem == 15 and index._index.implem == 0
    assert index._one_query.invlists.this == index._index.invlists.this  # the codes are shared, not copied
    used = []
    for name in ("_one_query", "_index"):
        searcher = getattr(index, name)
        setattr(index, name, _Spy(searcher, name, used))
    batch = index.search(queries, 10)[0]
    assert used == ["_index"]
    single = np.vstack([index.search(q, 10)[0] for q in queries])
    assert set(used[1:]) == {"_one_query"}
    assert _recall(single, batch) >= 0.99
    index.n_threads = 1  # one thread: a single query takes the default object again
    used.clear()
    index.search(queries[0], 10)
    assert used == ["_index"]


class _Spy:
    """Records which faiss object answered, then forwards the call."""

    def __init__(self, target: object, name: str, used: list[str]) -> None:
        self.target, self.name, self.used = target, name, used
        self.implem = target.implem

    def search(self, *args: object, **kwargs: object) -> object:
        self.used.append(self.name)
        return self.target.search(*args, **kwargs)  # type: ignore[attr-defined]


def test_the_probe_parallel_view_keeps_the_lists_it_shares_alive() -> None:
    """The view does not own the inverted lists: it must hold their owner, or a search after the
    owner's last Python reference is gone would read freed memory (a crash, seen in a scratch run)."""
    import gc

    vectors, queries = _factors(3000, 8, 5)
    index = IVFPQIndex.build(ItemVectors.of(vectors), n_threads=2)
    view = index._one_query
    view.nprobe = 10
    padded = np.ascontiguousarray(queries[:1], dtype=np.float32)
    before = set(view.search(padded, 100)[1][0].tolist())
    del index
    gc.collect()
    after = set(view.search(padded, 100)[1][0].tolist())
    assert -1 not in after and len(before & after) >= 95  # the same lists read (ties may swap)


def test_a_search_without_a_filter_makes_no_mask() -> None:
    vectors, queries = _factors(3000, 8, 6)
    items = ItemVectors.of(vectors)
    assert items.all_allowed is items.all_allowed and items.all_allowed.all()
    assert not items.all_allowed.flags.writeable
    index = IVFPQIndex.build(items, n_threads=1)
    unfiltered = index.search(queries, 10)
    masked = index.search(queries, 10, np.ones(3000, dtype=bool))
    np.testing.assert_array_equal(unfiltered[0], masked[0])
    np.testing.assert_array_equal(unfiltered[1], masked[1])


def test_a_query_needing_most_of_the_probe_is_scanned() -> None:
    vectors, queries = _factors(3000, 8, 3)
    items = ItemVectors.of(vectors)
    index = IVFPQIndex.build(items, n_threads=1, nprobe=2)  # probes ~2/77 of the items
    truth = ExactIndex(items).search(queries, 300)[0]
    sets = [set(row[:290].tolist()) for row in truth]  # the best 290 of every query are excluded
    got = index.search(queries, 10, exclude=_exclude(sets, 3000))
    want = ExactIndex(items).search(queries, 10, exclude=_exclude(sets, 3000))
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)


def test_serialisation_round_trip_and_checks() -> None:
    vectors, queries = _factors(2000, 8, 6)
    items = ItemVectors.of(vectors, np.ones(2000, np.float32))
    index = build_index("ivf", items, n_threads=1, nprobe=10, rerank=3)
    data, params = index.to_bytes(), index.params()
    assert set(params) == {"nlist", "nprobe", "pq_m", "rerank", "vectors_sha256", "index_sha256"}
    again = restore_index("ivf", items, params, data)
    assert isinstance(again, IVFPQIndex) and again.params() == params
    np.testing.assert_array_equal(again.search(queries, 5)[0], index.search(queries, 5)[0])
    with pytest.raises(ValueError, match="not the one saved with these item factors"):
        restore_index("ivf", items, params, data[: len(data) // 2])
    truncated = data[: len(data) // 2]
    with pytest.raises(ValueError, match="not a readable faiss index"):
        restore_index("ivf", items, {**params, "index_sha256": hashlib.sha256(truncated).hexdigest()}, truncated)
    with pytest.raises(ValueError, match="not the model's item factors"):
        restore_index("ivf", ItemVectors.of(vectors * 2, np.ones(2000, np.float32)), params, data)
    with pytest.raises(ValueError, match="not the model's item factors"):
        restore_index("ivf", items, {**params, "vectors_sha256": "0" * 64}, data)
    with pytest.raises(ValueError, match=r"\(items, width, nlist, pq_m\)"):
        restore_index("ivf", items, {**params, "nlist": params["nlist"] - 1}, data)
    other = build_index("ivf", items, n_threads=1, nlist=params["nlist"], nprobe=10, rerank=3, pq_m=4)
    with pytest.raises(ValueError, match="not the one saved"):  # another index over the same vectors
        restore_index("ivf", items, params, other.to_bytes())
    with pytest.raises(ValueError, match="must name"):
        restore_index("ivf", items, {k: v for k, v in params.items() if k != "rerank"}, data)
    with pytest.raises(ValueError, match="no parameter"):
        restore_index("ivf", items, {**params, "ef_search": 3}, data)
    hnsw = build_index("hnsw", items, n_threads=1, M=8).to_bytes()
    with pytest.raises(ValueError, match="not an inner-product IndexIVFPQFastScan"):
        restore_index("ivf", items, {**params, "index_sha256": hashlib.sha256(hnsw).hexdigest()}, hnsw)
    with pytest.raises(ValueError, match="needs its index file"):
        restore_index("ivf", items, params, None)


def test_search_knobs_change_without_rebuilding_and_parameters_are_checked() -> None:
    vectors, queries = _factors(2000, 16, 8)
    items = ItemVectors.of(vectors)
    index = IVFPQIndex.build(items, n_threads=1, nprobe=3, rerank=2)  # 3 of 51 lists: a narrow probe
    truth = ExactIndex(items).search(queries, 10)[0]
    narrow = _recall(index.search(queries, 10)[0], truth)
    assert index.set_search(nprobe=index.params()["nlist"], rerank=5) is index
    wide = _recall(index.search(queries, 10)[0], truth)
    assert narrow < 0.9 and wide >= 0.97
    for bad, match in [
        ({"nprobe": 10_000}, "nprobe must be an integer in"),
        ({"rerank": 0}, "rerank must be an integer in"),
        ({"nlist": True}, "nlist must be an integer in"),
        ({"nlist": 5000}, "nlist must be an integer in"),
        ({"pq_m": 17}, r"pq_m must be an integer in \[1, 16\]"),
        ({"M": 8}, "ivf index has no parameter"),
    ]:
        with pytest.raises(InvalidParameterError, match=match):
            build_index("ivf", items, **bad)
    with pytest.raises(InvalidParameterError, match="nprobe must be"):
        index.set_search(nprobe=0)


def test_codes_are_padded_to_the_code_groups() -> None:
    """An odd width (15 factors + the offset = 16; 15 alone = 15) and a coarser pq_m than the width:
    zero coordinates are appended, scores stay exact."""
    vectors, queries = _factors(1500, 15, 9)
    for offsets, pq_m in [(None, None), (None, 4), (np.linspace(0, 1, 1500, dtype=np.float32), 6)]:
        items = ItemVectors.of(vectors, offsets)
        index = IVFPQIndex.build(items, n_threads=1, pq_m=pq_m, rerank=50)
        idx, scores = index.search(queries, 10)
        assert index._index.d % index.params()["pq_m"] == 0
        np.testing.assert_allclose(scores, items.scores(queries, idx), rtol=1e-6)
        assert _recall(idx, ExactIndex(items).search(queries, 10)[0]) >= 0.9
