"""Model directories: `meta.json` + `arrays.npz`, written atomically, loaded without pickle.

Layout::

    model/
      meta.json    {"format": "likewise-model", "format_version": 1, "class": "...",
                    "params": {...}, "state": {...}, "arrays_sha256": "...", ...}
      arrays.npz   every learned array (ids, CSR parts, factors, ...)

Writing goes to a temporary sibling directory that is fsynced and then renamed over the
target, so a crash leaves either the old model or the new one, never half of one. Loading
checks the format name and version, the class against likewise's registry (nothing is
imported by name from the file), the sha256 of the arrays, and `np.load(allow_pickle=False)`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from likewise.exceptions import ModelFormatError

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "read_model_dir", "write_model_dir"]

FORMAT_NAME = "likewise-model"
FORMAT_VERSION = 1
META_FILE = "meta.json"
ARRAYS_FILE = "arrays.npz"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_model_dir(path: str | os.PathLike[str], meta: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> Path:
    """Write `meta` and `arrays` into directory `path`, replacing an existing model atomically."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise ModelFormatError(f"{target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not (target / META_FILE).exists():
        raise ModelFormatError(
            f"{target} is a non-empty directory that does not hold a likewise model; refusing to overwrite it"
        )
    for name, arr in arrays.items():
        if np.asarray(arr).dtype.kind == "O":
            raise ModelFormatError(f"array {name!r} has object dtype and cannot be saved without pickle")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    old: Path | None = None
    try:
        np.savez(tmp / ARRAYS_FILE, **{k: np.asarray(v) for k, v in arrays.items()})  # type: ignore[arg-type]
        _fsync_file(tmp / ARRAYS_FILE)
        full_meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            **meta,
            "arrays_sha256": _sha256(tmp / ARRAYS_FILE),
        }
        with open(tmp / META_FILE, "w", encoding="utf-8") as fh:
            json.dump(full_meta, fh, indent=2, sort_keys=True, default=_json_default)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.rename(target, old / "model")
        os.rename(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            # The new model never landed: put the previous one back where it was.
            if (old / "model").exists() and not target.exists():
                os.rename(old / "model", target)
            shutil.rmtree(old, ignore_errors=True)
        raise
    return target


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in meta.json")


def read_model_dir(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a model directory; every problem is a ModelFormatError naming the file."""
    source = Path(path)
    meta_path, arrays_path = source / META_FILE, source / ARRAYS_FILE
    if not source.is_dir():
        raise ModelFormatError(f"{source}: no such model directory")
    if not meta_path.is_file() or not arrays_path.is_file():
        raise ModelFormatError(f"{source}: not a likewise model directory (needs {META_FILE} and {ARRAYS_FILE})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"{meta_path}: unreadable metadata: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFormatError(
            f"{meta_path}: not a likewise model (format is {meta.get('format') if isinstance(meta, dict) else None!r})"
        )
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFormatError(
            f"{meta_path}: model format version {version!r} is not supported by this likewise "
            f"(expects {FORMAT_VERSION}); retrain or use the likewise version that wrote it "
            f"({meta.get('likewise_version', 'unknown')})"
        )
    expected = meta.get("arrays_sha256")
    actual = _sha256(arrays_path)
    if expected != actual:
        raise ModelFormatError(
            f"{arrays_path}: checksum mismatch (expected {expected}, got {actual}); the file is corrupt or was modified"
        )
    try:
        with np.load(arrays_path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError) as exc:
        raise ModelFormatError(f"{arrays_path}: unreadable arrays: {exc}") from exc
    return meta, arrays
