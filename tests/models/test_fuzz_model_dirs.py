"""Issue 17 "Every reader fuzzed": ``likewise.load`` on randomly mutated model directories.

A small fitted model (Popularity, ALS, ItemKNN on ``tiny_ratings()``) is saved, then one of
meta.json, manifest.json or arrays.npz gets random byte flips, truncations or insertions,
either left as is (the checksums must catch it) or resealed with `reseal` (the validation
behind the checksums must catch it). Property: ``load`` raises only ModelFormatError, or
returns a model whose ``recommend(model.users_.ids[:2], n=3)`` raises nothing but a
LikewiseError.

The budget follows ``LIKEWISE_FUZZ_EXAMPLES`` as in tests/data/test_fuzz_readers.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likewise import load
from likewise.exceptions import LikewiseError, ModelFormatError
from likewise.models.als import ALS
from likewise.models.base import Recommender
from likewise.models.knn import ItemKNN
from likewise.models.popular import Popularity
from likewise.testing import tiny_ratings
from tests.models._model_dirs import reseal

_BUDGET = os.environ.get("LIKEWISE_FUZZ_EXAMPLES")
FAST = settings(
    max_examples=int(_BUDGET) if _BUDGET else 60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_INSERTS = [b"\x00", b"{", b"}", b'"', b",", b"-1", b"1e999", b"NaN", b"\xff", b"PK\x03\x04", b"[]"]
_edit = st.tuples(st.sampled_from(["flip", "truncate", "insert", "delete"]), st.floats(0, 1), st.integers(0, 255))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    models: dict[str, Recommender] = {
        "popularity": Popularity(by="rating").fit(tiny_ratings()),
        "als": ALS(n_factors=2, n_epochs=2, random_state=0).fit(tiny_ratings()),
        "itemknn": ItemKNN(k=2).fit(tiny_ratings()),
    }
    root = tmp_path_factory.mktemp("fuzz-models")
    for name, model in models.items():
        model.save(root / name)
    return {name: root / name for name in models}


def mutate(buf: bytes, edits: list[tuple[str, float, int]]) -> bytes:
    out = bytearray(buf)
    for kind, where, arg in edits:
        pos = min(int(where * len(out)), max(len(out) - 1, 0))
        if kind == "flip" and out:
            out[pos] = arg
        elif kind == "truncate":
            del out[pos:]
        elif kind == "delete" and out:
            del out[pos]
        elif kind == "insert":
            out[pos:pos] = _INSERTS[arg % len(_INSERTS)]
    return bytes(out)


@FAST
@given(
    st.sampled_from(["popularity", "als", "itemknn"]),
    st.sampled_from(["meta.json", "manifest.json", "arrays.npz"]),
    st.lists(_edit, min_size=1, max_size=4),
    st.booleans(),
)
def test_mutated_model_dirs_load_or_refuse(
    saved: dict[str, Path], family: str, name: str, edits: list[tuple[str, float, int]], seal: bool
) -> None:
    with tempfile.TemporaryDirectory(prefix="likewise-fuzz-model-") as scratch:
        path = Path(scratch) / "model"
        shutil.copytree(saved[family], path)
        target = path / name
        target.write_bytes(mutate(target.read_bytes(), edits))
        if seal and name != "manifest.json":
            reseal(path)
        try:
            model = load(path)
        except ModelFormatError:
            return
        try:
            model.recommend(model.users_.ids[:2], n=3)
        except LikewiseError:
            pass
