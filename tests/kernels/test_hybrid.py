"""The hybrid kernel against its plain-numpy twin (tests/reference/hybrid.py) on tiny data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from likewise.kernels.hybrid import ADAGRAD, BPR, LOSSES, WARP, hybrid_epoch, new_params
from tests.reference import hybrid as ref


def _tiny():
    """One user (two features) and six items: item 0 (the positive) has feature 0, items 1-5
    share feature 1 only, so whichever negative is drawn the update is the same."""
    inter = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0]], dtype=np.float32))
    users = sp.csr_matrix(np.array([[0.5, 0.5]], dtype=np.float32))
    items = np.zeros((6, 2), dtype=np.float32)
    items[0, 0] = 1.0
    items[1:, 1] = 1.0
    return inter, users, sp.csr_matrix(items)


def _copy(params):
    return {k: v.astype(np.float64).copy() for k, v in params.items()}


@pytest.mark.parametrize("loss", ["warp", "bpr"])
def test_one_example_matches_the_numpy_step(loss):
    inter, users, items = _tiny()
    params = new_params(2, 2, 4, ADAGRAD, np.random.default_rng(3))
    params["item_bias"][1] = 5.0  # every negative violates WARP's margin: the first usable draw is taken
    for seed in range(50):  # max_sampled=1: a seed whose first draw is a negative (sampled = 1)
        trial = {k: v.copy() for k, v in params.items()}
        hybrid_epoch(
            inter, np.ones(1, np.float32), users, items, trial, loss=LOSSES[loss], schedule=ADAGRAD,
            learning_rate=0.1, rho=0.95, epsilon=1e-6, user_alpha=0.01, item_alpha=0.02, max_sampled=1,
            kos_k=1, kos_n=1, seed=seed, epoch=0, n_streams=1,
        )  # fmt: skip
        if not np.array_equal(trial["item_emb"], params["item_emb"]):
            break
    else:
        pytest.fail("no seed gave an update")
    dense_u, dense_i = users.toarray().astype(np.float64), items.toarray().astype(np.float64)
    twin = _copy(params)
    if loss == "warp":
        weight = ref.warp_weight(6, 1)
        dpos, dneg = -weight, weight
    else:
        dpos, dneg = ref.bpr_gradients(twin, dense_u, dense_i, 0, 0, 1)
    ref.pair_step(twin, dense_u, dense_i, 0, 0, 1, dpos, dneg, 0.1, alpha_u=0.01, alpha_i=0.02)
    for key in twin:
        np.testing.assert_allclose(trial[key], twin[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_warp_weight_formula():
    assert ref.warp_weight(1682, 1) == pytest.approx(np.log(1681))
    assert ref.warp_weight(10, 3) == pytest.approx(np.log(3))
    assert ref.warp_weight(10**9, 1) == 10.0  # clipped


@pytest.mark.parametrize("loss", list(LOSSES))
def test_serial_is_bit_reproducible_and_learns(loss):
    rng = np.random.default_rng(0)
    inter = sp.random(30, 20, density=0.2, format="csr", dtype=np.float32, random_state=1)
    inter.data[:] = 1
    users = sp.identity(30, dtype=np.float32, format="csr")
    items = sp.identity(20, dtype=np.float32, format="csr")
    runs = []
    for _ in range(2):
        params = new_params(30, 20, 4, ADAGRAD, np.random.default_rng(5))
        for epoch in range(3):
            stats = hybrid_epoch(
                inter, np.ones(inter.nnz, np.float32), users, items, params, loss=LOSSES[loss], schedule=ADAGRAD,
                learning_rate=0.05, rho=0.95, epsilon=1e-6, user_alpha=0.0, item_alpha=0.0, max_sampled=10,
                kos_k=2, kos_n=4, seed=7, epoch=epoch, n_streams=1,
            )  # fmt: skip
        runs.append(params)
        assert np.isfinite(stats["loss"]) and stats["updates"] > 0
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key])
    del rng


def test_sample_weight_zero_means_no_change():
    inter, users, items = _tiny()
    params = new_params(2, 3, 4, ADAGRAD, np.random.default_rng(0))
    before = {k: v.copy() for k, v in params.items()}
    for code in (WARP, BPR):
        hybrid_epoch(
            inter, np.zeros(1, np.float32), users, items, params, loss=code, schedule=ADAGRAD, learning_rate=0.1,
            rho=0.95, epsilon=1e-6, user_alpha=0.0, item_alpha=0.0, max_sampled=5, kos_k=1, kos_n=1, seed=0,
            epoch=0, n_streams=1,
        )  # fmt: skip
    for key in ("user_emb", "item_emb", "item_bias"):
        np.testing.assert_array_equal(params[key], before[key])


def test_warp_positives_are_redrawn_not_counted_as_trials():
    """LightFM's WARP order: a drawn positive is redrawn and is not a trial. Items 0-4 are the
    user's positives, item 5 the only negative (and it violates the margin): with
    ``max_sampled=1`` every seed must find item 5 on its first *negative* draw, so the weight
    is ln(floor(5 / 1)) - counting positives as trials would often stop before reaching it."""
    inter = sp.csr_matrix(np.array([[1, 1, 1, 1, 1, 0]], dtype=np.float32))
    users = sp.csr_matrix(np.array([[1.0]], dtype=np.float32))
    items = sp.identity(6, dtype=np.float32, format="csr")
    start = new_params(1, 6, 3, ADAGRAD, np.random.default_rng(2))
    start["item_bias"][5] = 5.0
    for seed in range(20):
        trial = {k: v.copy() for k, v in start.items()}
        stats = hybrid_epoch(
            inter, np.ones(5, np.float32), users, items, trial, loss=WARP, schedule=ADAGRAD,
            learning_rate=0.1, rho=0.95, epsilon=1e-6, user_alpha=0.0, item_alpha=0.0, max_sampled=1,
            kos_k=1, kos_n=1, seed=seed, epoch=0, n_streams=1,
        )  # fmt: skip
        assert stats["updates"] == 1.0  # every one of the 5 positives found the negative
        # item 5 was the negative of all 5 updates, each with bias gradient +weight (x = 1):
        # its adagrad accumulator grew from 1 by 5 weight^2, whatever the visiting order
        weight = ref.warp_weight(6, 1)
        assert weight == pytest.approx(np.log(5))
        np.testing.assert_allclose(trial["item_bias_g2"][5] - 1.0, 5 * weight**2, rtol=1e-5)
