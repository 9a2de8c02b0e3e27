"""BayesianMF: the Gibbs kernel against its closed-form twin, conformance, persistence, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from likewise import Interactions
from likewise.data.interactions import FeatureMatrix
from likewise.evaluation import random_split
from likewise.exceptions import DataError, InvalidParameterError
from likewise.kernels.gibbs import row_conditional, sample_rows
from likewise.models import ALGORITHMS, SVD, BayesianMF, load
from likewise.models._bayes_fm import build_blocks
from likewise.models.bayesian import normal_wishart_posterior
from likewise.testing import RecommenderConformance, tiny_ratings
from likewise.testing.fixtures import corner_cases
from tests.reference.gibbs import conditional_reference, draw_reference


class TestBayesianMF(RecommenderConformance):
    fixture = "explicit"
    learns_checkerboard = False
    exact_fold_in = False  # fold-in draws new factors; the stored user averaged other draws

    def make_model(self):
        return BayesianMF(n_factors=3, n_samples=15, burn_in=5, random_state=0)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _tiny_problem(rng, n_items=6, f=3):
    items = np.array([0, 2, 3, 5], dtype=np.int32)
    ratings = np.array([4.0, 2.0, 5.0, 3.0])
    item_bias = rng.normal(size=n_items)
    item_factors = rng.normal(size=(n_items, f))
    prior_mean = rng.normal(size=f)
    a = rng.normal(size=(f, f))
    prior_prec = a @ a.T + np.eye(f)
    return items, ratings, 3.5, item_bias, item_factors, prior_mean, prior_prec, 1.7, 2.3


def test_conditional_matches_the_closed_form(rng):
    problem = _tiny_problem(rng)
    mean, precision = row_conditional(*problem)
    ref_mean, ref_precision = conditional_reference(*problem)
    np.testing.assert_allclose(precision, ref_precision, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("parallel_rows", [1, 3])
def test_kernel_draw_is_mean_plus_inverse_cholesky_noise(rng, parallel_rows):
    items, ratings, mu, item_bias, item_factors, prior_mean, prior_prec, bias_prec, alpha = _tiny_problem(rng)
    f = item_factors.shape[1]
    # the same user repeated `parallel_rows` times, each with its own noise vector
    indptr = np.arange(parallel_rows + 1, dtype=np.int64) * items.size
    indices = np.tile(items, parallel_rows)
    values = np.tile(ratings, parallel_rows)
    z = rng.standard_normal((parallel_rows, f + 1))
    out_b, out_f = np.zeros(parallel_rows), np.zeros((parallel_rows, f))
    sample_rows(
        indptr, indices, values, mu, item_bias, item_factors, prior_mean, prior_prec, bias_prec, alpha, z, out_b, out_f
    )
    mean, precision = conditional_reference(
        items, ratings, mu, item_bias, item_factors, prior_mean, prior_prec, bias_prec, alpha
    )
    for r in range(parallel_rows):
        expected = draw_reference(mean, precision, z[r])
        np.testing.assert_allclose(np.concatenate([[out_b[r]], out_f[r]]), expected, rtol=1e-10, atol=1e-12)


def test_draws_have_the_conditional_covariance(rng):
    items, ratings, mu, item_bias, item_factors, prior_mean, prior_prec, bias_prec, alpha = _tiny_problem(rng)
    f, n = item_factors.shape[1], 20000
    indptr = np.arange(n + 1, dtype=np.int64) * items.size
    out_b, out_f = np.zeros(n), np.zeros((n, f))
    sample_rows(
        indptr,
        np.tile(items, n),
        np.tile(ratings, n),
        mu,
        item_bias,
        item_factors,
        prior_mean,
        prior_prec,
        bias_prec,
        alpha,
        rng.standard_normal((n, f + 1)),
        out_b,
        out_f,
    )
    draws = np.column_stack([out_b, out_f])
    mean, precision = conditional_reference(
        items, ratings, mu, item_bias, item_factors, prior_mean, prior_prec, bias_prec, alpha
    )
    cov = np.linalg.inv(precision)
    np.testing.assert_allclose(draws.mean(axis=0), mean, atol=4 * np.sqrt(np.diag(cov).max() / n))
    np.testing.assert_allclose(np.cov(draws.T), cov, atol=0.05 * np.abs(cov).max())


def test_user_without_ratings_is_drawn_from_the_prior(rng):
    f = 2
    prior_mean, prior_prec = np.array([0.5, -1.0]), np.array([[2.0, 0.3], [0.3, 1.0]])
    out_b, out_f = np.zeros(1), np.zeros((1, f))
    sample_rows(
        np.zeros(2, np.int64),
        np.zeros(0, np.int32),
        np.zeros(0),
        3.0,
        np.zeros(3),
        np.ones((3, f)),
        prior_mean,
        prior_prec,
        4.0,
        2.0,
        np.zeros((1, f + 1)),
        out_b,
        out_f,
    )
    assert out_b[0] == 0.0
    np.testing.assert_allclose(out_f[0], prior_mean)


def test_normal_wishart_posterior_formula(rng):
    factors = rng.normal(size=(7, 3))
    mu, beta, w, nu = normal_wishart_posterior(factors)
    n, mean = 7, factors.mean(axis=0)
    scatter = (factors - mean).T @ (factors - mean)
    assert beta == 9.0 and nu == 10.0
    np.testing.assert_allclose(mu, n * mean / 9.0)
    np.testing.assert_allclose(np.linalg.inv(w), np.eye(3) + scatter + (2 * n / 9) * np.outer(mean, mean))


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(5)
    n_users, n_items, f = 120, 80, 3
    users, items = rng.normal(size=(n_users, f)), rng.normal(size=(n_items, f))
    mask = rng.random((n_users, n_items)) < 0.3
    ratings = 3.0 + 0.3 * rng.normal(size=n_users)[:, None] + users @ items.T * 0.6
    ratings = ratings + 0.1 * rng.normal(size=ratings.shape)
    u, i = np.nonzero(mask)
    data = Interactions.from_arrays(u, i, ratings[u, i].astype(np.float32))
    return random_split(data, 0.2, random_state=0)


def _rmse(model, split):
    test = split.test
    pred = model.predict(test.users.to_ids(test.user_indices), test.items.to_ids(test.item_indices))
    keep = ~np.isnan(pred)
    return float(np.sqrt(np.mean((pred[keep] - test.values[keep]) ** 2)))


def test_recovers_planted_structure_better_than_sgd(planted):
    bayes = BayesianMF(n_factors=3, n_samples=60, burn_in=10, random_state=0).fit(planted.train)
    svd = SVD(n_factors=3, n_epochs=40, random_state=0).fit(planted.train)
    rmse = _rmse(bayes, planted)
    assert rmse < 0.3, rmse
    assert rmse < _rmse(svd, planted)
    assert len(bayes.loss_history_) == 70 and bayes.n_iter_ == 70
    assert bayes.user_factors_.shape == (planted.train.n_users, 60 * 3)


def test_prediction_is_the_average_of_the_per_sample_scores(planted):
    model = BayesianMF(n_factors=2, n_samples=4, burn_in=2, random_state=1).fit(planted.train)
    s, f = 4, 2
    u, i = 3, 7
    per_sample = [
        model.user_factors_[u, k * f : (k + 1) * f] @ model.item_factors_[i, k * f : (k + 1) * f] * s for k in range(s)
    ]
    expected = model.global_mean_ + model.user_bias_[u] + model.item_bias_[i] + np.mean(per_sample)
    got = model.predict([model.users_.ids[u]], [model.items_.ids[i]])[0]
    lo, hi = model.rating_scale_
    assert got == pytest.approx(np.clip(expected, lo, hi), abs=1e-5)


def test_save_load_predicts_exactly_and_fold_in_is_stable(planted, tmp_path):
    model = BayesianMF(n_factors=3, n_samples=10, burn_in=3, random_state=2).fit(planted.train)
    model.save(tmp_path / "bmf")
    loaded = load(tmp_path / "bmf")
    test = planted.test
    users, items = test.users.to_ids(test.user_indices), test.items.to_ids(test.item_indices)
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))
    history = planted.train.items.ids[:5]
    weights = np.array([5, 4, 1, 2, 5], dtype=np.float32)
    first = model.recommend_from_history(history, weights=weights, n=5)
    np.testing.assert_array_equal(first.scores, model.recommend_from_history(history, weights=weights, n=5).scores)
    np.testing.assert_array_equal(first.scores, loaded.recommend_from_history(history, weights=weights, n=5).scores)


def test_fold_in_follows_the_ratings(planted):
    model = BayesianMF(n_factors=3, n_samples=20, burn_in=5, random_state=0).fit(planted.train)
    train = planted.train
    row = int(np.argmax(np.diff(train.matrix.indptr)))
    start, end = train.matrix.indptr[row], train.matrix.indptr[row + 1]
    history, ratings = train.items.to_ids(train.matrix.indices[start:end]), train.matrix.data[start:end]
    folded = model.recommend_from_history(history, weights=ratings, n=train.n_items, exclude_seen=False)
    stored = model.recommend(train.users.ids[row], n=train.n_items, exclude_seen=False)
    a = folded.scores[0][np.argsort(folded.indices[0])]
    b = stored.scores[0][np.argsort(stored.indices[0])]
    assert np.corrcoef(a, b)[0, 1] > 0.95


def test_same_seed_same_model_any_thread_count(planted):
    one = BayesianMF(n_factors=2, n_samples=5, burn_in=2, random_state=3, n_threads=1).fit(planted.train)
    two = BayesianMF(n_factors=2, n_samples=5, burn_in=2, random_state=3, n_threads=2).fit(planted.train)
    np.testing.assert_allclose(one.user_factors_, two.user_factors_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(one.item_bias_, two.item_bias_, rtol=1e-6, atol=1e-7)
    other = BayesianMF(n_factors=2, n_samples=5, burn_in=2, random_state=4, n_threads=1).fit(planted.train)
    assert not np.allclose(one.user_factors_, other.user_factors_)


def test_callback_sees_every_draw_and_can_stop():
    seen = []
    model = BayesianMF(n_factors=2, n_samples=10, burn_in=3, random_state=0)
    model.fit(tiny_ratings(), callback=lambda epoch, m: seen.append((epoch, m["rmse"])) or epoch == 4)
    assert [e for e, _ in seen] == [0, 1, 2, 3, 4]
    assert all(np.isfinite(r) for _, r in seen)
    assert model.n_iter_ == 5 and model.noise_precision_.size == 2  # draws 3 and 4 kept


def test_stopped_during_burn_in_keeps_the_last_draw():
    model = BayesianMF(n_factors=2, n_samples=10, burn_in=5, random_state=0)
    model.fit(tiny_ratings(), callback=lambda epoch, m: True)
    assert model.n_iter_ == 1 and model.user_factors_.shape[1] == 2
    assert np.isfinite(model.predict(tiny_ratings().users.ids[:1], tiny_ratings().items.ids[:1])).all()


@pytest.mark.parametrize(
    ("param", "value", "match"),
    [("n_samples", 0, "n_samples"), ("burn_in", -1, "burn_in"), ("n_factors", 0, "n_factors")],
)
def test_bad_parameters(param, value, match):
    with pytest.raises(InvalidParameterError, match=match):
        BayesianMF(**{param: value}).fit(tiny_ratings())


def test_registered():
    assert ALGORITHMS["bayesian-mf"] is BayesianMF


def test_tampered_sample_arrays_are_refused(planted, tmp_path):
    model = BayesianMF(n_factors=2, n_samples=3, burn_in=1, random_state=0).fit(planted.train)
    arrays, _ = model._state()
    arrays["user_prior_mean"] = arrays["user_prior_mean"][:1]
    with pytest.raises(ValueError, match="user_prior_mean"):
        model._set_state(arrays, model._state()[1])


# ---------------------------------------------------------------------- the factorization-machine form
def _with_features(data):
    """`data` with two user features and three item features (every second row has none)."""
    users, items = data.users.ids, data.items.ids
    user_pairs = [(u, f"age{k % 2}") for k, u in enumerate(users) if k % 2 == 0]
    item_pairs = [(i, f"genre{k % 3}") for k, i in enumerate(items)] + [(items[0], "genre1")]
    return data.with_features(
        user_features=FeatureMatrix.from_pairs(data.users, *zip(*user_pairs, strict=True)),
        item_features=FeatureMatrix.from_pairs(data.items, *zip(*item_pairs, strict=True)),
    )


class TestBayesianSVDpp(RecommenderConformance):
    fixture = "explicit"
    learns_checkerboard = False
    exact_fold_in = False

    def make_model(self):
        return BayesianMF(n_factors=3, n_samples=15, burn_in=5, random_state=0, implicit_feedback=True)


class TestBayesianSVDppFlipped(TestBayesianSVDpp):
    def make_model(self):
        return BayesianMF(n_factors=3, n_samples=15, burn_in=5, random_state=0, implicit_feedback=True, flipped=True)


class TestBayesianSideFeatures(TestBayesianSVDpp):
    def make_model(self):
        return BayesianMF(n_factors=2, n_samples=10, burn_in=3, random_state=0, side_features=True)

    def data(self):
        return _with_features(tiny_ratings())

    def test_corner_cases(self) -> None:
        data = _with_features(corner_cases())
        model = self.make_model().fit(data)
        recs = model.recommend(data.users.ids, n=3)
        assert np.isfinite(recs.scores[recs.valid]).all()
        assert np.isfinite(model.predict(data.users.ids, data.items.ids)).all()


def _mnar_split(seed=0, n_users=500, n_items=60, f=2, per_user=10, beta=3.0, noise=0.7):
    """Planted low-rank ratings whose *selection* carries the taste: user u rates item i with
    probability proportional to exp(beta u.v), so which items a user rated reveals u."""
    rng = np.random.default_rng(seed)
    users, items = rng.normal(size=(n_users, f)), rng.normal(size=(n_items, f))
    affinity = users @ items.T
    rows, cols, values = [], [], []
    for u in range(n_users):
        p = np.exp(beta * affinity[u])
        chosen = rng.choice(n_items, per_user, replace=False, p=p / p.sum())
        rows += [u] * per_user
        cols += list(chosen)
        values += list(3 + 0.5 * affinity[u, chosen] + noise * rng.normal(size=per_user))
    data = Interactions.from_arrays(np.array(rows), np.array(cols), np.array(values, dtype=np.float32))
    return random_split(data, 0.2, random_state=0)


def test_implicit_feedback_beats_the_plain_model_on_a_planted_implicit_signal():
    split = _mnar_split()
    params = {"n_factors": 2, "n_samples": 100, "burn_in": 20, "random_state": 0}
    plain = _rmse(BayesianMF(**params).fit(split.train), split)
    implicit = _rmse(BayesianMF(**params, implicit_feedback=True).fit(split.train), split)
    assert implicit < plain - 0.02, (plain, implicit)
    assert implicit < 0.8  # the noise floor is 0.7


def test_fm_form_recovers_planted_structure(planted):
    """One-hot groups only would be plain MF; with the implicit group on, the planted low-rank
    data is still recovered as well as the block sampler does."""
    model = BayesianMF(n_factors=3, n_samples=60, burn_in=10, random_state=0, implicit_feedback=True)
    assert _rmse(model.fit(planted.train), planted) < 0.3


def _item_group_split(seed=0):
    """Item biases set by one of 4 genres (a side feature), 3 ratings per item: the genre pools
    what 3 ratings cannot estimate."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 150, 200
    genre = rng.integers(0, 4, n_items)
    genre_bias = np.array([-1.2, -0.4, 0.4, 1.2])
    rows = np.concatenate([rng.choice(n_users, 4, replace=False) for _ in range(n_items)])
    cols = np.repeat(np.arange(n_items), 4)
    values = 3 + genre_bias[genre[cols]] + 0.6 * rng.normal(size=cols.size)
    data = Interactions.from_arrays(rows, cols, values.astype(np.float32))
    features = FeatureMatrix.from_pairs(data.items, np.arange(n_items), [f"g{g}" for g in genre])
    return random_split(data.with_features(item_features=features), 0.25, random_state=0)


def test_side_features_pool_what_few_ratings_cannot_estimate():
    split = _item_group_split()
    assert split.train.item_features is not None
    params = {"n_factors": 2, "n_samples": 60, "burn_in": 10, "random_state": 0}
    plain = _rmse(BayesianMF(**params).fit(split.train), split)
    side = _rmse(BayesianMF(**params, side_features=True).fit(split.train), split)
    assert side < plain - 0.05, (plain, side)
    assert side < 0.72  # noise 0.6 plus what the genre means leave


def test_side_features_need_features():
    with pytest.raises(DataError, match="side_features=True needs"):
        BayesianMF(side_features=True, n_samples=2, burn_in=0).fit(tiny_ratings())


def test_blocks_follow_the_design_definition():
    """The user block row of u is [one-hot | 1/sqrt|N(u)| on the rated items | u's features];
    the item block row of i is [one-hot | 1/sqrt|N(i)| on its raters | i's features]."""
    data = _with_features(tiny_ratings())
    user, item, start = build_blocks(
        data, implicit_feedback=True, flipped=True, side_features=True, n_factors=2, init_std=0.1,
        rng=np.random.default_rng(0),
    )  # fmt: skip
    dense = data.matrix.toarray() != 0
    for block, rated, feats in ((user, dense, data.user_features), (item, dense.T, data.item_features)):
        n = rated.shape[0]
        matrix = sp.csr_matrix((block.design_values, block.design_indices, block.design_indptr)).toarray()
        expected = np.hstack([np.eye(n), rated / np.sqrt(rated.sum(axis=1, keepdims=True)), feats.matrix.toarray()])
        np.testing.assert_allclose(matrix[:, : expected.shape[1]], expected)
        assert block.n_onehot == n and list(block.onehot) == list(range(n))
        csc = sp.csc_matrix((block.column_values, block.column_rows, block.column_indptr), shape=matrix.shape)
        np.testing.assert_allclose(csc.toarray(), matrix)
    assert start == data.n_users
    # every rating is listed once under its user and once under its item, at the same position
    users = np.repeat(np.arange(user.n_rows), np.diff(user.rating_indptr))
    items = np.repeat(np.arange(item.n_rows), np.diff(item.rating_indptr))
    by_pos_u = dict(zip(user.rating_pos, zip(users, user.rating_other, strict=True), strict=True))
    by_pos_i = dict(zip(item.rating_pos, zip(item.rating_other, items, strict=True), strict=True))
    assert by_pos_u == by_pos_i and len(by_pos_u) == data.nnz


def test_implicit_term_of_fold_in_is_the_fm_formula(planted):
    model = BayesianMF(n_factors=2, n_samples=3, burn_in=1, random_state=0, implicit_feedback=True)
    model.fit(planted.train)
    history = np.array([1, 4, 9])
    for s in range(3):
        y, w = model.implicit_factor_samples_[s, history].astype(float), model.implicit_bias_samples_[s, history]
        x = 1 / np.sqrt(3)
        q = (y * x).sum(axis=0)
        pairwise = 0.5 * ((q**2).sum() - ((y * x) ** 2).sum())
        got_q, got_b = model._implicit_term(s, history)
        np.testing.assert_allclose(got_q, q, rtol=1e-6)
        assert got_b == pytest.approx(float(w.sum()) * x + pairwise, rel=1e-6)


def test_fm_fold_in_follows_the_ratings_and_the_history():
    split = _mnar_split(n_users=300)
    model = BayesianMF(n_factors=2, n_samples=30, burn_in=10, random_state=0, implicit_feedback=True)
    model.fit(split.train)
    train = split.train
    agree = []
    for row in range(20):
        start, end = train.matrix.indptr[row], train.matrix.indptr[row + 1]
        history, ratings = train.items.to_ids(train.matrix.indices[start:end]), train.matrix.data[start:end]
        folded = model.recommend_from_history(history, weights=ratings, n=train.n_items, exclude_seen=False)
        stored = model.recommend(train.users.ids[row], n=train.n_items, exclude_seen=False)
        a = folded.scores[0][np.argsort(folded.indices[0])]
        b = stored.scores[0][np.argsort(stored.indices[0])]
        agree.append(np.corrcoef(a, b)[0, 1])
    assert np.median(agree) > 0.9, agree


def test_fm_save_load_predicts_exactly_and_refuses_missing_arrays(planted, tmp_path):
    model = BayesianMF(n_factors=2, n_samples=4, burn_in=1, random_state=0, implicit_feedback=True, flipped=True)
    model.fit(planted.train)
    assert model.get_params()["implicit_feedback"] is True and model.get_params()["flipped"] is True
    model.save(tmp_path / "fm")
    loaded = load(tmp_path / "fm")
    assert loaded.get_params() == model.get_params()
    test = planted.test
    users, items = test.users.to_ids(test.user_indices), test.items.to_ids(test.item_indices)
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))
    history = planted.train.items.ids[:4]
    np.testing.assert_array_equal(
        loaded.recommend_from_history(history, n=5).scores, model.recommend_from_history(history, n=5).scores
    )
    arrays, state = model._state()
    assert arrays["implicit_factor_samples"].shape == (4, planted.train.n_items, 2)
    del arrays["implicit_factor_samples"]
    with pytest.raises(ValueError, match="implicit_factor_samples is missing"):
        model._set_state(arrays, state)


@pytest.mark.parametrize("options", [{}, {"implicit_feedback": True}])
def test_validation_scores_the_current_draw(planted, options):
    """`validation=` works in both forms: each draw is scored, and the chain improves on it."""
    seen = []
    model = BayesianMF(n_factors=3, n_samples=20, burn_in=5, random_state=0, **options)
    model.fit(planted.train, validation=planted.test, callback=lambda epoch, m: seen.append(m["val_rmse"]) and False)
    assert len(seen) == 25 and np.isfinite(seen).all()
    assert seen[-1] < 0.8 * seen[0], seen
    assert model.user_factors_.shape == (planted.train.n_users, 20 * 3)  # the average replaced the last draw
