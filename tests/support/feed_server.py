"""A loopback HTTP server that publishes advisory feeds for tests, so the download path of the
advisory database (URL sources, slow feeds, failures) runs for real without the internet.

Files are served from a dict (path -> bytes) the test may change while the server runs. A closed
gate makes a download last as long as the test needs: the headers go out at once, then one byte of
the body every few seconds (a slow feed, so the client's read timeout never fires) until the test
opens the gate. Each request is logged, so a test can count how often a feed was fetched.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TRICKLE_SECONDS = 5.0
"""While the gate is closed, one byte of a body goes out this often."""


@dataclass
class FeedServer:
    """What a running feed server serves and has seen."""

    port: int
    files: dict[str, bytes] = field(default_factory=dict)
    """Path (``/osv/PyPI/all.zip``) -> content; a missing path answers 404."""
    statuses: dict[str, int] = field(default_factory=dict)
    """Path -> status to answer instead of the file (``500``)."""
    gate: threading.Event = field(default_factory=threading.Event)
    """Bodies trickle (and error answers wait) until this is set; ``feed_server`` opens it unless told."""
    requests: list[str] = field(default_factory=list)
    """Every path asked for, in order."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        """The URL of ``path`` (which starts with ``/``)."""
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path: str) -> int:
        """How many times ``path`` was asked for."""
        with self.lock:
            return self.requests.count(path)


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            with server.lock:
                server.requests.append(path)
            status = server.statuses.get(path)
            body = server.files.get(path)
            if status is None and body is None:
                status = 404
            if status is not None or body is None:
                server.gate.wait(300)
                self.send_response(status or 404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            sent = 0
            while not server.gate.wait(TRICKLE_SECONDS) and sent < len(body) - 1:
                self.wfile.write(body[sent : sent + 1])
                self.wfile.flush()
                sent += 1
            self.wfile.write(body[sent:])

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the request log is ``FeedServer.requests``."""

    return Handler


@contextmanager
def feed_server(files: dict[str, bytes] | None = None, *, open_gate: bool = True) -> Iterator[FeedServer]:
    """Serve ``files`` on a free 127.0.0.1 port until the block ends (the thread is joined)."""
    state = FeedServer(port=0, files=dict(files or {}))
    if open_gate:
        state.gate.set()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, name="feed-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.gate.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
