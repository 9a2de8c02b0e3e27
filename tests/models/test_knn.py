"""ItemKNN and UserKNN: conformance, brute-force agreement, known answers, Surprise parity."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise import Interactions, load
from likewise.data.idmap import IdMap
from likewise.exceptions import InvalidParameterError
from likewise.models.knn import ItemKNN, UserKNN
from likewise.testing import RecommenderConformance, corner_cases, tiny_ratings, tutorial_ratings
from tests.reference import knn as ref

HYPO = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (measure, norms) pairs the models accept, with the norms they resolve to
MEASURES = [
    ("cosine", "common"),
    ("cosine", "full"),
    ("pearson", "common"),
    ("pearson", "full"),
    ("adjusted_cosine", "common"),
    ("adjusted_cosine", "full"),
    ("pearson_baseline", "common"),
    ("pearson_baseline", "full"),
    ("msd", "common"),
    ("jaccard", "common"),
    ("dot", "full"),
]
PREDICTIONS = ["sum", "basic", "means", "zscore", "baseline"]


# ------------------------------------------------------------------------------ conformance
class TestItemKNNImplicit(RecommenderConformance):
    def make_model(self):
        return ItemKNN(k=3)


class TestItemKNNExplicit(RecommenderConformance):
    fixture = "explicit"

    def make_model(self):
        return ItemKNN(k=3)


class TestItemKNNBM25(RecommenderConformance):
    def make_model(self):
        return ItemKNN(k=3, similarity="dot", weighting="bm25", n_neighbors_stored=4)


class TestUserKNNImplicit(RecommenderConformance):
    def make_model(self):
        return UserKNN(k=3)


class TestUserKNNExplicit(RecommenderConformance):
    fixture = "explicit"
    learns_checkerboard = False  # Pearson on 0/1 data: every user has zero variance

    def make_model(self):
        return UserKNN(k=3, similarity="pearson", prediction="zscore")


class TestUserKNNBaseline(RecommenderConformance):
    fixture = "explicit"
    learns_checkerboard = False  # MSD is 1 between any two users of 0/1 data

    def make_model(self):
        return UserKNN(k=2, similarity="msd", prediction="baseline")


# ------------------------------------------------------------------------------ helpers
def interactions_from_table(table: np.ndarray, kind: str = "explicit") -> Interactions:
    """Interactions over the full index ranges of `table` (NaN = no interaction), ids 0..n-1."""
    users, items = np.nonzero(~np.isnan(table))
    return Interactions.from_arrays(
        users,
        items,
        table[users, items],
        kind=kind,
        rating_scale=(1.0, 5.0) if kind == "explicit" else None,
        users=IdMap(range(table.shape[0]), name="user"),
        items=IdMap(range(table.shape[1]), name="item"),
    )


@st.composite
def tables(draw: st.DrawFn) -> np.ndarray:
    n_users = draw(st.integers(1, 7))
    n_items = draw(st.integers(1, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    density = draw(st.sampled_from([0.3, 0.6, 0.9]))
    values = rng.integers(1, 6, size=(n_users, n_items)).astype(np.float64)
    table = np.where(rng.random((n_users, n_items)) < density, values, np.nan)
    if draw(st.booleans()):
        table[0] = np.where(np.isnan(table[0]), np.nan, 4.0)  # a constant (zero-variance) user
    if np.isnan(table).all():
        table[-1, -1] = 3.0  # Interactions need at least one
    return table


def dense_similarity(model) -> np.ndarray:
    return model.similarity_.toarray()


def check_against_reference(model_cls, table, measure, norms, prediction, k, min_k, n_keep, weighting=None):
    data = interactions_from_table(table)
    model = model_cls(
        k=k,
        min_k=min_k,
        similarity=measure,
        prediction=prediction,
        norms=norms,
        n_neighbors_stored=n_keep,
        weighting=weighting,
    ).fit(data)
    user_based = model_cls is UserKNN
    expected = ref.fit(
        table,
        user_based=user_based,
        measure=measure,
        prediction=prediction,
        norms=norms,
        k=k,
        min_k=min_k,
        n_keep=model.n_neighbors_stored_,
        weighting=weighting,
        rating_scale=(1.0, 5.0),
    )
    # the stored (pruned) similarities
    lists_got = [
        model.similarity_.indices[model.similarity_.indptr[r] : model.similarity_.indptr[r + 1]].tolist()
        for r in range(expected.S.shape[0])
    ]
    assert lists_got == [row.tolist() for row in expected.lists]
    kept = np.zeros_like(expected.S)
    for row, nbrs in enumerate(expected.lists):
        kept[row, nbrs] = expected.S[row, nbrs]
    np.testing.assert_allclose(dense_similarity(model), kept, rtol=1e-5, atol=1e-7)
    # every (user, item) pair, pointwise and as dense score rows
    n_users, n_items = table.shape
    uu, ii = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    want = np.array([[ref.predict(expected, u, i) for i in range(n_items)] for u in range(n_users)])
    got = model.predict(uu.ravel(), ii.ravel()).reshape(n_users, n_items)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    with model._threads():
        rows = model._score_users(np.arange(n_users))  # unclipped: recommend ranks by them
    if prediction != "sum":
        rows = np.clip(rows, 1.0, 5.0)
    np.testing.assert_allclose(rows, want, rtol=1e-4, atol=1e-4)
    # fold-in of a made-up profile
    profile = np.where(np.arange(n_items) % 2 == 0, 5.0 - np.arange(n_items) % 4, np.nan)
    rated = np.nonzero(~np.isnan(profile))[0]
    with model._threads():
        folded = model._score_history(rated.astype(np.int32), profile[rated].astype(np.float32))
    if prediction != "sum":
        folded = np.clip(folded, 1.0, 5.0)
    want_fold = ref.fold_in(
        expected, profile, measure=measure, norms=norms, n_keep=model.n_neighbors_stored_ + 1, weighting=weighting
    )
    np.testing.assert_allclose(folded, want_fold, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------ brute force
@pytest.mark.parametrize("model_cls", [ItemKNN, UserKNN])
@pytest.mark.parametrize("prediction", PREDICTIONS)
@HYPO
@given(
    table=tables(),
    which=st.integers(0, len(MEASURES) - 1),
    k=st.integers(1, 4),
    min_k=st.integers(0, 2),
    n_keep=st.sampled_from([None, 1, 4]),
)
def test_predictions_match_brute_force(model_cls, prediction, table, which, k, min_k, n_keep):
    measure, norms = MEASURES[which]
    min_k = min(min_k, k)
    n_keep = None if n_keep is None else max(n_keep, k)
    check_against_reference(model_cls, table, measure, norms, prediction, k, min_k, n_keep)


@pytest.mark.parametrize("model_cls", [ItemKNN, UserKNN])
@pytest.mark.parametrize(("measure", "weighting"), [("cosine", "bm25"), ("dot", "tfidf"), ("dot", "bm25")])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables(), k=st.integers(1, 4))
def test_weighted_similarities_match_brute_force(model_cls, measure, weighting, table, k):
    check_against_reference(model_cls, table, measure, "full", "sum", k, 1, None, weighting=weighting)


# ------------------------------------------------------------------------------ known answers
# The tutorial table (items in index order Avatar, Inception, Titanic):
#            Inception  Titanic  Avatar
#   Alice        5         1       4
#   Bob          4         2       5
#   Carol        1         5       ?
def test_tutorial_item_cosine_basic():
    model = ItemKNN(similarity="cosine", prediction="basic").fit(tutorial_ratings())
    # cosine over the co-raters Alice and Bob:
    #   sim(Avatar, Inception) = (4*5 + 5*4) / sqrt((16 + 25)(25 + 16)) = 40/41     = 0.97561
    #   sim(Avatar, Titanic)   = (4*1 + 5*2) / sqrt((16 + 25)(1 + 4))   = 14/sqrt(205) = 0.97780
    s_ai, s_at = 40 / 41, 14 / np.sqrt(205)
    # Carol gave Inception 1 and Titanic 5: (0.97561*1 + 0.97780*5) / (0.97561 + 0.97780) = 3.00224
    expected = (s_ai * 1 + s_at * 5) / (s_ai + s_at)
    np.testing.assert_allclose(model.predict(["Carol"], ["Avatar"]), [expected], rtol=1e-6)
    np.testing.assert_allclose(expected, 3.00224, atol=1e-5)
    sims = model.similar_items("Avatar", n=2)
    assert sims.ids()[0].tolist() == ["Titanic", "Inception"]
    np.testing.assert_allclose(sims.scores[0], [s_at, s_ai], rtol=1e-6)
    # the explanation's weights are each neighbour's share of the score
    explanation = model.explain("Carol", "Avatar")
    frame = explanation.contributions.set_index("id")
    np.testing.assert_allclose(frame.loc["Titanic", "weight"], s_at * 5 / (s_ai + s_at), rtol=1e-6)
    np.testing.assert_allclose(frame.loc["Inception", "weight"], s_ai * 1 / (s_ai + s_at), rtol=1e-6)
    np.testing.assert_allclose(frame["weight"].sum(), expected, rtol=1e-6)
    assert "Titanic" in explanation.text and "Inception" in explanation.text
    # a new visitor with Carol's ratings gets Carol's prediction
    folded = model.recommend_from_history(["Inception", "Titanic"], weights=[1, 5], n=1)
    assert folded.ids()[0].tolist() == ["Avatar"]
    np.testing.assert_allclose(folded.scores[0, 0], expected, rtol=1e-6)


def test_tutorial_item_adjusted_cosine_means():
    model = ItemKNN(similarity="adjusted_cosine", prediction="means").fit(tutorial_ratings())
    # user means: Alice 10/3, Bob 11/3, Carol 3; centred ratings over the co-raters Alice, Bob:
    #   Avatar (2/3, 4/3), Inception (5/3, 1/3) -> sim = (10/9 + 4/9) / sqrt(20/9 * 26/9) = 14/sqrt(520)
    #   Avatar vs Titanic (-7/3, -5/3): negative, so never a neighbour
    assert model.similarity_[0].toarray()[0, 2] == 0
    np.testing.assert_allclose(model.similarity_[0].toarray()[0, 1], 14 / np.sqrt(520), rtol=1e-6)
    # KNNWithMeans: mean(Avatar) + sim * (r_Carol,Inception - mean(Inception)) / sim
    #   = 4.5 + (1 - 10/3) = 2.16667
    np.testing.assert_allclose(model.predict(["Carol"], ["Avatar"]), [4.5 + 1 - 10 / 3], rtol=1e-6)
    explanation = model.explain("Carol", "Avatar").contributions
    assert explanation["kind"].tolist() == ["mean", "item"]
    np.testing.assert_allclose(explanation["weight"].tolist(), [4.5, 1 - 10 / 3], rtol=1e-6)


def test_tutorial_user_msd_basic_and_pearson_fallback():
    data = tutorial_ratings()
    model = UserKNN(similarity="msd", prediction="basic").fit(data)
    # msd(Carol, Alice) = ((1-5)^2 + (5-1)^2)/2 = 16 -> 1/17; msd(Carol, Bob) = (9 + 9)/2 = 9 -> 1/10
    # Avatar: (1/17 * 4 + 1/10 * 5) / (1/17 + 1/10) = 4.62963
    expected = (4 / 17 + 5 / 10) / (1 / 17 + 1 / 10)
    np.testing.assert_allclose(model.predict(["Carol"], ["Avatar"]), [expected], rtol=1e-6)
    neighbours = model.similar_users("Carol", n=2)
    assert neighbours.ids()[0].tolist() == ["Bob", "Alice"]
    # Pearson: Carol (1, 5) is perfectly anti-correlated with Alice (5, 1) and Bob (4, 2), so she
    # has no positive neighbour and KNNWithMeans falls back to her mean, 3.
    pearson = UserKNN(similarity="pearson", prediction="means").fit(data)
    np.testing.assert_allclose(pearson.predict(["Carol"], ["Avatar"]), [3.0])
    assert pearson.explain("Carol", "Avatar").contributions["kind"].tolist() == ["mean"]
    assert "fewer than 1 similar user" in pearson.explain("Carol", "Avatar").text


def test_tutorial_implicit_sum():
    data = tutorial_ratings()
    model = ItemKNN(similarity="cosine", norms="common", prediction="sum", k=1).fit(data)
    # Co-rated cosine: sim(Inception, Titanic) over all three users = (5 + 8 + 5) / sqrt(42 * 30)
    # = 0.50709, so the single nearest neighbour of both Inception and Titanic is Avatar; Carol's
    # score for it is 1 * 40/41 + 5 * 14/sqrt(205) (her ratings as weights).
    expected = 1 * 40 / 41 + 5 * 14 / np.sqrt(205)
    np.testing.assert_allclose(model.predict(["Carol"], ["Avatar"]), [expected], rtol=1e-6)
    unweighted = ItemKNN(similarity="cosine", norms="common", prediction="sum", k=1, weighted=False).fit(data)
    np.testing.assert_allclose(unweighted.predict(["Carol"], ["Avatar"]), [40 / 41 + 14 / np.sqrt(205)], rtol=1e-6)
    frame = model.explain("Carol", "Avatar").contributions
    assert set(frame["id"]) == {"Inception", "Titanic"}
    np.testing.assert_allclose(frame["weight"].sum(), expected, rtol=1e-6)
    # Whole-vector cosine (the default for "sum"), norms over every rating of an item:
    #   |Avatar| = sqrt(16 + 25), |Inception| = sqrt(25 + 16 + 1), |Titanic| = sqrt(1 + 4 + 25)
    #   sim(Inception, Avatar) = 40 / sqrt(41 * 42) = 0.96393   sim(Titanic, Avatar) = 14 / sqrt(41 * 30) = 0.39918
    #   sim(Inception, Titanic) = 18 / sqrt(42 * 30) = 0.50709
    # so Titanic's nearest item is Inception, not Avatar: only Inception (rated 1) reaches Avatar.
    full = ItemKNN(prediction="sum", k=1).fit(data)
    assert full.norms_ == "full" and full.similarity_measure_ == "cosine"
    np.testing.assert_allclose(full.predict(["Carol"], ["Avatar"]), [40 / np.sqrt(41 * 42)], rtol=1e-6)


def test_jaccard_by_hand():
    # tiny_ratings: i0 is rated by u0..u3, i3 by everybody -> |i0 & i3| / |i0 | i3| = 4/5
    model = ItemKNN(similarity="jaccard", prediction="sum").fit(tiny_ratings())
    np.testing.assert_allclose(model.similarity_.toarray()[0, 3], 0.8, rtol=1e-6)


def test_corner_cases_fallbacks():
    data = corner_cases()
    # user 5 rated nothing and items 4, 5 were never rated: every variant falls back cleanly
    mu = data.values.mean()
    for cls in (ItemKNN, UserKNN):
        basic = cls(similarity="cosine", prediction="basic").fit(data)
        np.testing.assert_allclose(basic.predict([5, 0], [0, 4]), [mu, mu], rtol=1e-6)
        means = cls(similarity="pearson", prediction="means").fit(data)
        assert np.isfinite(means.predict(data.users.ids, data.items.ids)).all()
        zscore = cls(similarity="msd", prediction="zscore").fit(data)
        assert np.isfinite(zscore.predict(data.users.ids, data.items.ids)).all()
    # user 0 rated everything 4: zero variance -> the overall deviation replaces it
    model = UserKNN(similarity="msd", prediction="zscore").fit(data)
    assert model.stats_.user_std[0] == pytest.approx(data.values.std())


def test_pruning_bounds_the_stored_neighbours():
    rng = np.random.default_rng(0)
    table = np.where(rng.random((40, 30)) < 0.5, rng.integers(1, 6, (40, 30)).astype(float), np.nan)
    data = interactions_from_table(table)
    full = ItemKNN(similarity="cosine", prediction="basic", k=3).fit(data)
    pruned = ItemKNN(similarity="cosine", prediction="basic", k=3, n_neighbors_stored=5).fit(data)
    assert full.n_neighbors_stored_ == 29
    assert np.diff(pruned.similarity_.indptr).max() <= 5
    # each pruned row is the head of the full row
    for row in range(30):
        head = full.similarity_.indices[full.similarity_.indptr[row] : full.similarity_.indptr[row] + 5]
        got = pruned.similarity_.indices[pruned.similarity_.indptr[row] : pruned.similarity_.indptr[row + 1]]
        assert got.tolist() == head.tolist()


def test_rows_are_sorted_by_similarity_and_survive_save_load(tmp_path: Path):
    data = tiny_ratings()
    model = UserKNN(similarity="pearson_baseline", prediction="baseline", k=2).fit(data)
    s = model.similarity_
    for row in range(s.shape[0]):
        vals = s.data[s.indptr[row] : s.indptr[row + 1]]
        assert (np.diff(vals) <= 0).all()
    model.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    users, items = np.meshgrid(data.users.ids, data.items.ids, indexing="ij")
    np.testing.assert_array_equal(
        loaded.predict(users.ravel(), items.ravel()), model.predict(users.ravel(), items.ravel())
    )
    history = data.items.ids[:3]
    np.testing.assert_array_equal(
        loaded.recommend_from_history(history, weights=[5, 1, 3]).scores,
        model.recommend_from_history(history, weights=[5, 1, 3]).scores,
    )
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.similar_items(items[0, :2]).indices, model.similar_items(items[0, :2]).indices)


def test_fold_in_repeated_items_keep_the_last_value():
    model = ItemKNN(similarity="cosine", prediction="basic").fit(tutorial_ratings())
    once = model.recommend_from_history(["Inception", "Titanic"], weights=[1, 5], n=1)
    twice = model.recommend_from_history(["Inception", "Titanic", "Inception"], weights=[4, 5, 1], n=1)
    np.testing.assert_array_equal(once.scores, twice.scores)


def test_clip_to_rating_scale():
    table = np.array([[5.0, 5.0, np.nan], [5.0, 5.0, 5.0], [1.0, 1.0, 1.0], [5.0, np.nan, 5.0]])
    data = interactions_from_table(table)
    clipped = ItemKNN(similarity="cosine", prediction="baseline").fit(data)
    raw = ItemKNN(similarity="cosine", prediction="baseline", clip=False).fit(data)
    assert (clipped.predict(data.users.ids.repeat(3), np.tile(data.items.ids, 4)) <= 5.0).all()
    assert raw.predict([0], [2])[0] != clipped.predict([0], [2])[0] or raw.predict([0], [2])[0] <= 5.0


def test_predicts_ratings_flag():
    assert ItemKNN().predicts_ratings
    assert not ItemKNN(prediction="sum").predicts_ratings
    data, _ = __import__("likewise.testing", fromlist=["checkerboard"]).checkerboard()
    assert not ItemKNN().fit(data).predicts_ratings  # "auto" resolved to "sum" on implicit data


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"similarity": "euclid"}, "parameter 'similarity' must be one of"),
        ({"k": 0}, "parameter 'k' must be an int in"),
        ({"similarity": "pearson", "weighting": "bm25"}, "weighting='bm25' applies to similarity 'cosine' or 'dot'"),
        ({"k": 5, "min_k": 6}, r"min_k \(6\) must not exceed k \(5\)"),
        ({"k": 5, "n_neighbors_stored": 2}, r"n_neighbors_stored \(2\) must be at least k \(5\)"),
        ({"bm25_b": 1.5}, "parameter 'bm25_b'"),
    ],
)
def test_parameter_errors(params, message):
    with pytest.raises(InvalidParameterError, match=message):
        ItemKNN(**params).fit(tiny_ratings())


@pytest.mark.parametrize(("measure", "norms"), [("pearson", "common"), ("adjusted_cosine", "full"), ("msd", "common")])
def test_other_orientation_is_computed_exactly(measure, norms):
    rng = np.random.default_rng(4)
    table = np.where(rng.random((9, 7)) < 0.6, rng.integers(1, 6, (9, 7)).astype(float), np.nan)
    data = interactions_from_table(table)
    stats = ref.statistics(table)
    for model_cls, by_users in ((ItemKNN, True), (UserKNN, False)):
        model = model_cls(similarity=measure, norms=norms, prediction="means").fit(data)
        X = ref.prepared(table, stats, by_users=by_users, measure=measure, norms=norms)
        expected = ref.similarity_matrix(X, measure=measure, norms=norms)
        rows = np.arange(X.shape[0])
        with model._threads():
            got = model._similar_users(rows) if by_users else model._similar_items(rows)
        np.testing.assert_allclose(np.nan_to_num(got, nan=0.0), expected, rtol=1e-5, atol=1e-7)
        recs = (
            model.similar_users(data.users.ids[:2], n=3) if by_users else model.similar_items(data.items.ids[:2], n=3)
        )
        assert recs.indices.shape == (2, 3)


def test_recommend_ranks_unclipped_and_reports_clipped():
    # Items 1 and 2 are both predicted above 5 for user 0; the higher raw estimate ranks first.
    table = np.array([[5.0, np.nan, np.nan, 1.0], [5.0, 5.0, 5.0, 1.0], [1.0, 5.0, 4.0, 5.0], [5.0, 5.0, 4.0, 1.0]])
    data = interactions_from_table(table)
    model = ItemKNN(similarity="cosine", prediction="baseline", k=2).fit(data)
    with model._threads():
        raw = model._score_users(np.array([0]))[0]
    recs = model.recommend([0], n=2)
    order = [int(i) for i in recs.indices[0]]
    assert order == sorted([1, 2], key=lambda i: (-raw[i], i))
    np.testing.assert_allclose(recs.scores[0], model.predict([0, 0], order), rtol=1e-6)
    assert (recs.scores <= 5.0).all()


def test_cli_train_accepts_parameters_as_options(tmp_path: Path):
    from typer.testing import CliRunner

    from likewise.cli._app import app
    from likewise.cli.model_cmds import _extra_params

    assert _extra_params(["--similarity", "pearson", "--k", "40", "--no-clip", "--min-k=2"]) == {
        "similarity": "pearson",
        "k": 40,
        "clip": False,
        "min_k": 2,
    }
    with pytest.raises(InvalidParameterError, match="unexpected argument 'stray'"):
        _extra_params(["stray"])
    frame = tutorial_ratings().to_frame()
    frame.to_csv(tmp_path / "ratings.csv", index=False)
    runner = CliRunner()

    def invoke(*cli_args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(cli_args), env={"COLUMNS": "220"})
        return result.exit_code, " ".join(result.output.split())

    args = ["train", str(tmp_path / "ratings.csv"), "--rating", "rating", "--algo", "itemknn"]
    code, out = invoke(*args, "--similarity", "cosine", "--k", "2", "-o", str(tmp_path / "m"))
    assert code == 0, out
    model = load(tmp_path / "m")
    assert model.similarity == "cosine" and model.k == 2
    code, out = invoke("recommend", str(tmp_path / "m"), "--user", "Carol", "-n", "1", "--explain")
    assert code == 0, out
    assert "Avatar" in out and "similar items user Carol rated" in out
    code, out = invoke(*args, "--no-such-knob", "3", "-o", str(tmp_path / "m2"))
    assert code == 1 and "no parameter 'no_such_knob'" in out


# ------------------------------------------------------------------------------ Surprise parity
SURPRISE_VARIANTS = [
    (user_based, measure, prediction)
    for user_based in (False, True)
    for measure in ("cosine", "pearson", "msd", "pearson_baseline")
    for prediction in ("basic", "means", "zscore", "baseline")
]


@pytest.mark.parametrize(("user_based", "measure", "prediction"), SURPRISE_VARIANTS)
def test_same_predictions_as_surprise(user_based, measure, prediction):
    """Continuous ratings (no similarity ties), every user and item rated: the same numbers."""
    surprise = pytest.importorskip("surprise")
    rng = np.random.default_rng(11)
    n_users, n_items = 25, 18
    mask = rng.random((n_users, n_items)) < 0.45
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    mask[rng.integers(0, n_users, n_items), np.arange(n_items)] = True
    users, items = np.nonzero(mask)
    ratings = np.round(rng.uniform(1, 5, users.size), 3)
    frame = pd.DataFrame({"user": users, "item": items, "rating": ratings})
    data = Interactions.from_frame(frame, rating="rating", rating_scale=(1, 5))
    algo_cls = {
        "basic": surprise.KNNBasic,
        "means": surprise.KNNWithMeans,
        "zscore": surprise.KNNWithZScore,
        "baseline": surprise.KNNBaseline,
    }[prediction]
    algo = algo_cls(k=5, min_k=2, sim_options={"name": measure, "user_based": user_based}, verbose=False)
    trainset = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    algo.fit(trainset)
    model_cls = UserKNN if user_based else ItemKNN
    model = model_cls(k=5, min_k=2, similarity=measure, prediction=prediction).fit(data)
    uu, ii = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    uu, ii = uu[~mask], ii[~mask]  # unrated pairs, as a test set would be
    theirs = np.array([algo.predict(u, i).est for u, i in zip(uu, ii, strict=True)])
    np.testing.assert_allclose(model.predict(uu, ii), theirs, rtol=1e-5, atol=1e-5)


def test_inconsistent_stored_similarities_are_refused(tmp_path: Path):
    from likewise.exceptions import ModelFormatError
    from likewise.models import _persistence

    model = ItemKNN(similarity="cosine", prediction="basic").fit(tutorial_ratings())
    model.save(tmp_path / "m")
    meta, arrays = _persistence.read_model_dir(tmp_path / "m")
    arrays["sim_indices"] = arrays["sim_indices"] + 10  # out of range
    _persistence.write_model_dir(tmp_path / "bad", meta, arrays)
    with pytest.raises(ModelFormatError, match="similarity matrix is inconsistent"):
        load(tmp_path / "bad")


@pytest.mark.parametrize(
    ("params", "peer"),
    [
        ({"similarity": "cosine"}, "CosineRecommender"),
        ({"similarity": "cosine", "weighting": "tfidf"}, "TFIDFRecommender"),
        ({"similarity": "dot", "weighting": "bm25"}, "BM25Recommender"),
        ({"similarity": "dot"}, "ItemItemRecommender"),
    ],
)
@pytest.mark.filterwarnings("ignore:Method expects CSR input")
def test_same_scores_as_implicit(params, peer):
    """implicit's K counts the item itself: its K = our k + 1. Continuous weights: no ties."""
    implicit_nn = pytest.importorskip("implicit.nearest_neighbours")
    rng = np.random.default_rng(3)
    n_users, n_items = 30, 25
    weights = np.where(rng.random((n_users, n_items)) < 0.3, np.round(rng.uniform(1, 10, (n_users, n_items)), 3), 0)
    weights[np.arange(n_users), rng.integers(0, n_items, n_users)] = 2.5
    users, items = np.nonzero(weights)
    data = Interactions.from_arrays(
        users,
        items,
        weights[users, items],
        kind="implicit",
        users=IdMap(range(n_users), name="user"),
        items=IdMap(range(n_items), name="item"),
    )
    k = 5
    model = ItemKNN(k=k, **params).fit(data)
    theirs = getattr(implicit_nn, peer)(K=k + 1, num_threads=1)
    matrix = data.matrix.astype(np.float64).tocsr()
    theirs.fit(matrix, show_progress=False)
    # on items the user already has implicit also adds the item's similarity to itself
    ids, scores = theirs.recommend(np.arange(n_users), matrix, N=n_items, filter_already_liked_items=True)
    ids, scores = np.asarray(ids), np.asarray(scores)
    seen = weights[np.arange(n_users)[:, None], np.maximum(ids, 0)] > 0  # implicit pads with those
    valid = (ids >= 0) & ~seen
    rows = np.repeat(np.arange(n_users)[:, None], n_items, axis=1)
    ours = model.predict(rows[valid], ids[valid])
    np.testing.assert_allclose(ours, scores[valid], rtol=1e-5, atol=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=tables(),
    k=st.integers(1, 4),
    min_k=st.integers(0, 2),
    n=st.integers(1, 9),
    exclude_seen=st.booleans(),
    filter_kind=st.sampled_from([None, "exclude", "candidates"]),
    weighted=st.booleans(),
)
def test_fused_implicit_recommend_equals_dense_ranking(table, k, min_k, n, exclude_seen, filter_kind, weighted):
    from likewise.models.base import Recommender

    data = interactions_from_table(table, kind="implicit")
    model = ItemKNN(k=k, min_k=min(min_k, k), weighted=weighted).fit(data)
    items = data.items.ids
    filters = {"exclude": items[::2]} if filter_kind == "exclude" else {}
    if filter_kind == "candidates":
        filters = {"candidates": items[1::2]}
    users = data.users.ids
    fused = model.recommend(users, n=n, exclude_seen=exclude_seen, **filters)
    dense = Recommender.recommend(model, users, n=n, exclude_seen=exclude_seen, **filters)
    np.testing.assert_array_equal(fused.indices, dense.indices)
    np.testing.assert_allclose(fused.scores, dense.scores, rtol=1e-6)
