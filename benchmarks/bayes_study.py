"""BayesianMF's factorization-machine options on MovieLens 100K: a study, not a suite.

Runs BayesianMF plain, with ``implicit_feedback`` (Bayesian SVD++) and with
``implicit_feedback`` + ``flipped`` on the 5 folds every rating suite uses
(`benchmarks.harness.ml100k_folds`: random folds, seed 42), and prints a table of the mean RMSE
(95% t interval over folds) and fit seconds per fold; ``--json PATH`` writes the rows.
Accuracy does not depend on machine load (seeded; the draws do not depend on the thread
count); the seconds do: run it under the exclusive benchmark lock to report them.

    python -m benchmarks.bayes_study [--folds 5] [--threads 2] [--configs plain,svdpp,...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import HOLDOUT_SEED, ml100k, rating_metrics

CONFIGS: dict[str, dict[str, Any]] = {
    "plain f10": {"n_factors": 10, "n_samples": 200, "burn_in": 20},
    "svdpp f10": {"n_factors": 10, "n_samples": 200, "burn_in": 20, "implicit_feedback": True},
    "svdpp+flipped f10": {"n_factors": 10, "n_samples": 200, "burn_in": 20, "implicit_feedback": True, "flipped": True},
    "svdpp f32": {"n_factors": 32, "n_samples": 200, "burn_in": 20, "implicit_feedback": True},
    "svdpp+flipped f32": {"n_factors": 32, "n_samples": 200, "burn_in": 20, "implicit_feedback": True, "flipped": True},
    "svdpp+flipped f10 s500": {
        "n_factors": 10,
        "n_samples": 500,
        "burn_in": 50,
        "implicit_feedback": True,
        "flipped": True,
    },
    "flipped f10": {"n_factors": 10, "n_samples": 200, "burn_in": 20, "flipped": True},
}


def _t95(values: list[float]) -> float:
    from scipy import stats

    n = len(values)
    return float(stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")


def main(argv: list[str] | None = None) -> int:
    from likewise.evaluation import kfold
    from likewise.models import BayesianMF

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--data-dir", default="/work/shared/data")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    folds = list(kfold(ml100k(Path(args.data_dir)), n_splits=5, random_state=HOLDOUT_SEED))[: args.folds]
    rows = []
    for name in args.configs.split(","):
        params = CONFIGS[name]
        rmses, seconds = [], []
        for k, split in enumerate(folds):
            model = BayesianMF(**params, random_state=42, n_threads=args.threads)
            start = time.perf_counter()
            model.fit(split.train)
            seconds.append(time.perf_counter() - start)
            test = split.test
            pred = model.predict(test.users.to_ids(test.user_indices), test.items.to_ids(test.item_indices))
            rmses.append(rating_metrics(pred, test.values)["rmse"])
            print(f"  {name} fold {k + 1}: rmse {rmses[-1]:.4f}, fit {seconds[-1]:.1f} s", file=sys.stderr, flush=True)
        rows.append({"config": name, "params": params, "rmse": float(np.mean(rmses)), "rmse_ci95": _t95(rmses),
                     "rmse_folds": rmses, "fit_s": seconds, "threads": args.threads})  # fmt: skip
        print(f"| {name} | {np.mean(rmses):.4f} ± {_t95(rmses):.4f} | {np.mean(seconds):.1f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
