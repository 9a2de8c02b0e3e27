"""The rich tables and one-line summaries the commands print: recommendations, leaderboards,
paired tests, cross-validation, and whether the best model really beats the runner-up."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from likewise.models.recs import Recs

__all__ = [
    "cv_table",
    "format_p",
    "leaderboard_table",
    "metric_label",
    "recs_table",
    "significance_note",
    "tests_table",
]

_PER_K = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate")


def recs_table(recs: Recs, row: int, title: str, *, explanations: list[str] | None = None) -> Table:
    """One row of `recs` as a rich table: rank, item id, title (when known), score, reason."""
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("item", justify="right")
    if recs.titles is not None:
        table.add_column("title")
    table.add_column("score", justify="right")
    if explanations is not None:
        table.add_column("why", overflow="fold")
    ids, scores = recs.row(row)
    valid_idx = recs.indices[row][recs.valid[row]]
    for rank, (raw, score) in enumerate(zip(ids, scores, strict=True)):
        cells = [str(rank + 1), str(raw)]
        if recs.titles is not None:
            cells.append(str(recs.titles[valid_idx[rank]]))
        cells.append(f"{score:.4g}")
        if explanations is not None:
            cells.append(explanations[rank])
        table.add_row(*cells)
    return table


def metric_label(metric: str, k: int) -> str:
    """The column label: ``ndcg@10`` for a metric cut at k, the bare name otherwise (``auc``)."""
    return f"{metric}@{k}" if metric in _PER_K else metric


def leaderboard_table(comparison: Any, title: str) -> Table:
    """A rich table: one row per model, each metric as mean ± half the interval width."""
    k = comparison.info["k"]
    metrics = list(comparison.info["metrics"])
    table = Table(title=title, title_justify="left")
    table.add_column("model")
    for metric in metrics:
        style = "bold" if metric == comparison.primary else None
        table.add_column(metric_label(metric, k), justify="right", style=style)
    has_fit = comparison.leaderboard["fit_s"].notna().any()
    if has_fit:
        table.add_column("fit s", justify="right")
    for row in comparison.leaderboard.to_dict("records"):
        cells = [str(row["model"])]
        for metric in metrics:
            mean, low, high = row[metric], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
            if not math.isfinite(mean):
                cells.append("n/a")
            elif math.isfinite(low) and math.isfinite(high) and high > low:
                cells.append(f"{mean:.4f} [dim]±{(high - low) / 2:.4f}[/]")
            else:
                cells.append(f"{mean:.4f}")
        if has_fit:
            cells.append(f"{row['fit_s']:.2f}" if math.isfinite(row["fit_s"]) else "")
        table.add_row(*cells)
    return table


def format_p(value: float) -> str:
    """A p-value to 4 decimals, in scientific notation when tiny, n/a when undefined."""
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.1e}" if value < 1e-4 else f"{value:.4f}"


def tests_table(comparison: Any) -> Table:
    """A rich table of the paired tests on the primary metric."""
    k = comparison.info["k"]
    tests = comparison.tests[comparison.tests["metric"] == comparison.primary]
    table = Table(
        title=f"Paired tests on {metric_label(comparison.primary, k)} across users (Holm-adjusted p-values, "
        f"alpha {comparison.info['alpha']})",
        title_justify="left",
    )
    for name, justify in (
        ("model A", "left"),
        ("model B", "left"),
        ("users", "right"),
        ("A − B", "right"),
        ("t-test p", "right"),
        ("Wilcoxon p", "right"),
        ("verdict", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in tests.to_dict("records"):
        if row["significant"]:
            verdict = f"[green]{row['better']} is better[/]"
        elif row["better"] is None:
            verdict = "identical"
        else:
            verdict = "[yellow]no significant difference[/]"
        table.add_row(
            str(row["model_a"]),
            str(row["model_b"]),
            str(row["n_users"]),
            f"{row['mean_diff']:+.4f}",
            format_p(row["p_ttest_holm"]),
            format_p(row["p_wilcoxon_holm"]),
            verdict,
        )
    return table


def cv_table(results: dict[str, Any]) -> Table:
    """A rich table: one row per model, each metric as mean over folds ± half the t-interval."""
    first = next(iter(results.values()))
    k = first.info["k"]
    metrics = list(first.summary["metric"])
    table = Table(
        title=f"{first.info['n_folds']}-fold cross-validation: mean over folds ± half the "
        f"{int(100 * first.info['confidence'])}% t-interval",
        title_justify="left",
    )
    table.add_column("model")
    for metric in metrics:
        table.add_column(metric_label(metric, k), justify="right")
    table.add_column("fit s / fold", justify="right")
    for name, result in results.items():
        summary = result.summary.set_index("metric")
        cells = [name]
        for metric in metrics:
            mean, low, high = (float(summary.loc[metric, c]) for c in ("mean", "ci_low", "ci_high"))
            cells.append(f"{mean:.4f} [dim]±{(high - low) / 2:.4f}[/]" if math.isfinite(low) else f"{mean:.4f}")
        cells.append(f"{result.per_fold['fit_s'].mean():.2f}")
        table.add_row(*cells)
    return table


def significance_note(results: dict[str, Any], metric: str = "ndcg", k: int = 10) -> str | None:
    """One sentence on whether the best model really beats the runner-up on `metric`.

    A paired t-test and a Wilcoxon signed-rank test over the users both were evaluated on
    (`likewise.evaluation.paired_tests`); None with fewer than two models.

    Parameters
    ----------
    results : dict of str -> EvaluationResult
        Evaluations of several models on the same test users.
    metric : str
        A per-user metric all results hold.
    k : int
        The cut-off, for the label.

    Returns
    -------
    str or None
    """
    from likewise.evaluation import paired_tests

    if len(results) < 2:
        return None
    order = sorted(results, key=lambda name: -_summary_mean(results[name], metric))
    best, second = order[0], order[1]
    row = paired_tests({best: results[best], second: results[second]}, [metric]).iloc[0]
    label = metric_label(metric, k)
    if row["better"] is None:
        return f"{best} and {second} have identical {label} for every user."
    evidence = (
        f"{row['mean_diff']:+.3f} {label} per user over {row['n_users']} users; "
        f"paired t-test p = {format_p(row['p_ttest'])}, Wilcoxon p = {format_p(row['p_wilcoxon'])}"
    )
    if row["p_ttest"] < 0.05:
        return f"{best} beats {second}: {evidence}."
    return f"{best} is ahead of {second} but not significantly: {evidence}."


def _summary_mean(result: Any, metric: str) -> float:
    rows = result.summary.loc[result.summary["metric"] == metric, "mean"]
    value = float(rows.iloc[0]) if len(rows) else math.nan
    return value if math.isfinite(value) else -math.inf
