"""Render ``docs/benchmarks.md`` from the results files of every suite that has run.

Each results file (``benchmarks/results/<suite>.json``) holds one run of one suite: its rows,
the machine, threads, quick/full and the command. The page has one section per suite; inside
it one table per (task, data set) with the libraries side by side, then the likewise/peer
ratios of rows that measure the same algorithm in that same run (never across runs).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.harness import Row, machine_summary

__all__ = ["ORDER", "load_results", "published_sections", "render_markdown", "render_suite", "render_table"]

ORDER = ("baselines", "scale")
"""Suites shown first, in this order; the others follow alphabetically."""

REPRODUCE = """\
```bash
benchmarks/run.sh                                           # install the peers, run every suite
pip install -e '.[bench]' && python -m benchmarks.run      # the same without LightFM's build
python -m benchmarks.run baselines scale --quick            # a subset, smaller runs
python -m benchmarks.run --list                             # the suites
```"""

LEGEND = """\
How to read the tables:
- **fit s** / **predict s**: warm wall-clock seconds (a later call in a process that has already
  made one, so imports and kernel loading are paid); for cross-validation tasks, the mean per
  fold. **predict s** is recommending for (or predicting) the whole test set.
- **fresh fit s** / **fresh predict s**: the first call in a new process whose numba kernel cache
  is filled, as on every run after the first on a machine: importing the model's modules,
  loading its compiled kernels and the call (interpreter start and reading the data excluded).
- **cold fit s** / **cold predict s**: the same with an empty kernel cache (a new
  `NUMBA_CACHE_DIR`), so every kernel is compiled: what the very first run pays.
- **peak MB**: peak resident memory of a new process that loaded the data and made the first
  calls (its own `VmHWM`: interpreter and imports included, ~150 MB; never the parent's).
- **threads**: threads that library was allowed (numba / OpenMP / BLAS / its own pool).
  A ratio compares two rows only when their thread counts are equal; a pair that is not is
  listed as not compared.
- Accuracy metrics are computed with likewise's metric code for every library, on the same
  split. Ratios are likewise / peer within the same run: below 1 means likewise is faster
  or smaller. "warm" ratios compare warm times, "fresh process" ratios first calls in a new
  process."""

DIRTY_BANNER = (
    "> **⚠ MEASURED ON UNCOMMITTED CODE.** This section was run with `--allow-dirty` on a tree "
    "that differs from commit {commit}; its numbers may not reproduce from any commit."
)


def load_results(results_dir: Path) -> list[dict[str, Any]]:
    """Every ``*.json`` results file in `results_dir`, in page order (see `ORDER`)."""
    payloads = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"ignoring {path}: {exc}")
            continue
        if isinstance(payload, dict) and "suite" in payload and "rows" in payload:
            payloads.append(payload)
    return _ordered(payloads)


def _ordered(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(payloads, key=lambda p: (rank.get(p["suite"], len(ORDER)), p["suite"]))


def published_sections(page: str) -> dict[str, str]:
    """Suite name -> its section's Markdown, from a page `render_markdown` wrote.

    Results files are not committed, so re-running one suite must not erase what the page
    says of the others: `render_markdown` keeps these sections (each still names its own run,
    machine and date) for suites that have no results file now.
    """
    sections: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in page.splitlines():
        if line.startswith("## "):
            if name is not None:
                sections[name] = "\n".join(lines).rstrip() + "\n"
            name, lines = line[3:].strip(), [line]
        elif name is not None:
            lines.append(line)
    if name is not None:
        sections[name] = "\n".join(lines).rstrip() + "\n"
    for heading in ("Reproduce", "Suites"):
        sections.pop(heading, None)
    return sections


def render_markdown(payloads: Iterable[dict[str, Any]], kept: dict[str, str] | None = None) -> str:
    """The whole ``docs/benchmarks.md`` page (suites in `ORDER`, then alphabetically).

    `kept` holds published sections (see `published_sections`) of suites with no results
    now; a suite with results is always rendered afresh.
    """
    payloads = _ordered(list(payloads))
    fresh = {payload["suite"] for payload in payloads}
    kept = {name: text for name, text in (kept or {}).items() if name not in fresh}
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m benchmarks.run` from benchmarks/results/*.json; do not edit by hand. -->",
        "",
        "likewise beside Surprise, implicit, LightFM, LensKit and Spark MLlib on the same splits, with the "
        "same metric code. Each section is one run of one suite on the machine and commit it names; numbers "
        "from different sections were measured at different times.",
        "",
        "## Reproduce",
        "",
        REPRODUCE,
        "",
        "Data: MovieLens 100K is read from `../shared/data/ml-100k` (override with `--data-dir PATH` or "
        "`LIKEWISE_BENCH_DATA`); synthetic scale sets are generated in the run. See "
        "[benchmarks/README.md](../benchmarks/README.md).",
        "",
        LEGEND,
        "",
    ]
    if not payloads and not kept:
        lines += ["No results yet: run `python -m benchmarks.run`.", ""]
        return "\n".join(lines)
    sections = {payload["suite"]: render_suite(payload) for payload in payloads}
    sections.update({name: [*text.splitlines(), ""] for name, text in kept.items()})
    names = _ordered_names(list(sections))
    lines += ["## Suites", ""]
    lines += [f"- [{name}](#{_anchor(name)})" for name in names]
    lines.append("")
    for name in names:
        lines += sections[name]
    return "\n".join(lines).rstrip() + "\n"


def _ordered_names(names: list[str]) -> list[str]:
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(names, key=lambda name: (rank.get(name, len(ORDER)), name))


def render_suite(payload: dict[str, Any]) -> list[str]:
    """The section of one suite's run."""
    rows = [Row.from_dict(r) for r in payload.get("rows", [])]
    machine = payload.get("machine") or {}
    versions = machine.get("versions") or {}
    lines = [f"## {payload['suite']}", ""]
    if payload.get("description"):
        lines += [str(payload["description"]), ""]
    mode = "quick run (`--quick`: smaller sizes)" if payload.get("quick") else "full run"
    stamp = payload.get("generated", "?")
    likewise = versions.get("likewise") or "?"
    commit, dirty = _commit_of(payload)
    if dirty:
        lines += [DIRTY_BANNER.format(commit=commit or "?"), ""]
    lines += [
        f"*{mode}, {stamp}, {payload.get('threads')} thread(s) allowed, "
        f"{_fmt_seconds(payload.get('duration_s'))} s in all; likewise {likewise}, "
        + (f"commit {commit}" + (" **plus uncommitted changes**" if dirty else "") if commit else "commit unknown")
        + "*  ",
        f"*Machine: {machine_summary(machine)}*  ",
        f"*Command: `{payload.get('command', 'python -m benchmarks.run ' + payload['suite'])}`*",
        "",
    ]
    peers = [
        f"{name} {version}"
        for name, version in versions.items()
        if name in ("implicit", "surprise", "lightfm", "lenskit", "pyspark") and version
    ]
    if peers:
        lines += [f"Peers installed: {', '.join(peers)}.", ""]
    skipped = payload.get("skipped") or {}
    for name, reason in skipped.items():
        lines.append(f"- **{name} skipped**: {reason} (see benchmarks/README.md for installing it).")
    for note in payload.get("notes") or []:
        lines.append(f"- {note}")
    if skipped or payload.get("notes"):
        lines.append("")
    if not rows:
        lines += ["No rows.", ""]
        return lines
    for task, group in _groups(rows):
        datasets = list(dict.fromkeys(row.dataset for row in group))
        lines += [f"### {task} — {datasets[0]}" if len(datasets) == 1 else f"### {task}", ""]
        lines += render_table(group, with_dataset=len(datasets) > 1)
        lines.append("")
        ratio, refused = _ratio_table(group), _unequal_threads(group)
        if ratio:
            lines += ["likewise against its peers (same run, warm):", ""]
            lines += ratio
            lines.append("")
        fresh = _ratio_table(group, fresh=True)
        if fresh:
            lines += ["likewise against its peers (same run, first calls in a fresh process):", ""]
            lines += fresh
            lines.append("")
        if refused:
            lines += [f"Not compared (unequal threads): {'; '.join(refused)}.", ""]
    return lines


def _commit_of(payload: dict[str, Any]) -> tuple[str | None, bool]:
    """(commit, dirty) of a results payload; older files only have machine.git_commit."""
    if "commit" in payload:
        return payload.get("commit"), bool(payload.get("dirty"))
    recorded = (payload.get("machine") or {}).get("git_commit")
    if not recorded:
        return None, False
    return str(recorded).removesuffix("+dirty"), str(recorded).endswith("+dirty")


def _groups(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.task, []).append(row)
    return list(groups.items())


def render_table(rows: list[Row], *, with_dataset: bool = False) -> list[str]:
    """A Markdown table of rows side by side; columns nobody filled are left out.

    Parameters
    ----------
    rows : list of Row
    with_dataset : bool
        Start with a data set column (when the rows span several data sets).
    """
    metric_names: list[str] = []
    for row in rows:
        for name in row.metrics:
            if name not in metric_names:
                metric_names.append(name)
    columns: list[tuple[str, Any]] = [("dataset", lambda r: r.dataset)] if with_dataset else []
    columns += [
        ("library", lambda r: r.library),
        ("algorithm", lambda r: r.algorithm),
        ("params", lambda r: _fmt_params(r.params)),
    ]
    columns += [(name, lambda r, n=name: _fmt_metric(r.metrics.get(n))) for name in metric_names]
    columns += [
        ("fit s", lambda r: _fmt_seconds(r.fit_s)),
        ("fresh fit s", lambda r: _fmt_seconds(r.fit_fresh_s)),
        ("cold fit s", lambda r: _fmt_seconds(r.fit_cold_s)),
        ("predict s", lambda r: _fmt_seconds(r.predict_s)),
        ("fresh predict s", lambda r: _fmt_seconds(r.predict_fresh_s)),
        ("cold predict s", lambda r: _fmt_seconds(r.predict_cold_s)),
        ("peak MB", lambda r: _fmt_mb(r.peak_mb)),
        ("threads", lambda r: str(r.threads)),
        ("notes", lambda r: r.notes),
    ]
    cells = [[getter(row) for _, getter in columns] for row in rows]
    always = ("dataset", "library", "algorithm")
    keep = [j for j, (name, _) in enumerate(columns) if name in always or any(c[j] for c in cells)]
    header = [columns[j][0] for j in keep]
    right = {j for j, (name, _) in enumerate(columns) if name not in (*always, "params", "notes")}
    out = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if j in right else "---" for j in keep) + "|",
    ]
    for row_cells in cells:
        out.append("| " + " | ".join(_escape(row_cells[j]) for j in keep) + " |")
    return out


def _pairs(rows: list[Row]) -> list[tuple[Row, Row]]:
    """(likewise row, peer row) with the same comparison key and data set."""
    return [
        (mine, peer)
        for mine in rows
        if mine.library == "likewise"
        for peer in rows
        if peer.library != "likewise" and peer.compare_key == mine.compare_key and peer.dataset == mine.dataset
    ]


def _unequal_threads(rows: list[Row]) -> list[str]:
    """The pairs a ratio table refuses: likewise and the peer were allowed different threads."""
    return [
        f"likewise {mine.algorithm} ({mine.threads} thread(s)) vs {peer.library} {peer.algorithm} "
        f"({peer.threads} thread(s))"
        for mine, peer in _pairs(rows)
        if mine.threads != peer.threads
    ]


def _ratio_table(rows: list[Row], *, fresh: bool = False) -> list[str]:
    """likewise / peer ratios for rows with the same comparison key and equal thread counts.

    ``fresh=False``: warm fit and predict times, peak memory and accuracy; ``fresh=True``: the
    first fit and predict in a new process (pairs where both sides have them).
    """
    pairs = [(mine, peer) for mine, peer in _pairs(rows) if mine.threads == peer.threads]
    if fresh:
        pairs = [
            (mine, peer)
            for mine, peer in pairs
            if (_finite(mine.fit_fresh_s) and _finite(peer.fit_fresh_s))
            or (_finite(mine.predict_fresh_s) and _finite(peer.predict_fresh_s))
        ]
    if not pairs:
        return []
    several = len({row.dataset for row in rows}) > 1
    head = "| dataset " if several else ""
    rule = "|---" if several else ""
    if fresh:
        out = [
            head + "| algorithm | peer | threads | fresh fit time | fresh predict time |",
            rule + "|---|---|---:|---:|---:|",
        ]
    else:
        out = [
            head
            + "| algorithm | peer | threads | fit time | predict time | peak memory | accuracy (likewise vs peer) |",
            rule + "|---|---|---:|---:|---:|---:|---|",
        ]
    for mine, peer in pairs:
        cells: list[str] = [*((mine.dataset,) if several else ()), mine.algorithm, f"{peer.library} {peer.algorithm}"]
        cells.append(str(mine.threads))
        if fresh:
            cells += [
                _fmt_ratio(mine.fit_fresh_s, peer.fit_fresh_s),
                _fmt_ratio(mine.predict_fresh_s, peer.predict_fresh_s),
            ]
        else:
            common = [name for name in mine.metrics if name in peer.metrics]
            accuracy = ", ".join(
                f"{name} {_fmt_metric(mine.metrics[name])} vs {_fmt_metric(peer.metrics[name])}" for name in common
            )
            cells += [
                _fmt_ratio(mine.fit_s, peer.fit_s),
                _fmt_ratio(mine.predict_s, peer.predict_s),
                _fmt_ratio(mine.peak_mb, peer.peak_mb),
                accuracy,
            ]
        out.append("| " + " | ".join(_escape(cell) for cell in cells) + " |")
    return out


# --------------------------------------------------------------------------- formatting


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fmt_seconds(value: Any) -> str:
    if not _finite(value):
        return ""
    if value < 0.01:
        return f"{value:.4f}"
    if value < 1:
        return f"{value:.3f}"
    if value < 100:
        return f"{value:.2f}"
    return f"{value:,.0f}"


def _fmt_mb(value: Any) -> str:
    return f"{value:,.0f}" if _finite(value) else ""


def _fmt_metric(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.2f}"
    return f"{value:.4f}"


def _fmt_ratio(mine: Any, peer: Any) -> str:
    if not (_finite(mine) and _finite(peer)) or peer <= 0:
        return ""
    ratio = mine / peer
    return f"{ratio:.2f}×" if ratio >= 0.1 else f"{ratio:.2g}×"  # 0.004×, never a misleading 0.00×


def _fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in params.items())


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _anchor(title: str) -> str:
    return "".join(ch for ch in title.lower().replace(" ", "-") if ch.isalnum() or ch in "-_")
