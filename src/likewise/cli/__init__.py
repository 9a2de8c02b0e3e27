"""The `likewise` command line (typer + rich).

Layout (nothing heavy is imported until a command runs; the registry is read then too):

- ``_app.py``          the root app; imports the command modules and registers their commands
- ``_console.py``      the consoles and the one error handler (LikewiseError -> one line, exit 1)
- ``_options.py``      options shared by commands, as `typing.Annotated` aliases + option records
- ``_algorithms.py``   the CLI's view of `likewise.models.ALGORITHMS` (``--algo``, parameters, demo)
- ``_io.py``           reading DATA (a file, a MovieLens-style folder, a data set name)
- ``_tables.py``       the rich tables and one-line summaries the commands print
- ``model_cmds.py``    train, recommend, similar, warmup
- ``evaluate_cmds.py`` evaluate, compare
- ``demo.py``          demo
- ``data_cmds.py``     the ``datasets`` sub-app (list, info, fetch)
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Entry point of the `likewise` console script."""
    from likewise.cli._app import app

    app(prog_name="likewise")
