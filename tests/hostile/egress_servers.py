"""Small servers for the egress tests, on chosen loopback addresses (127.0.0.2 and 127.0.0.3 stand
for an allowed internal registry and another host; 127.0.0.1 for what must not be reached):

- ``FakeHttp``: an HTTP/1.1 server answering with a function of the test, recording every request
  (with its headers) and counting the body bytes it managed to stream;
- ``TcpListener``: a port that accepts connections and closes them at once (a non-HTTP service),
  counting them.

They run in threads of the test process and are shut down by the test."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[["FakeHttp", BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Seen:
    """A request a fake received."""

    method: str
    path: str
    headers: dict[str, str]


class FakeHttp:
    """An HTTP server on ``host`` whose answers ``route`` writes; use as a context manager."""

    def __init__(self, route: Route, host: str = "127.0.0.2", port: int = 0) -> None:
        self.route = route
        self.host = host
        self.requests: list[Seen] = []
        self.sent = 0
        """Body bytes written by ``stream`` (accepted by the kernel before the client hung up)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                return

            def do_GET(self) -> None:
                fake.requests.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                fake.route(fake, self)

            do_HEAD = do_GET

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server.server_address[1])

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.address}"

    def __enter__(self) -> FakeHttp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def stream(
        self,
        handler: BaseHTTPRequestHandler,
        total: int,
        *,
        content_length: int | None,
        chunk: int = 64 << 10,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer 200 with ``total`` zero bytes, announcing ``content_length`` (None: no length, the
        body ends when the connection closes), counting what the client accepted."""
        handler.send_response(200)
        for key, value in (headers or {"Content-Type": "application/octet-stream"}).items():
            handler.send_header(key, value)
        if content_length is None:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        else:
            handler.send_header("Content-Length", str(content_length))
        handler.end_headers()
        block = b"\0" * chunk
        written = 0
        try:
            while written < total:
                piece = block[: min(chunk, total - written)]
                handler.wfile.write(piece)
                written += len(piece)
                self.sent += len(piece)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes | dict[str, Any] = b"",
    headers: dict[str, str] | None = None,
) -> None:
    """Answer ``status`` with ``body`` (a dict is sent as JSON)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    handler.send_response(status)
    for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


class TcpListener:
    """A port on ``host`` that accepts connections and closes them at once; counts them."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.accepted = 0
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.sock.getsockname()[1])

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            connection.close()

    def __enter__(self) -> TcpListener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
