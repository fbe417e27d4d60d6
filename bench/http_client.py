"""A lean asyncio HTTP/1.1 keep-alive client for the benchmark's small requests.

It parses responses by hand on uvloop and does nothing else (no redirects, no cookies, no
connection pool magic), which makes it several times cheaper per request than httpx: measured
against the null server it drives the manifest workloads at many times the rate of httpx, so the
generator stays out of the way of the servers it measures. One ``HttpConnection`` serves one
request at a time; ``run_concurrently`` gives each of N workers its own connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast
from urllib.parse import urlsplit

from bench.process_cpu import tree_cpu_seconds
from bench.registry_auth import RegistryEndpoint

T = TypeVar("T")


class HttpClientError(Exception):
    """The server closed the connection, sent something unparsable, or answered too late."""


@dataclass(frozen=True)
class HttpReply:
    """One response: status, headers with lower-cased names, and the whole body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        """The value of header ``name`` (case-insensitive), or an empty string."""
        return self.headers.get(name.lower(), "")


class _ReplyProtocol(asyncio.Protocol):
    """Parses one response at a time from the connection into an ``HttpReply``.

    A small hand parser rather than httptools, because a response parser must be told that the
    answer to HEAD has no body whatever its ``Content-Length`` says, and httptools cannot be.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[HttpReply] | None = None
        self._head_request = False

    def expect_reply(self, *, head_request: bool) -> asyncio.Future[HttpReply]:
        """A future resolved with the next complete response on this connection."""
        self._waiter = asyncio.get_running_loop().create_future()
        self._head_request = head_request
        return self._waiter

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is None or self._waiter.done():
            return
        try:
            reply = self._parse()
        except (ValueError, IndexError) as error:
            self._fail(HttpClientError(f"unparsable response: {error}"))
            return
        if reply is not None:
            self._waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(HttpClientError(f"connection closed by the server ({exc})"))

    def _fail(self, error: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)

    def _parse(self) -> HttpReply | None:
        """A whole response taken off the buffer, or None while more bytes are needed."""
        head_end = self._buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        lines = bytes(self._buffer[:head_end]).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body_start = head_end + 4
        if self._head_request or status in (204, 304) or 100 <= status < 200:
            body, consumed = b"", body_start
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parsed = _parse_chunked(self._buffer, body_start)
            if parsed is None:
                return None
            body, consumed = parsed
        else:
            length = int(headers.get("content-length", "0"))
            if len(self._buffer) < body_start + length:
                return None
            body, consumed = bytes(self._buffer[body_start : body_start + length]), body_start + length
        del self._buffer[:consumed]
        return HttpReply(status, headers, body)


def _parse_chunked(buffer: bytearray, offset: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at ``offset``: (body, end offset), or None if incomplete."""
    pieces: list[bytes] = []
    while True:
        line_end = buffer.find(b"\r\n", offset)
        if line_end < 0:
            return None
        size = int(bytes(buffer[offset:line_end]).split(b";")[0], 16)
        chunk_start = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", line_end)
            return (b"".join(pieces), trailer_end + 4) if trailer_end >= 0 else None
        if len(buffer) < chunk_start + size + 2:
            return None
        pieces.append(bytes(buffer[chunk_start : chunk_start + size]))
        offset = chunk_start + size + 2


class HttpConnection:
    """One persistent HTTP/1.1 connection to ``base_url``; reconnects when the server closed it."""

    def __init__(self, endpoint: RegistryEndpoint, *, timeout: float = 60.0) -> None:
        split = urlsplit(endpoint.base_url)
        self._auth = endpoint.auth
        self._host = split.hostname or "127.0.0.1"
        self._port = split.port or 80
        self._host_header = f"{self._host}:{self._port}".encode()
        self._timeout = timeout
        self._protocol: _ReplyProtocol | None = None

    async def _connected(self) -> _ReplyProtocol:
        if self._protocol is None or self._protocol.transport is None:
            loop = asyncio.get_running_loop()
            _, protocol = await loop.create_connection(_ReplyProtocol, self._host, self._port)
            self._protocol = protocol
        return self._protocol

    async def request(
        self, method: str, target: str, *, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> HttpReply:
        """Send one request (``target`` is a path with query) and wait for its whole response.

        A 401 with a challenge is answered (Basic credentials or a Bearer token) and the request
        sent once more, as container clients do.

        A GET or HEAD that finds its kept-alive connection closed by the server is sent once more
        on a new connection (servers close idle connections); other methods are never resent.
        """
        reply = await self._send_once_more_if_closed(method, target, headers, body)
        if reply.status == 401 and reply.header("www-authenticate"):
            await self._auth.answer_async(target, reply.header("www-authenticate"))
            reply = await self._send_once_more_if_closed(method, target, headers, body)
        return reply

    async def _send_once_more_if_closed(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> HttpReply:
        reused = self._protocol is not None and self._protocol.transport is not None
        try:
            return await self._send(method, target, headers, body)
        except HttpClientError:
            if not (reused and method in ("GET", "HEAD")):
                raise
            self.close()
            return await self._send(method, target, headers, body)

    async def _send(self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes) -> HttpReply:
        protocol = await self._connected()
        lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: " + self._host_header]
        lines += [f"{name}: {value}".encode() for name, value in headers]
        if authorization := self._auth.authorization(target):
            lines.append(b"Authorization: " + authorization.encode())
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}".encode())
        waiter = protocol.expect_reply(head_request=method == "HEAD")
        transport = protocol.transport
        if transport is None:
            raise HttpClientError("connection closed before the request was sent")
        transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        try:
            reply = await asyncio.wait_for(waiter, self._timeout)
        except TimeoutError as error:
            self.close()
            raise HttpClientError(f"{method} {target}: no answer in {self._timeout}s") from error
        if reply.header("connection").lower() == "close":
            self.close()
        return reply

    def close(self) -> None:
        """Close the socket; the next request opens a new one."""
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None


@dataclass(frozen=True)
class TimedRun:
    """The outcome of ``run_concurrently``: wall time and each job's latency in seconds."""

    seconds: float
    latencies: list[float]
    server_cpu_seconds: float | None = None
    """CPU the server's process tree spent meanwhile (when the endpoint names its pid)."""


async def run_concurrently(
    endpoint: RegistryEndpoint,
    jobs: Sequence[Callable[[HttpConnection], Awaitable[object]]],
    concurrency: int,
) -> TimedRun:
    """Run ``jobs`` with ``concurrency`` workers, each on its own connection, and time them.

    Connections are opened before the clock starts, so the figure is steady-state keep-alive work.
    """
    connections = [HttpConnection(endpoint) for _ in range(concurrency)]
    for connection in connections:
        await connection.request("GET", "/v2/")
    latencies: list[float] = [0.0] * len(jobs)
    next_job = iter(range(len(jobs)))

    async def worker(connection: HttpConnection) -> None:
        for index in next_job:
            started = time.perf_counter()
            await jobs[index](connection)
            latencies[index] = time.perf_counter() - started

    cpu_before = tree_cpu_seconds(endpoint.server_pid) if endpoint.server_pid else None
    started = time.perf_counter()
    tasks = [asyncio.ensure_future(worker(connection)) for connection in connections]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:  # the first failure ends the run: stop the other workers quietly
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        for connection in connections:
            connection.close()
    seconds = time.perf_counter() - started
    cpu = None
    if cpu_before is not None and endpoint.server_pid:
        cpu = tree_cpu_seconds(endpoint.server_pid) - cpu_before
    return TimedRun(seconds, latencies, cpu)
