"""``n_threads`` reaches the kernels of every model (issue 11: ``--threads`` reached no popularity,
random or normal-predictor model, so benchmarks ran them on every core whatever they said).

Every thread count a model hands to numba or BLAS goes through
`likewise.kernels._threads.resolve_threads` (from `thread_limits` and `blas_threads`); the
tests record those calls while a model fits, recommends, predicts and folds in.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pytest

import likewise.kernels._threads as threads_module
from likewise.data.interactions import FeatureMatrix, Interactions
from likewise.models import ALGORITHMS
from likewise.models.baseline import Baseline
from likewise.testing import tiny_ratings

# Small settings so each model fits the tiny fixture quickly; hyper-parameters play no role here.
_FAST: dict[str, dict[str, Any]] = {
    "als": {"n_factors": 4, "n_epochs": 2},
    "bpr": {"n_factors": 4, "n_epochs": 2},
    "svd": {"n_factors": 4, "n_epochs": 2},
    "svdpp": {"n_factors": 4, "n_epochs": 2},
    "nmf": {"n_factors": 4, "n_epochs": 2},
    "co-clustering": {"n_epochs": 2},
    "score-blend": {"models": [["popularity", {}], ["itemknn", {"k": 3}]]},
}


# likewise's own models (other test modules register toy classes in the same registry)
BUILT_IN = sorted(name for name, cls in ALGORITHMS.items() if cls.__module__.startswith("likewise.models"))


def _requested(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    real = threads_module.resolve_threads

    def recording(n_threads: Any) -> int:
        calls.append(n_threads)
        return real(n_threads)

    monkeypatch.setattr(threads_module, "resolve_threads", recording)
    return calls


def test_the_built_in_models_are_all_here() -> None:
    assert {"popularity", "random", "normal-predictor", "baseline", "als", "itemknn"} <= set(BUILT_IN)


def _tiny_with_item_features() -> Any:
    """tiny_ratings with a timestamp per rating (TimeSVDpp needs them) and one feature per item
    parity (ContentKNN needs features), so every model fits the same data."""
    frame = tiny_ratings().to_frame()
    frame["timestamp"] = 1_000_000_000 + 86_400 * np.arange(len(frame))
    data = Interactions.from_frame(frame, rating="rating", rating_scale=(1, 5), timestamp="timestamp")
    ids = data.items.ids
    names = [f"parity={k % 2}" for k in range(data.n_items)]
    return data.with_features(item_features=FeatureMatrix.from_pairs(data.items, ids, names))


def _exercise(model: Any) -> None:
    data = _tiny_with_item_features()
    model.fit(data)
    users = data.users.ids
    model.recommend(users, n=2)
    model.predict(users[:2], data.items.ids[:2])
    if model.supports_fold_in:
        model.recommend_from_history(data.items.ids[:2], n=2)


@pytest.mark.parametrize("algorithm", BUILT_IN)
def test_every_model_takes_n_threads(algorithm: str) -> None:
    assert "n_threads" in ALGORITHMS[algorithm]._param_names(), f"{algorithm} has no n_threads parameter"


@pytest.mark.parametrize("algorithm", BUILT_IN)
def test_n_threads_reaches_the_kernels(algorithm: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = ALGORITHMS[algorithm](**_FAST.get(algorithm, {}), n_threads=1)
    calls = _requested(monkeypatch)
    _exercise(model)
    assert calls, f"{algorithm} never set a thread count"
    assert set(calls) == {1}, f"{algorithm} asked for {sorted(set(map(repr, calls)))} threads, not 1"


def test_baseline_als_uses_its_n_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Baseline(method="als") fits with numpy alone; scoring must still honour n_threads."""
    calls = _requested(monkeypatch)
    _exercise(Baseline(method="als", n_threads=1))
    assert calls and set(calls) == {1}


def test_a_one_thread_recommendation_runs_numba_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the kernels see: numba's thread count inside the model's section is the model's."""
    seen: list[int] = []
    real = threads_module.parallel_allowed

    def spy() -> bool:
        seen.append(numba.get_num_threads())
        return real()

    monkeypatch.setattr(threads_module, "parallel_allowed", spy)
    model = ALGORITHMS["popularity"](n_threads=1).fit(tiny_ratings())
    inside: list[int] = []
    with model._threads():
        inside.append(numba.get_num_threads())
    model.recommend(tiny_ratings().users.ids, n=2)
    assert inside == [1]
    assert all(n == 1 for n in seen)


def test_default_threads_follow_cpu_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    """None means the cores this process may run on (os.sched_getaffinity), not os.cpu_count()."""
    monkeypatch.setattr(threads_module.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert threads_module.available_threads() == 1
    assert threads_module.resolve_threads(None) == 1
    assert threads_module.resolve_threads(8) == 1
    monkeypatch.setattr(threads_module.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert threads_module.available_threads() == min(64, int(numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


def test_popularity_and_random_still_rank_the_same_on_one_thread() -> None:
    data = tiny_ratings()
    for name, params in (("popularity", {}), ("random", {"random_state": 3})):
        one = ALGORITHMS[name](**params, n_threads=1).fit(data).recommend(data.users.ids, n=3)
        many = ALGORITHMS[name](**params, n_threads=None).fit(data).recommend(data.users.ids, n=3)
        np.testing.assert_array_equal(one.indices, many.indices)
