"""The papers' MovieLens 100K splits u1..u5: rebuilt from u.data as mku.sh does, or read from u*.base / u*.test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from likewise.data.movielens import ml100k_official_folds, read_ml100k
from likewise.exceptions import DataError
from tests._paths import SHARED_DATA

ROWS = 100_000


def _lines(seed: int = 0) -> list[str]:
    """100,000 distinct (user, item) ratings in a shuffled file order, as u.data."""
    rng = np.random.default_rng(seed)
    cells = rng.permutation(1000 * 120)[:ROWS]
    users, items = cells // 120 + 1, cells % 120 + 1
    ratings = rng.integers(1, 6, ROWS)
    stamps = 880_000_000 + rng.integers(0, 10**7, ROWS)
    return [f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in zip(users, items, ratings, stamps, strict=True)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ml-100k")
    (root / "u.data").write_text("".join(_lines()), encoding="latin-1")
    return root


def _pairs(data, lines: list[str] | None = None) -> set[tuple[int, int, float, int]]:
    if lines is not None:
        return {(int(a), int(b), float(c), int(d)) for a, b, c, d in (line.split("\t") for line in lines)}
    users = data.users.ids[data.user_indices]
    items = data.items.ids[data.item_indices]
    return set(
        zip(users.tolist(), items.tolist(), data.values.astype(float).tolist(), data.timestamps.tolist(), strict=True)
    )


def test_folds_are_the_file_order_blocks(folder):
    lines = (folder / "u.data").read_text(encoding="latin-1").splitlines(keepends=True)
    folds = ml100k_official_folds(folder)
    assert len(folds) == 5
    everything = _pairs(None, lines)
    tests = []
    for number, (train, test) in enumerate(folds, start=1):
        assert (train.nnz, test.nnz) == (80_000, 20_000)
        block = _pairs(None, lines[(number - 1) * 20_000 : number * 20_000])
        assert _pairs(test) == block  # ratings and timestamps too
        assert _pairs(train) == everything - block
        assert train.users == test.users and train.items == test.items
        assert "mku.sh" in test.report.source
        tests.append(_pairs(test))
    assert set().union(*tests) == everything
    assert sum(len(t) for t in tests) == ROWS  # disjoint


def test_base_and_test_files_are_read_when_present(tmp_path, folder, caplog):
    lines = (folder / "u.data").read_text(encoding="latin-1").splitlines(keepends=True)
    (tmp_path / "u.data").write_text("".join(lines), encoding="latin-1")
    # other blocks than mku.sh's, to see that the files (not the rows) define the folds
    rng = np.random.default_rng(1)
    order = rng.permutation(ROWS)
    for number in range(1, 6):
        held = set(order[(number - 1) * 20_000 : number * 20_000].tolist())
        test = [lines[r] for r in sorted(held)]
        base = [lines[r] for r in range(ROWS) if r not in held]
        (tmp_path / f"u{number}.test").write_text("".join(sorted(test)), encoding="latin-1")
        (tmp_path / f"u{number}.base").write_text("".join(sorted(base)), encoding="latin-1")
    with caplog.at_level("INFO", logger="likewise.data"):
        folds = ml100k_official_folds(tmp_path)
    assert "u1.base" in caplog.text
    first_test = {lines[r] for r in order[:20_000]}
    assert _pairs(folds[0][1]) == _pairs(None, sorted(first_test))
    assert folds[0][1].report.source.endswith("u1.test")


def test_base_file_overlapping_test_is_refused(tmp_path, folder):
    lines = (folder / "u.data").read_text(encoding="latin-1").splitlines(keepends=True)
    (tmp_path / "u.data").write_text("".join(lines), encoding="latin-1")
    for number in range(1, 6):
        (tmp_path / f"u{number}.test").write_text("".join(lines[:20_000]), encoding="latin-1")
        (tmp_path / f"u{number}.base").write_text("".join(lines[10_000:]), encoding="latin-1")
    with pytest.raises(DataError, match="two disjoint parts"):
        ml100k_official_folds(tmp_path)


def test_wrong_number_of_rows_is_refused(tmp_path):
    (tmp_path / "u.data").write_text("".join(_lines()[:99_999]), encoding="latin-1")
    with pytest.raises(DataError, match="99,999"):
        ml100k_official_folds(tmp_path)


def test_duplicate_lines_are_refused(tmp_path):
    lines = _lines()
    lines[5] = lines[7]
    (tmp_path / "u.data").write_text("".join(lines), encoding="latin-1")
    with pytest.raises(DataError, match="duplicate"):
        ml100k_official_folds(tmp_path)


@pytest.mark.skipif(not (SHARED_DATA / "ml-100k" / "u.data").exists(), reason="MovieLens 100K not available")
def test_real_ml100k():
    folds = ml100k_official_folds(SHARED_DATA / "ml-100k")
    data = read_ml100k(SHARED_DATA / "ml-100k")
    assert [(tr.nnz, te.nnz) for tr, te in folds] == [(80_000, 20_000)] * 5
    # first line of u.data ("196	242	3	881250949") is in u1.test
    first = folds[0][1]
    uidx, iidx = data.users.to_index([196])[0], data.items.to_index([242])[0]
    row = first.matrix[uidx].toarray().ravel()
    assert row[iidx] == 3.0
