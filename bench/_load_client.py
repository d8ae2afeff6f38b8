"""A small closed-loop HTTP/1.1 load generator: asyncio (uvloop when installed) and the
httptools response parser, both of which uvicorn[standard] already brings.

Each of ``connections`` keep-alive connections sends one request, waits for the whole
response, records it and sends the next, until ``duration`` seconds have passed or
``max_requests`` have been sent, whichever comes first. A request that fails (timeout,
reset, refused) is recorded with status 0 and its connection is reopened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httptools

__all__ = ["Request", "Result", "Run", "run_load"]


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    method: str = "GET"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    tag: str = ""
    keep_body: bool = False  # keep the response body (writes whose acceptance is checked later)

    def encode(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines += ["Content-Type: application/json", f"Content-Length: {len(self.body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass(slots=True)
class Result:
    request: Request
    status: int  # 0: no HTTP response (timeout or connection error, see ``error``)
    latency_s: float
    error: str = ""
    body: bytes = b""


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    elapsed_s: float = 0.0
    connections: int = 0


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.chunks: list[bytes] = []
        self.closed = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"bad response: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(f"connection lost: {exc or 'closed by server'}")

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), b"".join(self.chunks)))
        if not self.parser.should_keep_alive():
            self.closed = True

    def _fail(self, message: str) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(message))

    def send(self, payload: bytes) -> asyncio.Future:
        self.chunks = []
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(payload)
        return self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _worker(
    host: str,
    port: int,
    next_request: Callable[[], Request | None],
    deadline: float,
    timeout: float,
    results: list[Result],
) -> None:
    loop = asyncio.get_running_loop()
    header_host = f"{host}:{port}"
    conn: _Connection | None = None
    try:
        while time.perf_counter() < deadline:
            request = next_request()
            if request is None:
                return
            start = time.perf_counter()
            try:
                if conn is None or conn.closed:
                    _, conn = await asyncio.wait_for(
                        loop.create_connection(_Connection, host, port), timeout
                    )
                status, body = await asyncio.wait_for(
                    conn.send(request.encode(header_host)), timeout
                )
            except (OSError, ConnectionError, TimeoutError) as exc:
                latency = time.perf_counter() - start
                kind = (
                    "timeout" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
                )
                results.append(Result(request, 0, latency, error=kind))
                if conn is not None:
                    conn.close()
                conn = None
                continue
            latency = time.perf_counter() - start
            keep = request.keep_body or not 200 <= status < 300
            results.append(Result(request, status, latency, body=body if keep else b""))
    finally:
        if conn is not None:
            conn.close()


async def _run(host, port, make_request, connections, duration, max_requests, timeout) -> Run:
    sent = 0

    def next_request() -> Request | None:
        nonlocal sent
        if sent >= max_requests:
            return None
        sent += 1
        return make_request(sent - 1)

    results: list[Result] = []
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(_worker(host, port, next_request, deadline, timeout, results) for _ in range(connections))
    )
    return Run(results=results, elapsed_s=time.perf_counter() - started, connections=connections)


def run_load(
    url: str,
    make_request: Callable[[int], Request],
    *,
    connections: int = 64,
    duration: float = 20.0,
    max_requests: int = 1_000_000,
    timeout: float = 10.0,
) -> Run:
    """Drive ``url`` (``http://127.0.0.1:port``) with ``make_request(i)`` for the i-th request."""
    hostport = url.split("://", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    return runner(_run(host, int(port), make_request, connections, duration, max_requests, timeout))
