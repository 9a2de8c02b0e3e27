"""Model directories: round trip, version and class checks, atomic replacement, no pickle.

The tamper corpus of issue 18 lives in test_tampered_models.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from likewise import Popularity, Random, load
from likewise.exceptions import ModelFormatError
from likewise.models import _persistence
from likewise.models._persistence import FORMAT_VERSION, read_model_dir, write_model_dir
from likewise.testing import tiny_ratings, tutorial_ratings
from tests.models._model_dirs import edit_meta, read_arrays, reseal, write_arrays


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Popularity, Path]:
    model = Popularity(by="rating", damping=2.0).fit(tiny_ratings())
    path = tmp_path / "model"
    model.save(path)
    return model, path


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------- round trip


def test_round_trip_popularity(saved):
    model, path = saved
    assert sorted(p.name for p in path.iterdir()) == ["arrays.npz", "manifest.json", "meta.json"]
    loaded = load(path)
    assert type(loaded) is Popularity and loaded.get_params() == {"by": "rating", "damping": 2.0, "n_threads": None}
    assert loaded.users_ == model.users_ and loaded.items_ == model.items_
    assert loaded.users_.name == "user" and loaded.items_.name == "item"
    np.testing.assert_array_equal(loaded.item_scores_, model.item_scores_)
    np.testing.assert_array_equal(loaded.item_counts_, model.item_counts_)
    np.testing.assert_array_equal(loaded.item_rank_, model.item_rank_)
    assert (loaded.seen_ != model.seen_).nnz == 0
    assert loaded.kind_ == "explicit" and loaded.rating_scale_ == (1.0, 5.0)
    assert loaded.recommend(["u0", "u3"], n=3).ids().tolist() == model.recommend(["u0", "u3"], n=3).ids().tolist()
    assert Popularity.load(path).get_params() == model.get_params()


def test_meta_json_content(saved):
    _, path = saved
    meta = json.loads((path / "meta.json").read_text())
    assert meta["format"] == "likewise-model" and meta["format_version"] == FORMAT_VERSION
    # Issue 18: the class is recorded by its registered name, never as an importable module path.
    assert meta["class"] == "popularity"
    assert meta["params"] == {"by": "rating", "damping": 2.0, "n_threads": None}
    assert meta["n_users"] == 5 and meta["n_items"] == 6 and meta["kind"] == "explicit"
    assert meta["arrays"]["item_scores"] == {"dtype": "<f4", "shape": [6]}
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format"] == "likewise-model" and manifest["format_version"] == FORMAT_VERSION == 2
    for name in ("meta.json", "arrays.npz"):
        blob = (path / name).read_bytes()
        assert manifest["files"][name] == {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}


def test_round_trip_random_keeps_its_seed(tmp_path):
    data = tutorial_ratings()
    model = Random(random_state=3).fit(data)
    model.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert loaded.seed_ == 3 and loaded.items_ == data.items
    np.testing.assert_array_equal(loaded.predict(["Carol"], ["Avatar"]), model.predict(["Carol"], ["Avatar"]))


def test_loading_as_the_wrong_class(saved):
    _, path = saved
    with pytest.raises(ModelFormatError, match=r"holds a likewise\.models\.popular:Popularity, not a Random"):
        Random.load(path)


def test_write_and_read_raw_arrays(tmp_path):
    arrays = {"ints": np.arange(3), "text": np.array(["a", "bé"]), "empty": np.zeros((0, 2), np.float32)}
    write_model_dir(tmp_path / "raw", {"class": "x", "values": (1, np.float32(0.5))}, arrays)
    meta, loaded = read_model_dir(tmp_path / "raw")
    assert meta["values"] == [1, 0.5]
    assert sorted(loaded) == ["empty", "ints", "text"]
    assert loaded["text"].tolist() == ["a", "bé"] and loaded["empty"].shape == (0, 2)


# --------------------------------------------------------------------------- refused inputs


def test_other_format_version(saved):
    _, path = saved
    edit_meta(path, format_version=FORMAT_VERSION + 1)
    with pytest.raises(ModelFormatError, match=rf"model format version {FORMAT_VERSION + 1} is not supported"):
        load(path)
    edit_meta(path, format_version="2")
    with pytest.raises(ModelFormatError, match="model format version '2' is not supported"):
        load(path)


def test_version_1_directories_are_refused_with_advice(saved):
    # Decision (issue 18, docs/models.md): version 1 had no checksum over meta.json, so it is
    # refused with a clear message rather than loaded half-verified.
    _, path = saved
    (path / "manifest.json").unlink()
    edit_meta(path, seal=False, format_version=1, likewise_version="0.1.0", arrays_sha256="0" * 64)
    with pytest.raises(ModelFormatError, match=r"format version 1 \(likewise 0\.1\.0\) is no longer loaded.*Retrain"):
        load(path)


def test_missing_manifest(saved):
    _, path = saved
    (path / "manifest.json").unlink()
    with pytest.raises(ModelFormatError, match=r"manifest\.json: missing"):
        load(path)


def test_not_a_likewise_model(saved):
    _, path = saved
    edit_meta(path, format="something-else")
    with pytest.raises(ModelFormatError, match=r"not a likewise model \(format is 'something-else'\)"):
        load(path)
    (path / "meta.json").write_text("[1, 2]")
    reseal(path)
    with pytest.raises(ModelFormatError, match="not a likewise model"):
        load(path)


def test_unknown_class_name(saved):
    _, path = saved
    # Issue 18: a module path in meta.json is looked up in the registry, never imported.
    edit_meta(path, **{"class": "likewise.models.nope:Nope"})
    with pytest.raises(ModelFormatError, match=r"'likewise\.models\.nope:Nope' is not a registered likewise model"):
        load(path)
    assert "likewise.models.nope" not in sys.modules
    edit_meta(path, **{"class": "likewise.models.popular:Nope"})
    with pytest.raises(ModelFormatError, match=r"'likewise\.models\.popular:Nope' is not a registered likewise model"):
        load(path)


def test_class_outside_likewise_is_never_imported(saved):
    _, path = saved
    assert "antigravity" not in sys.modules  # importing it would open a web browser
    edit_meta(path, **{"class": "antigravity:Fly"})
    with pytest.raises(ModelFormatError, match="not a registered likewise model"):
        load(path)
    assert "antigravity" not in sys.modules


def test_missing_files(saved, tmp_path):
    _, path = saved
    with pytest.raises(ModelFormatError, match="no such model directory"):
        load(tmp_path / "nowhere")
    (path / "arrays.npz").unlink()
    with pytest.raises(ModelFormatError, match=r"not a likewise model directory \(needs meta.json, arrays.npz and"):
        load(path)


def test_corrupt_json(saved):
    _, path = saved
    (path / "meta.json").write_text('{"format": "likewise-model", ')
    reseal(path)
    with pytest.raises(ModelFormatError, match=r"meta\.json: unreadable metadata"):
        load(path)
    (path / "meta.json").write_bytes(b"\xff\xfe\x00garbage")
    reseal(path)
    with pytest.raises(ModelFormatError, match="unreadable metadata"):
        load(path)


def test_inconsistent_contents(saved):
    _, path = saved
    edit_meta(path, params={"by": "rating", "damping": 2.0, "colour": "blue"})
    with pytest.raises(ModelFormatError, match="Popularity has no parameter 'colour'"):
        load(path)


def test_checksum_mismatch(saved):
    _, path = saved
    edit_meta(path, seal=False, n_users=4)
    with pytest.raises(ModelFormatError, match=r"meta\.json: checksum mismatch with manifest\.json"):
        load(path)


# --------------------------------------------------------------------------- writing


def test_refuses_to_overwrite_a_foreign_directory(tmp_path):
    model = Popularity().fit(tiny_ratings())
    target = tmp_path / "photos"
    target.mkdir()
    (target / "holiday.jpg").write_bytes(b"jpeg")
    with pytest.raises(ModelFormatError, match="non-empty directory that does not hold exactly a likewise model"):
        model.save(target)
    assert sorted(p.name for p in target.iterdir()) == ["holiday.jpg"]
    assert leftovers(tmp_path) == []
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ModelFormatError, match="exists and is not a directory"):
        model.save(afile)


def test_meta_json_beside_other_files_is_kept_and_refused(tmp_path):
    # Issue 18 item 2: save() deleted any directory holding a file named meta.json.
    model = Popularity().fit(tiny_ratings())
    target = tmp_path / "paper"
    target.mkdir()
    (target / "meta.json").write_text('{"title": "my thesis"}')
    (target / "thesis.tex").write_text("\\documentclass{article}")
    with pytest.raises(ModelFormatError, match=r"does not hold exactly a likewise model \(it also holds thesis\.tex\)"):
        model.save(target)
    assert sorted(p.name for p in target.iterdir()) == ["meta.json", "thesis.tex"]
    assert (target / "thesis.tex").read_text() == "\\documentclass{article}"
    assert leftovers(tmp_path) == []


def test_a_real_model_with_an_extra_file_is_refused(saved):
    model, path = saved
    (path / "notes.txt").write_text("keep me")
    with pytest.raises(ModelFormatError, match=r"it also holds notes\.txt"):
        model.save(path)
    assert (path / "notes.txt").read_text() == "keep me" and load(path).is_fitted


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({"meta.json": '{"format": "likewise-model"}'}, r"it holds only meta\.json"),
        (
            {"arrays.npz": "x", "meta.json": "{}", "manifest.json": "{}"},
            r"meta\.json is not a likewise model's metadata",
        ),
        ({"arrays.npz": "x", "meta.json": "not json"}, r"meta\.json is not a likewise model's metadata"),
        ({"notes.txt": "x"}, r"it also holds notes\.txt"),
    ],
    ids=["only-meta", "foreign-meta", "unparsable-meta", "stray-file"],
)
def test_look_alike_directories_are_refused(tmp_path, files, match):
    target = tmp_path / "target"
    target.mkdir()
    for name, text in files.items():
        (target / name).write_text(text)
    with pytest.raises(ModelFormatError, match=match):
        Popularity().fit(tiny_ratings()).save(target)
    assert {p.name: p.read_text() for p in target.iterdir()} == files
    assert leftovers(tmp_path) == []


def test_a_directory_named_like_a_model_file_is_refused(saved):
    model, path = saved
    (path / "arrays.npz").unlink()
    (path / "arrays.npz").mkdir()
    (path / "arrays.npz" / "data").write_text("precious")
    with pytest.raises(ModelFormatError, match=r"arrays\.npz is not a regular file"):
        model.save(path)
    assert (path / "arrays.npz" / "data").read_text() == "precious"


def test_symlinked_target_is_refused(saved, tmp_path):
    model, path = saved
    link = tmp_path / "link"
    link.symlink_to(path)
    with pytest.raises(ModelFormatError, match="is a symbolic link; refusing to replace it"):
        model.save(link)
    assert link.is_symlink() and load(path).is_fitted


def test_version_1_model_is_replaced(saved):
    _, path = saved
    (path / "manifest.json").unlink()
    edit_meta(path, seal=False, format_version=1)
    Popularity(by="count").fit(tiny_ratings()).save(path)
    assert load(path).get_params()["by"] == "count"


def test_crash_while_writing_the_new_arrays_keeps_the_old_model(saved, monkeypatch):
    _, path = saved

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process is interrupted mid-write

    monkeypatch.setattr(_persistence.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        Popularity(by="count").fit(tiny_ratings()).save(path)
    monkeypatch.undo()
    assert load(path).get_params()["by"] == "rating"
    assert leftovers(path.parent) == []


def test_saves_into_an_empty_directory_and_creates_parents(tmp_path):
    model = Popularity().fit(tiny_ratings())
    (tmp_path / "empty").mkdir()
    model.save(tmp_path / "empty")
    model.save(tmp_path / "a" / "b" / "model")
    assert load(tmp_path / "empty").get_params() == load(tmp_path / "a" / "b" / "model").get_params()


def test_existing_model_is_replaced(saved):
    _, path = saved
    other = Popularity(by="count").fit(tiny_ratings())
    other.save(path)
    assert load(path).get_params()["by"] == "count"
    assert leftovers(path.parent) == []


def test_failed_final_rename_keeps_the_old_model(saved, monkeypatch):
    _, path = saved
    real_rename = os.rename
    calls = []

    def failing_rename(src, dst):
        calls.append((Path(src).name, Path(dst).name))
        if Path(src).name.startswith(f".{path.name}.tmp-"):  # the new model moving into place
            raise OSError("simulated crash")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(OSError, match="simulated crash"):
        Popularity(by="count").fit(tiny_ratings()).save(path)
    monkeypatch.undo()
    assert any(src.startswith(".model.tmp-") for src, _ in calls)  # the final rename was reached
    assert load(path).get_params()["by"] == "rating"  # the old model is intact
    assert leftovers(path.parent) == []


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    def broken_write(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(_persistence, "_write_bytes", broken_write)
    with pytest.raises(RuntimeError, match="disk full"):
        Popularity().fit(tiny_ratings()).save(tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_object_arrays_are_refused_on_save(tmp_path):
    with pytest.raises(ModelFormatError, match="array 'bad' has object dtype and cannot be saved without pickle"):
        write_model_dir(tmp_path / "m", {"class": "x"}, {"ok": np.arange(2), "bad": np.array([1, None], dtype=object)})
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- no pickle on load


class _Exploit:
    """Unpickling this would create the marker directory."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_pickled_arrays_are_never_unpickled(saved, tmp_path):
    model, path = saved
    marker = tmp_path / "pwned"
    arrays = read_arrays(path)
    arrays["item_scores"] = np.array([_Exploit(marker)], dtype=object)
    # np.savez pickles object arrays; the listing and the manifest are made to match, so only
    # the dtype allow-list (checked from the npy header, before any data) protects us.
    write_arrays(path, arrays)
    with pytest.raises(ModelFormatError, match=r"array 'item_scores': dtype \|O is not allowed"):
        load(path)
    assert not marker.exists()
    # The same pickle behind a listing that claims float32: the header check refuses it.
    model.save(path)
    write_arrays(path, arrays, listing=False)
    with pytest.raises(ModelFormatError, match=r"array 'item_scores' is \|O \(1,\) but meta\.json lists <f4 \(6,\)"):
        load(path)
    assert not marker.exists()
