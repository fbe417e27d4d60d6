"""Large-blob push and pull for the benchmark: a blocking socket client, or curl.

The socket client sends bodies with ``socket.sendfile`` (zero-copy from the page cache) and reads
with ``recv_into`` a 4 MiB buffer. Measured against the null server on this machine it moves
1.7-2.4 GB/s each way, where ``curl -T`` uploads at 0.5-0.9 GB/s (libcurl's 64 KiB upload buffer)
and ``curl -o /dev/null`` downloads at 0.8-1.3 GB/s, so it is the default; ``--large-client curl``
keeps curl available to check that claim. Chunked pushes always use the socket client, because
each PATCH must go to the ``Location`` the previous one returned and a curl process per chunk would
cost more than the chunk.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.registry_auth import RegistryEndpoint

_RECEIVE_BUFFER = 4 << 20


class TransferError(Exception):
    """A large-blob request got an unexpected answer or the connection broke."""


@dataclass(frozen=True)
class BlobFile:
    """A blob on local disk with its digest, ready to push."""

    path: Path
    digest: str
    size: int


@dataclass(frozen=True)
class RawReply:
    """Status and lower-cased headers of a response whose body was read or discarded."""

    status: int
    headers: dict[str, str]
    body_length: int


class _SocketReader:
    """Buffered reads of response heads and bodies from a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self._scratch = memoryview(bytearray(_RECEIVE_BUFFER))

    def _fill(self) -> None:
        received = self._sock.recv_into(self._scratch)
        if received == 0:
            raise TransferError("connection closed by the server mid-response")
        self._buffer += self._scratch[:received]

    def read_until(self, marker: bytes) -> bytes:
        """Everything up to and including ``marker``."""
        while (end := self._buffer.find(marker)) < 0:
            self._fill()
        data = bytes(self._buffer[: end + len(marker)])
        del self._buffer[: end + len(marker)]
        return data

    def discard(self, length: int) -> None:
        """Read and drop exactly ``length`` bytes (the body of a pull), without copying them."""
        buffered = min(length, len(self._buffer))
        del self._buffer[:buffered]
        remaining = length - buffered
        while remaining > 0:
            received = self._sock.recv_into(self._scratch, min(remaining, _RECEIVE_BUFFER))
            if received == 0:
                raise TransferError(f"connection closed with {remaining} body bytes still to come")
            remaining -= received

    def read_exactly(self, length: int) -> bytes:
        """Exactly ``length`` bytes (small bodies only)."""
        while len(self._buffer) < length:
            self._fill()
        data = bytes(self._buffer[:length])
        del self._buffer[:length]
        return data


class SocketBlobClient:
    """One keep-alive connection for large-blob requests to a registry."""

    def __init__(self, endpoint: RegistryEndpoint, *, timeout: float = 600.0) -> None:
        split = urlsplit(endpoint.base_url)
        self._auth = endpoint.auth
        self._address = (split.hostname or "127.0.0.1", split.port or 80)
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._reader: _SocketReader | None = None

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._sock is not None:
            self._sock.close()
        self._sock = self._reader = None

    def __enter__(self) -> SocketBlobClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> tuple[socket.socket, _SocketReader]:
        if self._sock is None or self._reader is None:
            self._sock = socket.create_connection(self._address, timeout=self._timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._reader = _SocketReader(self._sock)
        return self._sock, self._reader

    def request(
        self,
        method: str,
        target: str,
        *,
        headers: dict[str, str] | None = None,
        body_file: BlobFile | None = None,
        offset: int = 0,
        length: int | None = None,
    ) -> RawReply:
        """Send a request whose body is ``length`` bytes of ``body_file`` from ``offset``; read the answer.

        A response body is counted and discarded (that is the pull), except a small error body,
        which goes into the ``TransferError`` the caller raises. A 401 challenge is answered and
        the request sent once more (``authenticate`` first, so that big bodies go out once).
        """
        reply = self._send(method, target, headers, body_file, offset, length)
        if reply.status == 401 and reply.headers.get("www-authenticate"):
            self._auth.answer(target, reply.headers["www-authenticate"])
            reply = self._send(method, target, headers, body_file, offset, length)
        return reply

    def authenticate(self, repository: str) -> None:
        """Meet the server's challenge for ``repository`` (if it has one) before any body is sent."""
        self.request("HEAD", f"/v2/{repository}/blobs/sha256:{'0' * 64}")

    def _send(
        self,
        method: str,
        target: str,
        headers: dict[str, str] | None,
        body_file: BlobFile | None,
        offset: int,
        length: int | None,
    ) -> RawReply:
        sock, reader = self._connection()
        body_length = 0 if body_file is None else (body_file.size - offset if length is None else length)
        head = [f"{method} {target} HTTP/1.1", f"Host: {self._address[0]}:{self._address[1]}"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if authorization := self._auth.authorization(target):
            head.append(f"Authorization: {authorization}")
        if body_file is not None or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {body_length}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        if body_file is not None and body_length:
            with body_file.path.open("rb") as source:
                sent = sock.sendfile(source, offset, body_length)
            if sent != body_length:
                raise TransferError(f"sent {sent} of {body_length} body bytes")
        return self._read_reply(reader, head_request=method == "HEAD")

    def _read_reply(self, reader: _SocketReader, *, head_request: bool) -> RawReply:
        lines = reader.read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        body_length = 0
        if not head_request and status not in (204, 304):
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body_length = self._discard_chunked(reader)
            else:
                body_length = int(headers.get("content-length", "0"))
                if status >= 400 and body_length < 65536:
                    detail = reader.read_exactly(body_length).decode(errors="replace")
                    headers["x-bench-error-body"] = detail
                else:
                    reader.discard(body_length)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return RawReply(status, headers, body_length)

    @staticmethod
    def _discard_chunked(reader: _SocketReader) -> int:
        total = 0
        while True:
            size = int(reader.read_until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                reader.read_until(b"\r\n")
                return total
            reader.discard(size)
            reader.read_until(b"\r\n")
            total += size


def location_target(location: str) -> str:
    """The path-and-query of a ``Location`` header, absolute or relative."""
    split = urlsplit(location)
    return split.path + (f"?{split.query}" if split.query else "")


def with_query(target: str, name: str, value: str) -> str:
    """``target`` with ``name=value`` appended to its query string."""
    return f"{target}{'&' if '?' in target else '?'}{name}={value}"


def _expect(reply: RawReply, status: int, what: str) -> RawReply:
    if reply.status != status:
        detail = reply.headers.get("x-bench-error-body", "")
        raise TransferError(f"{what}: expected {status}, got {reply.status} {detail}".strip())
    return reply


def push_monolithic(client: SocketBlobClient, repository: str, blob: BlobFile, *, single_post: bool) -> float:
    """Push ``blob`` in one body: ``POST ?digest=`` if the server takes it, else POST then PUT. Seconds."""
    started = time.perf_counter()
    uploads = f"/v2/{repository}/blobs/uploads/"
    octet = {"Content-Type": "application/octet-stream"}
    if single_post:
        _expect(
            client.request("POST", with_query(uploads, "digest", blob.digest), headers=octet, body_file=blob),
            201,
            "monolithic POST",
        )
    else:
        session = _expect(client.request("POST", uploads), 202, "start upload")
        target = with_query(location_target(session.headers["location"]), "digest", blob.digest)
        _expect(client.request("PUT", target, headers=octet, body_file=blob), 201, "monolithic PUT")
    return time.perf_counter() - started


def push_chunked(client: SocketBlobClient, repository: str, blob: BlobFile, *, chunk_size: int) -> float:
    """Push ``blob`` as POST, one PATCH per ``chunk_size`` bytes with ``Content-Range``, then PUT. Seconds."""
    started = time.perf_counter()
    reply = _expect(client.request("POST", f"/v2/{repository}/blobs/uploads/"), 202, "start upload")
    for offset in range(0, blob.size, chunk_size):
        length = min(chunk_size, blob.size - offset)
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + length - 1}",
        }
        reply = _expect(
            client.request(
                "PATCH",
                location_target(reply.headers["location"]),
                headers=headers,
                body_file=blob,
                offset=offset,
                length=length,
            ),
            202,
            f"PATCH at {offset}",
        )
    target = with_query(location_target(reply.headers["location"]), "digest", blob.digest)
    _expect(client.request("PUT", target), 201, "closing PUT")
    return time.perf_counter() - started


def pull(client: SocketBlobClient, repository: str, blob: BlobFile) -> float:
    """GET ``blob`` and discard it, checking status and length. Seconds."""
    started = time.perf_counter()
    reply = _expect(client.request("GET", f"/v2/{repository}/blobs/{blob.digest}"), 200, "blob GET")
    if reply.body_length != blob.size:
        raise TransferError(f"blob GET returned {reply.body_length} bytes, expected {blob.size}")
    return time.perf_counter() - started


def curl_available() -> bool:
    """Whether a ``curl`` binary is on the path."""
    return shutil.which("curl") is not None


def _curl(endpoint: RegistryEndpoint, target: str, arguments: list[str], what: str) -> str:
    authorization = endpoint.auth.authorization(target)
    header = ["-H", f"Authorization: {authorization}"] if authorization else []
    # ``--request-target``: with ``-T`` and a path ending in "/" (``/blobs/uploads/?digest=``) curl
    # appends the file's name to the path.
    argv = ["curl", "-sS", "-H", "Expect:", *header, *arguments, "--request-target", target, endpoint.base_url + "/"]
    completed = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    if completed.returncode != 0:
        raise TransferError(f"curl {what} failed: {completed.stderr.strip()}")
    return completed.stdout


def curl_push_monolithic(
    client: SocketBlobClient,
    endpoint: RegistryEndpoint,
    repository: str,
    blob: BlobFile,
    *,
    single_post: bool,
) -> float:
    """Like ``push_monolithic`` but the body goes through ``curl -T``. Seconds."""
    started = time.perf_counter()
    uploads = f"/v2/{repository}/blobs/uploads/"
    if single_post:
        method, target = "POST", with_query(uploads, "digest", blob.digest)
    else:
        session = _expect(client.request("POST", uploads), 202, "start upload")
        method = "PUT"
        target = with_query(location_target(session.headers["location"]), "digest", blob.digest)
    octet = "Content-Type: application/octet-stream"
    arguments = ["-X", method, "-T", str(blob.path), "-H", octet, "-o", os.devnull, "-w", "%{http_code}"]
    status = _curl(endpoint, target, arguments, "push")
    if status != "201":
        raise TransferError(f"curl monolithic push: expected 201, got {status}")
    return time.perf_counter() - started


def curl_pull(endpoint: RegistryEndpoint, repository: str, blob: BlobFile) -> float:
    """Like ``pull`` but through ``curl -o /dev/null``. Seconds."""
    started = time.perf_counter()
    arguments = ["-o", os.devnull, "-w", "%{http_code} %{size_download}"]
    output = _curl(endpoint, f"/v2/{repository}/blobs/{blob.digest}", arguments, "pull")
    if output != f"200 {blob.size}":
        raise TransferError(f"curl pull: expected '200 {blob.size}', got {output!r}")
    return time.perf_counter() - started
