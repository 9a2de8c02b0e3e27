"""Recommender.score_indices / recommend_indices: the public index-level API (issue 10, item 5)."""

import numpy as np
import pytest
import scipy.sparse as sp

from likewise import ALS, BPR, SVD, ItemKNN, Popularity
from likewise.exceptions import InvalidParameterError, NotFittedError
from likewise.testing import checkerboard, tiny_ratings


def _models():
    implicit, _ = checkerboard(8, 8)
    ratings = tiny_ratings()
    return [
        (Popularity(), implicit),
        (ALS(n_factors=4, n_epochs=3, random_state=0), implicit),
        (BPR(n_factors=4, n_epochs=3, random_state=0), implicit),
        (ItemKNN(prediction="sum"), implicit),
        (ItemKNN(), ratings),
        (SVD(n_factors=3, n_epochs=3, random_state=0), ratings),
    ]


MODELS = _models()
IDS = [f"{type(m).__name__}-{d.kind}" for m, d in MODELS]


@pytest.fixture(params=range(len(MODELS)), ids=IDS)
def fitted(request):
    model, data = MODELS[request.param]
    return model.fit(data) if not model.is_fitted else model


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_recommend_indices_is_recommend_by_index(fitted, exclude_seen):
    uidx = np.arange(fitted.n_users)
    recs = fitted.recommend(fitted.users_.ids, n=5, exclude_seen=exclude_seen)
    indices, scores = fitted.recommend_indices(uidx, 5, seen=exclude_seen)
    assert indices.dtype == np.int32 and scores.dtype == np.float32
    np.testing.assert_array_equal(indices, recs.indices)
    np.testing.assert_array_equal(scores, recs.scores)


def test_allowed_mask_is_candidates(fitted):
    keep = fitted.items_.ids[::2]
    mask = np.zeros(fitted.n_items, dtype=bool)
    mask[::2] = True
    recs = fitted.recommend(fitted.users_.ids, n=3, candidates=keep)
    indices, scores = fitted.recommend_indices(np.arange(fitted.n_users), 3, allowed=mask)
    np.testing.assert_array_equal(indices, recs.indices)
    np.testing.assert_array_equal(scores, recs.scores)


def test_seen_matrix_drops_per_row_and_handles_repeated_users(fitted):
    n = fitted.n_items
    uidx = np.array([0, 1, 0], dtype=np.int64)
    top, _ = fitted.recommend_indices(uidx, n, seen=False)
    drop = sp.lil_matrix((3, n), dtype=bool)
    drop[0, top[0, 0]] = True  # row 0 loses user 0's best item, row 2 (user 0 again) keeps it
    drop[1, top[1, :2]] = True
    got, _ = fitted.recommend_indices(uidx, 2, seen=drop.tocsr())
    assert top[0, 0] not in got[0] and got[0, 0] == top[0, 1]
    assert not set(top[1, :2]) & set(got[1][got[1] >= 0])
    np.testing.assert_array_equal(got[2], top[2, :2])


def test_seen_matrix_equal_to_training_is_exclude_seen(fitted):
    uidx = np.arange(fitted.n_users)
    a = fitted.recommend_indices(uidx, 4, seen=True)
    b = fitted.recommend_indices(uidx, 4, seen=fitted.seen_)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_padding_when_too_few_items(fitted):
    indices, scores = fitted.recommend_indices([0], fitted.n_items + 3, seen=False)
    assert (indices[0, fitted.n_items :] == -1).all()
    assert np.isneginf(scores[0, fitted.n_items :]).all()


def test_score_indices_columns_and_shapes(fitted):
    uidx = np.array([1, 0, 1])
    full = fitted.score_indices(uidx)
    assert full.shape == (3, fitted.n_items) and full.dtype == np.float32
    iidx = np.array([2, 0, 2])
    np.testing.assert_array_equal(fitted.score_indices(uidx, iidx), full[:, iidx])
    np.testing.assert_array_equal(full[0], full[2])
    assert fitted.score_indices(np.array([], dtype=np.int64)).shape == (0, fitted.n_items)
    assert fitted.score_indices(0).shape == (1, fitted.n_items)


def test_score_indices_ranks_like_recommend():
    data, _ = checkerboard(8, 8)
    model = ALS(n_factors=4, n_epochs=3, random_state=0).fit(data)
    scores = model.score_indices(np.arange(model.n_users))
    indices, top = model.recommend_indices(np.arange(model.n_users), 3, seen=False)
    np.testing.assert_allclose(np.take_along_axis(scores, indices, axis=1), top, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores[:, 0], model.predict(model.users_.ids, model.items_.ids[0]), rtol=1e-5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.score_indices([0.5]), r"uidx must hold integer indices, got dtype float64"),
        (lambda m: m.score_indices([True]), r"uidx must hold integer indices, got dtype bool"),
        (lambda m: m.score_indices([[0]]), r"uidx must be a 1-D array of indices, got shape \(1, 1\)"),
        (lambda m: m.score_indices([-1]), r"uidx must hold indices in \[0, 8\), got -1"),
        (lambda m: m.score_indices([0], [8]), r"iidx must hold indices in \[0, 8\), got 8"),
        (lambda m: m.recommend_indices([8], 3), r"uidx must hold indices in \[0, 8\), got 8"),
        (lambda m: m.recommend_indices([0], 0), r"n must be a positive integer, got 0"),
        (lambda m: m.recommend_indices([0], 3, allowed=np.ones(7, bool)), r"allowed must be a boolean mask"),
        (lambda m: m.recommend_indices([0], 3, allowed=np.ones(8)), r"allowed must be a boolean mask"),
        (lambda m: m.recommend_indices([0], 3, seen=sp.csr_matrix((2, 8))), r"seen must have one row per user"),
        (lambda m: m.recommend_indices([0], 3, seen="yes"), r"seen must be True, False or a sparse matrix"),
    ],
)
def test_inputs_are_checked(call, message):
    data, _ = checkerboard(8, 8)
    model = Popularity().fit(data)
    with pytest.raises(InvalidParameterError, match=message):
        call(model)


def test_not_fitted():
    with pytest.raises(NotFittedError):
        Popularity().score_indices([0])
    with pytest.raises(NotFittedError):
        Popularity().recommend_indices([0], 3)
