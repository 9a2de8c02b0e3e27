"""Shared CLI plumbing: reading data from a path or data set name, algorithm parameters, tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from likewise.data._build import OnError
from likewise.data.interactions import Interactions
from likewise.exceptions import DataError, InvalidParameterError
from likewise.models import ALGORITHMS
from likewise.models.base import Recommender
from likewise.models.recs import Recs

__all__ = ["build_model", "load_data", "parse_params", "recs_table"]

_TABULAR = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None, ".dat": None}


def load_data(
    source: str,
    *,
    fmt: str | None = None,
    user: str = "user",
    item: str = "item",
    rating: str | None = None,
    weight: str | None = None,
    timestamp: str | None = None,
    delimiter: str | None = None,
    header: bool = True,
    on_error: OnError = "raise",
) -> Interactions:
    """Interactions from a file, a MovieLens-style folder, or a registered data set name.

    - ``fmt`` names a known layout ("ml-100k", "ml-1m", "ml-latest", "lastfm-hetrec") or a
      tabular format ("csv", "tsv", "parquet"); otherwise it is inferred from the path.
    - A path that does not exist but names a data set (``sample``, ``ml-100k``...) loads it.
    """
    from likewise.data import movielens, readers

    path = Path(source)
    if fmt in movielens.FORMATS:
        folder = path.parent if path.is_file() else path
        return movielens.FORMATS[fmt](folder)
    if not path.exists():
        from likewise import datasets

        names = {info.name for info in datasets.list_datasets()}
        if source in names:
            return datasets.load(source)
        raise DataError(
            f"{source}: no such file or directory, and not a data set name (known: {', '.join(sorted(names))})"
        )
    if path.is_dir():
        return movielens.read_movielens(path)
    if path.name == "u.data" and fmt is None:
        return movielens.read_ml100k(path.parent)
    if fmt == "parquet" or (fmt is None and path.suffix.lower() in (".parquet", ".pq")):
        return readers.read_parquet(
            path, user=user, item=item, rating=rating, weight=weight, timestamp=timestamp, on_error=on_error
        )
    if fmt not in (None, "csv", "tsv"):
        known = ", ".join(["csv", "tsv", "parquet", *sorted(movielens.FORMATS)])
        raise InvalidParameterError(f"unknown format {fmt!r}; known formats: {known}")
    if delimiter is None:
        delimiter = "\t" if fmt == "tsv" else (_TABULAR.get(path.suffix.lower()) or ",")
    return readers.read_csv(
        path,
        user=user,
        item=item,
        rating=rating,
        weight=weight,
        timestamp=timestamp,
        delimiter=delimiter,
        header=header,
        on_error=on_error,
    )


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """["n_factors=64", "reg=0.1", "by=rating"] -> typed values (JSON where it parses)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidParameterError(f"--param expects NAME=VALUE, got {pair!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params[name.strip()] = value
    return params


def build_model(algo: str, params: dict[str, Any]) -> Recommender:
    key = algo.lower().replace("_", "-")
    if key not in ALGORITHMS:
        raise InvalidParameterError(f"unknown algorithm {algo!r}; choose from {', '.join(sorted(ALGORITHMS))}")
    return ALGORITHMS[key]().set_params(**params)


def recs_table(recs: Recs, row: int, title: str, *, explanations: list[str] | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("item", justify="right")
    if recs.titles is not None:
        table.add_column("title")
    table.add_column("score", justify="right")
    if explanations is not None:
        table.add_column("why", overflow="fold")
    ids, scores = recs.row(row)
    valid_idx = recs.indices[row][recs.valid[row]]
    for rank, (raw, score) in enumerate(zip(ids, scores, strict=True)):
        cells = [str(rank + 1), str(raw)]
        if recs.titles is not None:
            cells.append(str(recs.titles[valid_idx[rank]]))
        cells.append(f"{score:.4g}")
        if explanations is not None:
            cells.append(explanations[rank])
        table.add_row(*cells)
    return table
