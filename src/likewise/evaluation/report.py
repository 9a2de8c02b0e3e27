"""Report folders: ``results.json``, ``summary.md``, ``per_user.csv`` and PNG plots.

`write_report(comparison, directory)` writes

- ``results.json``: everything `Comparison.to_dict` holds (leaderboard with intervals,
  pairwise tests, curves, fit times, training histories, each model's summary and info);
- ``per_user.csv``: every model's per-user values (long format: one row per model and user);
- ``summary.md``: the settings, the leaderboard with confidence intervals, the significance
  tests of the primary metric, and the plots;
- ``leaderboard.png``: the main metrics per model with their confidence intervals;
- ``metric_vs_k.png``: precision, recall, NDCG and hit rate at every cut-off 1..curve_k;
- ``precision_recall.png``: precision@k against recall@k, one curve per model;
- ``training_loss.png``: per-epoch loss of the models that reported it through the fit
  callback (only when one did);
- ``popularity.png``: how concentrated on popular items the recommendations are, against
  the catalogue's own concentration of training interactions.

`write_cv_report(results, directory)` writes ``results.json`` and ``summary.md`` for
cross-validation results. Plots use matplotlib's Agg canvas directly (no pyplot, no global
backend change), so reports can be written from any thread or a headless server.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from likewise import __version__
from likewise.evaluation._protocol import jsonable
from likewise.evaluation._registry import LOWER_IS_BETTER, REGISTRY
from likewise.evaluation.compare import Comparison
from likewise.evaluation.tuning import CrossValidationResult

__all__ = ["write_cv_report", "write_report"]

_BAR_METRICS = ("ndcg", "precision", "recall", "map", "hit_rate", "mrr", "auc", "rmse", "mae")
_CURVE_PANELS = (("precision", "Precision@k"), ("recall", "Recall@k"), ("ndcg", "NDCG@k"), ("hit_rate", "Hit rate@k"))
_LABELS = {name: metric.label for name, metric in REGISTRY.items()}


def write_report(
    comparison: Comparison,
    directory: str | Path,
    *,
    title: str = "likewise evaluation",
    description: str | None = None,
) -> dict[str, Path]:
    """Write the report folder of a `Comparison` (see the module docstring).

    Parameters
    ----------
    comparison : Comparison
        What `compare` returned.
    directory : str or Path
        Created if needed; files in it with the same names are replaced.
    title : str
        First heading of ``summary.md``.
    description : str, optional
        A paragraph on the data and split, shown under the title and stored in the JSON.

    Returns
    -------
    dict of str -> Path
        File kind (``"json"``, ``"markdown"``, ``"per_user"``, and one entry per plot) -> path.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    payload = {
        "title": title,
        "description": description,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "likewise_version": __version__,
        **comparison.to_dict(),
    }
    files["json"] = _write_json(out / "results.json", payload)
    frames = [result.per_user.assign(model=name) for name, result in comparison.results.items()]
    per_user = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not per_user.empty:
        per_user = per_user[["model", *[c for c in per_user.columns if c != "model"]]]
    per_user.to_csv(out / "per_user.csv", index=False)
    files["per_user"] = out / "per_user.csv"

    plots = {
        "leaderboard": _plot_leaderboard(comparison, out / "leaderboard.png"),
        "metric_vs_k": _plot_curves(comparison, out / "metric_vs_k.png"),
        "precision_recall": _plot_precision_recall(comparison, out / "precision_recall.png"),
        "training_loss": _plot_loss(comparison, out / "training_loss.png"),
        "popularity": _plot_popularity(comparison, out / "popularity.png"),
    }
    for name, path in plots.items():
        if path is not None:
            files[name] = path
    files["markdown"] = out / "summary.md"
    files["markdown"].write_text(_summary_md(comparison, title, description, plots), encoding="utf-8")
    return files


def write_cv_report(
    results: Mapping[str, CrossValidationResult],
    directory: str | Path,
    *,
    title: str = "likewise cross-validation",
    description: str | None = None,
) -> dict[str, Path]:
    """Write ``results.json`` and ``summary.md`` for cross-validation results of several models.

    Parameters
    ----------
    results : mapping of str -> CrossValidationResult
    directory : str or Path
    title : str
    description : str, optional

    Returns
    -------
    dict of str -> Path
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "title": title,
        "description": description,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "likewise_version": __version__,
        "cross_validation": {name: r.to_dict() for name, r in results.items()},
    }
    files = {"json": _write_json(out / "results.json", payload)}
    lines = [f"# {title}", ""]
    if description:
        lines += [description, ""]
    first = next(iter(results.values()), None)
    if first is not None:
        info = first.info
        lines += [
            f"{info.get('n_folds')} folds ({info.get('folds')}), top-{info.get('k')}; "
            f"values are means over folds with a {int(100 * info.get('confidence', 0.95))}% Student-t interval.",
            "",
        ]
        metrics = list(first.summary["metric"])
        lines.append("| model | " + " | ".join(_metric_header(m, info.get("k")) for m in metrics) + " | fit s / fold |")
        lines.append("|---|" + "---:|" * (len(metrics) + 1))
        for name, result in results.items():
            summary = result.summary.set_index("metric")
            cells = [
                _cell(summary.loc[m, "mean"], summary.loc[m, "ci_low"], summary.loc[m, "ci_high"]) for m in metrics
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {result.per_fold['fit_s'].mean():.3g} |")
        lines.append("")
    files["markdown"] = out / "summary.md"
    files["markdown"].write_text("\n".join(lines), encoding="utf-8")
    return files


# --------------------------------------------------------------------------- markdown


def _write_json(path: Path, payload: dict[str, Any]) -> Path:
    path.write_text(json.dumps(jsonable(payload), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _cell(mean: float, low: float, high: float) -> str:
    if not math.isfinite(mean):
        return "n/a"
    if math.isfinite(low) and math.isfinite(high):
        return f"{mean:.4f} [{low:.4f}, {high:.4f}]"
    return f"{mean:.4f}"


def _metric_header(metric: str, k: Any) -> str:
    label = _LABELS.get(metric, metric)
    if metric in ("precision", "recall", "ndcg", "map", "mrr", "hit_rate") and k is not None:
        return f"{label}@{k}"
    return label


def _p(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if value < 1e-4:
        return f"{value:.1e}"
    return f"{value:.4f}"


def _summary_md(comparison: Comparison, title: str, description: str | None, plots: dict[str, Path | None]) -> str:
    info = comparison.info
    k = info.get("k")
    lines = [f"# {title}", ""]
    if description:
        lines += [description, ""]
    threshold = info.get("relevance_threshold")
    relevance = (
        "every held-out interaction is relevant"
        if threshold is None
        else f"held-out values >= {threshold:g} are relevant"
    )
    if info.get("relevance") == "graded":
        relevance += "; NDCG uses the held-out values as graded gains"
    lines += [
        "## Settings",
        "",
        f"- Lists of {k} items; {relevance}.",
        f"- Candidates ranked: **{info.get('candidates')}**"
        + (
            " — sampled-negative metrics are higher than full-catalogue ones and not comparable with them."
            if info.get("n_negatives")
            else "."
        ),
        f"- {info.get('n_train_interactions'):,} training and {info.get('n_test_interactions'):,} test interactions; "
        f"users evaluated: {_users_line(info)}.",
        f"- Intervals: {int(100 * (info.get('confidence') or 0.95))}% percentile bootstrap over users "
        f"({info.get('n_bootstrap')} resamples).",
        f"- Significance: {info.get('tests')}; alpha = {info.get('alpha')}.",
        "",
        "## Leaderboard",
        "",
    ]
    metrics = list(info.get("metrics", []))
    board = comparison.leaderboard
    has_fit = board["fit_s"].notna().any()
    header = ["model", *[_metric_header(m, k) for m in metrics]] + (["fit s"] if has_fit else [])
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|---|" + "---:|" * (len(header) - 1))
    for row in board.to_dict("records"):
        cells = [str(row["model"])]
        cells += [_cell(row[m], row[f"{m}_ci_low"], row[f"{m}_ci_high"]) for m in metrics]
        if has_fit:
            cells.append(_fmt(row["fit_s"], 3))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Sorted by {_metric_header(comparison.primary, k)} (best first). Mean [interval].", ""]

    tests = comparison.tests[comparison.tests["metric"] == comparison.primary]
    if not tests.empty:
        lines += [
            f"## Is the difference real? ({_metric_header(comparison.primary, k)})",
            "",
            "| model A | model B | users | mean A − B | t-test p (Holm) | Wilcoxon p (Holm) | verdict |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for row in tests.to_dict("records"):
            verdict = (
                f"**{row['better']}** is better"
                if row["significant"]
                else ("no significant difference" if row["better"] is not None else "identical")
            )
            lines.append(
                f"| {row['model_a']} | {row['model_b']} | {row['n_users']} | {row['mean_diff']:+.4f} | "
                f"{_p(row['p_ttest_holm'])} | {_p(row['p_wilcoxon_holm'])} | {verdict} |"
            )
        lines += [
            "",
            "Paired over the users both models were evaluated on; p-values adjusted with Holm's method "
            "over all pairs of models. Every metric's tests are in results.json.",
            "",
        ]
    captions = {
        "leaderboard": "Main metrics with their confidence intervals",
        "metric_vs_k": "Metrics at every list length",
        "precision_recall": "Precision against recall as the list grows",
        "training_loss": "Training loss per epoch",
        "popularity": "Popularity of recommended items against the catalogue",
    }
    shown = [(name, path) for name, path in plots.items() if path is not None]
    if shown:
        lines += ["## Plots", ""]
        for name, path in shown:
            lines += [f"### {captions[name]}", "", f"![{captions[name]}]({path.name})", ""]
    missing_loss = plots.get("training_loss") is None
    if missing_loss:
        lines += ["No model reported a training loss through the fit callback, so there is no loss plot.", ""]
    skipped = info.get("n_users_skipped") or {}
    if skipped:
        lines += [
            "Users not evaluated: " + ", ".join(f"{n} ({reason})" for reason, n in skipped.items()) + ".",
            "",
        ]
    lines += ["Files: results.json (everything), per_user.csv (every user's values), the PNG plots.", ""]
    return "\n".join(lines)


def _users_line(info: dict[str, Any]) -> str:
    counts = info.get("n_users_evaluated") or {}
    values = set(counts.values())
    if len(values) == 1:
        return f"{values.pop():,}"
    return ", ".join(f"{name} {n:,}" for name, n in counts.items())


# --------------------------------------------------------------------------- plots


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    return path


def _colours(names: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {name: cmap(i % 10) for i, name in enumerate(names)}


def _plot_leaderboard(comparison: Comparison, path: Path) -> Path | None:
    board = comparison.leaderboard
    metrics = [m for m in _BAR_METRICS if m in comparison.info.get("metrics", [])][:4]
    if not metrics or board.empty:
        return None
    names = [str(n) for n in board["model"]]
    colours = _colours(sorted(names))
    fig = _figure(3.2 * len(metrics) + 1.2, 0.45 * len(names) + 1.8)
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    y = np.arange(len(names))[::-1]
    k = comparison.info.get("k")
    for ax, metric in zip(axes, metrics, strict=True):
        mean = board[metric].to_numpy(dtype=float)
        low = board[f"{metric}_ci_low"].to_numpy(dtype=float)
        high = board[f"{metric}_ci_high"].to_numpy(dtype=float)
        err = np.vstack([np.where(np.isfinite(low), mean - low, 0), np.where(np.isfinite(high), high - mean, 0)])
        ax.barh(y, mean, xerr=err, color=[colours[n] for n in names], capsize=3, alpha=0.9)
        for yy, value in zip(y, mean, strict=True):
            if math.isfinite(value):
                ax.text(value, yy + 0.32, f"{value:.3f}", va="center", ha="left", fontsize=8)
        ax.set_title(_metric_header(metric, k) + (" (lower is better)" if metric in LOWER_IS_BETTER else ""))
        ax.set_xlabel(_LABELS.get(metric, metric))
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlim(0, max(1e-9, float(np.nanmax(np.where(np.isfinite(high), high, mean)))) * 1.2)
    axes[0].set_yticks(y, names)
    fig.suptitle(f"Leaderboard (bars: {int(100 * (comparison.info.get('confidence') or 0.95))}% bootstrap intervals)")
    return _save(fig, path)


def _plot_curves(comparison: Comparison, path: Path) -> Path | None:
    from matplotlib.ticker import MaxNLocator

    curves = comparison.curves
    if curves.empty:
        return None
    names = list(dict.fromkeys(curves["model"]))
    colours = _colours(sorted(names))
    fig = _figure(10, 7.5)
    axes = fig.subplots(2, 2).reshape(-1)
    k = comparison.info.get("k")
    for ax, (metric, label) in zip(axes, _CURVE_PANELS, strict=True):
        for name in names:
            part = curves[(curves["model"] == name) & (curves["metric"] == metric)]
            ax.plot(part["k"], part["value"], marker="o", markersize=3, label=name, color=colours[name])
        if k is not None:
            ax.axvline(k, color="grey", linestyle=":", linewidth=1)
        ax.set_title(label)
        ax.set_xlabel("k (list length)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Ranking metrics against list length (dotted: k = {k}; {comparison.info.get('candidates')})")
    return _save(fig, path)


def _plot_precision_recall(comparison: Comparison, path: Path) -> Path | None:
    curves = comparison.curves
    if curves.empty:
        return None
    names = list(dict.fromkeys(curves["model"]))
    colours = _colours(sorted(names))
    fig = _figure(7, 5.5)
    ax = fig.subplots()
    for name in names:
        part = curves[curves["model"] == name]
        prec = part[part["metric"] == "precision"].sort_values("k")
        rec = part[part["metric"] == "recall"].sort_values("k")
        ax.plot(rec["value"], prec["value"], marker="o", markersize=3, label=name, color=colours[name])
        if len(prec):
            for idx in (0, len(prec) - 1):
                ax.annotate(
                    f"k={int(prec['k'].iloc[idx])}",
                    (rec["value"].iloc[idx], prec["value"].iloc[idx]),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                    color=colours[name],
                )
    ax.set_xlabel("recall@k")
    ax.set_ylabel("precision@k")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Precision-recall curve, k = 1..{comparison.info.get('curve_k')}")
    return _save(fig, path)


def _plot_loss(comparison: Comparison, path: Path) -> Path | None:
    from matplotlib.ticker import MaxNLocator

    series = {}
    for name, epochs in comparison.history.items():
        key = "loss" if any("loss" in e for e in epochs) else next((k for e in epochs for k in e if k != "epoch"), None)
        if key is None:
            continue
        points = [(e["epoch"], e[key]) for e in epochs if key in e and math.isfinite(e[key])]
        if points:
            series[name] = (key, points)
    if not series:
        return None
    colours = _colours(sorted(comparison.results))
    fig = _figure(7, 4.8)
    ax = fig.subplots()
    keys = set()
    for name, (key, points) in series.items():
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", markersize=3, label=f"{name} ({key})", color=colours.get(name))
        keys.add(key)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(" / ".join(sorted(keys)))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Training loss per epoch (as reported by each model)")
    return _save(fig, path)


def _plot_popularity(comparison: Comparison, path: Path) -> Path | None:
    if not comparison.lists:
        return None
    first = next(iter(comparison.lists.values()))
    pop = first.popularity
    n_items = pop.size
    if n_items == 0 or pop.sum() == 0:
        return None
    order = np.argsort(-pop, kind="stable")  # most popular first
    rank = np.empty(n_items, dtype=np.int64)
    rank[order] = np.arange(n_items)
    x = np.arange(1, n_items + 1) / n_items * 100
    names = list(comparison.lists)
    colours = _colours(sorted(names))
    k = comparison.info.get("k")
    fig = _figure(12, 5)
    left, right = fig.subplots(1, 2, width_ratios=[1.4, 1])
    left.plot(x, np.cumsum(pop[order]) / pop.sum() * 100, color="black", linestyle="--", linewidth=2,
              label="catalogue: training interactions")  # fmt: skip
    means = {}
    for name in names:
        lists = comparison.lists[name]
        recs = lists.recs[:, :k] if k else lists.recs
        items = recs[recs >= 0]
        if items.size == 0:
            continue
        counts = np.bincount(rank[items], minlength=n_items).astype(float)
        left.plot(x, np.cumsum(counts) / counts.sum() * 100, label=name, color=colours[name], linewidth=1.6)
        means[name] = float(pop[items].mean())
    left.set_xlabel("items ranked by training popularity (% of catalogue, most popular first)")
    left.set_ylabel("cumulative share (%)")
    left.set_title("Where recommendations fall in the popularity ranking")
    left.set_xlim(0, 100)
    left.set_ylim(0, 101)
    left.grid(alpha=0.3)
    left.legend(fontsize=8, loc="lower right")
    bars = sorted(means, key=lambda n: means[n])
    right.barh(np.arange(len(bars)), [means[n] for n in bars], color=[colours[n] for n in bars])
    right.axvline(pop.mean(), color="black", linestyle="--", label=f"catalogue mean ({pop.mean():.1f})")
    right.set_yticks(np.arange(len(bars)), bars)
    right.set_xlabel("training users per recommended item (mean)")
    right.set_title(f"Popularity of the top-{k} items")
    right.grid(axis="x", alpha=0.3)
    right.legend(fontsize=8, loc="lower right")
    fig.suptitle("Popularity of recommended items against the catalogue")
    return _save(fig, path)
