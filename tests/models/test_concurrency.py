"""Issue 18 (finding 3): calls from many threads at once equal serial calls and leave thread settings alone.

Before the fix, `thread_limits` saved and restored the process-global BLAS limit per call, so two
overlapping calls from two threads left BLAS on one thread for good, and numba-parallel kernels
could be entered from several threads at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import pytest
import scipy.linalg  # noqa: F401  (load scipy's BLAS so the thread-count lists below see every library)

from likewise.data.synthetic import synthetic
from likewise.kernels._threads import available_threads, blas_threads, thread_limits
from likewise.models import ALS, EASE, SVD, ItemKNN, Recommender
from tests._blas_pools import governed_blas_threads

N_THREADS = 8
CALLS_PER_THREAD = 200


def run_together(bodies: list[Callable[[], Any]], timeout: float = 120.0) -> list[Any]:
    """Run each body on its own thread, all released at once; re-raise the first failure."""
    barrier = threading.Barrier(len(bodies))
    results: list[Any] = [None] * len(bodies)
    errors: list[BaseException] = []

    def worker(slot: int, body: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[slot] = body()
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, b)) for i, b in enumerate(bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a worker thread hung"
    if errors:
        raise errors[0]
    return results


# --------------------------------------------------------------------------- the governor itself
def test_overlapping_sections_from_two_threads_restore_blas():
    """The reported sequence: A enters, B enters, A leaves, B leaves -> BLAS as it was."""
    before_blas, before_numba = governed_blas_threads(), numba.get_num_threads()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def first() -> None:
        with thread_limits(1):
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def second() -> None:
        a_in.wait(10)
        with thread_limits(1):
            b_in.set()
            a_out.wait(10)
            seen["blas_after_a_left"] = governed_blas_threads()

    run_together([first, second])
    assert all(n == 1 for n in seen["blas_after_a_left"])  # B is still inside its section
    assert governed_blas_threads() == before_blas
    assert numba.get_num_threads() == before_numba


def test_blas_stays_single_threaded_while_another_thread_runs_numba_kernels():
    if max(governed_blas_threads() or [1]) < 2:
        pytest.skip("BLAS runs on one thread here; nothing to oversubscribe")
    in_numba, checked, numba_left = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def numba_section() -> None:
        with thread_limits(None):
            in_numba.set()
            checked.wait(10)
        numba_left.set()

    def blas_section() -> None:
        in_numba.wait(10)
        with blas_threads(None):
            seen["during_other_numba"] = governed_blas_threads()
        checked.set()
        numba_left.wait(10)
        with blas_threads(None):
            seen["alone"] = governed_blas_threads()

    before = governed_blas_threads()
    run_together([numba_section, blas_section])
    assert all(n == 1 for n in seen["during_other_numba"])
    assert seen["alone"] == [available_threads()] * len(before)
    assert governed_blas_threads() == before


def test_only_one_thread_at_a_time_runs_parallel_kernels():
    if available_threads() < 2:
        pytest.skip("one core: every kernel is serial anyway")
    holder_in, other_done = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def holder() -> None:
        with thread_limits(None) as wanted:
            seen["holder"] = (wanted, numba.get_num_threads())
            holder_in.set()
            other_done.wait(10)

    def other() -> None:
        holder_in.wait(10)
        with thread_limits(None) as wanted:
            seen["other"] = (wanted, numba.get_num_threads())
        other_done.set()

    run_together([holder, other])
    cores = available_threads()
    assert seen["holder"] == (cores, cores)
    # The other thread plans for the same thread count (same work split and RNG streams) but
    # runs the serial builds of the kernels.
    assert seen["other"] == (cores, 1)
    with thread_limits(None):  # the slot was released
        assert numba.get_num_threads() == cores


# --------------------------------------------------------------------------- models under load
@pytest.fixture(scope="module")
def implicit_data():
    return synthetic(300, 200, 6000, kind="implicit", random_state=3)


@pytest.fixture(scope="module")
def explicit_data():
    return synthetic(300, 200, 6000, kind="explicit", random_state=4)


def call_plan(model: Recommender, seed: int) -> list[tuple[str, Any]]:
    """CALLS_PER_THREAD mixed calls with arguments drawn for one thread."""
    rng = np.random.default_rng(seed)
    users, items = model.users_.ids, model.items_.ids
    plan: list[tuple[str, Any]] = []
    for _ in range(CALLS_PER_THREAD):
        kind = ["recommend", "batch", "history", "similar", "predict"][rng.integers(5)]
        if kind == "recommend":
            plan.append((kind, users[rng.integers(users.size)]))
        elif kind == "batch":
            plan.append((kind, users[rng.choice(users.size, 16, replace=False)]))
        elif kind == "history":
            plan.append((kind, items[rng.choice(items.size, 5, replace=False)]))
        elif kind == "similar":
            plan.append((kind, items[rng.choice(items.size, 3, replace=False)]))
        else:
            plan.append((kind, (users[rng.integers(users.size, size=8)], items[rng.integers(items.size, size=8)])))
    return plan


def answer(model: Recommender, kind: str, arg: Any) -> tuple[np.ndarray, np.ndarray]:
    if kind == "recommend":
        recs = model.recommend(arg, n=10)
    elif kind == "batch":
        recs = model.recommend(arg, n=10)
    elif kind == "history":
        recs = model.recommend_from_history(arg, n=10)
    elif kind == "similar":
        recs = model.similar_items(arg, n=5)
    else:
        scores = model.predict(*arg)
        return np.zeros(0, np.int32), scores
    return recs.indices, recs.scores


MODELS = {
    "ALS": (lambda: ALS(n_factors=16, n_epochs=4, random_state=0), "implicit"),
    "ItemKNN": (lambda: ItemKNN(k=20), "implicit"),
    "EASE": (lambda: EASE(reg=50.0), "implicit"),
    "SVD": (lambda: SVD(n_factors=16, n_epochs=5, random_state=0), "explicit"),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_many_threads_give_the_serial_answers(name, implicit_data, explicit_data):
    make, kind = MODELS[name]
    model = make().fit(implicit_data if kind == "implicit" else explicit_data)
    plans = [call_plan(model, seed) for seed in range(N_THREADS)]
    expected = [[answer(model, kind, arg) for kind, arg in plan] for plan in plans]
    before_blas, before_numba = governed_blas_threads(), numba.get_num_threads()

    results = run_together([lambda plan=plan: [answer(model, k, a) for k, a in plan] for plan in plans])

    for got_thread, want_thread in zip(results, expected, strict=True):
        for (got_idx, got_scores), (want_idx, want_scores) in zip(got_thread, want_thread, strict=True):
            np.testing.assert_array_equal(got_idx, want_idx)
            np.testing.assert_allclose(got_scores, want_scores, rtol=1e-5, atol=1e-6)
    assert governed_blas_threads() == before_blas
    assert numba.get_num_threads() == before_numba
