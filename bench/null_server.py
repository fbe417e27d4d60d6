"""A null OCI registry: speaks just enough of the distribution protocol for the benchmark workloads,
discards every byte it is sent and keeps only names and sizes.

It exists to measure the load generator's ceiling (``registry_bench.py --null``): whatever the
generator reaches against this server is the most it could show for a real one. It runs on uvloop
with the httptools parser so that it costs as little CPU as possible per request. Run it with
``python -m bench.null_server --port P``; it serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import hashlib
import json
import re
import signal
import uuid
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import parse_qs, urlsplit

import httptools
import uvloop

_ZEROS = memoryview(bytes(4 << 20))
_BLOB_ROUTE = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[a-z0-9]+:[a-f0-9]+)$")
_UPLOADS_ROUTE = re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<session>[^/]*)$")
_MANIFEST_ROUTE = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$")
_TAGS_ROUTE = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
_DEFAULT_PAGE = 100_000


@dataclass
class NullRegistryState:
    """What the null registry remembers: blob sizes, manifests, tags, repositories, open uploads."""

    blob_sizes: dict[str, int] = field(default_factory=dict)
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    upload_offsets: dict[str, int] = field(default_factory=dict)
    sorted_names: dict[str, list[str]] = field(default_factory=dict)

    def repository_tags(self, name: str) -> dict[str, str]:
        """The tag -> manifest digest map of ``name``, created on first use."""
        return self.tags.setdefault(name, {})

    def tag_names(self, name: str) -> list[str]:
        """The tags of ``name`` in order (cached until the repository's next manifest PUT)."""
        if name not in self.sorted_names:
            self.sorted_names[name] = sorted(self.repository_tags(name))
        return self.sorted_names[name]

    def repository_names(self) -> list[str]:
        """Every repository with a tag, in order (cached until the next manifest PUT)."""
        if "" not in self.sorted_names:
            self.sorted_names[""] = sorted(name for name, tags in self.tags.items() if tags)
        return self.sorted_names[""]


@dataclass(frozen=True)
class NullResponse:
    """One answer: status, headers, a small body or a count of zero bytes to stream."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    zero_body_length: int | None = None


_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    404: "Not Found",
    405: "Method Not Allowed",
    400: "Bad Request",
}


def _error(status: int, code: str) -> NullResponse:
    body = json.dumps({"errors": [{"code": code, "message": code.lower(), "detail": None}]}).encode()
    return NullResponse(status, (("Content-Type", "application/json"),), body)


def _page(ordered: list[str], query: dict[str, list[str]], path: str, key: str) -> NullResponse:
    """Answer a tags list or catalog page of sorted ``ordered`` with ``n`` / ``last`` and a ``Link``."""
    limit = int(query.get("n", [str(_DEFAULT_PAGE)])[0])
    start = bisect.bisect_right(ordered, query["last"][0]) if "last" in query else 0
    page = ordered[start : start + limit]
    headers: list[tuple[str, str]] = [("Content-Type", "application/json")]
    if start + limit < len(ordered) and page:
        headers.append(("Link", f'<{path}?n={limit}&last={page[-1]}>; rel="next"'))
    return NullResponse(200, tuple(headers), json.dumps({key: page}).encode())


def answer(state: NullRegistryState, method: str, target: str, body_length: int, body: bytes) -> NullResponse:
    """Route one request to its fixed answer, updating only the names and sizes the state keeps."""
    split = urlsplit(target)
    path, query = split.path, parse_qs(split.query)
    if path == "/v2/":
        return NullResponse(200, (("Content-Type", "application/json"),), b"{}")
    if path == "/v2/_catalog" and method == "GET":
        return _page(state.repository_names(), query, path, "repositories")
    if match := _UPLOADS_ROUTE.match(path):
        return _answer_upload(state, method, match["name"], match["session"], query, body_length)
    if match := _BLOB_ROUTE.match(path):
        size = state.blob_sizes.get(match["digest"])
        if method == "DELETE":
            return NullResponse(202)
        if size is None:
            return _error(404, "BLOB_UNKNOWN")
        headers = (("Docker-Content-Digest", match["digest"]), ("Content-Type", "application/octet-stream"))
        return NullResponse(200, headers, zero_body_length=size)
    if match := _MANIFEST_ROUTE.match(path):
        return _answer_manifest(state, method, match["name"], match["reference"], body)
    if (match := _TAGS_ROUTE.match(path)) and method == "GET":
        return _page(state.tag_names(match["name"]), query, path, "tags")
    return _error(404, "NAME_UNKNOWN")


def _answer_upload(
    state: NullRegistryState,
    method: str,
    name: str,
    session: str,
    query: dict[str, list[str]],
    body_length: int,
) -> NullResponse:
    digest = query.get("digest", [""])[0]
    if method == "POST" and session:  # as a registry answers: POST only starts an upload
        return _error(405, "UNSUPPORTED")
    if method == "POST" and digest:
        state.blob_sizes[digest] = body_length
        return NullResponse(201, (("Location", f"/v2/{name}/blobs/{digest}"), ("Docker-Content-Digest", digest)))
    if method == "POST":
        session = uuid.uuid4().hex
        state.upload_offsets[session] = 0
        return NullResponse(
            202,
            (
                ("Location", f"/v2/{name}/blobs/uploads/{session}"),
                ("Range", "0-0"),
                ("Docker-Upload-UUID", session),
            ),
        )
    offset = state.upload_offsets.get(session)
    if offset is None:
        return _error(404, "BLOB_UPLOAD_UNKNOWN")
    offset += body_length
    if method == "PATCH":
        state.upload_offsets[session] = offset
        return NullResponse(
            202,
            (
                ("Location", f"/v2/{name}/blobs/uploads/{session}"),
                ("Range", f"0-{max(offset - 1, 0)}"),
                ("Docker-Upload-UUID", session),
            ),
        )
    if method == "PUT" and digest:
        del state.upload_offsets[session]
        state.blob_sizes[digest] = offset
        return NullResponse(201, (("Location", f"/v2/{name}/blobs/{digest}"), ("Docker-Content-Digest", digest)))
    if method == "DELETE":
        del state.upload_offsets[session]
        return NullResponse(204)
    return _error(400, "DIGEST_INVALID")


def _answer_manifest(state: NullRegistryState, method: str, name: str, reference: str, body: bytes) -> NullResponse:
    tags = state.repository_tags(name)
    if method == "PUT":
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        media_type = json.loads(body).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
        state.manifests[digest] = (media_type, body)
        if ":" not in reference:
            tags[reference] = digest
            state.sorted_names.pop(name, None)
            state.sorted_names.pop("", None)
        return NullResponse(201, (("Location", f"/v2/{name}/manifests/{digest}"), ("Docker-Content-Digest", digest)))
    digest = reference if ":" in reference else tags.get(reference, "")
    stored = state.manifests.get(digest)
    if stored is None:
        return _error(404, "MANIFEST_UNKNOWN")
    if method == "DELETE":
        return NullResponse(202)
    media_type, manifest = stored
    return NullResponse(200, (("Content-Type", media_type), ("Docker-Content-Digest", digest)), manifest)


class _NullConnection(asyncio.BufferedProtocol):
    """One client connection: parse requests with httptools, count bodies, write fixed answers."""

    def __init__(self, state: NullRegistryState) -> None:
        self._state = state
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body_length = 0
        self._small_body = bytearray()
        self._writable = asyncio.Event()
        self._writable.set()
        self._pending: asyncio.Task[None] | None = None
        self._receive_buffer = memoryview(bytearray(1 << 20))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        self._transport.set_write_buffer_limits(high=8 << 20)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._receive_buffer

    def buffer_updated(self, nbytes: int) -> None:
        try:
            self._parser.feed_data(self._receive_buffer[:nbytes])
        except httptools.HttpParserUpgrade:
            self._close()
        except httptools.HttpParserError:
            self._write_head(NullResponse(400), 0, keep_alive=False)
            self._close()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self._writable.set()
        if self._pending is not None:
            self._pending.cancel()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._body_length = 0
        self._small_body.clear()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body_length += len(body)
        if len(self._small_body) < (64 << 10):
            self._small_body += body

    def on_message_complete(self) -> None:
        method = self._parser.get_method().decode()
        response = answer(self._state, method, self._url.decode(), self._body_length, bytes(self._small_body))
        keep_alive = self._parser.should_keep_alive()
        length = response.zero_body_length if response.zero_body_length is not None else len(response.body)
        self._write_head(response, length, keep_alive=keep_alive)
        if method == "HEAD":
            pass
        elif response.zero_body_length:
            self._pending = asyncio.get_running_loop().create_task(self._stream_zeros(length, keep_alive))
            return
        elif response.body and self._transport is not None:
            self._transport.write(response.body)
        if not keep_alive:
            self._close()

    def _write_head(self, response: NullResponse, length: int, *, keep_alive: bool) -> None:
        if self._transport is None:
            return
        lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'OK')}"]
        lines += [f"{key}: {value}" for key, value in response.headers]
        if response.status != 204:
            lines.append(f"Content-Length: {length}")
        lines.append("Docker-Distribution-API-Version: registry/2.0")
        if not keep_alive:
            lines.append("Connection: close")
        self._transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def _stream_zeros(self, length: int, keep_alive: bool) -> None:
        transport = self._transport
        while length > 0 and transport is not None and not transport.is_closing():
            await self._writable.wait()
            piece = min(length, len(_ZEROS))
            transport.write(_ZEROS[:piece])
            length -= piece
        self._pending = None
        if not keep_alive:
            self._close()

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def serve(host: str, port: int) -> None:
    """Serve the null registry on ``host:port`` until SIGTERM or SIGINT."""
    state = NullRegistryState()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _NullConnection(state), host, port, backlog=1024)
    stopped = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    async with server:
        await stopped.wait()


def main() -> None:
    """Command line: ``python -m bench.null_server --host 127.0.0.1 --port P``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    uvloop.run(serve(arguments.host, arguments.port))


if __name__ == "__main__":
    main()
