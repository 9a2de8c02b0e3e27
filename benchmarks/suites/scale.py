"""Scale sets: generate the 1M / 5M / 25M synthetic logs and time Popularity on them.

Every scale comparison (ALS, BPR, item-kNN ...) runs on these sets through
``ctx.synthetic(n, kind=...)``; this suite records what producing them costs and the
cheapest possible model on them (fit + top-10 for every user), each in a fresh process so
the peak memory is the set's own.
"""

from __future__ import annotations

from typing import Any

from benchmarks.harness import BenchContext, Row, run_isolated, scale_name, synthetic

SUITE = "scale"
DESCRIPTION = (
    "Synthetic implicit logs shaped like MovieLens (users and items grow with the log in ML-25M's "
    "proportions: 25M interactions -> 160k users x 60k items; power-law item popularity, heavy-tailed "
    "user activity, 18 genres). Each size runs in a fresh process: generate the set, fit Popularity, "
    "recommend top-10 for every user. Peak memory is that process's. `--quick` stops at 5M."
)
TASK = "generate + Popularity fit + top-10 for every user"
SIZES = (1_000_000, 5_000_000, 25_000_000)
QUICK_SIZES = (1_000_000, 5_000_000)


def _measure(n_interactions: int, threads: int) -> dict[str, Any]:
    """In a fresh process: generate the set, fit Popularity, recommend for everyone."""
    import time

    from likewise.models import Popularity

    start = time.perf_counter()
    data = synthetic(n_interactions, "implicit", 0)
    generate_s = time.perf_counter() - start
    model = Popularity()
    start = time.perf_counter()
    model.fit(data)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    recs = model.recommend(data.users.ids, n=10)
    predict_s = time.perf_counter() - start
    return {
        "users": data.n_users,
        "items": data.n_items,
        "interactions": data.nnz,
        "generate_s": generate_s,
        "fit_s": fit_s,
        "predict_s": predict_s,
        "filled": float((recs.indices >= 0).mean()),
    }


def run(ctx: BenchContext) -> list[Row]:
    """One row per scale set; see `DESCRIPTION`."""
    rows = []
    for n in QUICK_SIZES if ctx.quick else SIZES:
        print(f"  {scale_name(n)} ...", flush=True)
        out, peak_mb = run_isolated(_measure, n, ctx.threads, threads=ctx.threads)
        rows.append(
            Row(
                suite=SUITE,
                task=TASK,
                dataset=scale_name(n),
                library="likewise",
                algorithm="Popularity",
                params={"by": "count"},
                metrics={
                    "users": out["users"],
                    "items": out["items"],
                    "interactions": out["interactions"],
                    "density %": round(100.0 * out["interactions"] / (out["users"] * out["items"]), 3),
                    "generate s": round(out["generate_s"], 2),
                },
                fit_s=out["fit_s"],
                predict_s=out["predict_s"],
                peak_mb=peak_mb,
                threads=ctx.threads,
                notes="peak includes generating the set",
            )
        )
    return rows
