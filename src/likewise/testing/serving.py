"""Fault and conformance checks of ``likewise serve``, shared by tests/serving and the serve benchmark.

- `LiveServer`: a real ``likewise serve`` subprocess on a free loopback port.
- `throwaway_postgres` / `fresh_database`: a PostgreSQL server of Debian's binaries in a
  temporary folder, and a database on it per check (no mock).
- `check_durability`: SIGKILL the server in the middle of a stream of event posts, restart it,
  retry everything sent with the same ``event_id`` and count what the store holds.
- `check_schema`: schemathesis against the app's own OpenAPI schema, every operation.

They need the ``serve`` extra (and schemathesis for `check_schema`); nothing here is imported
by the library itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import likewise

__all__ = [
    "PG_BIN",
    "Durability",
    "LiveServer",
    "SchemaCheck",
    "check_durability",
    "check_schema",
    "fresh_database",
    "throwaway_postgres",
]

SRC = Path(likewise.__file__).resolve().parents[1]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
"""Where Debian's ``postgresql`` package puts initdb and pg_ctl."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """`likewise serve` in a subprocess on a free loopback port."""

    def __init__(self, model_dir: Path, store: str, *, token: str) -> None:
        self.model_dir, self.store, self.token = model_dir, store, token
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        import httpx

        path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, "LIKEWISE_API_TOKEN": self.token, "OPENBLAS_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "likewise", "serve", str(self.model_dir), "--store", self.store]
        cmd += ["--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not become ready in {timeout:.0f} s")

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
def _as_postgres_user() -> list[str]:
    """initdb refuses to run as root: run the binaries as the postgres user then."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        raise RuntimeError("running as root and runuser is missing: cannot run PostgreSQL as a non-root user")
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL server (initdb + pg_ctl, fsync on) in a temporary folder; yields its URL.

    Raises RuntimeError (or CalledProcessError / OSError) when it cannot start: no binaries in
    `PG_BIN`, no postgres user. Stopped (immediate) and removed on exit.
    """
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"no PostgreSQL binaries in {PG_BIN} (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="likewise-pg-"))
    data = root / "data"
    try:
        prefix = _as_postgres_user()
        if prefix:
            shutil.chown(root, "postgres")
            os.chmod(root, 0o700)
        port = free_port()
        initdb = [*prefix, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
        subprocess.run(initdb, check=True, capture_output=True)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on"
        pg_ctl = [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o", options]
        subprocess.run([*pg_ctl, "start"], check=True, capture_output=True)
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            stop = [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
            subprocess.run(stop, capture_output=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server at `server_url`; dropped on exit."""
    import sqlalchemy as sa

    name = f"t{os.getpid()}_{time.monotonic_ns()}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ------------------------------------------------------------------ durability
BATCH = 5  # events per post of the stream


def _batch(k: int, ids: list[str]) -> list[dict[str, Any]]:
    """Post k of the stream (the same body when retried): items 0..7 exist in the test models."""
    return [{"user": f"s{k % 7}", "item": (k + j) % 8, "event_id": e} for j, e in enumerate(ids)]


@dataclass
class Durability:
    """What `check_durability` saw; the service is durable when lost, duplicated, phantom,
    acked_retries_accepted and retry_miscounts are all zero."""

    store: str
    sent: int  # events posted before and around the kill (in batches of BATCH)
    acked: int  # events in batches answered 200 before the kill
    stored: int  # distinct event ids in the store after restart and retries
    lost: int  # acknowledged but not in the store
    duplicated: int  # extra rows for an event id (the unique key forbids them)
    phantom: int  # stored but never sent
    acked_retries_accepted: int  # acknowledged events a retry stored again instead of calling duplicates
    retry_miscounts: int  # retried batches whose accepted + duplicates was not the batch size
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        counts = (self.lost, self.duplicated, self.phantom, self.acked_retries_accepted, self.retry_miscounts)
        return self.acked > 0 and not any(counts)


def _stream(server: LiveServer, sent: list[list[str]], acked: set[str], stop: threading.Event) -> None:
    """Post batches with fresh ids until stopped or the server dies."""
    import httpx

    headers = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=server.url, timeout=10, headers=headers) as client:
        k = 0
        while not stop.is_set():
            ids = [f"e{k}-{j}" for j in range(BATCH)]
            sent.append(ids)
            try:
                response = client.post("/v1/events", json={"events": _batch(k, ids)})
            except httpx.HTTPError:
                return
            finally:
                k += 1
            if response.status_code == 200:
                acked.update(ids)


def check_durability(model_dir: Path, store: str, *, token: str, min_acked: int = 300) -> Durability:
    """SIGKILL `likewise serve` (on `store`) once `min_acked` events are acknowledged, mid-stream;
    restart it, retry every batch sent (same ids) and count the store's rows per event id."""
    import httpx
    import sqlalchemy as sa

    from likewise.serving.store import EventStore

    started = time.perf_counter()
    server = LiveServer(model_dir, store, token=token)
    server.start()
    sent: list[list[str]] = []
    acked: set[str] = set()
    stop = threading.Event()
    thread = threading.Thread(target=_stream, args=(server, sent, acked, stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while len(acked) < min_acked and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # SIGKILL mid-stream: a batch is in flight
    stop.set()
    thread.join(timeout=30)
    acked_at_kill = set(acked)
    accepted_again = miscounts = 0
    restarted = LiveServer(model_dir, store, token=token)
    restarted.start()
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=restarted.url, timeout=10, headers=headers) as client:
            for k, ids in enumerate(sent):  # the client retries everything, acknowledged or not
                body = client.post("/v1/events", json={"events": _batch(k, ids)}).json()
                miscounts += body["accepted"] + body["duplicates"] != len(ids)
                if set(ids) <= acked_at_kill:
                    accepted_again += body["accepted"]
    finally:
        restarted.stop()
    events = EventStore(store)
    try:
        with events.engine.connect() as conn:
            counts: dict[str, int] = dict(
                conn.execute(sa.text("SELECT event_id, count(*) FROM events GROUP BY event_id")).all()
            )
    finally:
        events.close()
    all_sent = {e for ids in sent for e in ids}
    return Durability(
        store=events.backend,
        sent=len(all_sent),
        acked=len(acked_at_kill),
        stored=len(counts),
        lost=len(acked_at_kill - set(counts)),
        duplicated=sum(c - 1 for c in counts.values()),
        phantom=len(set(counts) - all_sent),
        acked_retries_accepted=accepted_again,
        retry_miscounts=miscounts,
        seconds=time.perf_counter() - started,
    )


# ------------------------------------------------------------------ schema
@dataclass
class SchemaCheck:
    """What `check_schema` saw: per operation, examples run and failures found."""

    operations: int = 0
    examples: int = 0
    server_errors: int = 0  # examples answered 5xx
    violations: int = 0  # examples failing another check (response outside the schema, ...)
    failures: list[str] = field(default_factory=list)  # "METHOD /path: what" for each failing operation

    @property
    def ok(self) -> bool:
        return self.operations > 0 and not self.failures


def check_schema(app: Any, *, token: str, max_examples: int = 25, seed: int = 0) -> SchemaCheck:
    """schemathesis (its default checks: no 5xx, responses conform to the schema, ...) on every
    operation of `app`'s ``/openapi.json``, through ASGI; write calls carry `token` so both the
    401 path and the real handlers are exercised."""
    import schemathesis
    from schemathesis.core.result import Err

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    result = SchemaCheck()
    for found in schema.get_all_operations():
        result.operations += 1
        if isinstance(found, Err):  # an operation schemathesis cannot read is a failure of the schema
            result.failures.append(f"unreadable operation: {found.err()}")
            continue
        operation = found.ok()
        examples, server_errors, violations, failure = _check_operation(operation, token, max_examples, seed)
        result.examples += examples
        result.server_errors += server_errors
        result.violations += violations
        if failure is not None:
            result.failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    return result


def _check_operation(operation: Any, token: str, max_examples: int, seed: int) -> tuple[int, int, int, str | None]:
    """(examples, 5xx answers, other failed checks, the first failure's message or None)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from schemathesis.core.failures import FailureGroup  # what validate_response raises (a BaseExceptionGroup)

    seen = {"examples": 0, "server_errors": 0, "violations": 0}

    @hypothesis_seed(seed)
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        seen["examples"] += 1
        headers = {"Authorization": f"Bearer {token}"} if case.method.upper() != "GET" else None
        try:
            response = case.call(headers=headers)
        except Exception:  # an app exception reaching the ASGI caller: what a client sees as a 500
            seen["server_errors"] += 1
            raise
        if response.status_code >= 500:
            seen["server_errors"] += 1
        try:
            case.validate_response(response)
        except (Exception, FailureGroup):
            if response.status_code < 500:
                seen["violations"] += 1
            raise

    failure = None
    try:
        run()
    except (Exception, FailureGroup) as exc:  # hypothesis re-raises the (shrunk) failure: keep its first line
        text = str(exc).strip()
        failure = text.splitlines()[0] if text else type(exc).__name__
    return seen["examples"], seen["server_errors"], seen["violations"], failure
