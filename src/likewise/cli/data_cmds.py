"""`likewise datasets list | info | fetch`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from likewise.cli._app import app, console, handle_errors

datasets_app = typer.Typer(help="Built-in data sets: list, describe, download.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


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
def info_cmd(name: str = typer.Argument(..., help="Data set name.")) -> None:
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
    name: str = typer.Argument(..., help="Data set name."),
    from_path: Path | None = typer.Option(None, "--from", help="Use a local archive or folder (offline)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Cache directory (default $LIKEWISE_DATA_DIR)."),
    force: bool = typer.Option(False, "--force", help="Download again even when cached."),
) -> None:
    """Download (or import from --from) a data set into the cache and verify it."""
    from likewise import datasets

    folder = datasets.fetch(name, data_dir=data_dir, from_path=from_path, force=force)
    console.print(f"[green]{name}[/] ready in {folder}")
