"""`likewise evaluate` and `likewise compare`: models on one split, a leaderboard with
confidence intervals, paired significance tests, and a report folder with plots.

Only public `likewise.evaluation` functions are called (split, compare, cross_validate,
paired_tests, report writers); the command options come from `likewise.cli._options`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from likewise.cli._algorithms import algorithm_names, build_model, parse_params
from likewise.cli._console import console, handle_errors
from likewise.cli._io import load_data
from likewise.cli._options import (
    SPLITS,
    AlgosOption,
    AlphaOption,
    BootstrapOption,
    DataArgument,
    DataOptions,
    DelimiterOption,
    EvalOptions,
    FoldsOption,
    FormatOption,
    GradedOption,
    HeaderOption,
    ItemColumn,
    JobsOption,
    KOption,
    LabelledParamOption,
    LastKOption,
    MetricOption,
    NegativesOption,
    PrimaryOption,
    RatingColumn,
    ReportOption,
    SeedOption,
    SplitOption,
    TestFractionOption,
    ThresholdOption,
    TimestampColumn,
    UserColumn,
    WeightColumn,
)
from likewise.cli._tables import cv_table, leaderboard_table, significance_note, tests_table
from likewise.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from likewise.data.interactions import Interactions
    from likewise.models.base import Recommender

__all__ = [
    "compare_cmd",
    "evaluate_cmd",
    "leaderboard_table",
    "models_from_options",
    "significance_note",
    "tests_table",
]


def models_from_options(algos: list[str], params: list[str]) -> dict[str, Recommender]:
    """Build the models named by ``--algo`` with their ``--param`` values.

    ``--algo NAME`` or ``--algo LABEL=NAME`` (to run one algorithm twice with different
    parameters); ``--param LABEL.key=value`` sets a parameter of one model, and
    ``--param key=value`` (no prefix) is allowed when there is only one model.

    Parameters
    ----------
    algos : list of str
    params : list of str

    Returns
    -------
    dict of str -> Recommender
        Label -> unfitted model, in the order given.
    """
    if not algos:
        raise InvalidParameterError(f"give at least one --algo ({algorithm_names()})")
    specs: dict[str, str] = {}
    for spec in algos:
        label, sep, name = spec.partition("=")
        if not sep:
            label, name = spec, spec
        label, name = label.strip(), name.strip()
        if not label or not name:
            raise InvalidParameterError(f"--algo expects NAME or LABEL=NAME, got {spec!r}")
        if label in specs:
            raise InvalidParameterError(f"--algo {label!r} is given twice; name them apart with LABEL=NAME")
        specs[label] = name
    per_model: dict[str, list[str]] = {label: [] for label in specs}
    for pair in params:
        key, sep, value = pair.partition("=")
        prefix, dot, pname = key.rpartition(".")
        if not sep:
            raise InvalidParameterError(f"--param expects [ALGO.]NAME=VALUE, got {pair!r}")
        if dot:
            if prefix not in per_model:
                raise InvalidParameterError(
                    f"--param {pair!r} names {prefix!r}, which is not one of the --algo labels ({', '.join(specs)})"
                )
            per_model[prefix].append(f"{pname}={value}")
        elif len(specs) == 1:
            per_model[next(iter(specs))].append(pair)
        else:
            raise InvalidParameterError(
                f"--param {pair!r}: with several --algo, prefix the parameter with the algorithm, e.g. "
                f"{next(iter(specs))}.{pair}"
            )
    return {label: build_model(name, parse_params(per_model[label])) for label, name in specs.items()}


def _split(data: Interactions, method: str, test_fraction: float, last_k: int, seed: int) -> tuple[Any, Any, str]:
    from likewise.evaluation import make_split

    key = method.lower().replace("_", "-")
    key = {"cold-items": "cold-item", "cold-users": "cold-user"}.get(key, key)
    if key not in SPLITS:
        raise InvalidParameterError(f"--split must be one of {', '.join(SPLITS)}, got {method!r}")
    if key == "last-k":
        split = make_split(data, "last_k", k=last_k)
        text = f"each user's last {last_k} interaction(s) held out"
    elif key == "temporal":
        split = make_split(data, "temporal", test_fraction=test_fraction)
        text = f"the latest {test_fraction:.0%} of interactions held out (global time cut-off)"
    else:
        split = make_split(data, key, test_fraction=test_fraction, random_state=seed)
        text = {
            "user": f"{test_fraction:.0%} of each user's interactions held out at random",
            "random": f"{test_fraction:.0%} of all interactions held out at random",
            "cold-user": f"{test_fraction:.0%} of users held out entirely",
            "cold-item": f"{test_fraction:.0%} of items held out entirely",
        }[key]
    return split.train, split.test, f"{text} (seed {seed})" if key not in ("last-k", "temporal") else text


def _advance(bar: Progress, task: Any) -> Callable[[int, int], None]:
    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _run(data: str, models: dict[str, Recommender], reading: DataOptions, opts: EvalOptions, *, tests: bool) -> None:
    """Read DATA, then cross-validate (``--folds``) or compare the models on one split."""
    with console.status(f"reading {data}"):
        interactions = load_data(data, reading)
    console.print(f"[bold]Data[/]: {interactions.summary()}")
    relevance_text = (
        "every held-out interaction is relevant"
        if opts.threshold is None
        else f"values >= {opts.threshold:g} are relevant"
    )
    started = time.perf_counter()
    if opts.folds is not None:
        _cross_validate(models, interactions, opts, opts.folds, relevance_text)
    else:
        _compare(models, interactions, opts, relevance_text, tests=tests)
    console.print(f"[dim]{time.perf_counter() - started:.1f} s[/]")


def _relevance(opts: EvalOptions) -> Literal["binary", "graded"]:
    return "graded" if opts.graded else "binary"


def _cross_validate(
    models: dict[str, Recommender], interactions: Interactions, opts: EvalOptions, folds: int, relevance_text: str
) -> None:
    from likewise.evaluation import cross_validate, write_cv_report

    cv_results = {}
    with _progress() as bar:
        for label, model in models.items():
            task = bar.add_task(f"cross-validating {label}", total=folds)
            cv_results[label] = cross_validate(
                model,
                interactions,
                folds=folds,
                k=opts.k,
                metrics=list(opts.metrics) or None,
                relevance_threshold=opts.threshold,
                relevance=_relevance(opts),
                n_negatives=opts.negatives,
                n_jobs=opts.jobs,
                random_state=opts.seed,
                progress=_advance(bar, task),
            )
    console.print(cv_table(cv_results))
    if opts.report is not None:
        description = f"{interactions.summary()}. {folds}-fold cross-validation (seed {opts.seed}); {relevance_text}."
        files = write_cv_report(cv_results, opts.report, description=description)
        console.print(f"[green]report[/] -> {opts.report} ({', '.join(sorted(p.name for p in files.values()))})")


def _compare(
    models: dict[str, Recommender], interactions: Interactions, opts: EvalOptions, relevance_text: str, *, tests: bool
) -> None:
    from likewise.evaluation import compare, write_report

    train, test, split_text = _split(interactions, opts.split, opts.test_fraction, opts.last_k, opts.seed)
    console.print(f"Split: {train.nnz:,} training / {test.nnz:,} test interactions; {split_text}; {relevance_text}")
    with _progress() as bar:
        task = bar.add_task("evaluating", total=2 * len(models))

        def progress(name: str, stage: str) -> None:
            if stage in ("fit", "evaluate"):
                bar.update(task, description=f"{'training' if stage == 'fit' else 'evaluating'} {name}")
            if stage == "evaluate" or stage == "done":
                bar.advance(task)

        comparison = compare(
            models,
            train,
            test,
            k=opts.k,
            metrics=list(opts.metrics) or None,
            relevance_threshold=opts.threshold,
            relevance=_relevance(opts),
            n_negatives=opts.negatives,
            n_bootstrap=opts.bootstrap,
            alpha=opts.alpha,
            primary=opts.primary,
            random_state=opts.seed,
            progress=progress,
        )
    candidates = comparison.info["candidates"]
    title = (
        f"Leaderboard, top-{opts.k} over {candidates} "
        f"({int(100 * comparison.info['confidence'])}% bootstrap intervals over users)"
    )
    console.print(leaderboard_table(comparison, title))
    if opts.negatives:
        console.print(
            f"[yellow]Ranked among {opts.negatives} sampled negatives per user: "
            "not comparable with full-catalogue numbers.[/]"
        )
    if tests and len(models) > 1:
        console.print(tests_table(comparison))
    if opts.split.lower().replace("_", "-").startswith("cold"):
        _cold_start_table(models, train, test, opts.k)
    if opts.report is not None:
        description = f"{interactions.summary()}. Split: {split_text}; {relevance_text}."
        files = write_report(comparison, opts.report, description=description)
        console.print(f"[green]report[/] -> {opts.report} ({', '.join(sorted(p.name for p in files.values()))})")


def _cold_start_table(models: dict[str, Recommender], train: Interactions, test: Interactions, k: int) -> None:
    """Warm and cold metrics side by side (`likewise.evaluation.evaluate_cold_start`)."""
    from rich.table import Table

    from likewise.evaluation import evaluate_cold_start

    table = Table(title=f"Cold start: warm and cold parts measured separately (top-{k})")
    for column in ("model", "part", "users", f"precision@{k}", f"recall@{k}", f"ndcg@{k}", "AUC"):
        table.add_column(column)
    for label, model in models.items():
        if not model.is_fitted:
            model.fit(train)
        for part, values in evaluate_cold_start(model, train, test, k=k).items():
            table.add_row(
                label, part, f"{int(values['n_users'])}", f"{values[f'precision@{k}']:.4f}",
                f"{values[f'recall@{k}']:.4f}", f"{values[f'ndcg@{k}']:.4f}", f"{values['auc']:.4f}",
            )  # fmt: skip
    console.print(table)


@handle_errors
def evaluate_cmd(
    data: DataArgument,
    algo: AlgosOption,
    param: LabelledParamOption = None,
    split: SplitOption = "user",
    test_fraction: TestFractionOption = 0.2,
    last_k: LastKOption = 1,
    k: KOption = 10,
    metric: MetricOption = None,
    threshold: ThresholdOption = None,
    graded: GradedOption = False,
    negatives: NegativesOption = None,
    folds: FoldsOption = None,
    jobs: JobsOption = 1,
    bootstrap: BootstrapOption = 1000,
    alpha: AlphaOption = 0.05,
    primary: PrimaryOption = None,
    seed: SeedOption = 0,
    report: ReportOption = None,
    fmt: FormatOption = None,
    user: UserColumn = "user",
    item: ItemColumn = "item",
    rating: RatingColumn = None,
    weight: WeightColumn = None,
    timestamp: TimestampColumn = None,
    delimiter: DelimiterOption = None,
    header: HeaderOption = True,
) -> None:
    """Evaluate one or more algorithms on a split of DATA: a leaderboard with confidence intervals."""
    opts = EvalOptions(
        split=split,
        test_fraction=test_fraction,
        last_k=last_k,
        k=k,
        metrics=tuple(metric or ()),
        threshold=threshold,
        graded=graded,
        negatives=negatives,
        bootstrap=bootstrap,
        alpha=alpha,
        primary=primary,
        seed=seed,
        report=report,
        folds=folds,
        jobs=jobs,
    )
    reading = DataOptions(
        fmt=fmt,
        user=user,
        item=item,
        rating=rating,
        weight=weight,
        timestamp=timestamp,
        delimiter=delimiter,
        header=header,
    )
    _run(data, models_from_options(algo, param or []), reading, opts, tests=False)


@handle_errors
def compare_cmd(
    data: DataArgument,
    algo: AlgosOption,
    param: LabelledParamOption = None,
    split: SplitOption = "user",
    test_fraction: TestFractionOption = 0.2,
    last_k: LastKOption = 1,
    k: KOption = 10,
    metric: MetricOption = None,
    threshold: ThresholdOption = None,
    graded: GradedOption = False,
    negatives: NegativesOption = None,
    bootstrap: BootstrapOption = 1000,
    alpha: AlphaOption = 0.05,
    primary: PrimaryOption = None,
    seed: SeedOption = 0,
    report: ReportOption = None,
    fmt: FormatOption = None,
    user: UserColumn = "user",
    item: ItemColumn = "item",
    rating: RatingColumn = None,
    weight: WeightColumn = None,
    timestamp: TimestampColumn = None,
    delimiter: DelimiterOption = None,
    header: HeaderOption = True,
) -> None:
    """Compare two or more algorithms on the same split: leaderboard, paired tests with p-values, report."""
    if len(algo) < 2:
        raise InvalidParameterError("compare needs at least two --algo (use `likewise evaluate` for one)")
    opts = EvalOptions(
        split=split,
        test_fraction=test_fraction,
        last_k=last_k,
        k=k,
        metrics=tuple(metric or ()),
        threshold=threshold,
        graded=graded,
        negatives=negatives,
        bootstrap=bootstrap,
        alpha=alpha,
        primary=primary,
        seed=seed,
        report=report,
    )
    reading = DataOptions(
        fmt=fmt,
        user=user,
        item=item,
        rating=rating,
        weight=weight,
        timestamp=timestamp,
        delimiter=delimiter,
        header=header,
    )
    _run(data, models_from_options(algo, param or []), reading, opts, tests=True)
