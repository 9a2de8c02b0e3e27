"""Metrics: hand-computed examples, perfect/worst rankings, bounds, and the reference twins."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from likewise.evaluation import metrics as m
from likewise.exceptions import InvalidParameterError
from tests.reference import metrics as ref

LOG2_3 = math.log2(3)  # discount of rank 2 is 1 / log2(3) = 0.6309...

RANKING = {
    "precision": (m.precision_at_k, ref.precision),
    "recall": (m.recall_at_k, ref.recall),
    "ndcg": (m.ndcg_at_k, ref.ndcg),
    "map": (m.average_precision_at_k, ref.average_precision),
    "mrr": (m.reciprocal_rank, ref.reciprocal_rank),
    "hit_rate": (m.hit_rate_at_k, ref.hit_rate),
}


def csr(rows: list[dict[int, float]], n_items: int) -> sp.csr_matrix:
    dense = np.zeros((len(rows), n_items))
    for r, row in enumerate(rows):
        for item, gain in row.items():
            dense[r, item] = gain
    return sp.csr_matrix(dense)


# Four users, six items, k = 3.
RECS = np.array([[2, 0, 5], [1, 3, -1], [4, 2, 0], [3, 4, -1]], dtype=np.int32)
REL_ROWS = [{0: 1, 5: 1, 3: 1}, {}, {2: 1}, {1: 1}]
REL = csr(REL_ROWS, 6)


class TestHandComputed:
    def test_precision(self):
        # u0: hits at ranks 2, 3 -> 2/3; u1: no relevant item -> NaN;
        # u2: hit at rank 2 -> 1/3; u3: no hit (padding counts as a miss) -> 0/3
        np.testing.assert_allclose(m.precision_at_k(RECS, REL), [2 / 3, np.nan, 1 / 3, 0.0])

    def test_recall_uses_all_relevant_items(self):
        # u0: 2 hits of 3 relevant -> 2/3; u2: 1 of 1 -> 1; u3: 0 of 1 -> 0
        np.testing.assert_allclose(m.recall_at_k(RECS, REL), [2 / 3, np.nan, 1.0, 0.0])
        # k = 1: u0 top-1 is item 2 (miss) -> 0; u2 top-1 is item 4 (miss) -> 0
        np.testing.assert_allclose(m.recall_at_k(RECS, REL, k=1), [0.0, np.nan, 0.0, 0.0])
        # |R| = 3 > k = 2 and both top-2 relevant: recall 2/3, never 1 (denominator |R|)
        np.testing.assert_allclose(m.recall_at_k([[0, 5]], csr([{0: 1, 5: 1, 3: 1}], 6)), [2 / 3])

    def test_hit_rate(self):
        np.testing.assert_allclose(m.hit_rate_at_k(RECS, REL), [1.0, np.nan, 1.0, 0.0])

    def test_reciprocal_rank(self):
        # first hits: u0 rank 2 -> 1/2; u2 rank 2 -> 1/2; u3 none -> 0
        np.testing.assert_allclose(m.reciprocal_rank(RECS, REL), [0.5, np.nan, 0.5, 0.0])

    def test_average_precision(self):
        # u0: hits at 2 and 3: (P@2 + P@3) / min(3, 3) = (1/2 + 2/3) / 3 = 7/18
        # u2: hit at 2: P@2 / min(3, 1) = 1/2
        np.testing.assert_allclose(m.average_precision_at_k(RECS, REL), [7 / 18, np.nan, 0.5, 0.0])

    def test_ndcg_binary(self):
        # u0: DCG = 1/log2(3) + 1/log2(4); IDCG (3 relevant) = 1 + 1/log2(3) + 1/2
        u0 = (1 / LOG2_3 + 0.5) / (1 + 1 / LOG2_3 + 0.5)
        # u2: DCG = 1/log2(3); IDCG = 1
        np.testing.assert_allclose(m.ndcg_at_k(RECS, REL), [u0, np.nan, 1 / LOG2_3, 0.0])
        assert u0 == pytest.approx(0.530721, abs=1e-6)

    def test_ndcg_graded(self):
        rel = csr([{0: 3, 1: 1, 2: 2}], 5)
        recs = [[1, 0, 4]]
        # DCG = 1/1 + 3/log2(3) + 0; IDCG = 3/1 + 2/log2(3) + 1/log2(4)
        expected = (1 + 3 / LOG2_3) / (3 + 2 / LOG2_3 + 0.5)
        np.testing.assert_allclose(m.ndcg_at_k(recs, rel), [expected])
        assert expected == pytest.approx(0.607491, abs=1e-6)
        # k = 2: DCG = 1 + 3/log2(3); IDCG truncated at 2 = 3 + 2/log2(3)
        np.testing.assert_allclose(m.ndcg_at_k(recs, rel, k=2), [(1 + 3 / LOG2_3) / (3 + 2 / LOG2_3)])

    def test_k_larger_than_lists_pads(self):
        # k = 5 over 3 columns: u0 precision 2/5, u2 1/5
        np.testing.assert_allclose(m.precision_at_k(RECS, REL, k=5), [0.4, np.nan, 0.2, 0.0])

    def test_auc_with_ties_and_exclusion(self):
        scores = np.array([[0.9, 0.1, 0.5, 0.5]])
        rel = csr([{2: 1}], 4)
        # item 2 (0.5) vs 0 (0.9): 0; vs 1 (0.1): 1; vs 3 (0.5, tie): 1/2 -> 1.5 / 3
        np.testing.assert_allclose(m.auc(scores, rel), [0.5])
        # item 0 excluded: vs 1: 1, vs 3: 1/2 -> 1.5 / 2
        np.testing.assert_allclose(m.auc(scores, rel, exclude=csr([{0: 1}], 4)), [0.75])
        np.testing.assert_allclose(m.auc(scores, rel, exclude=np.array([[1, 0, 0, 0]])), [0.75])

    def test_auc_nan_scores_rank_last(self):
        scores = np.array([[np.nan, 0.2, 0.3], [np.nan, 0.2, 0.3]])
        # u0: relevant item 0 is unscorable (-inf): loses to 0.2 and 0.3 -> 0
        # u1: relevant item 1 (0.2) beats item 0 (-inf), loses to 0.3 -> 1/2
        np.testing.assert_allclose(m.auc(scores, csr([{0: 1}, {1: 1}], 3)), [0.0, 0.5])

    def test_auc_undefined(self):
        scores = np.array([[0.1, 0.2], [0.1, 0.2]])
        # u0 has no relevant item; u1 has no non-relevant candidate
        assert np.isnan(m.auc(scores, csr([{}, {0: 1, 1: 1}], 2))).all()

    def test_rmse_mae(self):
        # errors -1, 0, 2: MSE = (1 + 0 + 4) / 3 = 5/3; MAE = 3/3
        assert m.rmse([3, 4, 5], [4, 4, 3]) == pytest.approx(math.sqrt(5 / 3))
        assert m.mae([3, 4, 5], [4, 4, 3]) == pytest.approx(1.0)

    def test_coverage_and_gini(self):
        recs = [[0, 1], [1, 2], [-1, -1]]
        # items {0, 1, 2} of 5
        assert m.catalogue_coverage(recs, 5) == pytest.approx(0.6)
        # counts [1, 2, 1, 0, 0] sorted [0, 0, 1, 1, 2]; weights 2i - 6 = -4, -2, 0, 2, 4
        # -> (0 + 0 + 0 + 2 + 8) / (5 * 4) = 0.5
        assert m.gini_index(recs, 5) == pytest.approx(0.5)
        assert m.gini_index([[0], [1]], 2) == pytest.approx(0.0)  # perfectly even
        assert math.isnan(m.gini_index([[-1]], 3))

    def test_personalisation(self):
        # {0,1} vs {1,2}: cosine 1/sqrt(2*2) = 1/2; jaccard 1/3; the empty list is ignored
        recs = [[0, 1], [1, 2], [-1, -1]]
        assert m.personalisation(recs, 5) == pytest.approx(0.5)
        assert m.personalisation(recs, 5, similarity="jaccard") == pytest.approx(2 / 3)
        # add {3, 4}: cosines 1/2, 0, 0 -> 1 - 1/6
        assert m.personalisation([[0, 1], [1, 2], [3, 4]], 5) == pytest.approx(5 / 6)
        assert m.personalisation([[0, 1], [0, 1]]) == pytest.approx(0.0)
        assert math.isnan(m.personalisation([[0, 1], [-1, -1]]))

    def test_novelty(self):
        pop = [4, 2, 1, 0]
        # [0, 1]: (-log2(4/4) - log2(2/4)) / 2 = 0.5; [2, 3]: item 3 counts as 1 user -> 2
        np.testing.assert_allclose(m.novelty([[0, 1], [2, 3], [-1, -1]], pop, 4), [0.5, 2.0, np.nan])

    def test_popularity_bias(self):
        pop = [4, 2, 1, 1]  # catalogue mean 2
        # [0, 1]: mean 3 / 2; [2, -1]: 1 / 2
        np.testing.assert_allclose(m.popularity_bias([[0, 1], [2, -1], [-1, -1]], pop), [1.5, 0.5, np.nan])

    def test_intra_list_diversity(self):
        feats = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
        # [0, 1, 2]: distances 1 (orthogonal), 1 - 1/sqrt(2), 1 - 1/sqrt(2) -> mean
        # [0, 3]: item 3 has no features, similarity 0 -> 1;  [0]: no pair -> NaN
        d = 1 - 1 / math.sqrt(2)
        expected = [(1 + 2 * d) / 3, 1.0, np.nan]
        got = m.intra_list_diversity([[0, 1, 2], [0, 3, -1], [0, -1, -1]], feats)
        np.testing.assert_allclose(got, expected)
        got_sparse = m.intra_list_diversity([[0, 1, 2], [0, 3, -1], [0, -1, -1]], sp.csr_matrix(feats))
        np.testing.assert_allclose(got_sparse, expected)


class TestPerfectAndWorst:
    def test_perfect_ranking_scores_one(self):
        # every listed item relevant, every relevant item listed, gains in descending order
        rel = csr([{0: 3, 1: 2, 2: 1}, {4: 1, 5: 1, 3: 1}], 6)
        recs = [[0, 1, 2], [3, 4, 5]]
        for name, (func, _) in RANKING.items():
            np.testing.assert_allclose(func(recs, rel), [1.0, 1.0], err_msg=name)
        scores = np.array([[3, 2, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], dtype=float)
        np.testing.assert_allclose(m.auc(scores, rel), [1.0, 1.0])

    def test_worst_ranking_scores_zero(self):
        rel = csr([{0: 1, 1: 1}, {5: 2}], 6)
        recs = [[2, 3, 4], [0, 1, 2]]
        for name, (func, _) in RANKING.items():
            np.testing.assert_allclose(func(recs, rel), [0.0, 0.0], err_msg=name)
        scores = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]], dtype=float)
        np.testing.assert_allclose(m.auc(scores, rel), [0.0, 0.0])

    def test_all_ties_give_auc_half(self):
        np.testing.assert_allclose(m.auc(np.ones((1, 4)), csr([{1: 1}], 4)), [0.5])


class TestValidation:
    def test_duplicate_items_in_a_list(self):
        with pytest.raises(InvalidParameterError, match="row 1 recommends item 3 more than once"):
            m.precision_at_k([[0, 1], [3, 3]], csr([{0: 1}, {3: 1}], 4))

    def test_index_out_of_range(self):
        with pytest.raises(InvalidParameterError, match="item index 7 but there are only 4 items"):
            m.recall_at_k([[7]], csr([{0: 1}], 4))

    def test_bad_padding(self):
        with pytest.raises(InvalidParameterError, match="-1 for padding, got -2"):
            m.ndcg_at_k([[-2]], csr([{0: 1}], 4))

    def test_shape_and_dtype(self):
        with pytest.raises(InvalidParameterError, match="2-D array"):
            m.precision_at_k([0, 1], csr([{0: 1}], 4))
        with pytest.raises(InvalidParameterError, match="integer item indices"):
            m.precision_at_k([[0.5]], csr([{0: 1}], 4))
        with pytest.raises(InvalidParameterError, match="relevant has 1 rows but rec_indices has 2"):
            m.precision_at_k([[0], [1]], csr([{0: 1}], 4))
        with pytest.raises(InvalidParameterError, match="k must be a positive integer"):
            m.precision_at_k([[0]], csr([{0: 1}], 4), k=0)

    def test_bad_gains(self):
        with pytest.raises(InvalidParameterError, match="negative gain"):
            m.ndcg_at_k([[0]], csr([{0: -1}], 4))
        with pytest.raises(InvalidParameterError, match="NaN or infinite"):
            m.ndcg_at_k([[0]], csr([{0: np.nan}], 4))

    def test_zero_gain_is_not_relevant(self):
        rel = sp.csr_matrix((np.array([0.0, 1.0]), np.array([0, 1]), np.array([0, 2])), shape=(1, 3))
        np.testing.assert_allclose(m.recall_at_k([[0, 1]], rel), [1.0])  # |R| = 1
        np.testing.assert_allclose(m.precision_at_k([[0, 1]], rel), [0.5])

    def test_dense_relevance_accepted(self):
        np.testing.assert_allclose(m.precision_at_k(RECS, REL.toarray()), m.precision_at_k(RECS, REL))

    def test_rating_errors(self):
        with pytest.raises(InvalidParameterError, match="1 NaN or infinite values"):
            m.rmse([1.0, np.nan], [1.0, 2.0])
        with pytest.raises(InvalidParameterError, match="same length, got 2 and 1"):
            m.mae([1.0, 2.0], [1.0])
        with pytest.raises(InvalidParameterError, match="empty"):
            m.rmse([], [])

    def test_beyond_accuracy_errors(self):
        with pytest.raises(InvalidParameterError, match="n_items must be a positive integer"):
            m.catalogue_coverage([[0]], 0)
        with pytest.raises(InvalidParameterError, match="similarity must be"):
            m.personalisation([[0]], similarity="dice")  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match="n_users must be a positive integer"):
            m.novelty([[0]], [5, 1], 3)
        with pytest.raises(InvalidParameterError, match="counts >= 0"):
            m.popularity_bias([[0]], [-1, 1])


# --------------------------------------------------------------------------- hypothesis


@st.composite
def ranking_inputs(draw):
    n_users = draw(st.integers(1, 6))
    n_items = draw(st.integers(1, 8))
    width = draw(st.integers(1, 5))
    recs, rel = [], []
    for _ in range(n_users):
        length = draw(st.integers(0, min(width, n_items)))
        items = draw(st.permutations(range(n_items)))[:length]
        row = list(items) + [-1] * (width - length)
        # padding anywhere in the row, not only at the end
        recs.append(draw(st.permutations(row)))
        relevant_items = draw(st.sets(st.integers(0, n_items - 1), max_size=n_items))
        gains = st.sampled_from([1.0, 2.0, 3.0, 0.5])
        rel.append({item: draw(gains) for item in sorted(relevant_items)})
    k = draw(st.one_of(st.none(), st.integers(1, 7)))
    return np.array(recs, dtype=np.int32).reshape(n_users, width), rel, n_items, k


@settings(max_examples=50, deadline=None)
@given(ranking_inputs())
def test_ranking_metrics_match_reference(inputs):
    recs, rel_rows, n_items, k = inputs
    rel = csr(rel_rows, n_items)
    cutoff = recs.shape[1] if k is None else k
    for name, (func, twin) in RANKING.items():
        got = func(recs, rel, k)
        expected = twin(recs.tolist(), rel_rows, cutoff)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=name)
        assert got.dtype == np.float64
        finite = got[~np.isnan(got)]
        assert ((finite >= 0) & (finite <= 1 + 1e-12)).all(), name
        assert (np.isnan(got) == np.array([not r for r in rel_rows])).all(), name


@st.composite
def auc_inputs(draw):
    n_users = draw(st.integers(1, 5))
    n_items = draw(st.integers(1, 7))
    values = st.sampled_from([0.0, 0.5, 1.0, 2.0, np.nan])  # few values: many ties
    scores = np.array([[draw(values) for _ in range(n_items)] for _ in range(n_users)], dtype=np.float64)
    rel = [{i: 1.0 for i in sorted(draw(st.sets(st.integers(0, n_items - 1))))} for _ in range(n_users)]
    exclude = [draw(st.sets(st.integers(0, n_items - 1))) for _ in range(n_users)]
    return scores, rel, exclude, n_items


@settings(max_examples=50, deadline=None)
@given(auc_inputs(), st.booleans())
def test_auc_matches_reference(inputs, use_exclude):
    scores, rel_rows, exclude, n_items = inputs
    excl = csr([dict.fromkeys(e, 1.0) for e in exclude], n_items) if use_exclude else None
    got = m.auc(scores, csr(rel_rows, n_items), exclude=excl)
    expected = ref.auc(scores, rel_rows, exclude if use_exclude else None)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    finite = got[~np.isnan(got)]
    assert ((finite >= 0) & (finite <= 1)).all()


@settings(max_examples=50, deadline=None)
@given(ranking_inputs(), st.data())
def test_beyond_accuracy_match_reference(inputs, data):
    recs, _, n_items, _ = inputs
    rows = recs.tolist()
    assert m.catalogue_coverage(recs, n_items) == pytest.approx(ref.coverage(rows, n_items))
    gini = m.gini_index(recs, n_items)
    expected_gini = ref.gini(rows, n_items)
    assert (math.isnan(gini) and math.isnan(expected_gini)) or gini == pytest.approx(expected_gini)
    for similarity in ("cosine", "jaccard"):
        got = m.personalisation(recs, n_items, similarity=similarity)
        want = ref.personalisation(rows, similarity)
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=1e-12)
        assert math.isnan(got) or 0 <= got <= 1
    pop = data.draw(st.lists(st.integers(0, 5), min_size=n_items, max_size=n_items))
    n_users = max(5, 1)
    np.testing.assert_allclose(m.novelty(recs, pop, n_users), ref.novelty(rows, pop, n_users))
    np.testing.assert_allclose(m.popularity_bias(recs, pop), ref.popularity_bias(rows, pop))
    feats = np.array(
        data.draw(
            st.lists(
                st.lists(st.sampled_from([0.0, 1.0, 2.0]), min_size=3, max_size=3),
                min_size=n_items,
                max_size=n_items,
            )
        )
    )
    ild = m.intra_list_diversity(recs, sp.csr_matrix(feats))
    np.testing.assert_allclose(ild, ref.intra_list_diversity(rows, feats), atol=1e-12)
    finite = ild[~np.isnan(ild)]
    assert ((finite >= 0) & (finite <= 1)).all()  # non-negative features


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-5, 5, allow_nan=False), st.floats(-5, 5, allow_nan=False)),
        min_size=1,
        max_size=20,
    )
)
def test_rating_metrics_match_reference(pairs):
    pred, truth = zip(*pairs, strict=True)
    assert m.rmse(pred, truth) == pytest.approx(ref.rmse(pred, truth), abs=1e-12)
    assert m.mae(pred, truth) == pytest.approx(ref.mae(pred, truth), abs=1e-12)
    assert m.mae(pred, truth) <= m.rmse(pred, truth) + 1e-12
