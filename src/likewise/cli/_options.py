"""Options shared by several commands, each defined once as a `typing.Annotated` alias (the
way fastapi-cli declares its options), and the small typed records commands pass them on in.

A command lists the aliases it takes as parameters, with their defaults, and builds a
`DataOptions` / `EvalOptions` from them; nothing is forwarded through ``locals()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import typer

from likewise.cli._algorithms import ALGORITHM_LIST
from likewise.exceptions import InvalidParameterError

__all__ = [
    "SPLITS",
    "AlgoOption",
    "AlgosOption",
    "AlphaOption",
    "BootstrapOption",
    "DataArgument",
    "DataOptions",
    "DelimiterOption",
    "EvalOptions",
    "FoldsOption",
    "FormatOption",
    "GradedOption",
    "HeaderOption",
    "ItemColumn",
    "JobsOption",
    "KOption",
    "LabelledParamOption",
    "LastKOption",
    "MetricOption",
    "ModelDirArgument",
    "NegativesOption",
    "ParamOption",
    "PrimaryOption",
    "RatingColumn",
    "ReportOption",
    "SeedOption",
    "SkipBadRowsOption",
    "SplitOption",
    "TestFractionOption",
    "ThresholdOption",
    "TimestampColumn",
    "UserColumn",
    "WeightColumn",
]

OnError = Literal["raise", "skip"]  # the readers' on_error values

# ------------------------------------------------------------------------------ models
AlgoOption = Annotated[str, typer.Option("--algo", "-a", help=f"Algorithm: {ALGORITHM_LIST}.")]
AlgosOption = Annotated[
    list[str], typer.Option("--algo", "-a", help=f"Algorithm NAME or LABEL=NAME (repeatable): {ALGORITHM_LIST}.")
]
ParamOption = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Algorithm parameter NAME=VALUE (repeatable).")
]
LabelledParamOption = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Parameter [ALGO.]NAME=VALUE (repeatable).")
]
ModelDirArgument = Annotated[Path, typer.Argument(help="A directory written by `likewise train`.")]

# ------------------------------------------------------------------------------ reading data
DataArgument = Annotated[
    str, typer.Argument(help="A CSV/TSV/Parquet file, a MovieLens-style folder, or a data set name.")
]
FormatOption = Annotated[
    str | None, typer.Option("--format", "-f", help="csv, tsv, parquet, ml-100k, ml-1m, ml-latest, lastfm-hetrec.")
]
UserColumn = Annotated[str, typer.Option(help="User id column.")]
ItemColumn = Annotated[str, typer.Option(help="Item id column.")]
RatingColumn = Annotated[str | None, typer.Option(help="Rating column (explicit feedback).")]
WeightColumn = Annotated[str | None, typer.Option(help="Weight column (implicit feedback: counts, plays).")]
TimestampColumn = Annotated[str | None, typer.Option(help="Timestamp column.")]
DelimiterOption = Annotated[str | None, typer.Option(help="Field delimiter (default from the file suffix).")]
HeaderOption = Annotated[bool, typer.Option("--header/--no-header", help="Whether the file has a header line.")]
SkipBadRowsOption = Annotated[
    bool, typer.Option("--skip-bad-rows", help="Skip and count malformed rows instead of failing.")
]


@dataclass(frozen=True)
class DataOptions:
    """How to read DATA: the reading options of train, evaluate and compare."""

    fmt: str | None
    user: str
    item: str
    rating: str | None
    weight: str | None
    timestamp: str | None
    delimiter: str | None
    header: bool
    on_error: OnError = "raise"


# ------------------------------------------------------------------------------ evaluation
SPLITS = ("user", "random", "last-k", "temporal", "cold-user", "cold-item")  # also "cold-users" / "cold-items"

SplitOption = Annotated[str, typer.Option(help=f"Split: {', '.join(SPLITS)}.")]
TestFractionOption = Annotated[float, typer.Option(help="Held-out share (user, random, temporal, cold-* splits).")]
LastKOption = Annotated[int, typer.Option(help="Interactions held out per user with --split last-k.")]
KOption = Annotated[int, typer.Option("-k", help="Length of the recommendation lists.")]
MetricOption = Annotated[
    list[str] | None, typer.Option("--metric", "-m", help="Metric to compute (repeatable; default: a standard set).")
]
ThresholdOption = Annotated[
    float | None, typer.Option(help="Held-out values >= this are relevant (e.g. 4 for 1-5 ratings).")
]
GradedOption = Annotated[bool, typer.Option("--graded", help="Graded NDCG: held-out values are the gains.")]
NegativesOption = Annotated[int | None, typer.Option(help="Rank each user's relevant items among N sampled negatives.")]
FoldsOption = Annotated[int | None, typer.Option(help="Cross-validate over this many folds instead of one split.")]
JobsOption = Annotated[int, typer.Option("--jobs", "-j", help="Worker processes for --folds (-1: one per core).")]
BootstrapOption = Annotated[int, typer.Option(help="Bootstrap resamples for the intervals (0: none).")]
AlphaOption = Annotated[float, typer.Option(help="Significance level of the paired tests (Holm-adjusted).")]
PrimaryOption = Annotated[str | None, typer.Option(help="Metric to sort by and test (default: ndcg when computed).")]
SeedOption = Annotated[int, typer.Option(help="Seed of the split, bootstrap and sampled negatives.")]
ReportOption = Annotated[
    Path | None, typer.Option("--report", "-r", help="Write a report folder here (JSON, Markdown, PNG).")
]


@dataclass(frozen=True)
class EvalOptions:
    """What evaluate and compare do with the models: split, metrics, intervals, tests, report."""

    split: str
    test_fraction: float
    last_k: int
    k: int
    metrics: tuple[str, ...]
    threshold: float | None
    graded: bool
    negatives: int | None
    bootstrap: int
    alpha: float
    primary: str | None
    seed: int
    report: Path | None
    folds: int | None = None
    jobs: int = 1

    def __post_init__(self) -> None:
        if self.k < 1:
            raise InvalidParameterError(f"-k must be a positive integer, got {self.k}")
