"""Waiting for a server to start (``ServerProcess.wait_ready``): it returns once the server answers
HTTP, fails with the log when the server exits or never answers, and costs the test process next to
no CPU while it waits (the suite waits a few seconds for each of a few hundred server starts)."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.servers import ServerProcess, free_port

# A child that listens only after ``delay`` seconds, then answers every request (or none: "silent").
_CHILD = """
import socket, sys, time
port, delay, mode = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
print("starting", flush=True)
time.sleep(delay)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(16)
held = []
while True:
    conn, _ = server.accept()
    if mode == "silent":
        held.append(conn)
        continue
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 401 Unauthorized\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n")
    conn.close()
"""


def _child(tmp_path: Path, *, delay: float, mode: str = "answer", code: str = _CHILD) -> ServerProcess:
    port = free_port()
    log_path = tmp_path / "child.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(port), str(delay), mode],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ServerProcess(process, "127.0.0.1", port, log_path, tmp_path)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def test_returns_once_the_server_answers_at_any_status_and_cheaply(tmp_path: Path) -> None:
    with _child(tmp_path, delay=1.5) as server:
        started, cpu = time.monotonic(), _own_cpu()
        server.wait_ready(timeout=30)
        waited, spent = time.monotonic() - started, _own_cpu() - cpu
        assert server.process.poll() is None
    assert waited >= 1.0  # it did wait for the listener (a 401 is an answer)
    # Measured: 0.02 s. With a new HTTP client per probe (20-35 ms of CPU each, every 50 ms) it was 0.4 s.
    assert spent < 0.1, f"waiting {waited:.1f} s for the server cost the test process {spent:.2f} s of CPU"


def test_fails_with_the_log_when_the_server_exits(tmp_path: Path) -> None:
    code = "import sys; print('no database here', flush=True); sys.exit(3)"
    server = _child(tmp_path, delay=0, code=code)
    with pytest.raises(RuntimeError, match=r"(?s)exited with 3.*no database here"):
        server.wait_ready(timeout=30)


def test_a_server_that_accepts_and_never_answers_is_not_ready(tmp_path: Path) -> None:
    with _child(tmp_path, delay=0, mode="silent") as server:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match=r"not ready after 2"):
            server.wait_ready(timeout=2)
        assert time.monotonic() - started < 10
        assert server.process.poll() is not None  # stopped on the way out, by process group
