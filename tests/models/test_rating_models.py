"""The explicit-rating models: conformance, known answers, reference fits, planted structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from likewise import Interactions
from likewise.evaluation import random_split
from likewise.exceptions import DataError, DataWarning, FitError, InvalidParameterError
from likewise.models import ALGORITHMS, NMF, SVD, Baseline, CoClustering, NormalPredictor, SlopeOne, SVDpp, load
from likewise.testing import RecommenderConformance, corner_cases, tiny_ratings, tutorial_ratings
from tests.reference.coclustering import coclustering_fit_reference
from tests.reference.sgd import svd_epoch_reference
from tests.reference.slopeone import slopeone_estimate_reference, slopeone_fit_reference

# --------------------------------------------------------------------------- conformance


class RatingConformance(RecommenderConformance):
    fixture = "explicit"
    learns_checkerboard = False  # the checkerboard is implicit (all ones): nothing to regress on
    exact_fold_in = False


class TestNormalPredictor(RatingConformance):
    def make_model(self):
        return NormalPredictor(random_state=3)


class TestBaselineALS(RatingConformance):
    exact_fold_in = True  # the fold-in is the ALS user step, which produced the stored biases

    def make_model(self):
        return Baseline()


class TestBaselineSGD(RatingConformance):
    def make_model(self):
        return Baseline(method="sgd", random_state=0)


class TestSVD(RatingConformance):
    def make_model(self):
        return SVD(n_factors=4, n_epochs=30, random_state=0)


class TestSVDDeterministicUnbiased(RatingConformance):
    def make_model(self):
        return SVD(n_factors=3, biased=False, deterministic=True, random_state=1)


class TestSVDpp(RatingConformance):
    def make_model(self):
        return SVDpp(n_factors=4, n_epochs=30, random_state=0)


class TestNMF(RatingConformance):
    def make_model(self):
        return NMF(n_factors=3, n_epochs=20, random_state=0)


class TestNMFBiased(RatingConformance):
    def make_model(self):
        return NMF(n_factors=3, n_epochs=20, biased=True, random_state=0)


class TestSlopeOne(RatingConformance):
    exact_fold_in = True  # the same formula from the same ratings

    def make_model(self):
        return SlopeOne()


class TestCoClustering(RatingConformance):
    def make_model(self):
        return CoClustering(n_user_clusters=2, n_item_clusters=2, random_state=0)


def test_registered_for_the_cli():
    for name, cls in {
        "normal-predictor": NormalPredictor,
        "baseline": Baseline,
        "svd": SVD,
        "svdpp": SVDpp,
        "nmf": NMF,
        "slope-one": SlopeOne,
        "co-clustering": CoClustering,
    }.items():
        assert ALGORITHMS[name] is cls
        assert cls.predicts_ratings


# --------------------------------------------------------------------------- helpers


def planted(seed: int = 0, n_users: int = 600, n_items: int = 400, rank: int = 4, noise: float = 0.25):
    """Ratings = 5 + b_u + b_i + p_u.q_i + N(0, noise^2) on a random 12% of the pairs."""
    rng = np.random.default_rng(seed)
    p = rng.normal(0, 0.6, (n_users, rank))
    q = rng.normal(0, 0.6, (n_items, rank))
    bu, bi = rng.normal(0, 0.3, n_users), rng.normal(0, 0.3, n_items)
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.12)
    values = 5.0 + bu[users] + bi[items] + np.einsum("ij,ij->i", p[users], q[items])
    values += rng.normal(0, noise, users.size)
    return Interactions.from_arrays(users, items, values.astype(np.float32), kind="explicit")


def held_out_rmse(model, test: Interactions) -> float:
    pred = model.predict(test.users.ids[test.user_indices], test.items.ids[test.item_indices])
    return float(np.sqrt(np.mean((pred - test.values) ** 2)))


def dense(data: Interactions) -> np.ndarray:
    return data.matrix.toarray().astype(np.float64)


# --------------------------------------------------------------------------- accuracy on planted structure


@pytest.fixture(scope="module")
def planted_split():
    return random_split(planted(), 0.1, random_state=0)


def test_svd_recovers_planted_low_rank_structure(planted_split):
    train, test = planted_split
    model = SVD(n_factors=8, n_epochs=60, learning_rate=0.01, random_state=0).fit(train)
    rmse = held_out_rmse(model, test)
    baseline = held_out_rmse(Baseline().fit(train), test)
    assert rmse < 1.2 * 0.25  # close to the noise level 0.25
    assert rmse < 0.5 * baseline
    assert np.all(np.diff(model.loss_history_) < 0)  # training loss falls every epoch


def test_svdpp_recovers_planted_low_rank_structure(planted_split):
    train, test = planted_split
    model = SVDpp(n_factors=8, n_epochs=60, learning_rate=0.01, random_state=0).fit(train)
    assert held_out_rmse(model, test) < 1.25 * 0.25


def test_nmf_and_neighbours_beat_the_baselines_on_planted_data(planted_split):
    train, test = planted_split
    floor = held_out_rmse(NormalPredictor(random_state=0).fit(train), test)
    base = held_out_rmse(Baseline().fit(train), test)
    assert base < 0.8 * floor
    assert held_out_rmse(NMF(n_factors=8, n_epochs=50, biased=True, random_state=0).fit(train), test) < base
    assert held_out_rmse(SlopeOne().fit(train), test) < floor
    assert held_out_rmse(CoClustering(random_state=0).fit(train), test) < floor


# --------------------------------------------------------------------------- SVD / SVD++


def test_svd_deterministic_fit_equals_reference_epochs():
    """A whole fit (deterministic=True) against the reference loop fed the same init and order."""
    from likewise.models._rating import sgd_schedule

    data = tiny_ratings()
    model = SVD(n_factors=3, n_epochs=5, deterministic=True, random_state=7).fit(data)
    rng = np.random.default_rng(7)
    pu = rng.normal(0, 0.1, (data.n_users, 3))
    qi = rng.normal(0, 0.1, (data.n_items, 3))
    users, items, ratings, _ = sgd_schedule(data, 1, rng)
    bu, bi = np.zeros(data.n_users), np.zeros(data.n_items)
    for _ in range(5):
        svd_epoch_reference(users, items, ratings, data.values.mean(), bu, bi, pu, qi, (0.005,) * 4, (0.02,) * 4)
    np.testing.assert_allclose(model.user_factors_, pu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.item_factors_, qi, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.user_bias_, bu, rtol=1e-4, atol=1e-6)


def test_deterministic_is_bit_identical_and_equals_one_thread():
    data = planted(1, n_users=80, n_items=60)
    a = SVD(n_factors=5, deterministic=True, random_state=2).fit(data)
    b = SVD(n_factors=5, deterministic=True, random_state=2).fit(data)
    c = SVD(n_factors=5, n_threads=1, random_state=2).fit(data)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, c.item_factors_)


def test_parallel_blocks_are_reproducible_for_a_thread_count():
    data = planted(2, n_users=80, n_items=60)
    a = SVD(n_factors=5, n_threads=2, random_state=4).fit(data)
    b = SVD(n_factors=5, n_threads=2, random_state=4).fit(data)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    np.testing.assert_array_equal(a.loss_history_, b.loss_history_)


def test_predictions_are_the_formula_clipped():
    data = tiny_ratings()
    model = SVD(n_factors=3, n_epochs=200, learning_rate=0.05, reg=0.0, random_state=0).fit(data)
    users, items = np.repeat(np.arange(5), 6), np.tile(np.arange(6), 5)
    raw = (
        model.global_mean_
        + model.user_bias_[users]
        + model.item_bias_[items]
        + np.einsum("ij,ij->i", model.user_factors_[users], model.item_factors_[items])
    )
    pred = model.predict(data.users.ids[users], data.items.ids[items])
    np.testing.assert_allclose(pred, np.clip(raw, 1, 5), rtol=1e-5)
    assert (raw > 5).any() or (raw < 1).any()  # the test exercises clipping


def test_recommend_ranks_by_unclipped_estimate():
    data = tiny_ratings()
    model = SVD(n_factors=3, n_epochs=200, learning_rate=0.05, reg=0.0, random_state=0).fit(data)
    recs = model.recommend(data.users.ids, n=6, exclude_seen=False)
    raw = model._score_users(np.arange(5))
    for row in range(5):
        order = recs.indices[row]
        assert (np.diff(raw[row, order]) <= 1e-6).all()  # ranked by the raw estimate
        np.testing.assert_allclose(recs.scores[row], np.clip(raw[row, order], 1, 5), rtol=1e-6)


def test_users_and_items_without_ratings_fall_back_like_surprise():
    data = corner_cases()  # user 5 and items 4, 5 have no ratings
    svd = SVD(n_factors=3, random_state=0).fit(data)
    mu = data.values.mean()
    np.testing.assert_allclose(svd.predict([5], [0]), mu + svd.item_bias_[0], rtol=1e-6)  # mu + b_i
    np.testing.assert_allclose(svd.predict([0], [4]), mu + svd.user_bias_[0], rtol=1e-6)  # mu + b_u
    unbiased = SVD(n_factors=3, biased=False, random_state=0).fit(data)
    np.testing.assert_allclose(unbiased.predict([5, 0], [0, 4]), [mu, mu], rtol=1e-6)  # global mean
    for model in (SlopeOne().fit(data), CoClustering(random_state=0).fit(data), NMF(random_state=0).fit(data)):
        np.testing.assert_allclose(model.predict([5, 0], [0, 4]), [mu, mu], rtol=1e-6)


def test_svd_fold_in_is_regularised_least_squares():
    data = planted(3, n_users=200, n_items=150)
    model = SVD(n_factors=6, n_epochs=30, random_state=0).fit(data)
    row = int(np.argmax(np.diff(data.matrix.indptr)))
    start, end = data.matrix.indptr[row], data.matrix.indptr[row + 1]
    iidx, ratings = data.matrix.indices[start:end], data.matrix.data[start:end].astype(np.float64)
    scores = model._score_history(iidx, ratings.astype(np.float32))
    # the same solve by hand: (A'A + n diag(reg)) x = A't with A = [1, Q]
    a = np.hstack([np.ones((iidx.size, 1)), model.item_factors_[iidx].astype(np.float64)])
    t = ratings - model.global_mean_ - model.item_bias_[iidx]
    x = np.linalg.solve(a.T @ a + iidx.size * 0.1 * np.eye(7), a.T @ t)
    want = model.global_mean_ + x[0] + model.item_bias_ + model.item_factors_ @ x[1:]
    np.testing.assert_allclose(scores, want, rtol=1e-4, atol=1e-4)
    # and it agrees with the user's trained parameters on the ranking of unseen items
    stored = model._score_users(np.array([row]))[0]
    assert np.corrcoef(stored, scores)[0, 1] > 0.9


def test_svdpp_fold_in_uses_the_implicit_term():
    data = planted(4, n_users=150, n_items=100)
    model = SVDpp(n_factors=5, n_epochs=20, random_state=0).fit(data)
    items = data.items.ids[:10]
    recs = model.recommend_from_history(items, weights=np.full(10, 4.0), n=5)
    assert not set(recs.ids()[0].tolist()) & set(items.tolist())
    iidx = np.arange(10)
    z = model.implicit_factors_[iidx].astype(np.float64).sum(axis=0) / np.sqrt(10)
    bias, vector = model._fold_in(iidx, np.full(10, 4.0, dtype=np.float32))
    q = model.item_factors_[iidx].astype(np.float64)
    a = np.hstack([np.ones((10, 1)), q])
    t = 4.0 - model.global_mean_ - model.item_bias_[iidx] - q @ z
    x = np.linalg.solve(a.T @ a + 10 * 0.1 * np.eye(6), a.T @ t)
    np.testing.assert_allclose(bias, x[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(vector, x[1:] + z, rtol=1e-5, atol=1e-7)


def test_svdpp_user_vectors_include_the_implicit_sum():
    data = tiny_ratings()
    model = SVDpp(n_factors=3, random_state=0).fit(data)
    row = data.matrix[0]
    z = model.implicit_factors_[row.indices].sum(axis=0) / np.sqrt(row.nnz)
    np.testing.assert_allclose(model.user_implicit_[0], z, rtol=1e-5)
    pred = model.predict(["u0"], ["i2"])[0]
    raw = (
        model.global_mean_
        + model.user_bias_[0]
        + model.item_bias_[2]
        + model.item_factors_[2] @ (model.user_factors_[0] + z)
    )
    assert pred == pytest.approx(np.clip(raw, 1, 5), rel=1e-5)


def test_explanations_add_up():
    data = tiny_ratings()
    svd = SVD(n_factors=3, random_state=0).fit(data)
    exp = svd.explain("u1", "i2")
    terms = exp.contributions.set_index("kind")["weight"]
    raw = terms["global_mean"] + terms["user_bias"] + terms["item_bias"] + terms["factors"]
    assert exp.score == pytest.approx(np.clip(raw, 1, 5), rel=1e-5)
    assert "similar_rated_item" in set(exp.contributions["kind"])
    pp = SVDpp(n_factors=3, random_state=0).fit(data).explain("u1", "i2")
    parts = pp.contributions
    raw = parts[parts.kind != "similar_rated_item"]["weight"].sum()
    assert pp.score == pytest.approx(np.clip(raw, 1, 5), rel=1e-4)
    slope = SlopeOne().fit(data).explain("u0", "i5")
    assert slope.score == pytest.approx(np.clip(slope.contributions["weight"].sum(), 1, 5), rel=1e-5)
    assert "deviation" in slope.text
    co = CoClustering(random_state=0).fit(data).explain("u0", "i5")
    assert co.score == pytest.approx(np.clip(co.contributions["weight"].sum(), 1, 5), rel=1e-5)
    base = Baseline().fit(data).explain("u0", "i5")
    assert base.score == pytest.approx(base.contributions["weight"].sum(), rel=1e-5)


def test_similar_items_are_factor_cosines():
    data = planted(5, n_users=100, n_items=50)
    model = SVD(n_factors=4, random_state=0).fit(data)
    recs = model.similar_items(data.items.ids[:3], n=5)
    unit = model.item_factors_ / np.linalg.norm(model.item_factors_, axis=1, keepdims=True)
    for row in range(3):
        np.testing.assert_allclose(recs.scores[row], unit[recs.indices[row]] @ unit[row], rtol=1e-5)
        assert (np.abs(recs.scores[row]) <= 1 + 1e-6).all()


# --------------------------------------------------------------------------- callbacks, validation, early stopping


def test_callback_reports_each_epoch_and_can_stop():
    data = planted(6, n_users=100, n_items=80)
    seen = []
    SVD(n_factors=4, n_epochs=5, random_state=0).fit(data, callback=lambda e, m: seen.append((e, m)))
    assert [e for e, _ in seen] == [0, 1, 2, 3, 4]
    assert all(m["rmse"] == pytest.approx(np.sqrt(m["loss"])) for _, m in seen)
    model = SVD(n_factors=4, n_epochs=50, random_state=0).fit(data, callback=lambda e, m: e == 2)
    assert model.n_iter_ == 3 and model.loss_history_.size == 3


def test_validation_and_early_stopping_keep_the_best_epoch():
    data = planted(7, n_users=200, n_items=150)
    train, valid = random_split(data, 0.2, random_state=1)
    model = SVD(n_factors=30, n_epochs=200, learning_rate=0.03, reg=0.0, early_stopping_rounds=3, random_state=0).fit(
        train, validation=valid
    )
    history = model.validation_history_
    assert model.n_iter_ < 200  # overfitting without regularisation stops it
    assert model.best_epoch_ == int(np.argmin(history))
    assert model.n_iter_ - 1 - model.best_epoch_ == 3
    assert held_out_rmse(model, valid) == pytest.approx(history.min(), rel=1e-5)  # best state restored
    assert not hasattr(model, "_validation_data")


def test_validation_with_other_id_maps_is_mapped_by_raw_id():
    data = tiny_ratings()
    frame = pd.DataFrame({"user": ["u0", "zz"], "item": ["i2", "i0"], "rating": [4.0, 3.0]})
    valid = Interactions.from_frame(frame, rating="rating", rating_scale=(1, 5))
    model = Baseline().fit(data, validation=valid)
    assert model.validation_history_.shape == (10,)  # the unknown user "zz" is ignored
    pred = model.predict(["u0"], ["i2"])[0]
    assert model.validation_history_[-1] == pytest.approx(abs(pred - 4.0), rel=1e-5)


def test_early_stopping_needs_validation():
    with pytest.raises(InvalidParameterError, match="early_stopping_rounds=2 needs fit"):
        SVD(early_stopping_rounds=2).fit(tiny_ratings())
    with pytest.raises(InvalidParameterError, match="validation must be likewise Interactions"):
        SVD().fit(tiny_ratings(), validation=np.ones(3))


def test_divergence_raises_fit_error():
    with pytest.raises(FitError, match="diverged"):
        SVD(n_factors=5, learning_rate=5.0, n_epochs=50, random_state=0).fit(planted(8, n_users=50, n_items=40))


def test_history_survives_save_and_load(tmp_path):
    data = tiny_ratings()
    model = SVDpp(n_factors=3, n_epochs=4, random_state=0).fit(data)
    model.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.loss_history_, model.loss_history_)
    assert loaded.n_iter_ == 4
    np.testing.assert_array_equal(loaded.user_implicit_, model.user_implicit_)
    np.testing.assert_array_equal(loaded.predict(["u1"], ["i4"]), model.predict(["u1"], ["i4"]))


# --------------------------------------------------------------------------- Baseline


def test_baseline_als_matches_surprise_loop_by_hand():
    data = tutorial_ratings()
    model = Baseline(n_epochs=3, reg_user=2.0, reg_item=1.0).fit(data)
    table = dense(data)
    mu = table[table > 0].mean()
    bu, bi = np.zeros(3), np.zeros(3)
    for _ in range(3):
        for i in range(3):
            raters = np.nonzero(table[:, i])[0]
            bi[i] = sum(table[u, i] - mu - bu[u] for u in raters) / (1.0 + raters.size)
        for u in range(3):
            rated = np.nonzero(table[u])[0]
            bu[u] = sum(table[u, i] - mu - bi[i] for i in rated) / (2.0 + rated.size)
    np.testing.assert_allclose(model.user_bias_, bu, rtol=1e-6)
    np.testing.assert_allclose(model.item_bias_, bi, rtol=1e-6)
    carol_avatar = model.predict(["Carol"], ["Avatar"])[0]
    carol, avatar = data.users.to_index(["Carol"])[0], data.items.to_index(["Avatar"])[0]
    assert carol_avatar == pytest.approx(mu + bu[carol] + bi[avatar], rel=1e-6)


def test_baseline_sgd_is_surprise_baseline_sgd():
    from likewise.models._rating import sgd_schedule

    data = tiny_ratings()
    model = Baseline(method="sgd", deterministic=True, random_state=3).fit(data)
    users, items, ratings, _ = sgd_schedule(data, 1, np.random.default_rng(3))
    bu, bi = np.zeros(data.n_users), np.zeros(data.n_items)
    empty_u, empty_i = np.zeros((data.n_users, 0)), np.zeros((data.n_items, 0))
    for _ in range(20):
        svd_epoch_reference(
            users, items, ratings, data.values.mean(), bu, bi, empty_u, empty_i, (0.005,) * 4, (0.02,) * 4
        )
    np.testing.assert_allclose(model.user_bias_, bu, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.item_bias_, bi, rtol=1e-5, atol=1e-7)
    assert model.n_iter_ == 20


def test_baseline_fold_in_of_new_user():
    data = tiny_ratings()
    model = Baseline().fit(data)
    recs = model.recommend_from_history(["i0", "i3"], weights=[5, 2], n=4)
    mu, bi = model.global_mean_, model.item_bias_
    bu = ((5 - mu - bi[0]) + (2 - mu - bi[3])) / (15 + 2)
    np.testing.assert_allclose(recs.scores[0], np.clip(mu + bu + bi[recs.indices[0]], 1, 5), rtol=1e-5)


def test_weights_default_to_top_of_the_scale():
    data = tiny_ratings()
    model = Baseline().fit(data)
    a = model.recommend_from_history(["i0"], n=3)
    b = model.recommend_from_history(["i0"], weights=[5.0], n=3)
    np.testing.assert_array_equal(a.scores, b.scores)


# --------------------------------------------------------------------------- NMF, SlopeOne, CoClustering, Normal


def test_nmf_factors_stay_non_negative_and_fold_in_is_projected():
    data = planted(9, n_users=100, n_items=70)
    model = NMF(n_factors=5, random_state=0).fit(data)
    assert (model.user_factors_ >= 0).all() and (model.item_factors_ >= 0).all()
    iidx = np.arange(12)
    _, vector = model._fold_in(iidx, np.full(12, 1.0, dtype=np.float32))
    assert (vector >= 0).all()
    exp = model.explain(data.users.ids[0], data.items.ids[5])
    assert "factor" in set(exp.contributions["kind"])


def test_nmf_refuses_negative_ratings():
    data = Interactions.from_arrays([0, 1], [0, 1], [-1.0, 2.0], kind="explicit")
    with pytest.raises(DataError, match="non-negative ratings"):
        NMF().fit(data)


def test_slopeone_matches_surprise_on_every_pair():
    data = tiny_ratings()
    model = SlopeOne().fit(data)
    table = dense(data)
    freq, dev, user_mean = slopeone_fit_reference(table)
    users, items = np.repeat(np.arange(5), 6), np.tile(np.arange(6), 5)
    want = [
        np.clip(slopeone_estimate_reference(table, freq, dev, user_mean, u, i), 1, 5)
        for u, i in zip(users, items, strict=True)
    ]
    np.testing.assert_allclose(model.predict(data.users.ids[users], data.items.ids[items]), want, rtol=1e-5)
    batch = model.recommend(data.users.ids, n=6, exclude_seen=False)
    for row in range(5):
        np.testing.assert_allclose(
            batch.scores[row], np.asarray(want).reshape(5, 6)[row, batch.indices[row]], rtol=1e-5
        )


def test_slopeone_min_support_drops_thin_deviations():
    data = tiny_ratings()
    thin = SlopeOne(min_support=2).fit(data)
    assert (thin.support_.data >= 2).all()
    assert thin.deviations_.nnz < SlopeOne().fit(data).deviations_.nnz


def test_coclustering_fit_equals_surprise_algorithm():
    data = tiny_ratings()
    model = CoClustering(n_user_clusters=2, n_item_clusters=3, n_epochs=4, random_state=5).fit(data)
    rng = np.random.default_rng(5)
    cu0, ci0 = rng.integers(0, 2, 5), rng.integers(0, 3, 6)
    table = dense(data)
    ur = [[(i, table[u, i]) for i in range(6) if table[u, i]] for u in range(5)]
    ir = [[(u, table[u, i]) for u in range(5) if table[u, i]] for i in range(6)]
    cu, ci, au, ai, co, _, _ = coclustering_fit_reference(ur, ir, 5, 6, cu0, ci0, 2, 3, 4)
    np.testing.assert_array_equal(model.user_cluster_, cu)
    np.testing.assert_array_equal(model.item_cluster_, ci)
    np.testing.assert_allclose(model.cocluster_mean_, co)
    np.testing.assert_allclose(model.user_cluster_mean_, au)
    np.testing.assert_allclose(model.item_cluster_mean_, ai)


def test_coclustering_fold_in_picks_the_best_cluster():
    data = planted(10, n_users=120, n_items=80)
    model = CoClustering(random_state=0).fit(data)
    row = 7
    start, end = data.matrix.indptr[row], data.matrix.indptr[row + 1]
    cluster, mean = model._assign_new_user(data.matrix.indices[start:end], data.matrix.data[start:end])
    assert mean == pytest.approx(model.user_mean_[row])
    assert 0 <= cluster < 3


def test_normal_predictor_draws_from_the_fitted_normal():
    data = planted(11, n_users=300, n_items=200)
    model = NormalPredictor(random_state=0).fit(data)
    draws = model._score_users(np.arange(300)).ravel()
    assert draws.mean() == pytest.approx(data.values.mean(), abs=0.01)
    assert draws.std() == pytest.approx(data.values.std(), rel=0.02)
    a = model.predict(data.users.ids[:5], data.items.ids[:5])
    np.testing.assert_array_equal(a, model.predict(data.users.ids[:5], data.items.ids[:5]))


# --------------------------------------------------------------------------- validation of inputs


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (SVD(n_factors=0), "parameter 'n_factors' must be an int in"),
        (SVD(learning_rate=0.0), "parameter 'learning_rate' must be a number in \\(0"),
        (SVDpp(reg_yj=-1.0), "parameter 'reg_yj'"),
        (NMF(init_low=-0.5), "parameter 'init_low'"),
        (NMF(init_low=0.5, init_high=0.1), "init_high"),
        (Baseline(method="gd"), "parameter 'method' must be one of"),
        (SlopeOne(min_support=0), "parameter 'min_support'"),
        (CoClustering(n_user_clusters=0), "parameter 'n_user_clusters'"),
    ],
)
def test_bad_parameters_are_refused(model, message):
    with pytest.raises(InvalidParameterError, match=message):
        model.fit(tiny_ratings())


def test_implicit_data_warns():
    data = Interactions.from_arrays([0, 0, 1], [0, 1, 1], kind="implicit")
    with pytest.warns(DataWarning, match="treats the interaction weights as ratings"):
        Baseline().fit(data)


def test_csr_input_never_densified_for_slopeone():
    data = planted(12, n_users=60, n_items=300)
    model = SlopeOne().fit(data)
    assert sp.issparse(model.deviations_)
    assert model.deviations_.nnz < 300 * 300
