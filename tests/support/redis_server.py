"""A throwaway Redis from Debian's ``redis-server``: a free 127.0.0.1 port, a password, nothing saved
to disk, stopped by process id."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.support.servers import free_port
from tests.support.tools import require_tool

REDIS_BIN = "/usr/bin/redis-server"


@dataclass
class RedisServer:
    """A running Redis: its port, password and process."""

    port: int
    password: str
    process: subprocess.Popen[bytes]
    directory: Path

    def url(self, db: int = 0) -> str:
        """``redis://:<password>@127.0.0.1:<port>/<db>`` (the password percent-encoded)."""
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; remove its directory."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def available() -> bool:
    """Whether Debian's redis-server is installed."""
    return Path(REDIS_BIN).exists()


def start(password: str) -> RedisServer:
    """Start Redis requiring ``password``; return once it accepts connections."""
    directory = Path(tempfile.mkdtemp(prefix="moorage-redis-"))
    port = free_port()
    log = open(directory / "log", "wb")  # noqa: SIM115 - the server writes it until stopped
    process = subprocess.Popen(
        [
            REDIS_BIN,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith((b"-NOAUTH", b"+PONG")):
                    return RedisServer(port, password, process, directory)
        except OSError:
            time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(f"Redis did not start:\n{(directory / 'log').read_text(errors='replace')}")


@contextmanager
def running(_directory: Path | None = None) -> Iterator[str]:
    """A Redis server for the ``with`` block (a random password); yields its URL."""
    require_tool(REDIS_BIN)
    server = start(secrets.token_urlsafe(16))
    try:
        yield server.url()
    finally:
        server.stop()
