"""The `likewise` Typer application, assembled in one place.

The command modules define plain functions (and the ``datasets`` sub-app) without knowing
about this app; this module imports them and registers each one, so no command module imports
the module that imports it. Commands are listed in ``likewise --help`` in the order below.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from likewise import __version__
from likewise.cli._algorithms import RegistryHelpCommand
from likewise.cli._console import console, set_debug
from likewise.cli.data_cmds import datasets_app
from likewise.cli.demo import demo
from likewise.cli.evaluate_cmds import compare_cmd, evaluate_cmd
from likewise.cli.model_cmds import TRAIN_CONTEXT, recommend, similar, train, warmup
from likewise.cli.serve_cmds import serve

__all__ = ["app"]

app = typer.Typer(
    name="likewise",
    help="likewise: collaborative-filtering recommendations - train, evaluate, recommend, explain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"likewise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks and debug logs.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    set_debug(debug)
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(name)s: %(message)s")


app.command()(demo)
app.command("evaluate", cls=RegistryHelpCommand)(evaluate_cmd)
app.command("compare", cls=RegistryHelpCommand)(compare_cmd)
app.command(cls=RegistryHelpCommand, context_settings=TRAIN_CONTEXT)(train)
app.command()(recommend)
app.command()(similar)
app.command()(warmup)
app.command()(serve)
app.add_typer(datasets_app, name="datasets")
