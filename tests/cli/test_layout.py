"""How the CLI package is put together (issue 10, item 7): no import circle, a cheap import."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import likewise.cli

CLI_DIR = Path(likewise.cli.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_only_the_app_module_imports_the_command_modules_and_none_imports_it_back() -> None:
    for path in sorted(CLI_DIR.glob("*.py")):
        imported = _imported_modules(path)
        if path.name != "__init__.py":
            assert "likewise.cli._app" not in imported, f"{path.name} imports the app that imports it"
        if path.name != "_app.py":
            commands = {f"likewise.cli.{name}" for name in ("data_cmds", "demo", "evaluate_cmds", "model_cmds")}
            assert not imported & commands, f"{path.name} imports a command module"


def test_importing_the_cli_loads_no_numba_or_pandas() -> None:
    code = (
        "import sys, likewise.cli, likewise.cli._app; "
        "print(sorted(m for m in ('numba', 'pandas', 'numpy', 'scipy') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(CLI_DIR.parents[1])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"
