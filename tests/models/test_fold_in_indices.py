"""recommend_indices_from_history (fold-in by index) and the factor models' fused fold-in top-n (issue 13).

The server folds in every request of a user with new events; these pin that the index-level
call is `recommend_from_history` without the id round trip, and that the factor models'
fused path (the selective-filter kernel) answers exactly like dense scores + a full sort.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likewise import ALS, BPR, SVD, ItemKNN
from likewise.datasets import synthetic
from likewise.exceptions import InvalidParameterError
from likewise.testing import checkerboard, tiny_ratings
from tests.reference.topk import topk_rows_reference


def _models():
    implicit, _ = checkerboard(8, 8)
    ratings = tiny_ratings()
    return [
        (ALS(n_factors=4, n_epochs=3, random_state=0), implicit),
        (BPR(n_factors=4, n_epochs=3, random_state=0), implicit),
        (ItemKNN(prediction="sum"), implicit),
        (SVD(n_factors=3, n_epochs=3, random_state=0), ratings),
    ]


MODELS = _models()


@pytest.fixture(params=range(len(MODELS)), ids=[type(m).__name__ for m, _ in MODELS])
def fitted(request):
    model, data = MODELS[request.param]
    return model.fit(data) if not model.is_fitted else model


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_is_recommend_from_history_by_index(fitted, exclude_seen):
    history = np.array([0, 2, 3])
    weights = np.array([1.0, 3.0, 2.0], dtype=np.float32)
    keep = np.zeros(fitted.n_items, dtype=bool)
    keep[::2] = True
    keep[1] = True
    recs = fitted.recommend_from_history(
        fitted.items_.ids[history], weights=weights, n=4, exclude_seen=exclude_seen, candidates=fitted.items_.ids[keep]
    )
    indices, scores = fitted.recommend_indices_from_history(
        history, weights=weights, n=4, exclude_seen=exclude_seen, allowed=keep
    )
    assert indices.dtype == np.int32 and scores.dtype == np.float32 and indices.shape == (1, 4)
    np.testing.assert_array_equal(indices, recs.indices)
    np.testing.assert_array_equal(scores, recs.scores)


def test_leaves_the_callers_mask_alone(fitted):
    mask = np.ones(fitted.n_items, dtype=bool)
    mask.flags.writeable = False  # a server's cached filter mask is read-only
    indices, _ = fitted.recommend_indices_from_history([0, 1], n=fitted.n_items, allowed=mask)
    assert mask.all()
    got = indices[0][indices[0] >= 0]
    assert 0 not in got and 1 not in got and got.size == fitted.n_items - 2


def test_pads_when_few_items_are_allowed(fitted):
    mask = np.zeros(fitted.n_items, dtype=bool)
    mask[[4, 5]] = True
    indices, scores = fitted.recommend_indices_from_history([0], n=5, allowed=mask)
    assert sorted(indices[0, :2].tolist()) == [4, 5]
    assert (indices[0, 2:] == -1).all() and np.isneginf(scores[0, 2:]).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"iidx": [0.5]}, "integer indices"),
        ({"iidx": [99]}, r"indices in \[0, 8\)"),
        ({"iidx": [0, 1], "weights": [1.0]}, "one value per item"),
        ({"iidx": [0], "weights": [np.nan]}, "finite"),
        ({"iidx": [0], "allowed": np.ones(3, dtype=bool)}, "boolean mask of shape"),
        ({"iidx": [0], "n": 0}, "positive integer"),
    ],
)
def test_inputs_are_checked(kwargs, message):
    model, data = MODELS[0]
    model = model.fit(data) if not model.is_fitted else model
    with pytest.raises(InvalidParameterError, match=message):
        model.recommend_indices_from_history(**kwargs)


# ---------------------------------------------------------------- fused fold-in == slow twin

_DATA = synthetic(60, 400, 2_000, kind="implicit", random_state=3)
_ALS = ALS(n_factors=8, n_epochs=4, random_state=0, n_threads=1).fit(_DATA)
_BPR = BPR(n_factors=8, n_epochs=4, random_state=0, n_threads=1).fit(_DATA)


def _dense_twin(model, iidx, weights, n, allowed):
    """Fold-in from its formula: the new user's vector (ALS's exact solve, BPR's fold-in steps),
    dense float64 scores over every item (+ BPR's item bias), then top-n by a full sort."""
    if isinstance(model, ALS):
        vector = model.solve_user(iidx, weights).astype(np.float64)
        scores = model.item_factors_.astype(np.float64) @ vector
    else:
        vector = model.fold_in(iidx[weights > 0]).astype(np.float64)
        scores = model.item_factors_.astype(np.float64) @ vector + model.item_bias_
    allowed = allowed.copy()
    allowed[iidx] = False
    return topk_rows_reference(scores.reshape(1, -1), n, allowed=allowed), scores


@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from([_ALS, _BPR]),
    history=st.lists(st.integers(0, 399), min_size=1, max_size=12, unique=True),
    share=st.sampled_from([0.02, 0.2, 0.45, 0.7, 1.0]),
    seed=st.integers(0, 2**16),
    n=st.integers(1, 30),
)
def test_fused_fold_in_answers_like_dense_scores_and_a_full_sort(model, history, share, seed, n):
    rng = np.random.default_rng(seed)
    allowed = rng.random(model.n_items) < share  # below half: the selective kernel; above: dense
    iidx = np.array(history, dtype=np.int32)
    weights = rng.uniform(0.5, 3.0, iidx.size).astype(np.float32)
    (want_idx, want_scores), scores = _dense_twin(model, iidx, weights, n, allowed)
    got_idx, got_scores = model.recommend_indices_from_history(iidx, weights=weights, n=n, allowed=allowed)
    valid = want_idx[0] >= 0
    np.testing.assert_array_equal(got_idx[0] >= 0, valid)
    np.testing.assert_allclose(got_scores[0][valid], want_scores[0][valid], rtol=1e-4, atol=1e-5)
    # the same items in the same order, except where two eligible scores tie within float32 rounding
    for rank in np.flatnonzero(got_idx[0] != want_idx[0]):
        a, b = got_idx[0][rank], want_idx[0][rank]
        assert a >= 0 and b >= 0 and abs(scores[a] - scores[b]) <= 1e-4 * max(1.0, abs(scores[b]))
