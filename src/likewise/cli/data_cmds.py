"""`likewise datasets list | info | fetch`: a sub-app, joined to the root app with `add_typer`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from likewise.cli._console import console, handle_errors

__all__ = ["datasets_app"]

datasets_app = typer.Typer(help="Built-in data sets: list, describe, download.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="Data set name.")]


@datasets_app.command("list")
@handle_errors
def list_cmd() -> None:
    """List the registered data sets."""
    from likewise import datasets

    table = Table(title="likewise data sets", title_justify="left")
    for column in ("name", "title", "feedback", "interactions", "download", "cached"):
        table.add_column(column, overflow="fold", justify="right" if column == "interactions" else "left")
    for info in datasets.list_datasets():
        size = "generated" if info.generated else (f"{info.size / 1e6:.1f} MB" if info.size else "?")
        count = f"{info.n_interactions:,}" if info.n_interactions else ""
        cached = "-" if info.generated else ("yes" if datasets.is_cached(info.name) else "no")
        table.add_row(info.name, info.title, info.kind, count, size, cached)
    console.print(table)
    console.print("[dim]Licences differ (most are research-only): `likewise datasets info NAME`.[/]")


@datasets_app.command("info")
@handle_errors
def info_cmd(name: NameArgument) -> None:
    """Describe a data set: source, checksum, licence, citation."""
    from likewise import datasets

    info = datasets.info(name)
    for key, value in info.to_dict().items():
        if value not in (None, ""):
            console.print(f"[bold]{key}[/]: {value}")
    if not info.generated:
        console.print(f"[bold]cached[/]: {datasets.is_cached(name)}")


@datasets_app.command("fetch")
@handle_errors
def fetch_cmd(
    name: NameArgument,
    from_path: Annotated[Path | None, typer.Option("--from", help="Use a local archive or folder (offline).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Cache directory (default $LIKEWISE_DATA_DIR).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even when cached.")] = False,
) -> None:
    """Download (or import from --from) a data set into the cache and verify it."""
    from likewise import datasets

    folder = datasets.fetch(name, data_dir=data_dir, from_path=from_path, force=force)
    console.print(f"[green]{name}[/] ready in {folder}")
