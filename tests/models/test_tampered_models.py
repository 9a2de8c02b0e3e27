"""Issue 18, item 1: loading trusts nothing in a model directory.

A corpus of tampered directories, each refused with a ModelFormatError that names the file
and the reason, without importing anything (sys.modules is unchanged) and without the CLI
running. Most cases reseal the manifest afterwards, as an attacker who can write the directory
would: they check the validation behind the checksums. The corpus runs over one model per
family (Popularity, ALS, SVD, ItemKNN, EASE) wherever the case applies.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from likewise import load
from likewise.exceptions import ModelFormatError
from likewise.models import _persistence
from likewise.models._params import Interval
from likewise.models.als import ALS
from likewise.models.base import Recommender
from likewise.models.ease import EASE
from likewise.models.knn import ItemKNN
from likewise.models.popular import Popularity
from likewise.models.svd import SVD
from likewise.testing import checkerboard, tiny_ratings
from tests.models._model_dirs import (
    edit_meta,
    npy_bytes,
    read_arrays,
    read_meta,
    reseal,
    write_arrays,
    write_meta,
    write_zip,
)

FAMILIES: dict[str, Callable[[], Recommender]] = {
    "popularity": lambda: Popularity(by="rating").fit(tiny_ratings()),
    "als": lambda: ALS(n_factors=4, n_epochs=3, random_state=0).fit(checkerboard()[0]),
    "svd": lambda: SVD(n_factors=4, n_epochs=3, random_state=0).fit(tiny_ratings()),
    "itemknn": lambda: ItemKNN(k=3).fit(checkerboard()[0]),
    "ease": lambda: EASE().fit(checkerboard()[0]),
}


@pytest.fixture(scope="module")
def fitted() -> dict[str, Recommender]:
    return {name: make() for name, make in FAMILIES.items()}


@pytest.fixture(params=sorted(FAMILIES))
def model_dir(request: pytest.FixtureRequest, fitted: dict[str, Recommender], tmp_path: Path) -> Path:
    path = tmp_path / "model"
    fitted[request.param].save(path)
    return path


def refused(path: Path, match: str) -> ModelFormatError:
    """load(path) raises ModelFormatError matching `match`, imports nothing and never exits."""
    before = set(sys.modules)
    try:
        with pytest.raises(ModelFormatError, match=match) as info:
            load(path)
    except SystemExit:  # pragma: no cover - the bug of issue 18
        pytest.fail("loading a model directory ran the command line")
    # zipfile may load the cp437 codec for member names; nothing else may be imported.
    assert {m for m in set(sys.modules) - before if not m.startswith("encodings.")} == set()
    return info.value


def model_arrays(path: Path) -> dict[str, np.ndarray]:
    common = {"users", "items", "seen_indptr", "seen_indices", "seen_data", "item_titles"}
    return {k: v for k, v in read_arrays(path).items() if k not in common}


def first_float(path: Path) -> str | None:
    return next((k for k, v in sorted(model_arrays(path).items()) if v.dtype.kind == "f" and v.size), None)


def change_array(path: Path, name: str, value: np.ndarray) -> None:
    arrays = read_arrays(path)
    arrays[name] = value
    write_arrays(path, arrays)


def bounded_param(path: Path) -> tuple[str, Any] | None:
    """A parameter with a numeric lower bound and a value just below it."""
    cls = type(load(path))
    for name, constraints in sorted(cls._parameter_constraints.items()):
        if all(isinstance(c, Interval) and c.low is not None for c in constraints):
            return name, constraints[0].low - 1
    return None


# --------------------------------------------------------------------------- the class


@pytest.mark.parametrize(
    "crafted",
    [
        "likewise.__main__:X",
        "likewise.__main__:main",
        "likewise.cli:app",
        "likewise.cli._app:app",
        "os:system",
        "builtins:eval",
        "antigravity:Fly",
        "likewise.models.base:Recommender",
        "",
    ],
)
def test_crafted_class_paths_import_nothing(model_dir: Path, crafted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 18: load() used to import whatever likewise.* module meta.json named; with
    # "likewise.__main__:X" it ran the CLI with the host's argv and raised SystemExit.
    monkeypatch.setattr(sys, "argv", ["likewise", "--help"])
    edit_meta(model_dir, **{"class": crafted})
    had_main = "likewise.__main__" in sys.modules
    refused(model_dir, f"model class {crafted!r} is not a registered likewise model")
    assert ("likewise.__main__" in sys.modules) == had_main


def test_class_must_be_a_string(model_dir: Path) -> None:
    edit_meta(model_dir, **{"class": ["likewise.cli", "app"]})
    refused(model_dir, "class must be a JSON string")


def test_another_registered_class(model_dir: Path) -> None:
    other = "random" if read_meta(model_dir)["class"] != "random" else "popularity"
    edit_meta(model_dir, **{"class": other})
    refused(model_dir, "has no parameter|is missing")


# --------------------------------------------------------------------------- parameters


def test_unknown_parameter_name(model_dir: Path) -> None:
    meta = read_meta(model_dir)
    edit_meta(model_dir, params={**meta["params"], "__class__": "os.system"})
    refused(model_dir, r"meta\.json: \w+ has no parameter '__class__'")


def test_missing_parameter(model_dir: Path) -> None:
    params = read_meta(model_dir)["params"]
    name = sorted(params)[0]
    del params[name]
    edit_meta(model_dir, params=params)
    refused(model_dir, rf"meta\.json: parameter '{name}' of \w+ is missing")


def test_parameter_of_the_wrong_type(model_dir: Path) -> None:
    params = read_meta(model_dir)["params"]
    cls = type(load(model_dir))
    name = sorted(cls._parameter_constraints)[0]
    edit_meta(model_dir, params={**params, name: {"$eval": "1"}})
    refused(model_dir, rf"meta\.json: \w+: parameter '{name}' must be .*; got \{{'\$eval': '1'\}}")


def test_parameter_out_of_range(model_dir: Path) -> None:
    found = bounded_param(model_dir)
    if found is None:
        pytest.skip("no bounded numeric parameter")
    name, value = found
    edit_meta(model_dir, params={**read_meta(model_dir)["params"], name: value})
    refused(model_dir, rf"parameter '{name}' must be .* in \[.*; got {value!r}")


def test_params_not_an_object(model_dir: Path) -> None:
    edit_meta(model_dir, params=["n_factors", 4])
    refused(model_dir, "params must be a JSON object")


# --------------------------------------------------------------------------- checksums and files


def test_meta_checksum(model_dir: Path) -> None:
    edit_meta(model_dir, seal=False, n_users=1)
    refused(model_dir, r"meta\.json: checksum mismatch with manifest\.json")


def test_arrays_checksum(model_dir: Path) -> None:
    blob = bytearray((model_dir / "arrays.npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (model_dir / "arrays.npz").write_bytes(bytes(blob))
    refused(model_dir, r"arrays\.npz: checksum mismatch")


def test_arrays_size(model_dir: Path) -> None:
    with open(model_dir / "arrays.npz", "ab") as fh:
        fh.write(b"\0")
    refused(model_dir, r"arrays\.npz: size \d+ bytes differs from manifest\.json")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda m: {**m, "format_version": 3}, "model format version 3 is not supported"),
        (lambda m: {**m, "files": {"meta.json": m["files"]["meta.json"]}}, "must list exactly"),
        (lambda m: {**m, "signed_by": "me"}, "unexpected keys"),
        (
            lambda m: {**m, "files": {**m["files"], "arrays.npz": {"sha256": "x" * 64, "size": 1}}},
            "malformed entry for arrays.npz",
        ),
        (lambda m: [m], "not a likewise model manifest"),
    ],
    ids=["version", "files", "extra-key", "bad-digest", "not-an-object"],
)
def test_malformed_manifest(model_dir: Path, change: Callable[[Any], Any], match: str) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    (model_dir / "manifest.json").write_text(json.dumps(change(manifest)))
    refused(model_dir, rf"manifest\.json: .*{match}")


@pytest.mark.parametrize("name", ["meta.json", "arrays.npz", "manifest.json"])
def test_missing_file(model_dir: Path, name: str) -> None:
    (model_dir / name).unlink()
    refused(model_dir, "not a likewise model directory|manifest.json: missing")


@pytest.mark.parametrize("name", ["meta.json", "arrays.npz", "manifest.json"])
def test_symlinked_file(model_dir: Path, name: str, tmp_path: Path) -> None:
    real = tmp_path / f"elsewhere-{name}"
    shutil.move(model_dir / name, real)
    os.symlink(real, model_dir / name)
    refused(model_dir, rf"{name}: is a symbolic link")


def test_symlinked_directory(model_dir: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    os.symlink(model_dir, link)
    refused(link, r"link: is a symbolic link")
    assert load(model_dir).is_fitted  # the real directory is fine


def test_size_limit_before_reading(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_persistence, "MAX_META_BYTES", 100)
    refused(model_dir, r"meta\.json: \d+ bytes is over the 100-byte limit")
    monkeypatch.setattr(_persistence, "MAX_ARRAYS_BYTES", 100)
    monkeypatch.setattr(_persistence, "MAX_META_BYTES", 1 << 20)
    refused(model_dir, r"arrays\.npz: \d+ bytes is over the 100-byte limit")


# --------------------------------------------------------------------------- meta.json content


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"n_users": -1}, "n_users must be a non-negative integer"),
        ({"n_items": "6"}, "n_items must be a non-negative integer"),
        ({"kind": "sql"}, "kind must be 'explicit' or 'implicit'"),
        ({"rating_scale": [5, 1]}, "rating_scale must be null or"),
        ({"state": []}, "state must be a JSON object"),
        ({"likewise_version": 1}, "likewise_version must be a JSON string"),
        ({"hook": "os.system"}, r"unexpected keys \['hook'\]"),
    ],
)
def test_malformed_meta_fields(model_dir: Path, changes: dict[str, Any], match: str) -> None:
    edit_meta(model_dir, **changes)
    refused(model_dir, rf"meta\.json: .*{match}")


def test_counts_must_match_the_ids(model_dir: Path) -> None:
    edit_meta(model_dir, n_users=read_meta(model_dir)["n_users"] + 1)
    refused(model_dir, r"arrays\.npz: user ids have shape \(\d+,\), expected \(\d+,\) from meta\.json")


def test_missing_key(model_dir: Path) -> None:
    meta = read_meta(model_dir)
    del meta["kind"]
    write_meta(model_dir, meta)
    refused(model_dir, r"missing keys \['kind'\]")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"format": "likewise-model", "format_version": 2, "n_users": NaN}', "NaN is not a valid number"),
        ("[" * 100_000 + "]" * 100_000, "unreadable metadata"),
        ('{"format": "likewise-model", "format_version": 2, "x": 1e999}', "non-finite number"),
    ],
    ids=["nan", "deep-nesting", "overflow"],
)
def test_hostile_json(model_dir: Path, text: str, match: str) -> None:
    (model_dir / "meta.json").write_text(text)
    reseal(model_dir)
    refused(model_dir, match)


def test_state_values_are_not_coerced(model_dir: Path) -> None:
    edit_meta(model_dir, state={**read_meta(model_dir)["state"], "injected": True})
    refused(model_dir, r"state \['injected'\] is not what \w+ stores")


# --------------------------------------------------------------------------- arrays.npz content


def test_truncated_npz(model_dir: Path) -> None:
    blob = (model_dir / "arrays.npz").read_bytes()
    (model_dir / "arrays.npz").write_bytes(blob[: len(blob) // 2])
    reseal(model_dir)
    refused(model_dir, r"arrays\.npz: unreadable arrays: not a valid npz archive")


def test_not_a_zip(model_dir: Path) -> None:
    (model_dir / "arrays.npz").write_bytes(b"PK\x03\x04" + b"\0" * 64)
    reseal(model_dir)
    refused(model_dir, "not a valid npz archive")


def test_extra_member_listed(model_dir: Path) -> None:
    arrays = read_arrays(model_dir)
    write_arrays(model_dir, {**arrays, "backdoor": np.arange(3)})
    refused(model_dir, r"arrays do not match \(unexpected: \['backdoor'\]; missing: none\)")


def test_extra_member_not_listed(model_dir: Path) -> None:
    arrays = read_arrays(model_dir)
    write_arrays(model_dir, {**arrays, "backdoor": np.arange(3)}, listing=False)
    refused(model_dir, r"members do not match meta\.json \(unexpected: \['backdoor'\]")


def test_missing_model_member(model_dir: Path) -> None:
    own = model_arrays(model_dir)
    if not own:
        pytest.skip("the model stores no arrays of its own")
    name = sorted(own)[0]
    arrays = read_arrays(model_dir)
    del arrays[name]
    write_arrays(model_dir, arrays)
    refused(model_dir, rf"missing: \['{name}'\]|inconsistent model contents: KeyError: '{name}'")


def test_member_that_is_not_an_npy_file(model_dir: Path) -> None:
    members = {f"{k}.npy": npy_bytes(v) for k, v in read_arrays(model_dir).items()}
    write_zip(model_dir, {**members, "../../etc/passwd": b"root"})
    reseal(model_dir)
    refused(model_dir, r"unexpected member '\.\./\.\./etc/passwd'")


def test_compressed_members(model_dir: Path) -> None:
    members = {f"{k}.npy": npy_bytes(v) for k, v in read_arrays(model_dir).items()}
    write_zip(model_dir, members, compression=zipfile.ZIP_DEFLATED)
    reseal(model_dir)
    refused(model_dir, "is compressed or encrypted")


def test_header_claiming_a_huge_array(model_dir: Path) -> None:
    # A header promising 10**12 float64 values must be refused before anything is allocated.
    arrays = read_arrays(model_dir)
    fake = bytearray(npy_bytes(np.zeros(1, np.float64)))
    header = fake.decode("latin1")
    fake = bytearray(header.replace("(1,),", "(1000000000000,),", 1).encode("latin1"))
    members = {f"{k}.npy": npy_bytes(v) for k, v in arrays.items()}
    members["seen_data.npy"] = bytes(fake)
    write_zip(model_dir, members)
    meta = read_meta(model_dir)
    meta["arrays"]["seen_data"] = {"dtype": "<f8", "shape": [10**12]}
    write_meta(model_dir, meta)
    refused(model_dir, r"array 'seen_data' is truncated or padded")


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        (
            "users",
            lambda a: a.astype(np.float64) if a.dtype.kind == "i" else a.astype("S"),
            "ids must be int64 or unicode|not allowed",
        ),
        ("seen_data", lambda a: a.astype(np.float64), "seen needs int32 indices and float32 data"),
        ("seen_indices", lambda a: a.astype(np.float32), "seen needs int32 indices"),
        ("seen_indptr", lambda a: a.astype(np.uint64), "seen indptr must be int32/int64"),
        ("items", lambda a: a.astype(np.complex64) if a.dtype.kind == "i" else a.astype(object), "not allowed"),
    ],
    ids=["float-ids", "float64-data", "float-indices", "unsigned-indptr", "complex-or-object-ids"],
)
def test_wrong_common_dtypes(model_dir: Path, name: str, value: Callable[[np.ndarray], np.ndarray], match: str) -> None:
    change_array(model_dir, name, value(read_arrays(model_dir)[name]))
    refused(model_dir, match)


def test_wrong_model_dtype(model_dir: Path) -> None:
    # The model's _set_state would cast it silently; the round trip catches it.
    name = first_float(model_dir)
    assert name is not None
    arr = read_arrays(model_dir)[name]
    other = np.float64 if arr.dtype == np.float32 else np.float32
    change_array(model_dir, name, arr.astype(other))
    refused(model_dir, rf"array '{name}' is {np.dtype(other).str} .*; \w+ stores {arr.dtype.str}")


# The array of each family whose shape the model's own _set_state checks.
MAIN_ARRAY = {
    "popularity": "item_scores",
    "als": "user_factors",
    "svd": "item_factors",
    "itemknn": "sim_data",
    "ease": "item_weights",
}


def test_wrong_model_shape(model_dir: Path) -> None:
    name = MAIN_ARRAY[read_meta(model_dir)["class"]]
    change_array(model_dir, name, read_arrays(model_dir)[name][:-1])
    refused(model_dir, "inconsistent model contents: ValueError")


@pytest.mark.parametrize("name", ["user_std", "item_std", "user_bias", "item_bias"])
def test_knn_statistics_shapes(fitted: dict[str, Recommender], tmp_path: Path, name: str) -> None:
    fitted["itemknn"].save(tmp_path / "knn")
    change_array(tmp_path / "knn", name, read_arrays(tmp_path / "knn")[name][:-1])
    refused(tmp_path / "knn", name)


def test_nan_in_the_model(model_dir: Path) -> None:
    name = first_float(model_dir)
    assert name is not None
    arr = read_arrays(model_dir)[name].copy()
    arr.reshape(-1)[0] = np.nan
    change_array(model_dir, name, arr)
    refused(model_dir, rf"arrays\.npz: array '{name}' holds NaN or infinite values")


def test_nan_als_factors(fitted: dict[str, Recommender], tmp_path: Path) -> None:
    fitted["als"].save(tmp_path / "als")
    for name in ("user_factors", "item_factors"):
        fitted["als"].save(tmp_path / "als")
        factors = read_arrays(tmp_path / "als")[name].copy()
        factors[-1, -1] = np.inf if name == "item_factors" else np.nan
        change_array(tmp_path / "als", name, factors)
        refused(tmp_path / "als", rf"array '{name}' holds NaN or infinite values")


def test_unsorted_seen_indices(model_dir: Path) -> None:
    arrays = read_arrays(model_dir)
    indptr, indices = arrays["seen_indptr"], arrays["seen_indices"].copy()
    row = int(np.flatnonzero(np.diff(indptr) >= 2)[0])
    start = int(indptr[row])
    indices[start], indices[start + 1] = indices[start + 1], indices[start]
    change_array(model_dir, "seen_indices", indices)
    refused(model_dir, rf"seen indices of row {row} are not sorted and unique")


def test_duplicate_seen_indices(model_dir: Path) -> None:
    arrays = read_arrays(model_dir)
    indptr, indices = arrays["seen_indptr"], arrays["seen_indices"].copy()
    row = int(np.flatnonzero(np.diff(indptr) >= 2)[0])
    indices[indptr[row] + 1] = indices[indptr[row]]
    change_array(model_dir, "seen_indices", indices)
    refused(model_dir, "not sorted and unique")


def test_out_of_range_seen_indices(model_dir: Path) -> None:
    indices = read_arrays(model_dir)["seen_indices"].copy()
    indices[-1] = read_meta(model_dir)["n_items"]
    change_array(model_dir, "seen_indices", indices)
    refused(model_dir, r"seen indices out of range \[0, \d+\)")


def test_bad_seen_indptr(model_dir: Path) -> None:
    indptr = read_arrays(model_dir)["seen_indptr"].copy()
    indptr[1] = indptr[-1] + 5
    change_array(model_dir, "seen_indptr", indptr)
    refused(model_dir, "seen indptr must rise from 0")


def test_unsorted_ids(model_dir: Path) -> None:
    change_array(model_dir, "items", read_arrays(model_dir)["items"][::-1].copy())
    refused(model_dir, r"item ids are not sorted and unique")


def test_bad_titles(model_dir: Path) -> None:
    n_items = read_meta(model_dir)["n_items"]
    change_array(model_dir, "item_titles", np.array(["a"] * (n_items + 1)))
    refused(model_dir, rf"item_titles must be {n_items} strings")


def test_untampered_directories_load(model_dir: Path, fitted: dict[str, Recommender]) -> None:
    loaded = load(model_dir)
    original = fitted[read_meta(model_dir)["class"]]
    users = original.users_.ids
    np.testing.assert_array_equal(loaded.recommend(users, n=3).indices, original.recommend(users, n=3).indices)
