"""Cold-start evaluation: warm and cold parts measured separately, and the CLI that shows them."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from likewise import Interactions
from likewise.cli._app import app
from likewise.data.interactions import FeatureMatrix
from likewise.evaluation import cold_item_split, evaluate_cold_start
from likewise.exceptions import InvalidParameterError
from likewise.models import ContentKNN, Popularity
from likewise.testing import checkerboard


def _data() -> Interactions:
    data, _ = checkerboard(16, 16, held_out=False)
    half = data.n_items // 2
    blocks = [f"block={0 if k < half else 1}" for k in range(data.n_items)]
    return data.with_features(item_features=FeatureMatrix.from_pairs(data.items, data.items.ids, blocks))


def test_cold_items_are_ranked_among_cold_items_and_reported_apart():
    data = _data()
    split = cold_item_split(data, 0.25, random_state=0)
    model = ContentKNN(k=20).fit(split.train)
    parts = evaluate_cold_start(model, split.train, split.test, k=2)
    assert set(parts) == {"cold_items"}  # a cold-item split has no warm test interaction
    cold = parts["cold_items"]
    # every user likes every item of their block: a content model ranks the cold items of the
    # user's block first, so the first list positions are all hits when the block has 2 cold items
    cold_items = np.flatnonzero(split.train.item_counts() == 0)
    per_block = np.bincount(cold_items // 8, minlength=2)
    assert cold["precision@2"] == pytest.approx(np.mean(np.minimum(per_block, 2) / 2), abs=1e-9)
    assert cold["auc"] == pytest.approx(1.0)
    assert cold["n_users"] == data.n_users and cold["n_interactions"] == split.test.nnz
    popular = evaluate_cold_start(Popularity().fit(split.train), split.train, split.test, k=2)["cold_items"]
    assert popular["auc"] == pytest.approx(0.5)  # every cold item has count 0: all tied


def test_warm_and_cold_users_split_apart():
    data = _data()
    mask = np.zeros(data.nnz, dtype=bool)
    mask[::5] = True
    test = data.subset(mask)
    train_mask = ~mask
    train_mask[data.matrix.indptr[0] : data.matrix.indptr[1]] = False  # user 0 becomes cold
    train = data.subset(train_mask)
    test = data.subset(mask | (np.arange(data.nnz) < data.matrix.indptr[1]))
    model = ContentKNN(k=20).fit(train)
    parts = evaluate_cold_start(model, train, test, k=3)
    assert parts["cold_users"]["n_users"] == 1
    assert parts["warm"]["n_users"] == data.n_users - 1
    assert 0.0 <= parts["warm"]["ndcg@3"] <= 1.0


def test_mismatched_maps_are_refused():
    data = _data()
    other = Interactions.from_scipy(sp.identity(3, format="csr"))
    model = Popularity().fit(data)
    with pytest.raises(InvalidParameterError, match="share id maps"):
        evaluate_cold_start(model, data, other)


def test_cli_cold_items_split_prints_the_parts():
    result = CliRunner().invoke(
        app, ["evaluate", "sample", "--algo", "popularity", "--split", "cold-items", "--bootstrap", "0"],
        env={"COLUMNS": "220"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "items held out entirely" in out and "Cold start: warm and cold parts" in out and "cold_items" in out


@pytest.mark.filterwarnings("ignore:.*feature rows name item ids not in the data")
def test_cli_train_hybrid_with_item_features(tmp_path):
    ratings = tmp_path / "r.csv"
    ratings.write_text("user,item\n1,10\n1,11\n2,10\n2,12\n3,11\n3,12\n4,13\n")
    features = tmp_path / "f.csv"
    features.write_text("id,feature,value\n10,genre=a,1\n11,genre=a,1\n12,genre=b,2\n13,genre=b,1\n99,genre=c,1\n")
    result = CliRunner().invoke(
        app, ["train", str(ratings), "--algo", "hybrid", "-o", str(tmp_path / "m"), "--item-features",
              str(features), "--n-epochs", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    from likewise import load

    model = load(tmp_path / "m")
    assert list(model.item_feature_names_) == ["genre=a", "genre=b"]
