"""Standalone probe (no harness): Surprise SVD's fit time on MovieLens 100K against row order.

    /usr/bin/time -v python benchmarks/probe_surprise.py [ML100K_DIR] [sorted|random|file]

Builds the 80% training part of a seeded 80/20 split of ``u.data`` and times ``SVD().fit``
three times. ``file`` uses Surprise's own loader on the file (whose rows are in no order),
``sorted`` builds the trainset from the same ratings sorted by user then item, ``random`` from
them in a seeded random order. Issue 11, finding 2: on this kind of machine ``sorted`` fits in
~0.6 s and ``random`` / ``file`` in ~1.5 s, the same ratings and the same model: Surprise's loop
visits one Python tuple per rating user by user, and rows read in random order leave those
tuples scattered in memory. Nothing here imports likewise.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import surprise
from surprise.model_selection import train_test_split


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"
    order = argv[1] if len(argv) > 1 else "sorted"
    reader = surprise.Reader("ml-100k")
    data = surprise.Dataset.load_from_file(str(folder / "u.data"), reader)
    train, _ = train_test_split(data, test_size=0.2, random_state=42)
    if order != "file":
        rows = [(train.to_raw_uid(u), train.to_raw_iid(i), r) for u, i, r in train.all_ratings()]
        frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
        if order == "sorted":
            frame = frame.sort_values(["user", "item"]).reset_index(drop=True)
        else:
            frame = frame.iloc[np.random.default_rng(42).permutation(len(frame))].reset_index(drop=True)
        train = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    for _ in range(3):
        start = time.perf_counter()
        surprise.SVD(random_state=42).fit(train)
        print(f"{order}: SVD fit {time.perf_counter() - start:.3f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
