"""Tests for the data set registry, the download cache and `load`.

Downloads are served by a local HTTP server on 127.0.0.1 started inside the tests; the
real data sets are read from the shared data folder when present (never copied).
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import likewise.datasets as public
from likewise.data import datasets
from likewise.data.datasets import DatasetInfo
from likewise.data.interactions import Interactions
from likewise.exceptions import DataError, DataWarning, InvalidParameterError
from tests._paths import SHARED_DATA

SHARED = SHARED_DATA
RATINGS = "user,item,rating,timestamp\n1,10,4,100\n1,20,5,200\n2,10,3,300\n3,30,1,400\n"


def read_tiny(folder: Path, **options: object) -> Interactions:
    """The reader of the test data set: one ratings.csv."""
    frame = pd.read_csv(folder / "ratings.csv")
    return Interactions.from_frame(
        frame, user="user", item="item", rating="rating", timestamp="timestamp", source=str(folder / "ratings.csv")
    )


def make_zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return buffer.getvalue()


TINY_ZIP = make_zip({"tiny/ratings.csv": RATINGS, "tiny/README": "a tiny data set\n"})
TINY_SHA = hashlib.sha256(TINY_ZIP).hexdigest()


# ------------------------------------------------------------------------------- fixtures
class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.hits[self.path] += 1
        behaviour, body = self.server.routes.get(self.path, ("missing", b""))
        if behaviour == "missing":
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if behaviour == "truncate":  # promise everything, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.hits: Counter[str] = Counter()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache; never touch ~/.cache; never go through a proxy."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("LIKEWISE_DATA_DIR", str(cache))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    return cache


@pytest.fixture
def entry(server: _Server, request: pytest.FixtureRequest) -> Iterator[DatasetInfo]:
    """A registered test data set served at /<name>.zip; removed again afterwards."""
    name = f"tiny-{request.node.name.lower().replace('_', '-')[:40].strip('-')}"
    path = f"/{name}.zip"
    server.routes[path] = ("ok", TINY_ZIP)
    info = DatasetInfo(
        name=name,
        title="tiny",
        url=server.base + path,
        sha256=TINY_SHA,
        size=len(TINY_ZIP),
        marker="ratings.csv",
        reader=read_tiny,
    )
    datasets.register(info)
    try:
        yield info
    finally:
        datasets.unregister(name)
        server.routes.pop(path, None)


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def hits(server: _Server, info: DatasetInfo) -> int:
    assert info.url is not None
    return server.hits[info.url.removeprefix(server.base)]


# ------------------------------------------------------------------------------- registry
def test_builtin_registry_has_the_public_sets_with_pinned_checksums() -> None:
    names = [d.name for d in datasets.list_datasets()]
    for name in ("ml-100k", "ml-1m", "ml-latest-small", "ml-20m", "ml-25m", "lastfm-2k", "sample", "synthetic"):
        assert name in names
    pinned = {
        "ml-100k": ("50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229", 4_924_029),
        "ml-1m": ("a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20", 5_917_549),
        "ml-latest-small": ("696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436", 978_202),
        "ml-20m": ("96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3", 198_702_078),
        "ml-25m": ("8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa", 261_978_986),
        "lastfm-2k": ("6738f48195667ff03caaab4d32ca9a3133d8cc026b7c3cdaf6ce1010e913c59c", 2_589_075),
    }
    readers = {
        "ml-100k": "read_ml100k",
        "ml-1m": "read_ml1m",
        "ml-latest-small": "read_ml_latest",
        "ml-20m": "read_ml_latest",
        "ml-25m": "read_ml_latest",
        "lastfm-2k": "read_lastfm_hetrec",
    }
    for name, (sha, size) in pinned.items():
        d = datasets.info(name)
        assert d.sha256 == sha and d.size == size
        assert d.url is not None and d.url.startswith("https://files.grouplens.org/datasets/")
        assert d.url.endswith(".zip") and not d.generated
        assert d.reader == f"likewise.data.movielens:{readers[name]}"
        assert d.license and d.citation and d.homepage and d.marker
    assert datasets.info("lastfm-2k").kind == "implicit"
    assert datasets.info("ml-latest-small").redistributable
    assert not datasets.info("ml-100k").redistributable
    assert datasets.info("sample").generated and datasets.info("synthetic").generated
    assert datasets.info("ml-100k").to_dict()["generated"] is False


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(InvalidParameterError, match=r"unknown dataset 'ml100k'\. Did you mean 'ml-100k'\?"):
        datasets.info("ml100k")
    with pytest.raises(InvalidParameterError, match="Known datasets: ml-100k, "):
        datasets.load("nothing-like-it")


def test_register_refuses_duplicates_and_bad_entries() -> None:
    info = DatasetInfo(name="tmp-entry", title="t", reader=read_tiny, url="http://127.0.0.1:9/x.zip")
    datasets.register(info)
    try:
        with pytest.raises(InvalidParameterError, match="already registered; pass replace=True"):
            datasets.register(info)
        assert datasets.register(info, replace=True) is info
    finally:
        assert datasets.unregister("tmp-entry") is info
    assert "tmp-entry" not in [d.name for d in datasets.list_datasets()]
    with pytest.raises(InvalidParameterError, match="dataset name must be lower case"):
        DatasetInfo(name="Bad Name", title="t", reader=read_tiny)
    with pytest.raises(InvalidParameterError, match="sha256 must be 64 lower-case hex digits"):
        DatasetInfo(name="ok", title="t", reader=read_tiny, sha256="abc")
    with pytest.raises(InvalidParameterError, match="expected a DatasetInfo"):
        datasets.register({"name": "x"})  # type: ignore[arg-type]


def test_data_home_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIKEWISE_DATA_DIR", str(tmp_path / "env"))
    assert datasets.data_home() == tmp_path / "env"
    assert datasets.data_home(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("LIKEWISE_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.data_home() == tmp_path / "xdg" / "likewise"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets.data_home() == tmp_path / "home" / ".cache" / "likewise"


def test_public_facade_exports() -> None:
    assert public.load is datasets.load and public.fetch is datasets.fetch
    assert public.info("ml-1m").name == "ml-1m"
    assert public.sample().n_users == 600
    assert public.synthetic(20, 10, 100).nnz == 100
    assert set(public.__all__) >= {
        "load",
        "fetch",
        "info",
        "list_datasets",
        "sample",
        "synthetic",
        "register",
        "DatasetInfo",
    }


# ------------------------------------------------------------------------------- generated
def test_generated_sets_load_without_network(isolated_cache: Path) -> None:
    data = datasets.load("sample", kind="implicit")
    assert data.kind == "implicit" and data.n_users == 600
    small = datasets.load("synthetic", n_users=30, n_items=20, n_interactions=200, random_state=1)
    assert small.nnz == 200
    assert datasets.is_cached("sample")
    assert not isolated_cache.exists()
    with pytest.raises(InvalidParameterError, match="generated in memory; there is nothing to fetch"):
        datasets.fetch("sample")
    with pytest.raises(InvalidParameterError, match="from_path does not apply"):
        datasets.load("sample", from_path="/tmp")


# ------------------------------------------------------------------------------- downloads
def test_download_verify_extract_load_then_cached(server: _Server, entry: DatasetInfo, isolated_cache: Path) -> None:
    assert not datasets.is_cached(entry.name)
    folder = datasets.fetch(entry.name, progress=False)
    assert folder == isolated_cache / entry.name
    assert files_under(isolated_cache) == [
        entry.name,
        f"{entry.name}/.likewise-dataset.json",
        f"{entry.name}/README",
        f"{entry.name}/ratings.csv",
    ]
    stamp = datasets._stamp(folder)
    assert stamp["sha256"] == TINY_SHA and stamp["verified"] is True and stamp["source"] == entry.url
    assert hits(server, entry) == 1

    data = datasets.load(entry.name, progress=False)
    assert (data.n_users, data.n_items, data.nnz) == (3, 3, 4)
    np.testing.assert_array_equal(data.users.ids, [1, 2, 3])
    np.testing.assert_array_equal(data.items.ids, [10, 20, 30])
    np.testing.assert_array_equal(data.values, [4, 5, 3, 1])
    np.testing.assert_array_equal(data.timestamps, [100, 200, 300, 400])
    assert hits(server, entry) == 1  # the second call reads the cache
    assert datasets.is_cached(entry.name)


def test_force_downloads_again_and_replaces_the_folder(
    server: _Server, entry: DatasetInfo, isolated_cache: Path
) -> None:
    folder = datasets.fetch(entry.name, progress=False)
    (folder / "ratings.csv").write_text("user,item,rating,timestamp\n9,9,1,1\n")
    again = datasets.fetch(entry.name, progress=False, force=True)
    assert again == folder and hits(server, entry) == 2
    assert (folder / "ratings.csv").read_text() == RATINGS
    assert [p for p in os.listdir(isolated_cache) if p.startswith(".")] == []


def test_progress_bar_does_not_break_the_download(entry: DatasetInfo, capsys: pytest.CaptureFixture[str]) -> None:
    folder = datasets.fetch(entry.name, progress=True)
    assert (folder / "ratings.csv").is_file()
    assert capsys.readouterr().out == ""  # the bar goes to stderr, never stdout


def test_checksum_mismatch_deletes_everything(server: _Server, isolated_cache: Path) -> None:
    wrong = "0" * 64
    server.routes["/bad.zip"] = ("ok", TINY_ZIP)
    info = datasets.register(
        DatasetInfo(
            name="tiny-bad",
            title="t",
            url=server.base + "/bad.zip",
            sha256=wrong,
            marker="ratings.csv",
            reader=read_tiny,
        )
    )
    try:
        with pytest.raises(
            DataError,
            match=rf"sha256 mismatch for dataset 'tiny-bad': expected {wrong}, "
            rf"got {TINY_SHA} .*deleted",
        ):
            datasets.load(info.name, progress=False)
        assert files_under(isolated_cache) == []
        assert not datasets.is_cached(info.name)
    finally:
        datasets.unregister(info.name)


def test_interrupted_download_leaves_nothing(server: _Server, isolated_cache: Path) -> None:
    server.routes["/cut.zip"] = ("truncate", TINY_ZIP)
    info = datasets.register(
        DatasetInfo(
            name="tiny-cut",
            title="t",
            url=server.base + "/cut.zip",
            sha256=TINY_SHA,
            marker="ratings.csv",
            reader=read_tiny,
        )
    )
    try:
        with pytest.raises(
            DataError,
            match=rf"download of {info.url} is incomplete: received "
            rf"{len(TINY_ZIP) // 2:,} of {len(TINY_ZIP):,} bytes",
        ):
            datasets.fetch(info.name, progress=False)
        assert files_under(isolated_cache) == []
    finally:
        datasets.unregister(info.name)


def test_http_404_names_the_url(server: _Server, isolated_cache: Path) -> None:
    info = datasets.register(
        DatasetInfo(
            name="tiny-404",
            title="t",
            url=server.base + "/gone.zip",
            sha256=TINY_SHA,
            marker="ratings.csv",
            reader=read_tiny,
        )
    )
    try:
        with pytest.raises(DataError, match=rf"download of {info.url} failed: HTTP 404"):
            datasets.load(info.name, progress=False)
        assert files_under(isolated_cache) == []
    finally:
        datasets.unregister(info.name)


def test_no_server_gives_a_clear_error(isolated_cache: Path) -> None:
    probe = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = probe.server_address[1]
    probe.server_close()  # nobody listens on this port any more
    url = f"http://127.0.0.1:{port}/x.zip"
    info = datasets.register(
        DatasetInfo(name="tiny-offline", title="t", url=url, sha256=TINY_SHA, marker="ratings.csv", reader=read_tiny)
    )
    try:
        with pytest.raises(DataError, match=rf"download of {url} failed: .*from_path="):
            datasets.fetch(info.name, progress=False, timeout=5)
        assert files_under(isolated_cache) == []
    finally:
        datasets.unregister(info.name)


def test_archive_without_the_marker_is_refused(server: _Server, isolated_cache: Path) -> None:
    body = make_zip({"other/data.txt": "x"})
    server.routes["/nomarker.zip"] = ("ok", body)
    info = datasets.register(
        DatasetInfo(
            name="tiny-nomarker",
            title="t",
            url=server.base + "/nomarker.zip",
            sha256=hashlib.sha256(body).hexdigest(),
            marker="ratings.csv",
            reader=read_tiny,
        )
    )
    try:
        with pytest.raises(DataError, match=r"archive .*nomarker\.zip: ratings\.csv not found"):
            datasets.fetch(info.name, progress=False)
        assert files_under(isolated_cache) == []
    finally:
        datasets.unregister(info.name)


def test_archive_with_files_at_the_root_is_found(server: _Server, isolated_cache: Path) -> None:
    body = make_zip({"ratings.csv": RATINGS})  # like the Last.fm archive: no top folder
    server.routes["/flat.zip"] = ("ok", body)
    info = datasets.register(
        DatasetInfo(
            name="tiny-flat",
            title="t",
            url=server.base + "/flat.zip",
            sha256=hashlib.sha256(body).hexdigest(),
            marker="ratings.csv",
            reader=read_tiny,
        )
    )
    try:
        assert datasets.load(info.name, progress=False).nnz == 4
        assert (isolated_cache / "tiny-flat" / "ratings.csv").is_file()
    finally:
        datasets.unregister(info.name)


def test_md5_only_and_unverified_entries_warn(server: _Server) -> None:
    server.routes["/md5.zip"] = ("ok", TINY_ZIP)
    md5 = hashlib.md5(TINY_ZIP).hexdigest()
    info = datasets.register(
        DatasetInfo(
            name="tiny-md5", title="t", url=server.base + "/md5.zip", md5=md5, marker="ratings.csv", reader=read_tiny
        )
    )
    sized = datasets.register(
        DatasetInfo(
            name="tiny-size",
            title="t",
            url=server.base + "/md5.zip",
            size=len(TINY_ZIP) + 1,
            marker="ratings.csv",
            reader=read_tiny,
        )
    )
    try:
        with pytest.warns(DataWarning, match="no registered sha256; .* verified by md5 only"):
            assert datasets.fetch(info.name, progress=False).is_dir()
        with (
            pytest.warns(DataWarning, match="verified by size only"),
            pytest.raises(DataError, match=rf"size mismatch .*expected {len(TINY_ZIP) + 1:,} bytes"),
        ):
            datasets.fetch(sized.name, progress=False)
    finally:
        datasets.unregister(info.name)
        datasets.unregister(sized.name)


def test_stale_temporary_files_are_cleaned_up(entry: DatasetInfo, isolated_cache: Path) -> None:
    isolated_cache.mkdir(parents=True)
    old = isolated_cache / ".something.zip.abc123.part"
    fresh = isolated_cache / ".other.zip.def456.part"
    old_dir = isolated_cache / ".thing.extract-xyz"
    for path in (old, fresh):
        path.write_bytes(b"half")
    old_dir.mkdir()
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    os.utime(old_dir, (two_days_ago, two_days_ago))
    datasets.fetch(entry.name, progress=False)
    assert not old.exists() and not old_dir.exists()
    assert fresh.exists()  # may belong to a download in progress in another process


def test_remove_deletes_the_cached_copy(entry: DatasetInfo, isolated_cache: Path) -> None:
    assert datasets.remove(entry.name) is False
    datasets.fetch(entry.name, progress=False)
    assert datasets.remove(entry.name) is True
    assert files_under(isolated_cache) == []
    assert not datasets.is_cached(entry.name)


def test_likewise_data_dir_is_honoured(entry: DatasetInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("LIKEWISE_DATA_DIR", str(elsewhere))
    folder = datasets.fetch(entry.name, progress=False)
    assert folder == elsewhere / entry.name and (folder / "ratings.csv").is_file()
    explicit = datasets.fetch(entry.name, progress=False, data_dir=tmp_path / "arg")
    assert explicit == tmp_path / "arg" / entry.name


# ------------------------------------------------------------------------------- from_path
def test_from_path_folder_is_read_in_place(
    server: _Server, entry: DatasetInfo, tmp_path: Path, isolated_cache: Path
) -> None:
    folder = tmp_path / "mine" / "tiny"
    folder.mkdir(parents=True)
    (folder / "ratings.csv").write_text(RATINGS)
    assert datasets.fetch(entry.name, from_path=folder) == folder
    assert datasets.fetch(entry.name, from_path=folder.parent) == folder  # one level down is found
    assert datasets.load(entry.name, from_path=folder).nnz == 4
    assert hits(server, entry) == 0 and files_under(isolated_cache) == []
    with pytest.raises(DataError, match=r"folder .*: ratings\.csv not found"):
        datasets.fetch(entry.name, from_path=tmp_path)  # two levels up: not searched


def test_from_path_zip_is_verified_and_extracted_into_the_cache(
    server: _Server, entry: DatasetInfo, tmp_path: Path, isolated_cache: Path
) -> None:
    archive = tmp_path / "tiny.zip"
    archive.write_bytes(TINY_ZIP)
    folder = datasets.fetch(entry.name, from_path=archive)
    assert folder == isolated_cache / entry.name
    assert datasets.load(entry.name, from_path=archive).nnz == 4  # same archive: cache reused
    assert datasets.load(entry.name).nnz == 4  # later loads need no from_path
    assert hits(server, entry) == 0
    assert datasets._stamp(folder)["source"] == str(archive)


def test_from_path_repacked_zip_needs_verify_false(entry: DatasetInfo, tmp_path: Path, isolated_cache: Path) -> None:
    repacked = tmp_path / "repacked.zip"
    repacked.write_bytes(make_zip({"ratings.csv": RATINGS + "4,40,2,500\n"}))
    with pytest.raises(DataError, match=rf"repacked\.zip: sha256 mismatch .*expected {TINY_SHA}.*verify=False"):
        datasets.fetch(entry.name, from_path=repacked)
    assert files_under(isolated_cache) == []
    data = datasets.load(entry.name, from_path=repacked, verify=False)
    assert data.nnz == 5
    assert datasets._stamp(isolated_cache / entry.name)["verified"] is False


def test_from_path_errors(entry: DatasetInfo, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        datasets.fetch(entry.name, from_path=tmp_path / "missing.zip")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(DataError, match=r"notes\.txt: not a \.zip archive nor a folder"):
        datasets.fetch(entry.name, from_path=text)
    evil = tmp_path / "evil.zip"
    evil.write_bytes(make_zip({"../escape/ratings.csv": RATINGS}))
    with pytest.raises(DataError, match=r"unsafe path in archive: '\.\./escape/ratings\.csv'"):
        datasets.fetch(entry.name, from_path=evil, verify=False)
    assert not (tmp_path / "escape").exists()


# ------------------------------------------------------------------------------- real data
@pytest.mark.parametrize(
    ("name", "folder", "n_users", "nnz", "kind"),
    [
        ("ml-100k", "ml-100k", 943, 100_000, "explicit"),
        ("ml-latest-small", "ml-latest-small", 610, 100_836, "explicit"),
        ("lastfm-2k", "hetrec2011-lastfm-2k", 1892, 92_834, "implicit"),
    ],
)
def test_load_real_data_from_the_shared_folder(
    name: str, folder: str, n_users: int, nnz: int, kind: str, isolated_cache: Path
) -> None:
    path = SHARED / folder
    marker = datasets.info(name).marker
    if marker is None or not (path / marker).is_file():
        pytest.skip(f"shared {folder} copy not available")
    pytest.importorskip("likewise.data.movielens", reason="MovieLens readers not written yet")
    data = datasets.load(name, from_path=path)
    assert (data.n_users, data.nnz, data.kind) == (n_users, nnz, kind)
    assert files_under(isolated_cache) == []  # read in place, nothing copied
