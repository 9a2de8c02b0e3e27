"""The Spark backend (issue 14): reading and validation, ALS and item-kNN exported as likewise
models with parity against local models, distributed metrics, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import likewise
from likewise.evaluation import metrics as local_metrics
from likewise.exceptions import DataError, InvalidParameterError
from tests._paths import SHARED_DATA

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def lws():
    pytest.importorskip("pyspark")
    from likewise.distributed import spark as module

    return module


@pytest.fixture(scope="module")
def log_path(tmp_path_factory):
    """Plays of 60 users on 40 string-id items, with duplicates (merged by sum)."""
    rng = np.random.default_rng(7)
    n = 1500
    frame = pd.DataFrame(
        {
            "user": rng.integers(1000, 1060, n),
            "item": [f"item-{v:02d}" for v in rng.zipf(1.6, n) % 40],
            "plays": rng.integers(1, 6, n).astype(np.float64),
        }
    )
    path = tmp_path_factory.mktemp("spark") / "plays.parquet"
    frame.to_parquet(path)
    return path


@pytest.fixture(scope="module")
def log_data(spark, lws, log_path):
    data = lws.read_interactions(str(log_path), spark=spark, weight="plays")
    yield data
    data.unpersist()


# --------------------------------------------------------------------------- reading
def test_import_likewise_never_imports_pyspark():
    code = "import sys, likewise, likewise.cli, likewise.distributed; print('pyspark' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_reader_builds_the_local_id_maps_and_matrix(log_data, log_path):
    local = likewise.read_parquet(log_path, weight="plays")
    assert log_data.users == local.users and log_data.items == local.items
    assert log_data.items.is_str and not log_data.users.is_str
    collected = log_data.to_interactions()
    assert (collected.matrix != local.matrix).nnz == 0
    assert np.allclose(collected.matrix.data, local.matrix.data)
    assert log_data.report.duplicates_merged == local.report.duplicates_merged > 0
    assert log_data.report.n_interactions == local.matrix.nnz


def _bad_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "user,item,rating\n"
        "u1,a,4\n"
        "u2,b,abc\n"  # row 2: not a number
        "u3,,5\n"  # row 3: empty id
        "u4,c,9\n"  # row 4: outside the scale
        "u5,d,3\n"
        "u6,e,2,extra\n"  # row 6: wrong number of fields
        "u7,f,\n"  # row 7: missing rating
    )
    return path


def test_bad_rows_raise_naming_the_first_row(spark, lws, tmp_path):
    path = _bad_csv(tmp_path)
    with pytest.raises(DataError, match=r"bad\.csv, row 2: rating: is not a number \(got 'abc'\)"):
        lws.read_interactions(str(path), spark=spark, rating="rating", rating_scale=(1, 5))


def test_bad_rows_are_counted_by_reason_not_dropped_silently(spark, lws, tmp_path):
    path = _bad_csv(tmp_path)
    data = lws.read_interactions(str(path), spark=spark, rating="rating", rating_scale=(1, 5), on_error="skip")
    local = likewise.read_csv(path, rating="rating", rating_scale=(1, 5), on_error="skip")
    report = data.report
    assert report.rows_read == 7 and report.rows_skipped == 5
    assert report.skipped == {
        "rating: is not a number": 1,
        "item: id is empty": 1,
        "rating: is outside the rating scale [1, 5]": 1,
        "wrong number of fields": 1,
        "rating: is missing (NaN)": 1,
    }
    assert report.skipped == local.report.skipped  # the local reader's reasons and counts
    assert any("row 4: rating: is outside the rating scale [1, 5] (got 9.0)" in e for e in report.examples)
    assert data.users == local.users and data.items == local.items


def test_duplicates_follow_the_policy(spark, lws):
    frame = spark.createDataFrame(
        pd.DataFrame({"user": [1, 1, 2, 1], "item": [5, 5, 6, 7], "rating": [2.0, 4.0, 3.0, 1.0]})
    )
    with pytest.raises(DataError, match=r"rows 1 and 2: duplicate \(user, item\) pair"):
        lws.read_interactions(frame, spark=spark, rating="rating")
    for policy, expected in (("mean", 3.0), ("last", 4.0)):
        data = lws.read_interactions(frame, spark=spark, rating="rating", duplicates=policy)
        matrix = data.to_interactions().matrix
        assert matrix[0, 0] == pytest.approx(expected), policy
        assert data.report.duplicates_merged == 1


def test_float_ids_must_be_whole_and_types_are_checked(spark, lws):
    frame = spark.createDataFrame(pd.DataFrame({"user": [1.0, 2.5], "item": [1, 2]}))
    with pytest.raises(DataError, match=r"row 2: user: id is not an integer or string \(got 2\.5\)"):
        lws.read_interactions(frame, spark=spark)
    with pytest.raises(InvalidParameterError, match=r"either rating= .* or weight="):
        lws.read_interactions(frame, spark=spark, rating="a", weight="b")


# --------------------------------------------------------------------------- ALS
def _exact_users(interactions, item_factors, reg_param, alpha):
    """Brute force: each user's exact implicit-ALS solve with Spark's ridge reg_param * n_u."""
    Y = item_factors.astype(np.float64)
    out = np.zeros((interactions.n_users, Y.shape[1]))
    matrix = interactions.matrix
    for u in range(interactions.n_users):
        cols = matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]]
        r = matrix.data[matrix.indptr[u] : matrix.indptr[u + 1]].astype(np.float64)
        c = 1.0 + alpha * r
        A = Y.T @ Y + (Y[cols].T * (c - 1.0)) @ Y[cols] + reg_param * cols.size * np.eye(Y.shape[1])
        out[u] = np.linalg.solve(A, Y[cols].T @ c)
    return out


@pytest.mark.parametrize("confidence", ["linear", "log"])
def test_spark_solves_likewise_confidence_with_count_scaled_reg(log_data, lws, confidence):
    """The mapping, checked on Spark's own output: its final user factors are the exact solve of
    likewise's confidence (c = 1 + alpha r, or the log form) with ridge regParam * n_u."""
    reg, alpha, eps = 2.0, 3.0, 2.0
    model = lws.train_als(log_data, n_factors=4, reg=reg, alpha=alpha, confidence=confidence, epsilon=eps, n_epochs=4)
    inter = log_data.to_interactions()
    mean_count = inter.nnz / inter.n_users
    assert lws.spark_reg_param(reg, inter.nnz, inter.n_users) == pytest.approx(reg / mean_count)
    transformed = inter.matrix.copy()
    if confidence == "log":
        transformed.data = np.log1p(transformed.data / eps)
    target = likewise.Interactions(inter.users, inter.items, transformed)
    exact = _exact_users(target, model.item_factors_, reg / mean_count, alpha)
    assert np.allclose(model.user_factors_, exact, atol=2e-4, rtol=1e-3)
    assert model.reg == pytest.approx(reg)  # the exported model folds in with likewise's ridge
    assert model.confidence == confidence and model.alpha == alpha


def test_exported_als_equals_a_local_model_with_the_same_factors(log_data, lws, log_path, tmp_path):
    exported = lws.train_als(log_data, n_factors=6, reg=1.0, alpha=2.0, n_epochs=6, random_state=3)
    exported.save(tmp_path / "model")
    loaded = likewise.load(tmp_path / "model")
    local = likewise.ALS(n_factors=6, reg=1.0, alpha=2.0, n_epochs=1, solver="cholesky").fit(
        likewise.read_parquet(log_path, weight="plays")
    )
    local.user_factors_ = exported.user_factors_.copy()
    local.item_factors_ = exported.item_factors_.copy()
    users = local.users_.ids
    for model in (exported, loaded):
        assert np.array_equal(model.recommend(users, n=10).indices, local.recommend(users, n=10).indices)
        assert np.array_equal(model.similar_items(local.items_.ids[:5], n=5).indices,
                              local.similar_items(local.items_.ids[:5], n=5).indices)  # fmt: skip
        history = local.items_.ids[[0, 3, 7]]
        assert np.allclose(model.recommend_from_history(history, n=5).scores,
                           local.recommend_from_history(history, n=5).scores, atol=1e-5)  # fmt: skip
        assert model.explain(users[0], local.items_.ids[1]).text == local.explain(users[0], local.items_.ids[1]).text
    seen = (local.seen_ != loaded.seen_).nnz
    assert seen == 0
    # seen items are excluded: no recommended item is in the user's training row
    recs = loaded.recommend(users, n=10).indices
    for row, uidx in enumerate(range(len(users))):
        assert not set(recs[row][recs[row] >= 0]) & set(loaded.seen_[uidx].indices)


def test_string_ids_round_trip_through_the_model_directory(log_data, lws, tmp_path):
    model = lws.train_als(log_data, n_factors=3, reg=1.0, n_epochs=2)
    model.save(tmp_path / "m")
    loaded = likewise.load(tmp_path / "m")
    assert loaded.items_ == log_data.items and loaded.items_.is_str
    ids = loaded.recommend(1003, n=4).ids()[0]
    assert all(isinstance(v, str) and v.startswith("item-") for v in ids)
    assert set(ids) <= set(log_data.items.ids)


def test_fifty_iterations_without_a_checkpoint_dir(spark, lws, log_data):
    sc = spark.sparkContext
    assert sc.getCheckpointDir() is None
    made = []
    with lws.checkpointing(sc, None) as directory:
        made.append(directory)
        assert sc.getCheckpointDir() is not None
    assert not os.path.exists(made[0]) and sc.getCheckpointDir() is None
    temp = os.path.dirname(made[0])

    def ours():
        return {p for p in os.listdir(temp) if p.startswith("likewise-spark-checkpoints-")}

    before = ours()
    model = lws.train_als(log_data, n_factors=2, reg=1.0, n_epochs=50, checkpoint_interval=5)
    assert model.n_iter_ == 50 and np.isfinite(model.user_factors_).all()
    assert sc.getCheckpointDir() is None  # unset again, and the fit's directory is removed
    assert ours() <= before


def test_explicit_als_exports_an_unbiased_svd(spark, lws):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"user": rng.integers(0, 30, 400), "item": rng.integers(0, 20, 400)})
    frame = frame.drop_duplicates().assign(rating=lambda f: rng.integers(1, 6, len(f)).astype(float))
    data = lws.read_interactions(spark.createDataFrame(frame), spark=spark, rating="rating")
    model = lws.train_als(data, n_factors=3, reg=0.1, n_epochs=5, implicit=False)
    assert isinstance(model, likewise.SVD) and model.biased is False and model.fold_in_reg == pytest.approx(0.1)
    users, items = data.users.ids[:5], data.items.ids[:5]
    dots = np.einsum(
        "ij,ij->i", model.user_factors_[data.users.to_index(users)], model.item_factors_[data.items.to_index(items)]
    )
    assert np.allclose(model.predict(users, items), np.clip(dots, 1, 5), atol=1e-5)


@pytest.mark.skipif(not (SHARED_DATA / "ml-100k").is_dir(), reason="MovieLens 100K is not in the shared data folder")
def test_spark_and_local_als_reach_the_same_ndcg_on_ml100k(spark, lws):
    from likewise.data import movielens
    from likewise.evaluation import user_split

    train, test = user_split(movielens.read_ml100k(SHARED_DATA / "ml-100k"), test_fraction=0.2, random_state=0)
    params = {"n_factors": 16, "reg": 20.0, "alpha": 1.0, "n_epochs": 10}
    local = likewise.ALS(**params, solver="cholesky", random_state=0).fit(train)
    remote = lws.from_interactions(train, spark=spark)
    on_spark = lws.train_als(remote, **params)
    remote.unpersist()
    users = np.flatnonzero(np.diff(test.matrix.indptr) > 0)
    relevant = sp.csr_matrix(test.matrix[users])
    relevant.data[:] = 1.0

    def ndcg(model):
        return float(np.nanmean(local_metrics.ndcg_at_k(model.recommend(train.users.ids[users], n=10).indices,
                                                         relevant, 10)))  # fmt: skip

    assert ndcg(local) > 0.35
    assert abs(ndcg(on_spark) - ndcg(local)) < 0.01


# --------------------------------------------------------------------------- item-kNN
@pytest.mark.parametrize(
    "params",
    [
        {"similarity": "cosine"},
        {"similarity": "dot", "weighting": "bm25"},
        {"similarity": "cosine", "weighting": "tfidf", "shrinkage": 5.0, "min_support": 2},
    ],
)
def test_itemknn_has_the_local_neighbours(log_data, lws, log_path, params):
    on_spark = lws.train_itemknn(log_data, k=8, **params)
    local = likewise.ItemKNN(k=8, prediction="sum", **params).fit(likewise.read_parquet(log_path, weight="plays"))
    assert on_spark.config_ == local.config_
    a, b = on_spark.similarity_, local.similarity_
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    assert np.allclose(a.data, b.data, rtol=1e-5)
    users = local.users_.ids
    assert np.array_equal(on_spark.recommend(users, n=5).indices, local.recommend(users, n=5).indices)


def test_itemknn_model_directory_loads(log_data, lws, tmp_path):
    model = lws.train_itemknn(log_data, k=5, similarity="dot", weighting="bm25")
    model.save(tmp_path / "knn")
    loaded = likewise.load(tmp_path / "knn")
    item = log_data.items.ids[0]
    assert np.array_equal(loaded.similar_items(item, n=3).indices, model.similar_items(item, n=3).indices)
    assert loaded.explain(1001, log_data.items.ids[2]).text


# --------------------------------------------------------------------------- metrics
def test_ranking_metrics_on_spark_equal_the_local_ones(spark, lws):
    rng = np.random.default_rng(3)
    n_users, n_items, k = 40, 30, 6
    recs = np.array([rng.permutation(n_items)[:8] for _ in range(n_users)])
    recs[5, 4:] = -1  # a short list
    relevant = sp.random(n_users, n_items, density=0.15, random_state=4, format="csr")
    relevant.data = np.ceil(relevant.data * 3)  # graded gains 1..3
    rec_rows = [(u, int(i), r + 1) for u in range(n_users) for r, i in enumerate(recs[u]) if i >= 0]
    coo = relevant.tocoo()
    rel_rows = list(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True))
    got = lws.ranking_metrics(
        spark.createDataFrame(rec_rows, "user int, item int, rank int"),
        spark.createDataFrame(rel_rows, "user int, item int, gain double"),
        k,
        gain="gain",
    )
    expected = {
        "precision": local_metrics.precision_at_k(recs, relevant, k),
        "recall": local_metrics.recall_at_k(recs, relevant, k),
        "ndcg": local_metrics.ndcg_at_k(recs, relevant, k),
        "map": local_metrics.average_precision_at_k(recs, relevant, k),
    }
    for name, values in expected.items():
        assert got[name] == pytest.approx(float(np.nanmean(values)), rel=1e-12), name
    assert got["n_users"] == int((np.diff(relevant.indptr) > 0).sum())


# --------------------------------------------------------------------------- CLI
def test_cli_trains_on_spark_then_recommends(spark, log_path, tmp_path):
    from typer.testing import CliRunner

    from likewise.cli._app import app

    runner = CliRunner(env={"COLUMNS": "200"})
    out = tmp_path / "cli-model"
    done = runner.invoke(
        app,
        ["train", str(log_path), "--engine", "spark", "--algo", "als", "--weight", "plays", "-o", str(out),
         "--n-factors", "4", "--n-epochs", "3", "--reg", "1.0"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert json.loads((out / "meta.json").read_text())["class"] == "als"
    shown = runner.invoke(app, ["recommend", str(out), "--user", "1001", "-n", "3"])
    assert shown.exit_code == 0, shown.output
    assert "item-" in shown.output
    knn = runner.invoke(app, ["train", str(log_path), "--engine", "spark", "--algo", "itemknn", "--weight", "plays",
                              "-o", str(tmp_path / "knn"), "--k", "5"])  # fmt: skip
    assert knn.exit_code == 0, knn.output
    refused = runner.invoke(app, ["train", str(log_path), "--engine", "spark", "--algo", "svd", "-o", str(out)])
    assert refused.exit_code == 1 and "--engine spark trains als or itemknn" in refused.output
