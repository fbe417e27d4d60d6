"""A real HTTP server on loopback that records every request exactly as an ASGI application sees it
(``raw_path``, ``query_string``, raw header bytes, body), so signature tests check what actually
crosses the wire from the Huawei SDK (requests, urllib3, uvicorn's parser) rather than a model of it.

It runs uvicorn in a thread of the test process on a free 127.0.0.1 port and answers ``{}``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import requests
import uvicorn
from huaweicloudsdkcore.sdk_request import SdkRequest
from starlette.datastructures import Headers

from moorage.auth import sdk_signature


@dataclass(frozen=True)
class Received:
    """One request as the server received it; ``with_*`` methods build tampered copies."""

    method: str
    raw_path: bytes
    query_string: bytes
    raw_headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    @property
    def headers(self) -> Headers:
        """The headers as a Starlette application gets them (latin-1 decoded, case-insensitive)."""
        return Headers(raw=list(self.raw_headers))

    def header(self, name: str) -> str:
        """The value of header ``name``."""
        value = self.headers.get(name)
        assert value is not None, f"no header {name}"
        return value

    def with_header(self, name: str, value: str | bytes) -> Received:
        """A copy where header ``name`` has ``value`` (replaced, or added at the end)."""
        encoded = value if isinstance(value, bytes) else value.encode("latin-1")
        key = name.lower().encode("latin-1")
        kept = [(k, v) for k, v in self.raw_headers if k.lower() != key]
        if len(kept) == len(self.raw_headers):
            return replace(self, raw_headers=(*self.raw_headers, (key, encoded)))
        position = next(i for i, (k, _) in enumerate(self.raw_headers) if k.lower() == key)
        kept.insert(position, (key, encoded))
        return replace(self, raw_headers=tuple(kept))

    def with_extra_header(self, name: str, value: str) -> Received:
        """A copy with one more ``name: value`` line (a duplicate if ``name`` is already there)."""
        return replace(self, raw_headers=(*self.raw_headers, (name.lower().encode(), value.encode("latin-1"))))

    def without_header(self, name: str) -> Received:
        """A copy without header ``name``."""
        key = name.lower().encode("latin-1")
        return replace(self, raw_headers=tuple((k, v) for k, v in self.raw_headers if k.lower() != key))

    def verify(self, *, secret_key: str, now: datetime, **options: Any) -> sdk_signature.VerifiedSignature:
        """Run the verifier on this request as the lead's middleware will."""
        return sdk_signature.verify(
            method=self.method,
            raw_path=self.raw_path,
            query_string=self.query_string,
            headers=self.headers,
            body=self.body,
            secret_key=secret_key,
            now=now,
            **options,
        )


class RecordingServer:
    """uvicorn on a free loopback port, recording each request; use :func:`running`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(
            self._app, interface="asgi3", lifespan="off", proxy_headers=False, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self.session = requests.Session()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}"

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        received = Received(
            method=scope["method"],
            raw_path=scope["raw_path"],
            query_string=scope["query_string"],
            raw_headers=tuple((bytes(k), bytes(v)) for k, v in scope["headers"]),
            body=b"".join(chunks),
        )
        with self._lock:
            self._received.append(received)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"x-request-id", b"recorded")],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    def start(self) -> None:
        """Serve in a thread; return once the port accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("recording server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self.session.close()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def last(self) -> Received:
        """The most recent request."""
        with self._lock:
            return self._received[-1]

    def send(self, request: SdkRequest) -> Received:
        """Send a signed SdkRequest the way the SDK's HttpClient does, and return what arrived."""
        response = self.session.request(
            request.method, request.url, headers=request.header_params, data=request.body, timeout=10
        )
        response.raise_for_status()
        return self.last()


@contextmanager
def running() -> Iterator[RecordingServer]:
    """A started :class:`RecordingServer`, stopped on exit."""
    server = RecordingServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
