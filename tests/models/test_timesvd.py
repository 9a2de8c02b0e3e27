"""TimeSVDpp: the SGD kernel against its loop twin, conformance on timed data, time at prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from likewise import Interactions
from likewise.evaluation import random_split
from likewise.exceptions import DataError, InvalidParameterError
from likewise.kernels.timesvd import timesvdpp_epoch
from likewise.models import ALGORITHMS, SVDpp, TimeSVDpp, load
from likewise.testing import RecommenderConformance, corner_cases, tiny_ratings
from tests.reference.timesvd import timesvdpp_epoch_reference

DAY = 86_400


def with_times(data: Interactions, seed: int = 0) -> Interactions:
    """`data` with a timestamp per rating: each user's ratings spread over ~60 days."""
    frame = data.to_frame()
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 200, size=len(frame))
    frame["timestamp"] = (10_000 + start + rng.integers(0, 60, size=len(frame))) * DAY + 3600
    if "rating" not in frame:
        frame = frame.rename(columns={"weight": "rating"})
    return Interactions.from_frame(frame, user="user", item="item", rating="rating", timestamp="timestamp")


class TestTimeSVDpp(RecommenderConformance):
    fixture = "explicit"
    learns_checkerboard = False
    exact_fold_in = False

    def make_model(self):
        return TimeSVDpp(n_factors=3, n_epochs=15, n_bins=4, random_state=0)

    def data(self):
        return with_times(tiny_ratings())

    def test_corner_cases(self) -> None:
        data = with_times(corner_cases())
        model = self.make_model().fit(data)
        recs = model.recommend(data.users.ids, n=3)
        assert np.isfinite(recs.scores[recs.valid]).all()


def test_kernel_epoch_equals_the_loop_twin():
    rng = np.random.default_rng(0)
    n_users, n_items, f, n_bins = 5, 7, 3, 4
    mask = rng.random((n_users, n_items)) < 0.6
    mask[:, 0] = True
    u, i = np.nonzero(mask)
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    order_pos = np.concatenate([np.arange(indptr[v], indptr[v + 1]) for v in rng.permutation(n_users)])
    n = u.size
    dev = rng.normal(size=n) * 3
    bins = rng.integers(0, n_bins, n)
    slots = rng.integers(0, 6, n)
    ratings = rng.integers(1, 6, n).astype(float)
    order = (u[order_pos], i[order_pos], ratings[order_pos], dev[order_pos], bins[order_pos], slots[order_pos])
    shapes = [
        (n_users,),
        (n_items,),
        (n_users, f),
        (n_items, f),
        (n_items, f),
        (n_users,),
        (n_users, f),
        (6,),
        (n_items, n_bins),
    ]
    state64 = [rng.normal(scale=0.1, size=s) for s in shapes]
    state32 = tuple(np.ascontiguousarray(a, dtype=np.float32) for a in state64)
    lrs = (0.01, 0.012, 0.02, 0.015, 0.007, 0.003, 0.02, 0.01)
    regs = (0.02, 0.03, 0.05, 0.04, 0.02, 0.5, 0.01, 0.1)
    user_items = [i[indptr[v] : indptr[v + 1]] for v in range(n_users)]
    sse = timesvdpp_epoch(order, indptr, i.astype(np.int32), 3.2, state32, lrs, regs)
    ref = timesvdpp_epoch_reference(order, user_items, 3.2, state64, lrs, regs)
    assert sse == pytest.approx(ref, rel=1e-4)
    for fast, slow in zip(state32, state64, strict=True):
        np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def drifting():
    """Users whose ratings rise over time and who rate higher on some days, plus low-rank taste."""
    rng = np.random.default_rng(3)
    n_users, n_items, f = 150, 60, 3
    pu, qi = rng.normal(size=(n_users, f)) * 0.5, rng.normal(size=(n_items, f)) * 0.5
    rows = []
    for user in range(n_users):
        items = rng.choice(n_items, size=25, replace=False)
        days = rng.choice(np.arange(300), size=5, replace=False)[rng.integers(0, 5, size=25)]
        mood = {d: rng.normal(scale=0.6) for d in np.unique(days)}
        for item, day in zip(items, days, strict=True):
            r = 3.4 + pu[user] @ qi[item] + np.array([mood[day]]).item() + 0.1 * rng.normal()
            rows.append((user, item, float(np.clip(r, 1, 5)), int(day) * DAY))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    data = Interactions.from_frame(frame, user="user", item="item", rating="rating", timestamp="timestamp")
    return random_split(data, 0.2, random_state=0)


def _rmse(pred, truth):
    keep = ~np.isnan(pred)
    return float(np.sqrt(np.mean((pred[keep] - truth[keep]) ** 2)))


def test_day_biases_beat_svdpp_on_day_effects(drifting):
    test = drifting.test
    users, items = test.users.to_ids(test.user_indices), test.items.to_ids(test.item_indices)
    timed = TimeSVDpp(n_factors=3, n_epochs=40, lr_day=0.02, random_state=0).fit(drifting.train)
    plain = SVDpp(n_factors=3, n_epochs=40, random_state=0).fit(drifting.train)
    at = _rmse(timed.predict_at(users, items, test.timestamps), test.values)
    assert at < _rmse(plain.predict(users, items), test.values) - 0.05
    assert np.abs(timed.day_bias_).max() > 0.1


def test_predict_without_time_scores_at_the_users_mean_date(drifting):
    model = TimeSVDpp(n_factors=2, n_epochs=5, random_state=0).fit(drifting.train)
    uidx, iidx = np.arange(10), np.arange(10) % model.n_items
    mean_bin = np.clip(np.floor((model.user_mean_day_[uidx] - model.first_day_) / model.bin_days_), 0, model.n_bins - 1)
    vectors = model.user_factors_[uidx] + model.user_implicit_[uidx]
    expected = (
        model.global_mean_
        + model.user_bias_[uidx]
        + model.item_bias_[iidx]
        + model.bin_bias_[iidx, mean_bin.astype(int)]
        + np.einsum("ij,ij->i", vectors, model.item_factors_[iidx])
    )
    got = model.predict(model.users_.ids[uidx], model.items_.ids[iidx])
    np.testing.assert_allclose(got, np.clip(expected, *model.rating_scale_), atol=2e-5)


def test_save_load_round_trip_is_exact(drifting, tmp_path):
    model = TimeSVDpp(n_factors=3, n_epochs=5, random_state=1).fit(drifting.train)
    model.save(tmp_path / "t")
    loaded = load(tmp_path / "t")
    test = drifting.test
    users, items = test.users.to_ids(test.user_indices), test.items.to_ids(test.item_indices)
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))
    np.testing.assert_array_equal(
        loaded.predict_at(users, items, test.timestamps), model.predict_at(users, items, test.timestamps)
    )


def test_same_seed_same_model(drifting):
    a = TimeSVDpp(n_factors=2, n_epochs=3, random_state=5).fit(drifting.train)
    b = TimeSVDpp(n_factors=2, n_epochs=3, random_state=5).fit(drifting.train)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.day_bias_, b.day_bias_)


def test_data_without_timestamps_is_a_clear_error():
    with pytest.raises(DataError, match="timestamps"):
        TimeSVDpp().fit(tiny_ratings())


def test_predict_at_checks_its_input(drifting):
    model = TimeSVDpp(n_factors=2, n_epochs=2, random_state=0).fit(drifting.train)
    with pytest.raises(InvalidParameterError, match="one length"):
        model.predict_at(model.users_.ids[:2], model.items_.ids[:2], [0])
    with pytest.raises(InvalidParameterError, match="timestamps must be numbers"):
        model.predict_at(model.users_.ids[:1], model.items_.ids[:1], ["monday"])


def test_registered():
    assert ALGORITHMS["timesvdpp"] is TimeSVDpp
