"""``likewise train --engine spark``: read, train and export on Spark, with a progress line.

Imported only when the Spark engine is asked for, so the CLI starts without pyspark.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from likewise.cli._console import console
from likewise.cli._options import DataOptions
from likewise.exceptions import InvalidParameterError, LikewiseError

__all__ = ["SPARK_ALGORITHMS", "train_on_spark"]

SPARK_ALGORITHMS = ("als", "itemknn")


def train_on_spark(
    data: str, algo: str, params: dict[str, Any], reading: DataOptions, master: str | None, output: Path
) -> None:
    """Train `algo` on Spark from the file or table `data` and save a likewise model to `output`."""
    if algo not in SPARK_ALGORITHMS:
        raise InvalidParameterError(f"--engine spark trains {' or '.join(SPARK_ALGORITHMS)}, got --algo {algo!r}")
    if reading.timestamp is not None:
        raise InvalidParameterError("--engine spark does not read timestamps (ALS and item-kNN do not use them)")
    try:
        from likewise.distributed import spark as lws
    except ImportError as exc:
        raise LikewiseError(f"--engine spark needs the spark extra (pip install 'likewise[spark]'): {exc}") from exc
    with console.status(f"starting Spark ({master or 'local[2]'})"):
        session = lws.get_session(master)
    start = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} tasks"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("spark: reading", total=None)

        def show(state: lws.StageSnapshot) -> None:
            progress.update(task, description=state.description, completed=state.completed_tasks,
                            total=state.total_tasks or None)  # fmt: skip

        with lws.StageProgress(session.sparkContext, show):
            interactions = lws.read_interactions(
                data, spark=session, user=reading.user, item=reading.item, rating=reading.rating,
                weight=reading.weight, format=reading.fmt, delimiter=reading.delimiter or ",",
                header=reading.header, on_error=reading.on_error,
            )  # fmt: skip
            console.print(str(interactions.report), soft_wrap=True)
            try:
                train = lws.train_als if algo == "als" else lws.train_itemknn
                model = train(interactions, **params)
            except TypeError as exc:  # an unknown --param name
                raise InvalidParameterError(f"--algo {algo} on Spark: {exc}") from exc
            finally:
                interactions.unpersist()
    elapsed = time.perf_counter() - start
    model.save(output)
    console.print(f"[green]trained[/] {type(model).__name__} on Spark in {elapsed:.2f} s -> {output}")
