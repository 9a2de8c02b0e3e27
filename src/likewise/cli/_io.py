"""Reading DATA (train, evaluate, compare): a file, a MovieLens-style folder, or a data set name."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from likewise.cli._options import DataOptions
from likewise.exceptions import DataError, InvalidParameterError

if TYPE_CHECKING:
    from likewise.data.interactions import Interactions

__all__ = ["load_data"]

_TABULAR = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None, ".dat": None}


def load_data(source: str, options: DataOptions) -> Interactions:
    """Interactions from a file, a MovieLens-style folder, or a registered data set name.

    - ``options.fmt`` names a known layout ("ml-100k", "ml-1m", "ml-latest", "lastfm-hetrec")
      or a tabular format ("csv", "tsv", "parquet"); otherwise it is inferred from the path.
    - A path that does not exist but names a data set (``sample``, ``ml-100k``...) loads it.
    """
    from likewise.data import movielens, readers

    fmt = options.fmt
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
            path,
            user=options.user,
            item=options.item,
            rating=options.rating,
            weight=options.weight,
            timestamp=options.timestamp,
            on_error=options.on_error,
        )
    if fmt not in (None, "csv", "tsv"):
        known = ", ".join(["csv", "tsv", "parquet", *sorted(movielens.FORMATS)])
        raise InvalidParameterError(f"unknown format {fmt!r}; known formats: {known}")
    delimiter = options.delimiter
    if delimiter is None:
        delimiter = "\t" if fmt == "tsv" else (_TABULAR.get(path.suffix.lower()) or ",")
    return readers.read_csv(
        path,
        user=options.user,
        item=options.item,
        rating=options.rating,
        weight=options.weight,
        timestamp=options.timestamp,
        delimiter=delimiter,
        header=options.header,
        on_error=options.on_error,
    )
