"""The Typer application, shared console and the one place CLI errors are turned into a line."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from likewise import __version__
from likewise.exceptions import LikewiseError

app = typer.Typer(
    name="likewise",
    help="likewise: collaborative-filtering recommendations - train, evaluate, recommend, explain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

_state = {"debug": False}
F = TypeVar("F", bound=Callable[..., Any])


def _version(value: bool) -> None:
    if value:
        console.print(f"likewise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks and debug logs."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(name)s: %(message)s")


def handle_errors(func: F) -> F:
    """Print library and file errors as one red line and exit 1 (a traceback only with --debug)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (LikewiseError, OSError) as exc:
            if _state["debug"]:
                raise
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def register_commands() -> None:
    """Import the command modules so they attach themselves to `app`."""
    from likewise.cli import data_cmds, demo, evaluate_cmds, model_cmds  # noqa: F401


register_commands()
