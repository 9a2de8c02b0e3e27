"""Model directories: `meta.json` + `arrays.npz` + `manifest.json`, written atomically, loaded
without trusting anything in the directory.

Layout (format version 2)::

    model/
      meta.json      {"format": "likewise-model", "format_version": 2, "class": "...",
                      "params": {...}, "state": {...}, "n_users": ..., "n_items": ...,
                      "arrays": {"name": {"dtype": "<f4", "shape": [..]}, ...}, ...}
      arrays.npz     every learned array (ids, CSR parts, factors, ...), uncompressed, no pickle
      manifest.json  {"format": "likewise-model", "format_version": 2,
                      "files": {"meta.json": {"sha256": ..., "size": ...},
                                "arrays.npz": {"sha256": ..., "size": ...}}}
      index.bin      optional: an item index in its library's own format (docs/ann.md), listed and
      similar_index.bin  checksummed in manifest.json like arrays.npz; meta.json's "index" says what it is

Writing goes to a temporary sibling directory that is fsynced and then renamed over the
target, so a crash leaves either the old model or the new one, never half of one. Only a
directory that is exactly a likewise model (the files likewise writes and nothing else, with
the format marker) or an empty one is ever replaced.

Reading (`read_model_dir`) refuses symlinks, checks sizes before reading anything, verifies
both checksums of the manifest, parses JSON without NaN/Infinity, and inspects every npz
member's header (name, compression, dtype from an allow-list, shape, byte count) against the
listing in meta.json before any array data is read with ``allow_pickle=False``; float arrays
must be finite. The checksums catch corruption and partial edits; they are not a signature
(whoever can write the directory can recompute them), which is why everything read is also
validated (here, and model-level invariants in `Recommender.load`). Every refusal is a
ModelFormatError naming the file and the reason.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from likewise.exceptions import ModelFormatError

__all__ = [
    "ARRAYS_FILE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "META_FILE",
    "read_model_dir",
    "write_model_dir",
]

FORMAT_NAME = "likewise-model"
FORMAT_VERSION = 2
META_FILE = "meta.json"
ARRAYS_FILE = "arrays.npz"
MANIFEST_FILE = "manifest.json"
MODEL_FILES = frozenset({META_FILE, ARRAYS_FILE, MANIFEST_FILE})
OPTIONAL_FILES = frozenset({"index.bin", "similar_index.bin"})
"""Files a model may add (`write_model_dir`'s `files`); never parsed here beyond size and checksum."""
_V1_FILES = frozenset({META_FILE, ARRAYS_FILE})

# Sanity limits, checked before a byte is parsed.
MAX_MANIFEST_BYTES = 64 * 1024
MAX_META_BYTES = 64 * 1024 * 1024
MAX_ARRAYS_BYTES = 256 * 1024**3
"""arrays.npz is uncompressed, so this bounds the memory a load can allocate too."""

# numpy dtype kinds a model file may hold: bool, signed/unsigned ints, floats, unicode text.
# Never objects (pickle), void/structured, bytes, datetimes or complex numbers.
_ALLOWED_KINDS = frozenset("biufU")
_ALLOWED_ITEMSIZES = {"b": {1}, "i": {1, 2, 4, 8}, "u": {1, 2, 4, 8}, "f": {4, 8}}
_CHECK_BLOCK = 1 << 20
"""Entries compared per block when checking that CSR indices rise within rows."""
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(fh: BinaryIO) -> str:
    digest = hashlib.sha256()
    fh.seek(0)
    for block in iter(lambda: fh.read(1 << 20), b""):
        digest.update(block)
    fh.seek(0)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_dtype(dtype: np.dtype[Any]) -> str | None:
    """Why `dtype` may not be stored in a model file, or None when it may."""
    if dtype.kind not in _ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        return f"dtype {dtype.str} is not allowed (only bool, integer, float32/64 and unicode arrays)"
    if dtype.kind in _ALLOWED_ITEMSIZES and dtype.itemsize not in _ALLOWED_ITEMSIZES[dtype.kind]:
        return f"dtype {dtype.str} is not allowed"
    return None


# --------------------------------------------------------------------------- writing


def _replaceable(target: Path) -> None:
    """Refuse to replace anything but nothing, an empty directory or exactly a likewise model."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise ModelFormatError(f"{target} is a symbolic link; refusing to replace it")
    if not stat.S_ISDIR(st.st_mode):
        raise ModelFormatError(f"{target} exists and is not a directory")
    entries = {entry.name: entry for entry in os.scandir(target)}
    if not entries:
        return
    names = set(entries)
    foreign = sorted(names - MODEL_FILES - OPTIONAL_FILES)
    if foreign or (names - OPTIONAL_FILES) not in (MODEL_FILES, _V1_FILES):
        detail = f"it also holds {', '.join(foreign)}" if foreign else f"it holds only {', '.join(sorted(names))}"
        raise ModelFormatError(
            f"{target} is a non-empty directory that does not hold exactly a likewise model ({detail}); "
            "refusing to overwrite it: choose another directory or remove it yourself"
        )
    for name, entry in entries.items():
        if not entry.is_file(follow_symlinks=False):
            raise ModelFormatError(f"{target / name} is not a regular file; refusing to overwrite {target}")
    try:
        marker = json.loads(_read_limited(target / META_FILE, MAX_META_BYTES))
    except (ModelFormatError, UnicodeDecodeError, ValueError, RecursionError):
        marker = None
    if not isinstance(marker, dict) or marker.get("format") != FORMAT_NAME:
        raise ModelFormatError(
            f"{target / META_FILE} is not a likewise model's metadata; refusing to overwrite {target}"
        )


def write_model_dir(
    path: str | os.PathLike[str],
    meta: dict[str, Any],
    arrays: Mapping[str, np.ndarray],
    files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write `meta`, `arrays` and the optional `files` (names from OPTIONAL_FILES) into directory
    `path`, replacing an existing model atomically."""
    target = Path(path)
    files = dict(files or {})
    unknown = sorted(set(files) - OPTIONAL_FILES)
    if unknown:
        raise ModelFormatError(f"a model directory may not hold {unknown}; optional files are {sorted(OPTIONAL_FILES)}")
    _replaceable(target)
    arrays = {name: np.asarray(arr) for name, arr in arrays.items()}
    for name, arr in arrays.items():
        if not _NAME.fullmatch(name):
            raise ModelFormatError(f"array name {name!r} is not a plain identifier")
        if arr.dtype.kind == "O":
            raise ModelFormatError(f"array {name!r} has object dtype and cannot be saved without pickle")
        reason = check_dtype(arr.dtype)
        if reason is not None:
            raise ModelFormatError(f"array {name!r}: {reason}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ModelFormatError(f"array {name!r} holds NaN or infinite values; refusing to save them")
    full_meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        **meta,
        "arrays": {name: {"dtype": arr.dtype.str, "shape": list(arr.shape)} for name, arr in arrays.items()},
    }
    try:
        meta_bytes = json.dumps(full_meta, indent=2, sort_keys=True, default=_json_default, allow_nan=False).encode()
    except ValueError as exc:
        raise ModelFormatError(f"cannot store the model's metadata as JSON: {exc}") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    old: Path | None = None
    try:
        np.savez(tmp / ARRAYS_FILE, **arrays)  # type: ignore[arg-type]
        _fsync_file(tmp / ARRAYS_FILE)
        _write_bytes(tmp / META_FILE, meta_bytes)
        with open(tmp / ARRAYS_FILE, "rb") as fh:
            arrays_digest = _sha256_file(fh)
        listed = {
            META_FILE: {"sha256": _sha256_bytes(meta_bytes), "size": len(meta_bytes)},
            ARRAYS_FILE: {"sha256": arrays_digest, "size": (tmp / ARRAYS_FILE).stat().st_size},
        }
        for name, data in files.items():
            _write_bytes(tmp / name, data)
            listed[name] = {"sha256": _sha256_bytes(data), "size": len(data)}
        manifest = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "files": listed}
        _write_bytes(tmp / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True).encode())
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


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in meta.json")


# --------------------------------------------------------------------------- reading


def _open_regular(path: Path, limit: int) -> tuple[BinaryIO, int]:
    """Open `path` for reading, refusing symlinks, non-regular files and files over `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise ModelFormatError(f"{path}: missing") from None
    except OSError as exc:
        if os.path.islink(path):
            raise ModelFormatError(f"{path}: is a symbolic link; model files must be regular files") from None
        raise ModelFormatError(f"{path}: unreadable: {exc}") from exc
    fh = os.fdopen(fd, "rb")
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        fh.close()
        raise ModelFormatError(f"{path}: not a regular file")
    if st.st_size > limit:
        fh.close()
        raise ModelFormatError(f"{path}: {st.st_size} bytes is over the {limit}-byte limit for this file")
    return fh, st.st_size


def _read_limited(path: Path, limit: int) -> bytes:
    fh, _ = _open_regular(path, limit)
    with fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ModelFormatError(f"{path}: over the {limit}-byte limit for this file")
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid number here")


def _parse_json(path: Path, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFormatError(f"{path}: unreadable metadata: {exc}") from exc


def _check_json_numbers(path: Path, value: Any) -> None:
    """Reject floats JSON could still produce (e.g. 1e999 parses as inf)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ModelFormatError(f"{path}: holds a non-finite number")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_manifest(path: Path, manifest: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"{path}: not a likewise model manifest")
    _check_version(path, manifest.get("format_version"), None)
    if set(manifest) != {"format", "format_version", "files"}:
        raise ModelFormatError(
            f"{path}: unexpected keys {sorted(set(manifest) - {'format', 'format_version', 'files'})}"
        )
    files = manifest["files"]
    if (
        not isinstance(files, dict)
        or {META_FILE, ARRAYS_FILE} - set(files)
        or set(files)
        - OPTIONAL_FILES
        - {
            META_FILE,
            ARRAYS_FILE,
        }
    ):
        raise ModelFormatError(
            f"{path}: must list exactly {META_FILE} and {ARRAYS_FILE}, "
            f"and optionally {' / '.join(sorted(OPTIONAL_FILES))}"
        )
    for name, entry in files.items():
        ok = (
            isinstance(entry, dict)
            and set(entry) == {"sha256", "size"}
            and isinstance(entry["sha256"], str)
            and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]) is not None
            and type(entry["size"]) is int
            and entry["size"] >= 0
        )
        if not ok:
            raise ModelFormatError(f"{path}: malformed entry for {name} (needs sha256 and size)")
    return files


def _check_version(path: Path, version: Any, written_by: Any) -> None:
    if version == FORMAT_VERSION and type(version) is int:
        return
    if version == 1 and type(version) is int:
        raise ModelFormatError(
            f"{path}: model format version 1 (likewise {written_by or '0.1'}) is no longer loaded: its "
            "meta.json is not covered by any checksum. Retrain the model with this likewise (or keep "
            "serving it with the likewise 0.1 that wrote it)"
        )
    raise ModelFormatError(
        f"{path}: model format version {version!r} is not supported by this likewise "
        f"(expects {FORMAT_VERSION}); retrain or use the likewise version that wrote it "
        f"({written_by or 'unknown'})"
    )


def read_model_dir(
    path: str | os.PathLike[str], files_out: dict[str, bytes] | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a model directory; every problem is a ModelFormatError naming the file.

    The optional files the manifest lists (checked against it) go into `files_out`; an optional
    file on disk that the manifest does not list is refused (it was not written with the model).
    """
    source = Path(path)
    try:
        st = os.lstat(source)
    except OSError:
        raise ModelFormatError(f"{source}: no such model directory") from None
    if stat.S_ISLNK(st.st_mode):
        raise ModelFormatError(f"{source}: is a symbolic link; load the directory it points to by its own path")
    if not stat.S_ISDIR(st.st_mode):
        raise ModelFormatError(f"{source}: no such model directory")
    meta_path, arrays_path, manifest_path = source / META_FILE, source / ARRAYS_FILE, source / MANIFEST_FILE
    for file in (meta_path, arrays_path):
        if not os.path.lexists(file):
            raise ModelFormatError(
                f"{source}: not a likewise model directory (needs {META_FILE}, {ARRAYS_FILE} and {MANIFEST_FILE})"
            )
    if not os.path.lexists(manifest_path):
        # Tell a version-1 directory (which had no manifest) from a damaged one.
        old = _parse_json(meta_path, _read_limited(meta_path, MAX_META_BYTES))
        if isinstance(old, dict) and old.get("format") == FORMAT_NAME and old.get("format_version") != FORMAT_VERSION:
            _check_version(meta_path, old.get("format_version"), old.get("likewise_version"))
        raise ModelFormatError(f"{manifest_path}: missing; the directory is incomplete or was modified")
    files = _check_manifest(manifest_path, _parse_json(manifest_path, _read_limited(manifest_path, MAX_MANIFEST_BYTES)))

    meta_bytes = _read_limited(meta_path, MAX_META_BYTES)
    expected = files[META_FILE]
    if len(meta_bytes) != expected["size"] or _sha256_bytes(meta_bytes) != expected["sha256"]:
        raise ModelFormatError(
            f"{meta_path}: checksum mismatch with {MANIFEST_FILE}; the file is corrupt or was modified"
        )
    meta = _parse_json(meta_path, meta_bytes)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFormatError(
            f"{meta_path}: not a likewise model (format is {meta.get('format') if isinstance(meta, dict) else None!r})"
        )
    _check_version(meta_path, meta.get("format_version"), meta.get("likewise_version"))
    _check_json_numbers(meta_path, meta)
    listing = meta.get("arrays")
    if not isinstance(listing, dict):
        raise ModelFormatError(f"{meta_path}: 'arrays' must list the arrays of {ARRAYS_FILE}")

    fh, size = _open_regular(arrays_path, MAX_ARRAYS_BYTES)
    with fh:
        expected = files[ARRAYS_FILE]
        if size != expected["size"]:
            raise ModelFormatError(
                f"{arrays_path}: size {size} bytes differs from {MANIFEST_FILE} ({expected['size']}); "
                "the file is truncated or was modified"
            )
        actual = _sha256_file(fh)
        if actual != expected["sha256"]:
            raise ModelFormatError(
                f"{arrays_path}: checksum mismatch (expected {expected['sha256']}, got {actual}); "
                "the file is corrupt or was modified"
            )
        arrays = _read_arrays(arrays_path, fh, listing)
    extras = _read_optional(source, files)
    if files_out is not None:
        files_out.update(extras)
    return meta, arrays


def _read_optional(source: Path, files: dict[str, dict[str, Any]]) -> dict[str, bytes]:
    """The optional files `files` (the manifest) lists, each checked by size and checksum."""
    out = {}
    for name in sorted(OPTIONAL_FILES):
        file = source / name
        if name not in files:
            if os.path.lexists(file):
                raise ModelFormatError(f"{file}: not listed in {MANIFEST_FILE}; it was not written with this model")
            continue
        expected = files[name]
        fh, size = _open_regular(file, MAX_ARRAYS_BYTES)
        with fh:
            data = fh.read(expected["size"] + 1) if size == expected["size"] else b""
        if size != expected["size"] or len(data) != size or _sha256_bytes(data) != expected["sha256"]:
            raise ModelFormatError(
                f"{file}: checksum mismatch with {MANIFEST_FILE}; the file is corrupt, truncated or was modified"
            )
        out[name] = data
    return out


def _listed(name: str, entry: Any) -> tuple[np.dtype[Any], tuple[int, ...]]:
    try:
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape"} or not isinstance(entry["dtype"], str):
            raise ValueError("needs dtype and shape")
        dtype = np.dtype(entry["dtype"])
        shape = entry["shape"]
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape) or len(shape) > 8:
            raise ValueError(f"bad shape {shape!r}")
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"{META_FILE}: array listing for {name!r} is malformed: {exc}") from exc
    return dtype, tuple(shape)


def _read_arrays(path: Path, fh: BinaryIO, listing: dict[str, Any]) -> dict[str, np.ndarray]:
    """Check every member of the npz against `listing`, then read them (allow_pickle=False)."""
    try:
        archive = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelFormatError(f"{path}: unreadable arrays: not a valid npz archive ({exc})") from exc
    out: dict[str, np.ndarray] = {}
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            raise ModelFormatError(f"{path}: duplicate members")
        members = {}
        for info in infos:
            name = info.filename.removesuffix(".npy")
            if not info.filename.endswith(".npy") or not _NAME.fullmatch(name):
                raise ModelFormatError(f"{path}: unexpected member {info.filename!r}")
            members[name] = info
        extra, missing = sorted(set(members) - set(listing)), sorted(set(listing) - set(members))
        if extra or missing:
            raise ModelFormatError(
                f"{path}: members do not match {META_FILE} "
                f"(unexpected: {extra or 'none'}; missing: {missing or 'none'})"
            )
        for name, info in members.items():
            dtype, shape = _listed(name, listing[name])
            reason = check_dtype(dtype)
            if reason is not None:
                raise ModelFormatError(f"{path}: array {name!r}: {reason}")
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                raise ModelFormatError(f"{path}: array {name!r} is compressed or encrypted; likewise writes neither")
            try:
                with archive.open(info) as member:
                    header = _npy_header(member)
                    header_len = member.tell()
            except (OSError, ValueError, zipfile.BadZipFile) as exc:
                raise ModelFormatError(f"{path}: array {name!r} has an unreadable header: {exc}") from exc
            h_shape, _, h_dtype = header
            if h_dtype != dtype or tuple(h_shape) != shape:
                raise ModelFormatError(
                    f"{path}: array {name!r} is {h_dtype.str} {tuple(h_shape)} "
                    f"but {META_FILE} lists {dtype.str} {shape}"
                )
            if info.file_size != header_len + math.prod(shape) * dtype.itemsize:
                raise ModelFormatError(f"{path}: array {name!r} is truncated or padded ({info.file_size} bytes)")
            try:
                with archive.open(info) as member:
                    arr = np.lib.format.read_array(member, allow_pickle=False)
            except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
                raise ModelFormatError(f"{path}: unreadable arrays: {name!r}: {exc}") from exc
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise ModelFormatError(f"{path}: array {name!r} holds NaN or infinite values")
            out[name] = arr
    return out


def _npy_header(member: Any) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(member)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(member)
    raise ValueError(f"npy format version {version} is not supported")


# --------------------------------------------------------------------------- model-level checks
# Used by `Recommender.load` on what `read_model_dir` returned: generic invariants the base
# class knows (ids, the training matrix, parameters, the round trip of the model's own state).

META_KEYS = frozenset(
    {
        "format",
        "format_version",
        "class",
        "likewise_version",
        "params",
        "kind",
        "rating_scale",
        "n_users",
        "n_items",
        "state",
        "arrays",
    }
)


def check_meta(where: str, meta: dict[str, Any]) -> None:
    """The scalar fields of meta.json: exactly the keys `save` writes, of the types it writes
    ("index" only when the model was saved with an item index; the model checks its value)."""
    keys = set(meta) - {"index"}
    if keys != META_KEYS:
        extra, missing = sorted(keys - META_KEYS), sorted(META_KEYS - keys)
        raise ModelFormatError(f"{where}: unexpected keys {extra or 'none'}, missing keys {missing or 'none'}")
    problems = []
    for name in ("n_users", "n_items"):
        if type(meta[name]) is not int or meta[name] < 0:
            problems.append(f"{name} must be a non-negative integer, got {meta[name]!r}")
    if meta["kind"] not in ("explicit", "implicit"):
        problems.append(f"kind must be 'explicit' or 'implicit', got {meta['kind']!r}")
    scale = meta["rating_scale"]
    if scale is not None and not (
        isinstance(scale, list)
        and len(scale) == 2
        and all(type(v) in (int, float) for v in scale)
        and scale[0] <= scale[1]
    ):
        problems.append(f"rating_scale must be null or [low, high] with low <= high, got {scale!r}")
    for name, kind in (("class", str), ("likewise_version", str), ("params", dict), ("state", dict)):
        if not isinstance(meta[name], kind):
            problems.append(f"{name} must be a JSON {'string' if kind is str else 'object'}")
    if problems:
        raise ModelFormatError(f"{where}: {'; '.join(problems)}")


def check_params(where: str, model_cls: Any, params: dict[str, Any]) -> None:
    """Exactly the constructor's parameters (validated later through `validate_params`)."""
    names = set(model_cls._param_names())
    unknown, missing = sorted(set(params) - names), sorted(names - set(params))
    if unknown:
        raise ModelFormatError(
            f"{where}: {model_cls.__name__} has no parameter {', '.join(map(repr, unknown))}; "
            f"parameters are {sorted(names)}"
        )
    if missing:
        raise ModelFormatError(f"{where}: parameter {', '.join(map(repr, missing))} of {model_cls.__name__} is missing")


def check_ids(where: str, arr: np.ndarray, count: int, what: str) -> None:
    """A saved id array: int64 or unicode, one-dimensional, `count` long, strictly increasing."""
    if arr.dtype.kind not in "iU" or (arr.dtype.kind == "i" and arr.dtype.itemsize != 8):
        raise ModelFormatError(f"{where}: {what} ids must be int64 or unicode, got {arr.dtype.str}")
    if arr.shape != (count,):
        raise ModelFormatError(f"{where}: {what} ids have shape {arr.shape}, expected ({count},) from meta.json")
    if arr.size > 1 and not (arr[1:] > arr[:-1]).all():
        raise ModelFormatError(f"{where}: {what} ids are not sorted and unique")


def check_csr(
    where: str, name: str, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, shape: tuple[int, int]
) -> None:
    """A canonical CSR matrix: int indptr (0 .. nnz, non-decreasing), int32 indices within range
    and strictly increasing within each row (the top-k kernels rely on it), float32 data."""
    n_rows, n_cols = shape
    if indptr.dtype.kind != "i" or indptr.dtype.itemsize not in (4, 8) or indptr.shape != (n_rows + 1,):
        raise ModelFormatError(f"{where}: {name} indptr must be int32/int64 of shape ({n_rows + 1},)")
    if indices.dtype != np.int32 or indices.ndim != 1 or data.dtype != np.float32 or data.shape != indices.shape:
        raise ModelFormatError(f"{where}: {name} needs int32 indices and float32 data of the same length")
    nnz = indices.size
    if indptr[0] != 0 or indptr[-1] != nnz or (np.diff(indptr) < 0).any():
        raise ModelFormatError(f"{where}: {name} indptr must rise from 0 to {nnz} without decreasing")
    if nnz and (indices.min() < 0 or indices.max() >= n_cols):
        raise ModelFormatError(f"{where}: {name} indices out of range [0, {n_cols})")
    starts = indptr[1:-1]
    starts = starts[(starts > 0) & (starts < nnz)]
    # In blocks: a whole-array np.diff would hold nnz int32 differences (100 MB at 25M entries)
    # beside the arrays being loaded, raising the load's peak memory by that much.
    for lo in range(0, max(nnz - 1, 0), _CHECK_BLOCK):
        hi = min(lo + _CHECK_BLOCK, nnz - 1)
        rising = indices[lo + 1 : hi + 1] > indices[lo:hi]
        inside = starts[(starts > lo) & (starts <= hi)]
        rising[inside - 1 - lo] = True  # a new row may start anywhere
        if not rising.all():
            row = int(np.searchsorted(indptr, lo + int(np.flatnonzero(~rising)[0]), side="right")) - 1
            raise ModelFormatError(f"{where}: {name} indices of row {row} are not sorted and unique")


def check_round_trip(where: str, model: Any, arrays: Mapping[str, np.ndarray], state: dict[str, Any]) -> None:
    """The restored model must save back exactly the array names, dtypes and shapes, and the
    JSON state, that were read: catches extra or missing members, wrong dtypes the model's
    `_set_state` would silently cast, and state values it would coerce."""
    again, state_again = model._state()
    extra, missing = sorted(set(arrays) - set(again)), sorted(set(again) - set(arrays))
    if extra or missing:
        raise ModelFormatError(
            f"{where}: {type(model).__name__} arrays do not match (unexpected: {extra or 'none'}; "
            f"missing: {missing or 'none'})"
        )
    for name, arr in arrays.items():
        other = np.asarray(again[name])
        if arr.dtype != other.dtype or arr.shape != other.shape:
            raise ModelFormatError(
                f"{where}: array {name!r} is {arr.dtype.str} {arr.shape}; "
                f"{type(model).__name__} stores {other.dtype.str} {other.shape}"
            )
    normalised = json.loads(json.dumps(state_again, default=_json_default))
    if normalised != state:
        keys = sorted(k for k in set(state) | set(normalised) if state.get(k, ...) != normalised.get(k, ...))
        raise ModelFormatError(f"{where}: state {keys} is not what {type(model).__name__} stores")
