"""A webhook receiver for tests: a threaded HTTP server on 127.0.0.1 that records every request and
answers from a script (``[500, 500, 200]``: two failures, then success; ``None``: never answer until
stopped). Started and stopped by the test that uses it."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIGNATURE_HEADER = "X-Moorage-Signature-256"


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        """Whether the signature header is the HMAC-SHA256 of the body keyed with ``secret``."""
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get(SIGNATURE_HEADER.lower(), ""), expected)


@dataclass
class Receiver:
    """The running receiver: its URL, what it got, and its script of answers."""

    url: str
    answers: list[int | None]
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def next_answer(self) -> int | None:
        with self.lock:
            if len(self.answers) > 1:
                return self.answers.pop(0)
            return self.answers[0] if self.answers else 200

    def record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)

    def requests(self, path: str | None = None) -> list[Received]:
        """What arrived so far (at ``path`` only, when given)."""
        with self.lock:
            return [r for r in self.received if path is None or r.path == path]

    def wait_for(self, count: int, *, path: str | None = None, timeout: float = 30.0) -> list[Received]:
        """Wait until ``count`` requests (at ``path``) arrived; them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.requests(path)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{len(self.requests(path))} of {count} webhook requests arrived in {timeout}s")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.record(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
            )
            status = receiver.next_answer()
            if status is None:  # a receiver that never answers
                receiver.stopping.wait(60)
                return
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def webhook_receiver(answers: Iterable[int | None] = (200,)) -> Iterator[Receiver]:
    """Run a receiver on a free port of 127.0.0.1 for the ``with`` block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Receiver("", [])))
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}", list(answers))
    server.RequestHandlerClass = _handler(receiver)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
