"""Feature readers and weighting: DataFrame / CSV of (id, feature, value), UCI restaurants, the
MovieLens and Last.fm metadata on the real files (skipped when ../shared/data is absent)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from likewise.data.features import features_from_frame, read_features_csv, read_uci_restaurants, weight_features
from likewise.data.idmap import IdMap
from likewise.data.interactions import FeatureMatrix
from likewise.exceptions import DataError, DataWarning
from tests._paths import SHARED_DATA


def test_frame_builds_named_columns_and_adds_repeats():
    ids = IdMap([1, 2, 3], name="item")
    frame = pd.DataFrame({"id": [1, 1, 3, 1], "feature": ["b", "a", "a", "b"], "value": [1.0, 2.0, 3.0, 0.5]})
    fm = features_from_frame(frame, ids, value="value")
    assert list(fm.names) == ["a", "b"]
    np.testing.assert_array_equal(fm.matrix.toarray(), [[2.0, 1.5], [0.0, 0.0], [3.0, 0.0]])


def test_unknown_ids_are_counted_not_dropped_silently():
    ids = IdMap([1, 2], name="item")
    frame = pd.DataFrame({"id": [1, 7, 8], "feature": ["a", "a", "b"]})
    with pytest.warns(DataWarning, match=r"2 feature rows name item ids not in the data \(e.g. 7, 8\)"):
        fm = features_from_frame(frame, ids)
    assert fm.matrix.nnz == 1
    with pytest.raises(DataError, match="DataFrame, row 1: item id 7 is not in the data"):
        features_from_frame(frame, ids, unknown="raise")


def test_bad_rows_name_the_row_or_line(tmp_path):
    ids = IdMap([1, 2], name="item")
    with pytest.raises(DataError, match="row 1: feature: expected a non-empty feature name"):
        features_from_frame(pd.DataFrame({"id": [1, 2], "feature": ["a", None]}), ids)
    with pytest.raises(DataError, match="row 0: value: expected a finite number"):
        features_from_frame(pd.DataFrame({"id": [1], "feature": ["a"], "value": ["x"]}), ids, value="value")
    path = tmp_path / "f.csv"
    path.write_text("id,feature,value\n1,a,1\n2,b,oops\n")
    with pytest.raises(DataError, match=r"f.csv, line 3: value: expected a number \(got 'oops'\)"):
        read_features_csv(path, ids, value="value")
    path.write_text("id,feature\n1,a\n2,\n")
    with pytest.raises(DataError, match="line 3: feature: the feature name is empty"):
        read_features_csv(path, ids)


def test_weighting_formulas():
    matrix = sp.csr_matrix(np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 3.0]], dtype=np.float32))
    fm = FeatureMatrix(matrix, np.array(["x", "y", "z"]))
    idf = np.log(3 / np.array([2.0, 3.0, 1.0]))
    tfidf = weight_features(fm, "tfidf").matrix.toarray()
    np.testing.assert_allclose(tfidf, matrix.toarray() * idf, rtol=1e-6)
    assert (tfidf[:, 1] == 0).all()  # a feature every row has says nothing
    k1, b = 1.2, 0.75
    lengths = matrix.toarray().sum(axis=1)
    norm = (1 - b) + b * lengths / lengths.mean()
    tf = matrix.toarray()
    expected = np.where(tf > 0, tf * (k1 + 1) / (tf + k1 * norm[:, None]) * idf, 0.0)
    np.testing.assert_allclose(weight_features(fm, "bm25").matrix.toarray(), expected, rtol=1e-5)
    assert (weight_features(fm, "binary").matrix.data == 1).all()


def _folder(name):
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"{name} not available")
    return folder


def test_uci_restaurants_real_files():
    data = read_uci_restaurants(_folder("uci-restaurant-consumer"))
    assert (data.n_users, data.n_items, data.nnz) == (138, 130, 1161)
    assert data.rating_scale == (0, 2)
    names = set(data.item_features.names)
    assert {"price=low", "alcohol=No_Alcohol_Served"} <= names
    assert any(n.startswith("cuisine=") for n in names) and any(n.startswith("payment=") for n in names)
    assert not any(n.endswith("=?") for n in names)  # "?" is missing, not a value
    assert "budget=medium" in set(data.user_features.names)
    assert data.item_titles() is not None


def test_movielens_and_lastfm_features_real_files():
    from likewise.data.movielens import read_lastfm_hetrec, read_ml100k, read_ml_latest

    ml100k = read_ml100k(_folder("ml-100k"))
    assert ml100k.item_features.matrix.shape == (1682, 19)
    latest = read_ml_latest(_folder("ml-latest-small"))
    names = latest.item_features.names
    assert any(n.startswith("tag=") for n in names) and "genre=Comedy" in set(names)
    lastfm = read_lastfm_hetrec(_folder("hetrec2011-lastfm-2k"))
    assert lastfm.item_features.matrix.nnz > 100_000
    weighted = weight_features(lastfm.item_features, "bm25")
    assert np.isfinite(weighted.matrix.data).all() and (weighted.matrix.data >= 0).all()
