"""The serve suite's load generator against a tiny loopback server that closes idle connections
the way uvicorn does (keep-alive timeout): a stale pooled connection must not count as an error."""

from __future__ import annotations

import asyncio

import pytest
from benchmarks.suites import _http_load

BODY = b'{"items": []}'


async def _server(keep_alive_s: float) -> asyncio.Server:
    """Answers every GET with BODY; closes a connection idle for `keep_alive_s`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), keep_alive_s)
                head = f"HTTP/1.1 200 OK\r\ncontent-length: {len(BODY)}\r\n\r\n".encode()
                writer.write(head + BODY)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def _two_gets(pause_s: float) -> tuple[tuple[int, bytes], int]:
    server = await _server(keep_alive_s=0.2)
    port = server.sockets[0].getsockname()[1]
    pool = _http_load.Pool(f"http://127.0.0.1:{port}")
    try:
        await pool.get("/a")
        await asyncio.sleep(pause_s)  # the server has closed the idle connection by now
        return await pool.get("/b"), len(pool.idle)
    finally:
        pool.close()
        server.close()
        await server.wait_closed()


def test_an_expired_idle_connection_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_http_load, "IDLE_EXPIRY_S", 0.1)  # below the test server's 0.2 s, as 4 s is below 5 s
    (status, body), idle = asyncio.run(_two_gets(pause_s=0.4))
    assert (status, body, idle) == (200, BODY, 1)


def test_without_expiry_the_stale_connection_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # The failure the expiry prevents (why the suite once reported one IncompleteReadError).
    monkeypatch.setattr(_http_load, "IDLE_EXPIRY_S", 60.0)
    with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
        asyncio.run(_two_gets(pause_s=0.4))
