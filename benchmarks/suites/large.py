"""Large: id mapping and reading a MovieLens-25M-sized ratings CSV (issue 15).

Each measurement runs in a fresh process (`run_isolated`) so its peak memory is its own.

- Id mapping: ``IdMap.encode`` (one hashing pass, then a sort of the distinct ids) on 25M
  string ids drawn from ML-25M's 162,541 users, as an Arrow string column (what the readers
  hold) and as an object array of Python strings (what a pandas column holds), beside
  ``pandas.factorize`` on the same object array (first-seen codes, no sort: the floor).
- CSV read: a ratings file in ML-25M's format (``userId,movieId,rating,timestamp``, sorted by
  user as the real file is) generated in a temporary folder, read by ``likewise.read_csv``
  into the validated CSR and by ``pandas.read_csv`` into a DataFrame (no validation, no CSR).

`--quick` uses 2.5M ids and a 1M-row file; the full run 25M of each.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from benchmarks.harness import BenchContext, Row, run_isolated

SUITE = "large"
DESCRIPTION = (
    "Id mapping of 25M string ids (162,541 distinct, ML-25M's user count) with IdMap.encode "
    "beside pandas.factorize, and reading a generated ratings CSV in MovieLens 25M's format "
    "(25M rows) with likewise.read_csv (validated, into the CSR) beside pandas.read_csv (a "
    "DataFrame only). Each in a fresh process; peak memory is that process's. `--quick`: 2.5M "
    "ids, 1M rows."
)
N_DISTINCT_USERS = 162_541
N_ITEMS = 59_047
FULL_N, QUICK_IDS, QUICK_ROWS = 25_000_000, 2_500_000, 1_000_000


def _string_ids(n: int) -> Any:
    import numpy as np

    rng = np.random.default_rng(0)
    vocab = np.array([f"user{i:07d}" for i in range(N_DISTINCT_USERS)], dtype=object)
    return vocab[rng.integers(0, vocab.size, n)]


def _map_ids(how: str, n: int) -> dict[str, float]:
    """In a fresh process: build the ids, then time one mapping of them."""
    import time

    import pandas as pd
    import pyarrow as pa

    from likewise.data import IdMap

    raw = _string_ids(n)
    if how == "arrow":
        raw = pa.array(raw, type=pa.string())
    start = time.perf_counter()
    if how == "factorize":
        codes, uniques = pd.factorize(raw)
        n_distinct = len(uniques)
    else:
        idmap, codes = IdMap.encode(raw, name="user")
        n_distinct = len(idmap)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "distinct": float(n_distinct), "rows": float(len(codes))}


def write_ratings_csv(path: str, n_rows: int, seed: int = 0) -> None:
    """A ratings file in ML-25M's format and proportions, written in blocks (bounded memory)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    per_user = max(1, n_rows // N_DISTINCT_USERS)
    block = 1_000_000
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("userId,movieId,rating,timestamp\n")
        for start in range(0, n_rows, block):
            size = min(block, n_rows - start)
            rows = np.arange(start, start + size)
            frame = pd.DataFrame(
                {
                    "userId": rows // per_user + 1,
                    "movieId": rng.integers(1, N_ITEMS + 1, size),
                    "rating": rng.integers(1, 11, size) / 2,
                    "timestamp": rng.integers(789_652_009, 1_574_327_703, size),
                }
            )
            frame.to_csv(out, header=False, index=False)


def _read(how: str, path: str) -> dict[str, float]:
    """In a fresh process: time one read of the file."""
    import time

    start = time.perf_counter()
    if how == "pandas":
        import pandas as pd

        n = len(pd.read_csv(path))
    else:
        import likewise

        data = likewise.read_csv(
            path, user="userId", item="movieId", rating="rating", timestamp="timestamp", duplicates="last"
        )
        n = data.nnz
    return {"seconds": time.perf_counter() - start, "rows": float(n)}


def _id_rows(ctx: BenchContext) -> list[Row]:
    n = QUICK_IDS if ctx.quick else FULL_N
    rows = []
    for how, library, algorithm in (
        ("arrow", "likewise", "IdMap.encode (Arrow string column)"),
        ("object", "likewise", "IdMap.encode (Python strings)"),
        ("factorize", "pandas", "pandas.factorize (Python strings)"),
    ):
        print(f"  id mapping: {algorithm} ...", flush=True)
        out, peak_mb = run_isolated(_map_ids, how, n, threads=ctx.threads)
        rows.append(
            Row(
                suite=SUITE,
                task="map string ids to dense indices",
                dataset=f"{n / 1e6:g}M string ids, {int(out['distinct']):,} distinct",
                library=library,
                algorithm=algorithm,
                params={"input": how},
                metrics={"ids per second (M)": out["rows"] / out["seconds"] / 1e6},
                fit_s=out["seconds"],
                peak_mb=peak_mb,
                threads=ctx.threads,
                notes="IdMap.encode returns sorted ids; factorize first-seen ones (no sort)",
                pair="idmap" if how != "arrow" else None,
            )
        )
    return rows


def _csv_rows(ctx: BenchContext) -> list[Row]:
    n = QUICK_ROWS if ctx.quick else FULL_N
    rows = []
    with tempfile.TemporaryDirectory(prefix="likewise-large-") as folder:
        path = os.path.join(folder, "ratings.csv")
        print(f"  writing a {n:,}-row ratings.csv ...", flush=True)
        write_ratings_csv(path, n, ctx.seed)
        size_mb = os.path.getsize(path) / 2**20
        for how, library, algorithm in (
            ("likewise", "likewise", "read_csv (validated, to CSR)"),
            ("pandas", "pandas", "read_csv (DataFrame)"),
        ):
            print(f"  reading with {library} ...", flush=True)
            out, peak_mb = run_isolated(_read, how, path, threads=ctx.threads)
            rows.append(
                Row(
                    suite=SUITE,
                    task="read a ratings CSV",
                    dataset=f"ML-25M-format CSV, {n / 1e6:g}M rows, {size_mb:,.0f} MB",
                    library=library,
                    algorithm=algorithm,
                    params={},
                    metrics={"rows per second (M)": out["rows"] / out["seconds"] / 1e6},
                    fit_s=out["seconds"],
                    peak_mb=peak_mb,
                    threads=ctx.threads,
                    pair="read_csv",
                )
            )
    return rows


def run(ctx: BenchContext) -> list[Row]:
    """Id mapping and CSV reading rows; see `DESCRIPTION`."""
    return _id_rows(ctx) + _csv_rows(ctx)
