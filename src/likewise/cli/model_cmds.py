"""`likewise train`, `recommend`, `similar` and `warmup`."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from likewise.cli._app import app, console, handle_errors
from likewise.cli._io import build_model, load_data, parse_params, recs_table
from likewise.data.interactions import Interactions
from likewise.exceptions import InvalidParameterError
from likewise.models import ALGORITHMS
from likewise.models.base import Recommender, load


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@handle_errors
def train(
    ctx: typer.Context,
    data: str = typer.Argument(..., help="A CSV/TSV/Parquet file, a MovieLens-style folder, or a data set name."),
    algo: str = typer.Option(..., "--algo", "-a", help=f"Algorithm: {', '.join(sorted(ALGORITHMS))}."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory to write the model into."),
    param: list[str] = typer.Option([], "--param", "-p", help="Algorithm parameter NAME=VALUE (repeatable)."),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="csv, tsv, parquet, ml-100k, ml-1m, ml-latest, lastfm-hetrec."
    ),
    user: str = typer.Option("user", help="User id column."),
    item: str = typer.Option("item", help="Item id column."),
    rating: str | None = typer.Option(None, help="Rating column (explicit feedback)."),
    weight: str | None = typer.Option(None, help="Weight column (implicit feedback: counts, plays)."),
    timestamp: str | None = typer.Option(None, help="Timestamp column."),
    delimiter: str | None = typer.Option(None, help="Field delimiter (default from the file suffix)."),
    header: bool = typer.Option(True, "--header/--no-header", help="Whether the file has a header line."),
    skip_bad_rows: bool = typer.Option(
        False, "--skip-bad-rows", help="Skip and count malformed rows instead of failing."
    ),
) -> None:
    """Train a model on DATA and save it to a directory.

    Algorithm parameters go in ``--param NAME=VALUE`` or directly as ``--name VALUE``
    (e.g. ``--algo itemknn --similarity pearson_baseline --k 40``).
    """
    model = build_model(algo, {**parse_params(param), **_extra_params(ctx.args)})
    with console.status(f"reading {data}"):
        interactions = load_data(
            data,
            fmt=fmt,
            user=user,
            item=item,
            rating=rating,
            weight=weight,
            timestamp=timestamp,
            delimiter=delimiter,
            header=header,
            on_error="skip" if skip_bad_rows else "raise",
        )
    console.print(str(interactions.report), soft_wrap=True)
    start = time.perf_counter()
    _fit_with_progress(model, interactions)
    elapsed = time.perf_counter() - start
    model.save(output)
    console.print(f"[green]trained[/] {type(model).__name__} in {elapsed:.2f} s -> {output}")


def _fit_with_progress(model: Recommender, interactions: Interactions) -> None:
    """Fit, showing a bar with the latest loss for epoch-based models and a spinner otherwise."""
    epochs = getattr(model, "n_epochs", None)
    if not isinstance(epochs, int) or epochs <= 1:
        with console.status(f"training {model!r}"):
            model.fit(interactions)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"training {type(model).__name__}", total=epochs)

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            shown = ", ".join(f"{name} {value:.4g}" for name, value in metrics.items())
            progress.update(task, advance=1, description=f"training {type(model).__name__} ({shown})")

        model.fit(interactions, callback=on_epoch)
        progress.update(task, completed=epochs)  # early stopping ends the bar too


def _extra_params(args: list[str]) -> dict[str, object]:
    """["--similarity", "pearson", "--k", "40", "--no-clip"] -> {"similarity": "pearson", "k": 40, "clip": False}."""
    pairs: list[str] = []
    pos = 0
    while pos < len(args):
        token = args[pos]
        if not token.startswith("--") or len(token) < 3:
            raise InvalidParameterError(f"unexpected argument {token!r}; algorithm parameters look like --name VALUE")
        name, sep, value = token[2:].partition("=")
        name = name.replace("-", "_")
        if not sep:
            if pos + 1 < len(args) and not args[pos + 1].startswith("--"):
                value = args[pos + 1]
                pos += 1
            elif name.startswith("no_"):
                name, value = name[3:], "false"
            else:
                value = "true"
        pairs.append(f"{name}={value}")
        pos += 1
    return parse_params(pairs)


@app.command()
@handle_errors
def recommend(
    model_dir: Path = typer.Argument(..., help="A directory written by `likewise train`."),
    user: str | None = typer.Option(None, "--user", "-u", help="Recommend for this known user id."),
    history: str | None = typer.Option(None, "--history", help="Comma-separated item ids a new visitor liked."),
    n: int = typer.Option(10, "-n", help="How many items."),
    explain: bool = typer.Option(False, "--explain", help="Add a reason for each item."),
    include_seen: bool = typer.Option(False, "--include-seen", help="Allow items the user already has."),
) -> None:
    """Top-N recommendations for a user (or for a new visitor's history)."""
    if (user is None) == (history is None):
        raise InvalidParameterError("give exactly one of --user or --history")
    model = load(model_dir)
    if user is not None:
        raw_user = model.users_.coerce([user])[0]
        recs = model.recommend(raw_user, n=n, exclude_seen=not include_seen)
        title = f"Top {n} for user {user}"
        reasons = None
        if explain:
            ids, _ = recs.row(0)
            reasons = [model.explain(raw_user, item).text for item in ids]
    else:
        items = model.items_.coerce([part for part in (history or "").split(",") if part.strip()])
        recs = model.recommend_from_history(items, n=n, exclude_seen=not include_seen)
        title = f"Top {n} for a visitor who liked {history}"
        reasons = None
    console.print(recs_table(recs, 0, title, explanations=reasons))


@app.command()
@handle_errors
def similar(
    model_dir: Path = typer.Argument(..., help="A directory written by `likewise train`."),
    item: str = typer.Option(..., "--item", "-i", help="Item id."),
    n: int = typer.Option(10, "-n", help="How many items."),
) -> None:
    """Items most similar to an item."""
    model = load(model_dir)
    raw_item = model.items_.coerce([item])[0]
    recs = model.similar_items(raw_item, n=n)
    label = model.item_label(int(model.items_.to_index([raw_item])[0]))
    console.print(recs_table(recs, 0, f"Items like {label}"))


@app.command()
@handle_errors
def warmup() -> None:
    """Compile (or load from cache) every numba kernel."""
    from likewise.kernels import warmup as run_warmup

    seconds = run_warmup()
    console.print(f"kernels ready in {seconds:.2f} s")
