"""Releasing the memory a streaming read freed (issue 15, item 5; likewise.data._memory)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

import likewise
from likewise.data import _memory, readers


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_release_never_raises_and_reports_trimming() -> None:
    trimmed = _memory.release_freed_memory()
    assert isinstance(trimmed, bool)
    if not sys.platform.startswith("linux"):
        assert trimmed is False


@pytest.mark.skipif(_memory._glibc() is None, reason="malloc_trim is a glibc extension")
def test_release_returns_a_fragmented_heap_to_the_os() -> None:
    # 300 MB of 4 KB buffers (malloc's heap, below its mmap threshold), every 64th kept alive:
    # the freed chunks between the survivors cannot be returned by free(), only by a trim.
    blocks = [bytearray(4096) for _ in range(75_000)]
    keep = blocks[::64]
    del blocks
    before = _rss_mb()
    assert _memory.release_freed_memory() is True
    after = _rss_mb()
    assert before - after > 100, f"resident {before:.0f} MB before the release, {after:.0f} MB after"
    del keep


@pytest.mark.parametrize("reader", ["csv", "parquet"])
def test_readers_release_after_building(reader: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(readers, "release_freed_memory", lambda: calls.append(1) or True)
    path = tmp_path / "log.csv"
    path.write_text("user,item,rating\n1,10,4\n2,10,3\n2,11,5\n")
    if reader == "csv":
        inter = likewise.read_csv(path, rating="rating")
    else:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        pq.write_table(pacsv.read_csv(path), tmp_path / "log.parquet")
        inter = likewise.read_parquet(tmp_path / "log.parquet", rating="rating")
    assert inter.nnz == 3
    assert calls == [1]


def test_fit_releases_once_the_model_is_learned(monkeypatch: pytest.MonkeyPatch) -> None:
    from likewise.models import Popularity, base

    calls = []
    monkeypatch.setattr(base, "release_freed_memory", lambda: calls.append(1) or True)
    inter = likewise.Interactions.from_frame(pd.DataFrame({"user": [1, 2, 2], "item": [10, 10, 11]}))
    Popularity().fit(inter)
    assert calls == [1]
