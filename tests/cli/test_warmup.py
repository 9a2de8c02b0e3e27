"""`likewise warmup` says how much of its time went to compiling (issue 18)."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from likewise.cli._app import app

runner = CliRunner()


def test_warmup_reports_compile_time_apart_from_cache_loading():
    result = runner.invoke(app, ["warmup", "--serial-only"])
    assert result.exit_code == 0, result.output
    match = re.search(r"serial kernels ready in ([\d.]+) s: ([\d.]+) s compiling, ([\d.]+) s loading", result.output)
    assert match, result.output
    total, compiling, loading = map(float, match.groups())
    assert abs(total - compiling - loading) < 0.02
