"""The consoles every command prints to, and the one place CLI errors are turned into a line.

A leaf module: the command modules import it, it imports no command module (the app is
assembled in `likewise.cli._app`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from likewise.exceptions import LikewiseError

__all__ = ["console", "err_console", "handle_errors", "set_debug"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

_state = {"debug": False}
F = TypeVar("F", bound=Callable[..., Any])


def set_debug(debug: bool) -> None:
    """With ``--debug`` errors keep their traceback instead of becoming one line."""
    _state["debug"] = debug


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
