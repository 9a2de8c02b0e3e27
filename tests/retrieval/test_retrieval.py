"""likewise.retrieval: the exact index against its brute-force twin, the HNSW index's filters,
recall, fallback and serialisation (issue 15)."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from likewise.exceptions import InvalidParameterError, NotSupportedError
from likewise.retrieval import ExactIndex, HNSWIndex, ItemVectors, build_index, restore_index
from likewise.retrieval import ann as ann_module
from tests.reference.retrieval import search_reference

pytest.importorskip("faiss")


def _exclude(sets: list[set[int]], n_items: int) -> sp.csr_matrix:
    rows = [r for r, items in enumerate(sets) for _ in items]
    cols = [c for items in sets for c in sorted(items)]
    return sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(sets), n_items))


@st.composite
def problems(draw: st.DrawFn, max_items: int = 60) -> dict:
    """Small integer-valued vectors (exact float32 sums, so ties are real ties), filters."""
    n_items = draw(st.integers(1, max_items))
    dim = draw(st.integers(1, 5))
    n_queries = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    vectors = rng.integers(-3, 4, (n_items, dim)).astype(np.float32)
    offsets = rng.integers(-2, 3, n_items).astype(np.float32) if draw(st.booleans()) else None
    queries = rng.integers(-3, 4, (n_queries, dim)).astype(np.float32)
    allowed = rng.random(n_items) < draw(st.floats(0.0, 1.0)) if draw(st.booleans()) else None
    sets = [set(rng.choice(n_items, rng.integers(0, n_items + 1), replace=False).tolist()) for _ in range(n_queries)]
    exclude = sets if draw(st.booleans()) else None
    k = draw(st.integers(1, n_items + 3))
    return {"vectors": vectors, "offsets": offsets, "queries": queries, "allowed": allowed, "sets": exclude, "k": k}


@settings(max_examples=80, deadline=None)
@given(problems())
def test_exact_index_equals_brute_force(case: dict) -> None:
    items = ItemVectors.of(case["vectors"], case["offsets"])
    n_items = items.n_items
    exclude = None if case["sets"] is None else _exclude(case["sets"], n_items)
    got_idx, got_scores = ExactIndex(items).search(case["queries"], case["k"], case["allowed"], exclude)
    ref_idx, ref_scores = search_reference(
        case["vectors"], case["offsets"], case["queries"], case["k"], case["allowed"], case["sets"]
    )
    np.testing.assert_array_equal(got_idx, ref_idx)
    np.testing.assert_array_equal(got_scores, ref_scores)


@settings(max_examples=40, deadline=None)
@given(problems(max_items=400))
def test_hnsw_filters_give_exactly_n_and_never_a_filtered_item(case: dict) -> None:
    items = ItemVectors.of(case["vectors"], case["offsets"])
    n_items, k = items.n_items, case["k"]
    exclude = None if case["sets"] is None else _exclude(case["sets"], n_items)
    index = HNSWIndex.build(items, M=8, ef_construction=40, ef_search=16, n_threads=1)
    idx, scores = index.search(case["queries"], k, case["allowed"], exclude)
    allowed = np.ones(n_items, bool) if case["allowed"] is None else case["allowed"]
    for row in range(idx.shape[0]):
        banned = set() if case["sets"] is None else case["sets"][row]
        eligible = int(allowed.sum()) - len([i for i in banned if allowed[i]])
        valid = idx[row] >= 0
        assert valid.sum() == min(k, eligible)
        assert (valid[1:] <= valid[:-1]).all()  # padding only at the end
        got = idx[row][valid]
        assert len(set(got.tolist())) == got.size
        assert allowed[got].all() and not set(got.tolist()) & banned
        exact = case["queries"][row] @ case["vectors"][got].T
        if case["offsets"] is not None:
            exact = exact + case["offsets"][got]
        np.testing.assert_array_equal(scores[row][valid], exact.astype(np.float32))
        assert (np.diff(scores[row][valid]) <= 0).all()
        assert np.isneginf(scores[row][~valid]).all()


def _factors(n_items: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Factor-like vectors: a decaying spectrum and a spread of norms (as ALS items have)."""
    rng = np.random.default_rng(seed)
    scale = (1.0 / np.sqrt(1.0 + np.arange(dim))).astype(np.float32)
    vectors = rng.standard_normal((n_items, dim)).astype(np.float32) * scale
    vectors *= rng.lognormal(0.0, 0.3, (n_items, 1)).astype(np.float32)
    queries = (rng.standard_normal((100, dim)) * scale).astype(np.float32)
    return vectors, queries


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(a[a >= 0].tolist()) & set(b[b >= 0].tolist())) for a, b in zip(found, truth, strict=True))
    return hits / max(int((truth >= 0).sum()), 1)


def test_hnsw_recall_against_exact_with_seen_items() -> None:
    vectors, queries = _factors(5000, 16, 0)
    offsets = np.random.default_rng(1).normal(0, 0.2, 5000).astype(np.float32)
    items = ItemVectors.of(vectors, offsets)
    rng = np.random.default_rng(2)
    seen = _exclude([set(rng.choice(5000, 40, replace=False).tolist()) for _ in range(100)], 5000)
    index = HNSWIndex.build(items, n_threads=1)
    truth = ExactIndex(items).search(queries, 10, exclude=seen)[0]
    found = index.search(queries, 10, exclude=seen)[0]
    assert _recall(found, truth) >= 0.95
    single = np.vstack([index.search(q, 10, exclude=seen[r])[0] for r, q in enumerate(queries[:10])])
    np.testing.assert_array_equal(single, found[:10])  # a batch is the same searches


def test_selective_filter_falls_back_to_exact() -> None:
    vectors, queries = _factors(3000, 8, 3)
    items = ItemVectors.of(vectors)
    allowed = np.zeros(3000, dtype=bool)
    allowed[np.random.default_rng(4).choice(3000, 100, replace=False)] = True  # 3.3% < FALLBACK_FRACTION
    index = HNSWIndex.build(items, M=4, ef_construction=8, ef_search=2, n_threads=1)  # a poor graph
    got = index.search(queries, 10, allowed)
    want = ExactIndex(items).search(queries, 10, allowed)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-6)


def test_short_rows_are_refilled_until_exactly_n() -> None:
    """Many excluded items among the best ones: doublings, then the exact fallback, fill every row."""
    vectors, queries = _factors(2000, 8, 5)
    items = ItemVectors.of(vectors)
    truth = ExactIndex(items).search(queries, 300)[0]
    sets = [set(row[:290].tolist()) for row in truth]  # the best 290 of every query are excluded
    index = HNSWIndex.build(items, M=8, ef_construction=40, ef_search=16, n_threads=1)
    got = index.search(queries, 10, exclude=_exclude(sets, 2000))[0]
    assert (got >= 0).all()
    for row, banned in zip(got, sets, strict=True):
        assert not set(row.tolist()) & banned


def test_serialisation_round_trip_and_checks() -> None:
    vectors, queries = _factors(500, 8, 6)
    items = ItemVectors.of(vectors, np.ones(500, np.float32))
    index = build_index("hnsw", items, n_threads=1, M=8, ef_search=40)
    data = index.to_bytes()
    again = restore_index("hnsw", items, index.params(), data)
    np.testing.assert_array_equal(again.search(queries, 5)[0], index.search(queries, 5)[0])
    with pytest.raises(ValueError, match="not a readable faiss index"):
        restore_index("hnsw", items, index.params(), data[: len(data) // 2])
    other = ItemVectors.of(vectors * 2, np.ones(500, np.float32))
    with pytest.raises(ValueError, match="not the model's item factors"):
        restore_index("hnsw", other, index.params(), data)
    with pytest.raises(ValueError, match="items of width"):
        restore_index("hnsw", ItemVectors.of(vectors[:400]), index.params(), data)
    with pytest.raises(ValueError, match="index kind"):
        restore_index("annoy", items, {}, data)
    with pytest.raises(ValueError, match="no parameter"):
        restore_index("hnsw", items, {"efs": 3}, data)


def test_bad_arguments_are_named() -> None:
    vectors, queries = _factors(50, 4, 7)
    index = ExactIndex(ItemVectors.of(vectors))
    with pytest.raises(InvalidParameterError, match=r"shape \(b, 4\)"):
        index.search(np.ones((2, 3), np.float32), 3)
    with pytest.raises(InvalidParameterError, match="k must be a positive integer"):
        index.search(queries, 0)
    with pytest.raises(InvalidParameterError, match="allowed_mask must be a boolean"):
        index.search(queries, 3, np.ones(49, bool))
    with pytest.raises(InvalidParameterError, match="exclude must be a sparse matrix"):
        index.search(queries, 3, exclude=np.zeros((100, 50)))
    with pytest.raises(InvalidParameterError, match="finite"):
        index.search(np.full((1, 4), np.nan, np.float32), 3)
    with pytest.raises(InvalidParameterError, match="kind must be one of"):
        build_index("annoy", ItemVectors.of(vectors))
    with pytest.raises(InvalidParameterError, match="no parameter"):
        build_index("hnsw", ItemVectors.of(vectors), ef=3)
    with pytest.raises(InvalidParameterError, match="integer in"):
        build_index("hnsw", ItemVectors.of(vectors), M=1)
    with pytest.raises(InvalidParameterError, match="takes no parameters"):
        build_index("exact", ItemVectors.of(vectors), M=8)


def test_missing_faiss_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_faiss(name: str, *args: object, **kwargs: object) -> object:
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_faiss)
    with pytest.raises(NotSupportedError, match=r"likewise\[ann\]"):
        ann_module.import_faiss()
    with pytest.raises(NotSupportedError, match=r"likewise\[ann\]"):
        build_index("hnsw", ItemVectors.of(np.ones((3, 2), np.float32)))


def test_ef_search_can_be_tuned_without_rebuilding() -> None:
    vectors, queries = _factors(2000, 16, 8)
    items = ItemVectors.of(vectors)
    truth = ExactIndex(items).search(queries, 10)[0]
    index = HNSWIndex.build(items, M=8, ef_construction=40, ef_search=10, n_threads=1)
    low = _recall(index.search(queries, 10)[0], truth)
    assert index.set_ef_search(400) is index and index.params()["ef_search"] == 400
    high = _recall(index.search(queries, 10)[0], truth)
    assert high > low and high >= 0.95
    with pytest.raises(InvalidParameterError, match="ef_search"):
        index.set_ef_search(0)
