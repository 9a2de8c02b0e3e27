"""Rating accuracy on ml-latest-small (100,836 ratings, 610 users, 9,742 movies): the accuracy
suite's models beside Surprise's and LensKit's, 5-fold random CV (seed 42).

A suite of its own so that each publication run stays within ~15 minutes: Surprise's SVD++
alone takes ~100 s per fold here. ``--quick``: 2 folds, without Surprise's SVD++. ml-latest-small
was not used for any tuning. See ``_accuracy`` for the models, threads and intervals.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.harness import HOLDOUT_SEED, BenchContext, Row
from benchmarks.suites import _accuracy

SUITE = "accuracy-latest"
DESCRIPTION = (
    "Rating accuracy on ml-latest-small, one thread per library: likewise's Blend, BayesianMF (plain and "
    "Bayesian SVD++), TimeSVDpp, SVD, "
    "SVD++ and ItemKNN pearson-baseline beside Surprise's SVD and SVD++ and LensKit's BiasedMF and ItemKNN, "
    "5-fold random CV; RMSE with 95% intervals over folds, fit seconds per fold."
)
TASK = "rating prediction, random 5-fold CV"


def run(ctx: BenchContext) -> list[Row]:
    from likewise.data.movielens import read_ml_latest
    from likewise.evaluation import kfold

    folder = Path(ctx.data_dir) / "ml-latest-small"
    if not (folder / "ratings.csv").exists():
        ctx.note(f"skipped: no {folder / 'ratings.csv'}")
        return []
    splits = kfold(read_ml_latest(folder), n_splits=2 if ctx.quick else 5, random_state=HOLDOUT_SEED)
    folds = [(split.train, split.test) for split in splits]
    results = _accuracy.run_folds(ctx, "ml-latest-small", folds, surprise_svdpp=not ctx.quick)
    rows = _accuracy.cv_rows(SUITE, TASK, "ml-latest-small", results)
    for note in _accuracy.best_notes(rows):
        ctx.note(note)
    if ctx.quick:
        ctx.note("--quick: 2 folds, BayesianMF with 50 samples (30 inside Blend), no Surprise SVD++")
    ctx.note(
        "RMSE ±95%: t interval of the mean over folds. TimeSVDpp and Blend predict each test rating at its timestamp"
    )
    ctx.note("accuracy figures do not depend on machine load (seeded); fit seconds do")
    return rows
