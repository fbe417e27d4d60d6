"""Fixtures of the console's in-process tests: a stand-in remote registry on loopback and moorage
allowed to reach it (replication registries are checked against it when made)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.inprocess import InProcessMoorage


class _Registry(BaseHTTPRequestHandler):
    """A remote registry that answers every read with an empty catalog (the registry check)."""

    def do_GET(self) -> None:
        body = b'{"repositories": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def remote() -> Iterator[str]:
    """The address of a stand-in remote registry on loopback, stopped after the test."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def loopback_moorage(app_moorage_factory: Any) -> InProcessMoorage:
    """moorage in process, allowed to reach loopback (where ``remote`` listens)."""
    server: InProcessMoorage = app_moorage_factory(egress={"allow_networks": "127.0.0.0/8"})
    return server
