"""Helpers for tests that tamper with saved model directories (issue 18).

`reseal` recomputes manifest.json from the files as they are now: it plays the part of an
attacker who can write the directory, so a test that reseals checks the validation behind the
checksums rather than the checksums themselves.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


def reseal(path: Path) -> None:
    files = {}
    for name in ("meta.json", "arrays.npz", "index.bin", "similar_index.bin"):
        if name != "meta.json" and name != "arrays.npz" and not (path / name).exists():
            continue  # the optional item index files (docs/ann.md)
        blob = (path / name).read_bytes()
        files[name] = {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}
    manifest = {"format": "likewise-model", "format_version": 2, "files": files}
    (path / "manifest.json").write_text(json.dumps(manifest))


def read_meta(path: Path) -> dict[str, Any]:
    return json.loads((path / "meta.json").read_text())


def write_meta(path: Path, meta: dict[str, Any], *, seal: bool = True) -> None:
    (path / "meta.json").write_text(json.dumps(meta))
    if seal:
        reseal(path)


def edit_meta(path: Path, *, seal: bool = True, **changes: Any) -> None:
    meta = read_meta(path)
    meta.update(changes)
    write_meta(path, meta, seal=seal)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path / "arrays.npz", allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def write_arrays(path: Path, arrays: dict[str, np.ndarray], *, listing: bool = True, seal: bool = True) -> None:
    """Rewrite arrays.npz (np.savez pickles object arrays); update meta.json's listing to match."""
    np.savez(path / "arrays.npz", **arrays)  # type: ignore[arg-type]
    if listing:
        meta = read_meta(path)
        meta["arrays"] = {k: {"dtype": np.asarray(v).dtype.str, "shape": list(np.shape(v))} for k, v in arrays.items()}
        write_meta(path, meta, seal=False)
    if seal:
        reseal(path)


def write_zip(path: Path, members: dict[str, bytes], *, compression: int = zipfile.ZIP_STORED) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    (path / "arrays.npz").write_bytes(buffer.getvalue())


def npy_bytes(arr: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, arr, allow_pickle=True)
    return buffer.getvalue()
