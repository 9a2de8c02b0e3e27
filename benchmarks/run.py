"""Run benchmark suites: ``python -m benchmarks.run [SUITE ...] [--quick] [--threads N] [--data-dir PATH]``.

Discovers ``benchmarks/suites/*.py``, runs the requested suites (all by default), writes
``benchmarks/results/<suite>.json`` (rows + machine info + the commit measured; git-ignored)
and regenerates ``docs/benchmarks.md`` from every results file present.

Published numbers must come from committed code: a tree with uncommitted changes (``git status
--porcelain`` not empty, results files and the page itself aside) is refused unless
``--allow-dirty`` is given, and then every section it writes says so in a banner.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import suites as _suites_pkg
from benchmarks.harness import (
    REPO_ROOT,
    BenchContext,
    Row,
    default_data_dir,
    default_threads,
    dumps,
    git_state,
    machine_info,
)
from benchmarks.report import load_results, published_sections, render_markdown, render_table

__all__ = ["discover", "main", "run_suite", "write_docs"]

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
DOCS_PATH = REPO_ROOT / "docs" / "benchmarks.md"


def discover() -> dict[str, ModuleType]:
    """Suite name -> module, for every ``benchmarks/suites/*.py`` defining SUITE and run()."""
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(_suites_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"benchmarks.suites.{info.name}")
        if hasattr(module, "run") and hasattr(module, "SUITE"):
            found[str(module.SUITE)] = module
    return found


def run_suite(
    module: ModuleType, ctx: BenchContext, command: str, state: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run one suite; return its results payload (rows, machine, settings, commit).

    `state` is `harness.git_state()` taken before the run (taken now when not given).
    """
    state = git_state() if state is None else state
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    rows = module.run(ctx)
    duration = time.perf_counter() - t0
    bad = [r for r in rows if not isinstance(r, Row)]
    if bad:
        raise TypeError(f"suite {module.SUITE} returned {type(bad[0]).__name__}, expected benchmarks.harness.Row")
    return {
        "suite": module.SUITE,
        "commit": state.get("commit"),
        "dirty": bool(state.get("dirty")),
        "changes": list(state.get("changes") or [])[:50],
        "description": getattr(module, "DESCRIPTION", ""),
        "generated": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "quick": ctx.quick,
        "threads": ctx.threads,
        "data_dir": str(ctx.data_dir),
        "duration_s": duration,
        "machine": machine_info(),
        "skipped": dict(ctx.skipped),
        "notes": list(ctx.notes),
        "rows": [row.to_dict() for row in rows],
    }


def write_docs(results_dir: Path = RESULTS_DIR, docs_path: Path = DOCS_PATH) -> Path:
    """Regenerate the benchmarks page from every results file in `results_dir`; the published
    sections of suites without a results file here are kept as they are."""
    docs_path.parent.mkdir(parents=True, exist_ok=True)
    kept = published_sections(docs_path.read_text(encoding="utf-8")) if docs_path.is_file() else {}
    docs_path.write_text(render_markdown(load_results(results_dir), kept), encoding="utf-8")
    return docs_path


def _parser(names: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Run likewise's benchmark suites beside the peers and write docs/benchmarks.md.",
    )
    parser.add_argument("suites", nargs="*", metavar="SUITE", help=f"suites to run (default: all): {', '.join(names)}")
    parser.add_argument("--quick", action="store_true", help="smaller runs (no 25M set, fewer folds)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"threads each multi-threaded library may use (default: the cores this process may run on, "
        f"{default_threads()}); pairs beside single-threaded Surprise run on 1",
    )
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="run on a tree with uncommitted changes (the page then marks those sections loudly)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"folder holding ml-100k/ etc. (default: $LIKEWISE_BENCH_DATA or {default_data_dir()})",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where results JSON files go")
    parser.add_argument("--docs", type=Path, default=DOCS_PATH, help="the Markdown page to regenerate")
    parser.add_argument("--no-docs", action="store_true", help="do not regenerate the Markdown page")
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    parser.add_argument("--docs-only", action="store_true", help="only regenerate the Markdown page from results")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (1 when a suite failed)."""
    argv = sys.argv[1:] if argv is None else argv
    available = discover()
    args = _parser(sorted(available)).parse_args(argv)
    if args.list:
        for name, module in available.items():
            print(f"{name:14s} {' '.join(str(getattr(module, 'DESCRIPTION', '')).split())[:100]}")
        return 0
    if args.docs_only:
        print(f"-> {write_docs(args.results_dir, args.docs)}")
        return 0
    unknown = [name for name in args.suites if name not in available]
    if unknown:
        print(f"unknown suite(s): {', '.join(unknown)}; available: {', '.join(sorted(available))}", file=sys.stderr)
        return 2
    if args.threads is not None and args.threads < 1:
        print("--threads must be >= 1", file=sys.stderr)
        return 2
    selected = args.suites or list(available)
    state = git_state()
    if state["dirty"] and not args.allow_dirty:
        shown = "\n  ".join(state["changes"][:20])
        print(
            f"refusing to benchmark uncommitted code (commit {state['commit']} plus changes):\n  {shown}\n"
            "commit or stash them, or pass --allow-dirty (the page will then mark the sections as measured "
            "on uncommitted code)",
            file=sys.stderr,
        )
        return 2
    if state["dirty"]:
        print(f"!! measuring uncommitted code (--allow-dirty): {len(state['changes'])} change(s)", file=sys.stderr)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    for name in selected:
        ctx = BenchContext(
            quick=args.quick,
            threads=args.threads or default_threads(),
            data_dir=args.data_dir if args.data_dir is not None else default_data_dir(),
        )
        parts = ["python -m benchmarks.run", name]
        if args.quick:
            parts.append("--quick")
        parts.append(f"--threads {ctx.threads}")
        if state["dirty"]:
            parts.append("--allow-dirty")
        command = " ".join(parts)
        print(f"== {name} ({'quick' if ctx.quick else 'full'}, {ctx.threads} threads, data {ctx.data_dir})", flush=True)
        try:
            payload = run_suite(available[name], ctx, command, state)
        except Exception:
            traceback.print_exc()
            print(f"!! suite {name} failed; its previous results (if any) are kept", file=sys.stderr)
            failed.append(name)
            continue
        path = args.results_dir / f"{name}.json"
        path.write_text(dumps(payload), encoding="utf-8")
        rows = [Row.from_dict(r) for r in payload["rows"]]
        print("\n".join(render_table(rows)) if rows else "(no rows)")
        print(
            f"-> {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path} "
            f"({payload['duration_s']:.1f} s)",
            flush=True,
        )
    if not args.no_docs:
        page = write_docs(args.results_dir, args.docs)
        print(f"-> {page}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
