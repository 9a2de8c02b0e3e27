"""`likewise train`, `recommend`, `similar` and `warmup` (registered on the app by `likewise.cli._app`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from likewise.cli._algorithms import build_model, parse_params
from likewise.cli._console import console, handle_errors
from likewise.cli._io import load_data
from likewise.cli._options import (
    AlgoOption,
    DataOptions,
    DelimiterOption,
    FormatOption,
    HeaderOption,
    ItemColumn,
    ModelDirArgument,
    ParamOption,
    RatingColumn,
    SkipBadRowsOption,
    TimestampColumn,
    UserColumn,
    WeightColumn,
)
from likewise.cli._tables import recs_table
from likewise.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from likewise.data.interactions import Interactions
    from likewise.models.base import Recommender

__all__ = ["TRAIN_CONTEXT", "recommend", "similar", "train", "warmup"]

TRAIN_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}
"""`train`'s context settings: unknown ``--name VALUE`` pairs reach it as algorithm parameters."""

HowManyOption = Annotated[int, typer.Option("-n", help="How many items.")]


@handle_errors
def train(
    ctx: typer.Context,
    algo: AlgoOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory to write the model into.")],
    data: Annotated[
        str | None,
        typer.Argument(help="A CSV/TSV/Parquet file, a MovieLens-style folder, or a data set name."),
    ] = None,
    from_store: Annotated[
        str | None,
        typer.Option("--from-store", help="Train on every event of a likewise serve event store (a database URL)."),
    ] = None,
    param: ParamOption = None,
    fmt: FormatOption = None,
    user: UserColumn = "user",
    item: ItemColumn = "item",
    rating: RatingColumn = None,
    weight: WeightColumn = None,
    timestamp: TimestampColumn = None,
    delimiter: DelimiterOption = None,
    header: HeaderOption = True,
    skip_bad_rows: SkipBadRowsOption = False,
    engine: Annotated[
        str, typer.Option("--engine", help="Where to train: local, or spark (als, itemknn; needs the spark extra).")
    ] = "local",
    master: Annotated[
        str | None, typer.Option("--master", help="Spark master for --engine spark (default local[2]).")
    ] = None,
    item_features: Annotated[
        Path | None,
        typer.Option(help="CSV with a header: id,feature[,value] rows of item features (hybrid, content-knn)."),
    ] = None,
    user_features: Annotated[
        Path | None, typer.Option(help="CSV with a header: id,feature[,value] rows of user features (hybrid).")
    ] = None,
) -> None:
    """Train a model on DATA (or on the events of --from-store URL) and save it to a directory.

    ``--item-features`` / ``--user-features`` attach side features (columns ``id``,
    ``feature`` and optionally ``value``); rows naming ids not in DATA are counted and
    reported. New items with features join a trained model through ``add_items``.

    Algorithm parameters go in ``--param NAME=VALUE`` or directly as ``--name VALUE``
    (e.g. ``--algo itemknn --similarity pearson_baseline --k 40``). ``--engine spark`` trains
    ALS or item-kNN on Spark and saves the same model format (docs/spark.md).
    """
    params = {**parse_params(param or []), **_extra_params(ctx.args)}
    if engine not in ("local", "spark"):
        raise InvalidParameterError(f"--engine must be 'local' or 'spark', got {engine!r}")
    if master is not None and engine != "spark":
        raise InvalidParameterError("--master applies to --engine spark")
    if engine == "spark" and (item_features is not None or user_features is not None):
        raise InvalidParameterError("--item-features / --user-features apply to --engine local")
    model = build_model(algo, params) if engine == "local" else None
    reading = DataOptions(
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
    if (data is None) == (from_store is None):
        raise InvalidParameterError("give either DATA or --from-store URL (exactly one)")
    if engine == "spark":
        if from_store is not None:
            raise InvalidParameterError("--from-store applies to --engine local")
        from likewise.cli._spark import train_on_spark

        assert data is not None
        train_on_spark(data, algo, params, reading, master, output)
        return
    assert model is not None
    if from_store is not None:
        from likewise.serving.store import interactions_from_store

        with console.status("reading the event store"):
            interactions = interactions_from_store(from_store)
    else:
        assert data is not None
        with console.status(f"reading {data}"):
            interactions = load_data(data, reading)
    console.print(str(interactions.report), soft_wrap=True)
    interactions = _attach_features(interactions, item_features, user_features)
    start = time.perf_counter()
    _fit_with_progress(model, interactions)
    elapsed = time.perf_counter() - start
    model.save(output)
    console.print(f"[green]trained[/] {type(model).__name__} in {elapsed:.2f} s -> {output}")


def _attach_features(interactions: Interactions, items: Path | None, users: Path | None) -> Interactions:
    if items is None and users is None:
        return interactions
    from likewise.data.features import read_features_csv

    def value_column(path: Path) -> str | None:
        with open(path, encoding="utf-8") as handle:
            header = handle.readline().strip().split(",")
        return "value" if "value" in header else None

    item_fm = None if items is None else read_features_csv(items, interactions.items, value=value_column(items))
    user_fm = None if users is None else read_features_csv(users, interactions.users, value=value_column(users))
    return interactions.with_features(item_features=item_fm, user_features=user_fm)


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


@handle_errors
def recommend(
    model_dir: ModelDirArgument,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Recommend for this known user id.")] = None,
    history: Annotated[
        str | None, typer.Option("--history", help="Comma-separated item ids a new visitor liked.")
    ] = None,
    n: HowManyOption = 10,
    explain: Annotated[bool, typer.Option("--explain", help="Add a reason for each item.")] = False,
    include_seen: Annotated[bool, typer.Option("--include-seen", help="Allow items the user already has.")] = False,
) -> None:
    """Top-N recommendations for a user (or for a new visitor's history)."""
    if (user is None) == (history is None):
        raise InvalidParameterError("give exactly one of --user or --history")
    from likewise.models import load

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


@handle_errors
def similar(
    model_dir: ModelDirArgument,
    item: Annotated[str, typer.Option("--item", "-i", help="Item id.")],
    n: HowManyOption = 10,
) -> None:
    """Items most similar to an item."""
    from likewise.models import load

    model = load(model_dir)
    raw_item = model.items_.coerce([item])[0]
    recs = model.similar_items(raw_item, n=n)
    label = model.item_label(int(model.items_.to_index([raw_item])[0]))
    console.print(recs_table(recs, 0, f"Items like {label}"))


@handle_errors
def warmup(
    serial_only: Annotated[
        bool,
        typer.Option("--serial-only", help="Build only the serial kernels (servers whose models use n_threads=1)."),
    ] = False,
) -> None:
    """Compile (or load from cache) every numba kernel, and say how long compiling took."""
    from likewise.kernels import warmup_report

    console.print(warmup_report(parallel=not serial_only).summary())
