"""Load generation for the service suites: a `likewise serve` subprocess on loopback, an
asyncio open/closed-loop HTTP generator, and wrk (used by suites/serve.py and suites/serve_index.py).

Every function that runs in a child process (`load_generator`) is importable at module level, so
a spawn-context process pool can run it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO_ROOT, BenchmarkError

IDLE_EXPIRY_S = 4.0  # the load generator's keep-alive expiry (see Pool)
WORKER_START_S = 8.0  # wait for every worker after the first answers (see served)
GRACE_S = 5.0  # how long an open-loop run waits for answers after its schedule ends
READY_S = 120.0  # how long a starting server may take to answer /readyz

# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """A running `likewise serve`: its base URL and the pid of the process started."""

    base: str
    pid: int

    def peak_mb(self) -> float:
        """The largest peak resident memory (VmHWM) among the server's processes: the one started
        and, with --workers, its worker children (each holds its own copy of the model)."""
        pids = [self.pid]
        for task in Path(f"/proc/{self.pid}/task").glob("*/children"):
            pids += [int(child) for child in task.read_text().split()]
        peaks = [_vm_hwm_mb(pid) for pid in pids]
        return max((peak for peak in peaks if peak is not None), default=float("nan"))


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone, or not Linux
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match[1]) / 1024 if match else None


@contextmanager
def served(model_dir: Path, folder: Path, workers: int, token: str) -> Any:
    """A `likewise serve` subprocess (a SQLite store `folder`/events.db, the server's log in
    `folder`): `workers` processes, one compute thread each; yields a `Server`."""
    import httpx

    port = free_port()
    env = {
        **os.environ,
        "LIKEWISE_API_TOKEN": token,
        "LIKEWISE_MODEL_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")) if p),
    }
    command = [
        sys.executable, "-m", "likewise", "serve", str(model_dir),
        "--store", f"sqlite:///{folder / 'events.db'}",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    log = folder / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_S
        while True:
            if proc.poll() is not None:
                raise BenchmarkError(f"the server exited with {proc.returncode}: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise BenchmarkError(f"the server was not ready in {READY_S:.0f} s: {log.read_text()[-3000:]}")
            time.sleep(0.2)
        if workers > 1:
            # /readyz answers from the first worker up; the others may still be loading (and
            # taking CPU). No request can tell them apart, so give them a fixed head start.
            time.sleep(WORKER_START_S)
        yield Server(base, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


# --------------------------------------------------------------------------- load (child processes)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = min(len(sorted_values) - 1, max(0, round(q / 100.0 * (len(sorted_values) - 1))))
    return sorted_values[rank]


def _summary(
    latencies: list[float], errors: int, short: int, elapsed: float, statuses: dict[str, int]
) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "requests": len(latencies) + errors,
        "ok": len(latencies),
        "errors": errors,
        "short": short,
        "req/s": len(latencies) / elapsed if elapsed > 0 else float("nan"),
        "p50 ms": percentile(ordered, 50) * 1000,
        "p90 ms": percentile(ordered, 90) * 1000,
        "p99 ms": percentile(ordered, 99) * 1000,
        "max ms": (ordered[-1] * 1000) if ordered else float("nan"),
        "statuses": statuses,
    }


class Connection:
    """One keep-alive HTTP/1.1 connection on asyncio streams: the load generator's GETs.

    Decision, measured: an httpx client spends about as much CPU per request as the server's
    whole answer, CPU taken from the server on the same 2 cores. This writes a GET and reads a
    ``Content-Length`` body (what uvicorn sends), nothing more.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host)

    async def get(self, path: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise BenchmarkError("the server answered without a Content-Length")
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Idle connections, reused; a new one opened when all are busy (an open loop never waits).

    An idle connection is dropped after `IDLE_EXPIRY_S`, below uvicorn's keep-alive timeout (5 s):
    the server closes a connection idle that long, and a GET written into a closed connection
    fails (IncompleteReadError) although the server did nothing wrong. httpx expires its idle
    connections the same way (``keepalive_expiry``, 5 s). Found by a run whose one error was such a
    connection: after a burst had opened extra connections, the stack's bottom one sat idle > 5 s.
    """

    def __init__(self, base: str) -> None:
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname or "127.0.0.1", int(url.port or 80)
        self.idle: list[tuple[float, Connection]] = []  # (when it became idle, connection)

    async def get(self, path: str) -> tuple[int, bytes]:
        connection = await self._connection()
        try:
            answer = await connection.get(path)
        except BaseException:  # a failed or cancelled exchange leaves the stream unusable
            connection.close()
            raise
        self.idle.append((time.monotonic(), connection))
        return answer

    async def _connection(self) -> Connection:
        while self.idle:
            since, connection = self.idle.pop()
            if time.monotonic() - since < IDLE_EXPIRY_S:
                return connection
            connection.close()
        return await Connection.open(self.host, self.port)

    def close(self) -> None:
        for _, connection in self.idle:
            connection.close()


async def _get(pool: Pool, path: str, n: int, tally: dict[str, Any], started: float) -> None:
    try:
        status, body = await pool.get(path)
    except Exception as exc:  # transport failures are errors of the run, never a crash of it
        tally["errors"] += 1
        key = type(exc).__name__
        tally["statuses"][key] = tally["statuses"].get(key, 0) + 1
        return
    done = time.perf_counter()
    key = str(status)
    tally["statuses"][key] = tally["statuses"].get(key, 0) + 1
    if status != 200:
        tally["errors"] += 1
        return
    tally["latencies"].append(done - started)
    if len(json.loads(body)["items"]) != n:
        tally["short"] += 1


def load_generator(
    base: str,
    paths: list[str],
    n: int,
    duration: float,
    start_at: float,
    rate: float | None,
    concurrency: int,
) -> dict[str, Any]:
    """GETs of `paths` (round robin) for `duration` seconds from the wall-clock time `start_at`:
    closed loop (`rate` None: `concurrency` clients back to back) or open loop at `rate`/s. A 200
    whose list has fewer than `n` items is counted as "short"."""
    return asyncio.run(_load(base, paths, n, duration, start_at, rate, concurrency))


async def _load(
    base: str, paths: list[str], n: int, duration: float, start_at: float, rate: float | None, concurrency: int
) -> Any:
    tally: dict[str, Any] = {"latencies": [], "errors": 0, "short": 0, "statuses": {}}
    pool = Pool(base)
    try:
        await _get(pool, paths[0], n, {"latencies": [], "errors": 0, "short": 0, "statuses": {}}, time.perf_counter())
        await asyncio.sleep(max(0.0, start_at - time.time()))
        t0 = time.perf_counter()
        if rate is None:

            async def worker(offset: int) -> None:
                i = offset
                while time.perf_counter() - t0 < duration:
                    await _get(pool, paths[i % len(paths)], n, tally, time.perf_counter())
                    i += concurrency

            await asyncio.gather(*(worker(k) for k in range(concurrency)))
            elapsed = time.perf_counter() - t0
        else:
            tasks = []
            i = 0
            while (scheduled := t0 + i / rate) < t0 + duration:
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(_get(pool, paths[i % len(paths)], n, tally, scheduled)))
                i += 1
            # Bounded in time: what a falling-behind server has not answered GRACE_S after the
            # schedule ends is cancelled and counted as an error ("unanswered").
            _, pending = await asyncio.wait(tasks, timeout=GRACE_S)
            for task in pending:
                task.cancel()
            tally["errors"] += len(pending)
            if pending:
                tally["statuses"]["unanswered"] = len(pending)
            elapsed = duration  # throughput over the schedule: answers late or never do not stretch it
    finally:
        pool.close()
    return _summary(tally["latencies"], tally["errors"], tally["short"], elapsed, tally["statuses"])


# --------------------------------------------------------------------------- wrk (optional)


_WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("LIKEWISE_WRK_PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
"""
_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if match is None:
        raise BenchmarkError(f"cannot read wrk's latency {text!r}")
    return float(match[1]) * _WRK_UNITS[match[2]]


def wrk_closed_loop(base: str, paths: list[str], duration: float, folder: Path, concurrency: int) -> dict[str, Any]:
    """`concurrency` connections back to back from wrk (C, one thread) GETting `paths` round robin:
    the server's capacity with a load generator that costs it little CPU. Latency percentiles are
    wrk's (closed loop)."""
    listing, script = folder / "wrk-paths.txt", folder / "wrk.lua"
    listing.write_text("\n".join(paths) + "\n")
    script.write_text(_WRK_SCRIPT)
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{duration:.0f}s", "--latency", "-s", str(script), base]
    env = {**os.environ, "LIKEWISE_WRK_PATHS": str(listing)}
    subprocess.run([*command[:3], "-d2s", *command[4:]], env=env, capture_output=True, check=True)  # warm-up
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    total = re.search(r"(\d+) requests in ([0-9.]+)(\w+),", out)
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if total is None or rate is None or set(percentiles) != {"50", "75", "90", "99"}:
        raise BenchmarkError(f"cannot read wrk's output: {out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx[1]) if non_2xx else 0) + (sum(int(v) for v in sockets.groups()) if sockets else 0)
    max_ms = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.MULTILINE)
    return {
        "requests": int(total[1]),
        "errors": errors,
        "req/s": float(rate[1]),
        "p50 ms": _wrk_ms(percentiles["50"]),
        "p90 ms": _wrk_ms(percentiles["90"]),
        "p99 ms": _wrk_ms(percentiles["99"]),
        "max ms": _wrk_ms(max_ms[1]) if max_ms else float("nan"),
        "statuses": {"non-2xx": int(non_2xx[1]) if non_2xx else 0, "socket errors": sockets[0] if sockets else 0},
    }
