"""The `likewise` command line (typer + rich). One module per command group."""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Entry point of the `likewise` console script."""
    from likewise.cli._app import app

    app(prog_name="likewise")
