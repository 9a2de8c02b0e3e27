"""Fixtures of the service tests: tiny models with known answers, clients, live servers, PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("sqlalchemy", reason="the serve extra (sqlalchemy) is not installed")

from fastapi.testclient import TestClient

from likewise.models import ItemKNN
from likewise.serving import Settings, create_app
from likewise.testing.fixtures import checkerboard

SRC = Path(__file__).resolve().parents[2] / "src"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
TOKEN = "s3cret-token"


@pytest.fixture(scope="session")
def checker_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ItemKNN on the 8x8 checkerboard: user u's best item is the one withheld from u."""
    data, _withheld = checkerboard()
    path = tmp_path_factory.mktemp("checker") / "model"
    ItemKNN(k=8).fit(data).save(path)
    return path


@pytest.fixture
def model_dir(checker_dir: Path, tmp_path: Path) -> Path:
    """A private copy (the default store is a file next to the model)."""
    target = tmp_path / "model"
    shutil.copytree(checker_dir, target)
    return target


def make_client(model_dir: Path, **settings: object) -> TestClient:
    values: dict[str, object] = {"model_dir": model_dir, "insecure": True}
    values.update(settings)
    return TestClient(create_app(Settings(**values)))  # type: ignore[arg-type]


@pytest.fixture
def client(model_dir: Path) -> Iterator[TestClient]:
    with make_client(model_dir) as c:
        yield c


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """`likewise serve` in a subprocess on a free loopback port."""

    def __init__(self, model_dir: Path, store: str, *, token: str = TOKEN) -> None:
        self.model_dir, self.store, self.token = model_dir, store, token
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(SRC), "LIKEWISE_API_TOKEN": self.token, "OPENBLAS_NUM_THREADS": "1"}
        cmd = [
            sys.executable,
            "-m",
            "likewise",
            "serve",
            str(self.model_dir),
            "--store",
            self.store,
            "--port",
            str(self.port),
        ]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not become ready in 120 s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


# ------------------------------------------------------------------ PostgreSQL
def _start_postgres(root: Path) -> tuple[str, subprocess.Popen[bytes] | None, Path]:
    """initdb + pg_ctl of Debian's binaries in `root`, as the postgres user when we are root."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"no PostgreSQL binaries in {PG_BIN} (apt-get install postgresql)")
    data = root / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise RuntimeError("running as root and runuser is missing: cannot run PostgreSQL as a non-root user")
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
    port = free_port()
    subprocess.run(
        [*prefix, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *prefix,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(root / "log"),
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", None, data


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL: LIKEWISE_TEST_POSTGRES_URL, else a throwaway server of our own.

    Without either the tests skip, unless LIKEWISE_REQUIRE_POSTGRES=1 (CI), where they fail.
    """
    given = os.environ.get("LIKEWISE_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    root = Path(tempfile.mkdtemp(prefix="likewise-pg-"))
    try:
        url, _proc, data = _start_postgres(root)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        detail = getattr(exc, "stderr", b"") or b""
        message = f"cannot start PostgreSQL: {exc} {detail.decode(errors='replace')[:500]}"
        if os.environ.get("LIKEWISE_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield url
    finally:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_store_url(postgres_url: str) -> Iterator[str]:
    """A fresh database per test on the PostgreSQL server."""
    import sqlalchemy as sa

    name = f"t{os.getpid()}_{time.monotonic_ns()}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
