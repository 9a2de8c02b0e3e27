"""`likewise demo`: the first thing a newcomer runs - offline, on the built-in sample data.

It splits the sample, trains every demo model, prints a leaderboard with confidence intervals,
then shows one user's history and their recommendations with reasons.

The models are the registered algorithms that declare ``demo_params``
(`likewise.models._registry.demo_classes`), each built with those parameters and the demo's
seed as its ``random_state`` when it has one. They train in the order of their labels, and
the leaderboard lists them by NDCG, best first, equal NDCG in label order: the order shown
depends on the results only, never on which model module happened to be imported first.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from likewise.cli._algorithms import demo_classes
from likewise.cli._console import console, handle_errors
from likewise.cli._tables import recs_table, significance_note

if TYPE_CHECKING:
    from likewise.data.interactions import Interactions
    from likewise.models.base import Recommender

__all__ = ["demo", "demo_models"]

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
    """Label -> unfitted model for every demo algorithm, in label order (see the module docstring)."""
    models: dict[str, Recommender] = {}
    for cls in sorted(demo_classes(), key=lambda cls: cls.label.casefold()):
        params = dict(cls.demo_params or {})
        if "random_state" in params:
            params["random_state"] = seed
        models[cls.label] = cls(**params)
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
    for name in _ranking(results):
        summary = results[name].summary.set_index("metric")
        cells = [name]
        for metric in LEADERBOARD_METRICS:
            row = summary.loc[metric]
            if metric == "ndcg" and math.isfinite(row["ci_low"]) and row["ci_high"] > row["ci_low"]:
                cells.append(f"{row['mean']:.3f}[dim]±{(row['ci_high'] - row['ci_low']) / 2:.3f}[/]")
            else:
                cells.append(f"{row['mean']:.3f}")
        cells.append(f"{fit_seconds[name]:.2f}")
        table.add_row(*cells)
    return table


def _ranking(results: dict[str, Any]) -> list[str]:
    """Labels by NDCG, best first; `results` is in label order, which the stable sort keeps for ties."""
    return sorted(results, key=lambda name: -_mean(results[name], "ndcg"))


def _mean(result: Any, metric: str) -> float:
    summary = result.summary.set_index("metric")
    return float(summary.loc[metric, "mean"])


def _history_table(data: Interactions, uidx: int, limit: int = 8) -> Table:
    import numpy as np

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


@handle_errors
def _cold_item(model: Any, train: Interactions, user: Any, uidx: int) -> None:
    """A brand-new item, never rated, described only by the genres this user likes most."""
    import numpy as np

    assert train.item_features is not None
    features = train.item_features.matrix
    history = train.matrix.indices[train.matrix.indptr[uidx] : train.matrix.indptr[uidx + 1]]
    liked = np.asarray(features[history].sum(axis=0)).ravel()
    genres = [str(train.item_features.names[k]) for k in np.argsort(-liked, kind="stable")[:2]]
    new_id = int(train.items.ids.max()) + 1
    model.add_items([new_id], [genres])
    scores = model.score_indices(np.array([model.users_.to_index([user])[0]]))[0]
    unseen = np.setdiff1d(np.arange(model.n_items), model.seen_[model.users_.to_index([user])[0]].indices)
    new_index = int(model.items_.to_index([new_id])[0])
    rank = int((scores[unseen] > scores[new_index]).sum()) + 1
    text = model.explain(user, new_id).text.replace(str(new_id), "the new film", 1)
    console.print(
        f"[bold]Cold start[/]: a new film no one has rated, tagged {' & '.join(g.split('=')[-1] for g in genres)}, "
        f"added with `add_items` (no retraining): #{rank} of {unseen.size} unseen items for user {user}. {text}"
    )


def demo(
    seed: Annotated[int, typer.Option(help="Random seed for the split and the models.")] = 0,
    user: Annotated[str | None, typer.Option(help="Sample user to show (default: one with several hits).")] = None,
) -> None:
    """Train every model on the built-in sample data, print a leaderboard and example recommendations."""
    from likewise.kernels._jit import compile_time

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
    note = significance_note(results, "ndcg", K)
    if note:
        console.print(f"[dim]{note} (`likewise compare` tests every pair and writes a report.)[/]")

    best_name = _ranking(results)[0]
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
    hybrid = next((m for m in models.values() if hasattr(m, "add_items")), None)
    if hybrid is not None and train.item_features is not None:
        _cold_item(hybrid, train, chosen, uidx)
    console.print(
        f"[dim]demo finished in {time.perf_counter() - started:.1f} s. Next: "
        "`likewise train DATA --algo NAME -o model/` then `likewise recommend model/ --user ID`.[/]"
    )
