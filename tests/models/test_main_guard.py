"""Issue 18, item 1: `likewise.__main__` runs the command line only when run as a program."""

from __future__ import annotations

import importlib
import runpy
import sys

import pytest

import likewise.cli


def test_importing_likewise_main_does_not_run_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(likewise.cli, "main", lambda: calls.append(list(sys.argv)))
    monkeypatch.setattr(sys, "argv", ["host-program", "--delete-everything"])
    monkeypatch.delitem(sys.modules, "likewise.__main__", raising=False)
    importlib.import_module("likewise.__main__")
    assert calls == []
    monkeypatch.delitem(sys.modules, "likewise.__main__")
    runpy.run_module("likewise", run_name="__main__")  # `python -m likewise` still runs it
    assert calls == [["host-program", "--delete-everything"]]
