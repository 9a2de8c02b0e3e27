"""`likewise demo`: the first thing a newcomer runs - offline, on the built-in sample data.

It splits the sample, trains every demo model, prints a leaderboard with confidence intervals,
then shows one user's history and their recommendations with reasons.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import typer
from rich.progress import Progress
from rich.table import Table

from likewise.cli._app import app, console, handle_errors
from likewise.cli._io import recs_table
from likewise.data.interactions import Interactions
from likewise.kernels._jit import compile_time
from likewise.models.base import Recommender

K = 10
# metric name -> column header (kept short so the table fits an 80-column terminal)
LEADERBOARD_METRICS = {
    "ndcg": "NDCG",
    "precision": "P",
    "recall": "R",
    "map": "MAP",
    "hit_rate": "HR",
    "coverage": "Cov",
}


def demo_models(seed: int) -> dict[str, Recommender]:
    """Every algorithm the demo trains, with sensible settings for the sample data."""
    from likewise.models import Popularity, Random

    models: dict[str, Recommender] = {
        "Popularity": Popularity(),
        "Random": Random(random_state=seed),
    }
    from likewise.models import SVD, SVDpp

    models["SVD"] = SVD(random_state=seed)
    models["SVD++"] = SVDpp(random_state=seed)
    from likewise.models import ALS, BPR, EASE

    models["ALS"] = ALS(reg=20.0, alpha=0.5, random_state=seed)
    models["BPR"] = BPR(random_state=seed)
    models["EASE"] = EASE(reg=500.0)
    from likewise.models import ItemKNN, UserKNN

    models["ItemKNN"] = ItemKNN(prediction="sum", similarity="dot", weighting="bm25")
    models["UserKNN"] = UserKNN(prediction="sum", k=50)
    return models


def _leaderboard(results: dict[str, Any], fit_seconds: dict[str, float]) -> Table:
    table = Table(
        title=f"Leaderboard: top-{K} on each user's held-out 20% (NDCG ± half its 95% bootstrap interval)",
        title_justify="left",
        caption=f"NDCG, P(recision), R(ecall), MAP, HR (hit rate) at {K}; Cov = share of the catalogue recommended.",
        caption_justify="left",
    )
    table.add_column("model", no_wrap=True)
    for header in LEADERBOARD_METRICS.values():
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("fit s", justify="right", no_wrap=True)
    order = sorted(results, key=lambda name: -_mean(results[name], "ndcg"))
    for name in order:
        summary = results[name].summary.set_index("metric")
        cells = [name]
        for metric in LEADERBOARD_METRICS:
            row = summary.loc[metric]
            if metric == "ndcg" and np.isfinite(row["ci_low"]) and row["ci_high"] > row["ci_low"]:
                cells.append(f"{row['mean']:.3f}[dim]±{(row['ci_high'] - row['ci_low']) / 2:.3f}[/]")
            else:
                cells.append(f"{row['mean']:.3f}")
        cells.append(f"{fit_seconds[name]:.2f}")
        table.add_row(*cells)
    return table


def _mean(result: Any, metric: str) -> float:
    summary = result.summary.set_index("metric")
    return float(summary.loc[metric, "mean"])


def _history_table(data: Interactions, uidx: int, limit: int = 8) -> Table:
    start, end = data.matrix.indptr[uidx], data.matrix.indptr[uidx + 1]
    items = data.matrix.indices[start:end]
    ratings = data.matrix.data[start:end]
    order = np.argsort(-ratings, kind="stable")[:limit]
    titles = data.item_titles()
    genres = data.item_info["genres"].to_numpy() if data.item_info is not None and "genres" in data.item_info else None
    table = Table(
        title=f"What user {data.users.ids[uidx]} rated highest ({end - start} ratings in training)",
        title_justify="left",
    )
    table.add_column("title")
    table.add_column("genres")
    table.add_column("rating", justify="right")
    for pos in order:
        iidx = items[pos]
        table.add_row(
            str(titles[iidx]) if titles is not None else str(data.items.ids[iidx]),
            str(genres[iidx]) if genres is not None else "",
            f"{ratings[pos]:g}",
        )
    return table


@app.command()
@handle_errors
def demo(
    seed: int = typer.Option(0, help="Random seed for the split and the models."),
    user: str | None = typer.Option(None, help="Sample user to show (default: one with several hits)."),
) -> None:
    """Train every model on the built-in sample data, print a leaderboard and example recommendations."""
    with compile_time() as compiling:
        _run_demo(seed, user)
    if compiling.seconds >= 1.0:
        console.print(
            f"[dim]{compiling.seconds:.0f} s of this run went to compiling likewise's kernels (first run on this "
            "machine); they are cached now, so the next run takes seconds.[/]"
        )


def _run_demo(seed: int, user: str | None) -> None:
    from likewise import datasets
    from likewise.evaluation import evaluate, user_split

    started = time.perf_counter()
    data = datasets.sample()
    console.print(f"[bold]Sample data[/]: {data.summary()}")
    train, test = user_split(data, test_fraction=0.2, random_state=seed)
    console.print(
        f"Split: {train.nnz:,} training and {test.nnz:,} held-out ratings "
        f"(20% of each user's ratings held out; ratings >= 4 count as relevant)"
    )
    models = demo_models(seed)
    results: dict[str, Any] = {}
    fit_seconds: dict[str, float] = {}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("training and evaluating", total=len(models))
        for name, model in models.items():
            progress.update(task, description=f"training {name}")
            start = time.perf_counter()
            model.fit(train)
            fit_seconds[name] = time.perf_counter() - start
            progress.update(task, description=f"evaluating {name}")
            results[name] = evaluate(model, train, test, k=K, relevance_threshold=4.0, random_state=seed)
            progress.advance(task)
    console.print(_leaderboard(results, fit_seconds))
    from likewise.cli.evaluate_cmds import significance_note

    note = significance_note(results, "ndcg", K)
    if note:
        console.print(f"[dim]{note} (`likewise compare` tests every pair and writes a report.)[/]")

    best_name = max(results, key=lambda name: _mean(results[name], "ndcg"))
    best = models[best_name]
    if user is None:
        per_user = results[best_name].per_user
        chosen = per_user.sort_values(["ndcg", "user"], ascending=[False, True]).iloc[0]["user"]
    else:
        chosen = data.users.coerce([user])[0]
    uidx = int(data.users.to_index([chosen])[0])
    console.print(_history_table(train, uidx))
    recs = best.recommend(chosen, n=K)
    held_out = set(test.matrix.indices[test.matrix.indptr[uidx] : test.matrix.indptr[uidx + 1]].tolist())
    ids, _ = recs.row(0)
    reasons = []
    for item_id, iidx in zip(ids, recs.indices[0][recs.valid[0]], strict=True):
        mark = "[green]✓ held out[/] " if int(iidx) in held_out else ""
        reasons.append(mark + best.explain(chosen, item_id).text)
    console.print(recs_table(recs, 0, f"{best_name}: top {K} for user {chosen}", explanations=reasons))
    console.print(
        f"[dim]demo finished in {time.perf_counter() - started:.1f} s. Next: "
        "`likewise train DATA --algo NAME -o model/` then `likewise recommend model/ --user ID`.[/]"
    )
