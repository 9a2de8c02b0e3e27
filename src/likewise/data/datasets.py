"""Built-in data sets: a registry of public archives, a checksummed download cache, loaders.

``load("ml-100k")`` downloads the official archive once into the cache, verifies its sha256,
extracts it and parses it with the matching reader; later calls read the cached folder
without touching the network. ``load("sample")`` and ``load("synthetic")`` are generated
in memory and never download anything.

Cache location, first match wins: the ``data_dir`` argument, the ``LIKEWISE_DATA_DIR``
environment variable, ``$XDG_CACHE_HOME/likewise``, ``~/.cache/likewise``. Each data set
lives in ``<cache>/<name>/`` (the folder its reader takes).

Nothing half-written is ever visible there: an archive is downloaded to a temporary file
in the cache folder, verified, extracted into a temporary folder next to it, and only then
renamed into place (a rename within one file system is atomic). A failed download or a
checksum mismatch deletes the temporary files and raises `DataError`. Temporary names start
with a dot; ones older than a day (left by a killed process) are removed on the next fetch.

Offline use: ``load(name, from_path=...)`` accepts the official ``.zip`` (verified like a
download, then extracted into the cache) or an already extracted folder (read in place).
Pass ``verify=False`` for an archive that was re-packed and so has another checksum.

The data set descriptions (`DatasetInfo` and the built-in entries with their digests and
terms) are in `likewise.data._catalogue`; this module holds the registry, cache and loaders.

Checksums: the sha256 and size of every official archive were taken from
tensorflow_datasets' ``url_checksums/movielens.txt`` and cross-checked against at least two
independent projects that pin the same value (and, where GroupLens publishes one, its
``.md5`` file). A registry entry without a sha256 is verified by md5, or else by size, with
a `DataWarning`.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from likewise.data._catalogue import BUILTINS, DatasetInfo, Reader
from likewise.data.interactions import Interactions
from likewise.exceptions import DataError, DataWarning, InvalidParameterError

__all__ = [
    "DatasetInfo",
    "data_home",
    "fetch",
    "info",
    "is_cached",
    "list_datasets",
    "load",
    "register",
    "remove",
    "unregister",
]

ENV_VAR = "LIKEWISE_DATA_DIR"
STAMP = ".likewise-dataset.json"
_CHUNK = 1 << 20
_STALE_SECONDS = 24 * 3600


# --------------------------------------------------------------------------------- registry
_REGISTRY: dict[str, DatasetInfo] = {}


def register(dataset: DatasetInfo, *, replace: bool = False) -> DatasetInfo:
    """Add a data set to the registry (e.g. a private mirror, or a temporary entry in tests).

    Parameters
    ----------
    dataset
        The entry; its ``name`` becomes the key and the cache folder name.
    replace
        Overwrite an existing entry of that name instead of raising.

    Returns
    -------
    DatasetInfo
        The registered entry.

    Raises
    ------
    InvalidParameterError
        If the name is taken and ``replace`` is false.
    """
    if not isinstance(dataset, DatasetInfo):
        raise InvalidParameterError(f"expected a DatasetInfo, got {type(dataset).__name__}")
    if dataset.name in _REGISTRY and not replace:
        raise InvalidParameterError(
            f"a dataset named {dataset.name!r} is already registered; pass replace=True to overwrite it"
        )
    _REGISTRY[dataset.name] = dataset
    return dataset


def unregister(name: str) -> DatasetInfo:
    """Remove a data set from the registry (its cached files are left alone); returns it."""
    entry = info(name)
    del _REGISTRY[entry.name]
    return entry


def list_datasets() -> list[DatasetInfo]:
    """Every registered data set, in registration order (built-ins first)."""
    return list(_REGISTRY.values())


def info(name: str) -> DatasetInfo:
    """The registry entry for `name`.

    Raises
    ------
    InvalidParameterError
        For an unknown name; the message lists the known ones and the closest match.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = list(_REGISTRY)
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InvalidParameterError(f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(known)}") from None


# --------------------------------------------------------------------------------- cache
def data_home(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: `data_dir`, else $LIKEWISE_DATA_DIR, else $XDG_CACHE_HOME/likewise,
    else ~/.cache/likewise. It is not created here."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "likewise"


def is_cached(name: str, *, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether `name` is extracted in the cache (always True for generated data sets)."""
    entry = info(name)
    return entry.generated or _complete(data_home(data_dir) / entry.name, entry)


def remove(name: str, *, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Delete the cached copy of `name`; returns whether there was one."""
    entry = info(name)
    target = data_home(data_dir) / entry.name
    if not target.exists():
        return False
    trash = target.with_name(f".{entry.name}.old-{uuid.uuid4().hex[:8]}")
    os.rename(target, trash)  # atomic: readers never see a half-deleted folder
    shutil.rmtree(trash, ignore_errors=True)
    return True


# --------------------------------------------------------------------------------- fetch
def fetch(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    from_path: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: bool = True,
    verify: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Make `name` available on disk and return the folder its reader takes.

    Parameters
    ----------
    name
        A registered data set with a download URL (see `list_datasets`).
    data_dir
        Cache folder (default: see `data_home`).
    from_path
        Use a local copy instead of downloading: the official ``.zip`` (verified, then
        extracted into the cache) or an extracted folder (returned in place, not copied).
    force
        Download / extract again even if the cache already holds the data set.
    progress
        Show a progress bar (bytes, speed) on stderr while downloading.
    verify
        Check the archive's sha256 (or md5 / size when no sha256 is registered). Turn off
        only for an archive you re-packed yourself.
    timeout
        Seconds to wait for the server to connect or send data.

    Returns
    -------
    Path
        The folder holding the data set's files.

    Raises
    ------
    DataError
        On a network or HTTP error (the message names the URL), an incomplete download, a
        checksum mismatch (naming expected and actual digests), a damaged archive or a
        folder without the expected files. Nothing is left in the cache in those cases.
    InvalidParameterError
        For an unknown or generated data set.
    """
    entry = info(name)
    if entry.generated:
        raise InvalidParameterError(
            f"dataset {entry.name!r} is generated in memory; there is nothing to fetch "
            f"(use likewise.datasets.load({entry.name!r}))"
        )
    home = data_home(data_dir)
    target = home / entry.name

    if from_path is not None:
        source = Path(from_path).expanduser()
        if source.is_dir():
            return _locate(source, entry, what=f"folder {source}")
        if not source.is_file():
            raise DataError(f"{source}: no such file or folder (from_path for dataset {entry.name!r})")
        if not zipfile.is_zipfile(source):
            raise DataError(f"{source}: not a .zip archive nor a folder (from_path for dataset {entry.name!r})")
        sha256, md5, size = _digest_file(source)
        if not force and _complete(target, entry) and _stamp(target).get("sha256") == sha256:
            return target
        if verify:
            _verify(entry, sha256, md5, size, what=str(source))
        _prepare_home(home)
        _install(source, target, entry, home, sha256=sha256, source=str(source), verified=verify)
        return target

    if not force and _complete(target, entry):
        return target
    _prepare_home(home)
    assert entry.url is not None
    part, sha256, md5, size = _download(entry, home, progress=progress, timeout=timeout)
    try:
        if verify:
            _verify(entry, sha256, md5, size, what=f"download of {entry.url}", deleted=True)
        _install(part, target, entry, home, sha256=sha256, source=entry.url, verified=verify)
    finally:
        part.unlink(missing_ok=True)
    return target


def load(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    from_path: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: bool = True,
    verify: bool = True,
    timeout: float = 60.0,
    **options: Any,
) -> Interactions:
    """Load a built-in data set as Interactions, downloading it first if needed.

    Parameters
    ----------
    name
        A registered data set: ``"ml-100k"``, ``"ml-1m"``, ``"ml-latest-small"``,
        ``"ml-20m"``, ``"ml-25m"``, ``"lastfm-2k"``, ``"sample"``, ``"synthetic"``, ...
    data_dir, from_path, force, progress, verify, timeout
        As in `fetch` (ignored by generated data sets, which refuse ``from_path``).
    **options
        Passed to the reader (e.g. ``kind="implicit"`` for ``sample``, sizes for
        ``synthetic``).

    Returns
    -------
    Interactions

    Examples
    --------
    >>> data = load("sample")
    >>> data.n_users
    600
    """
    entry = info(name)
    reader = _resolve(entry)
    if entry.generated:
        if from_path is not None:
            raise InvalidParameterError(f"dataset {entry.name!r} is generated in memory; from_path does not apply")
        return reader(**options)
    folder = fetch(
        entry.name,
        data_dir=data_dir,
        from_path=from_path,
        force=force,
        progress=progress,
        verify=verify,
        timeout=timeout,
    )
    return reader(folder, **options)


# --------------------------------------------------------------------------------- internals
def _resolve(entry: DatasetInfo) -> Reader:
    if callable(entry.reader):
        return entry.reader
    module_name, _, attr = entry.reader.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"reader {entry.reader!r} of dataset {entry.name!r} cannot be imported: {exc}") from exc
    try:
        reader: Reader = getattr(module, attr)
    except AttributeError:
        raise ImportError(
            f"reader {entry.reader!r} of dataset {entry.name!r}: {module_name} has no attribute {attr!r}"
        ) from None
    return reader


def _complete(folder: Path, entry: DatasetInfo) -> bool:
    if not folder.is_dir():
        return False
    if entry.marker is not None:
        return (folder / entry.marker).is_file()
    return (folder / STAMP).is_file()


def _stamp(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _locate(root: Path, entry: DatasetInfo, *, what: str) -> Path:
    """The folder under `root` (itself or one level down) that holds the data set's marker."""
    if entry.marker is None:
        children = [p for p in root.iterdir() if not p.name.startswith(".")]
        if len(children) == 1 and children[0].is_dir():
            return children[0]
        return root
    if (root / entry.marker).is_file():
        return root
    found = sorted(p.parent for p in root.glob(f"*/{entry.marker}") if p.is_file())
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise DataError(
            f"{what}: several folders hold {entry.marker} ({', '.join(str(p) for p in found)}); point at one of them"
        )
    raise DataError(f"{what}: {entry.marker} not found (expected the files of dataset {entry.name!r})")


def _prepare_home(home: Path) -> None:
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data cache folder {home}: {exc}") from exc
    cutoff = time.time() - _STALE_SECONDS
    for leftover in home.glob(".*"):
        if not re.search(r"\.(part|extract-[^/]*|old-[0-9a-f]{8})$", leftover.name):
            continue
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink()


def _digest_file(path: Path) -> tuple[str, str, int]:
    sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), md5.hexdigest(), size


def _verify(entry: DatasetInfo, sha256: str, md5: str, size: int, *, what: str, deleted: bool = False) -> None:
    after = " The downloaded file was deleted." if deleted else ""
    advice = (
        " If you re-packed this archive yourself, pass verify=False."
        if not deleted
        else " Try again later; if the publisher has changed the archive, check it and pass verify=False."
    )
    if entry.sha256 is not None:
        if sha256 != entry.sha256:
            raise DataError(
                f"{what}: sha256 mismatch for dataset {entry.name!r}: expected "
                f"{entry.sha256}, got {sha256} ({size:,} bytes).{after}{advice}"
            )
        return
    if entry.md5 is not None:
        warnings.warn(
            f"dataset {entry.name!r} has no registered sha256; {what} is verified by md5 only",
            DataWarning,
            stacklevel=3,
        )
        if md5 != entry.md5:
            raise DataError(
                f"{what}: md5 mismatch for dataset {entry.name!r}: expected {entry.md5}, "
                f"got {md5} ({size:,} bytes).{after}{advice}"
            )
        return
    warnings.warn(
        f"dataset {entry.name!r} has no registered checksum; {what} is verified by size only"
        if entry.size is not None
        else f"dataset {entry.name!r} has no registered checksum or size; {what} is not verified",
        DataWarning,
        stacklevel=3,
    )
    if entry.size is not None and size != entry.size:
        raise DataError(
            f"{what}: size mismatch for dataset {entry.name!r}: expected {entry.size:,} bytes, "
            f"got {size:,}.{after}{advice}"
        )


def _download(entry: DatasetInfo, home: Path, *, progress: bool, timeout: float) -> tuple[Path, str, str, int]:
    """Stream the archive into a temporary file in `home`; return it with its digests."""
    import http.client
    import urllib.error
    import urllib.request

    url = entry.url
    assert url is not None
    fd, name = tempfile.mkstemp(prefix=f".{entry.archive_name}.", suffix=".part", dir=home)
    part = Path(name)
    sha, md5, received = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    ok = False
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "likewise (python urllib)"})
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except urllib.error.HTTPError as exc:
                raise DataError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
            except urllib.error.URLError as exc:
                raise DataError(
                    f"download of {url} failed: {exc.reason} (no network? use from_path= "
                    "with a copy of the archive to work offline)"
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise DataError(f"download of {url} failed: {exc}") from exc
            with response:
                length = response.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                with _progress(progress, expected or entry.size, entry.name) as advance:
                    while True:
                        try:
                            chunk = response.read(_CHUNK)
                        except (OSError, http.client.HTTPException) as exc:
                            raise DataError(
                                f"download of {url} was interrupted after {received:,} bytes: {exc}"
                            ) from exc
                        if not chunk:
                            break
                        out.write(chunk)
                        sha.update(chunk)
                        md5.update(chunk)
                        received += len(chunk)
                        advance(len(chunk))
            if expected is not None and received != expected:
                raise DataError(
                    f"download of {url} is incomplete: received {received:,} of {expected:,} "
                    "bytes (the connection closed early)"
                )
            out.flush()
            os.fsync(out.fileno())
        ok = True
        return part, sha.hexdigest(), md5.hexdigest(), received
    finally:
        if not ok:
            part.unlink(missing_ok=True)


@contextlib.contextmanager
def _progress(enabled: bool, total: int | None, label: str) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(f"downloading {label}", total=total)
        yield lambda n: bar.advance(task, n)


def _install(
    archive: Path, target: Path, entry: DatasetInfo, home: Path, *, sha256: str, source: str, verified: bool
) -> None:
    """Extract `archive` next to `target` and rename the data folder into place."""
    workdir = Path(tempfile.mkdtemp(prefix=f".{entry.name}.extract-", dir=home))
    try:
        _extract(archive, workdir, what=source)
        folder = _locate(workdir, entry, what=f"archive {source}")
        stamp = {
            "name": entry.name,
            "source": source,
            "sha256": sha256,
            "verified": verified,
            "installed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (folder / STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
        _swap_into_place(folder, target, entry)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _extract(archive: Path, dest: Path, *, what: str) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                parts = PurePosixPath(member.filename.replace("\\", "/")).parts
                if member.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise DataError(f"{what}: unsafe path in archive: {member.filename!r}")
            zf.extractall(dest)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{what}: damaged zip archive ({exc})") from exc
    except OSError as exc:
        raise DataError(f"{what}: extraction failed: {exc}") from exc


def _swap_into_place(folder: Path, target: Path, entry: DatasetInfo) -> None:
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(target, old)
    try:
        os.rename(folder, target)
    except OSError as exc:
        if _complete(target, entry):  # another process installed it meanwhile
            return
        raise DataError(f"cannot move the extracted files into {target}: {exc}") from exc
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


for _entry in BUILTINS:
    register(_entry)
del _entry
