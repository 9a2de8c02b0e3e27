"""Baselines: Popularity and Random on MovieLens 100K, per-user 80/20 holdout, top-10.

The floor every model must beat, measured with the split and metric code every top-n suite
shares (``ctx.ml100k_holdout()`` + ``ranking_metrics``). No peer: implicit has no popularity
model, and the numbers are a sanity check of the harness end to end.
"""

from __future__ import annotations

from typing import Any

from benchmarks.harness import BenchContext, Row, first_calls, ml100k, ranking_metrics, timed, users_with_test

SUITE = "baselines"
DESCRIPTION = (
    "Popularity (by interaction count) and Random on MovieLens 100K, each user's ratings split "
    "80/20 at random (seed 42), top-10 lists excluding training items, every held-out rating "
    "relevant. The floor every model must beat, and the split every top-n suite shares."
)
TASK = "top-10, per-user 80/20 holdout"
K = 10


def _model(name: str, seed: int, threads: int) -> Any:
    from likewise.models import Popularity, Random

    return Popularity(n_threads=threads) if name == "Popularity" else Random(random_state=seed, n_threads=threads)


def _first(name: str, data_dir: str, seed: int, threads: int) -> dict[str, float]:
    """In a new process: load the split, then time the first fit (model import inside) and recommend."""
    import time

    from likewise.evaluation import user_split

    train, test = user_split(ml100k(data_dir), test_fraction=0.2, random_state=42)
    users = train.users.ids[users_with_test(test)]
    start = time.perf_counter()
    model = _model(name, seed, threads).fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    model.recommend(users, n=K)
    return {"fit_s": fit_s, "predict_s": time.perf_counter() - start}


def run(ctx: BenchContext) -> list[Row]:
    """Measure Popularity and Random; see `DESCRIPTION`."""
    train, test = ctx.ml100k_holdout()
    users = users_with_test(test)
    raw_users = train.users.ids[users]
    rows = []
    for name in ("Popularity", "Random"):
        model = _model(name, ctx.seed, ctx.threads)
        model.fit(train)  # warm-up: compile / load the kernels once
        model.recommend(raw_users[:2], n=K)
        _, fit_s = timed(model.fit, train)
        recs, predict_s = timed(model.recommend, raw_users, n=K)
        first = first_calls(_first, name, str(ctx.data_dir), ctx.seed, ctx.threads, threads=ctx.threads)
        rows.append(
            Row(
                suite=SUITE,
                task=TASK,
                dataset="ml-100k",
                library="likewise",
                algorithm=name,
                params=model.get_params(),
                metrics=ranking_metrics(recs.indices, test, users, k=K),
                fit_s=fit_s,
                predict_s=predict_s,
                threads=ctx.threads,
                **first.fields(),
            )
        )
    return rows
