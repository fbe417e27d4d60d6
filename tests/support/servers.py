"""Start and stop real registry servers on loopback for tests and benchmarks.

Each server runs as a child process on a free 127.0.0.1 port and is stopped by its process id,
so a test never leaves a server behind (``ServerProcess`` is a context manager).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.tools import require_tool

if TYPE_CHECKING:
    from tests.support.nginx import TlsFiles

REFERENCE_REGISTRY_BIN = "/usr/bin/docker-registry"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A server child process, its address and where its output goes."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    spawn_cpu: float | None = field(default=None, repr=False)
    """Under ``MOORAGE_TEST_PROFILE``: the CPU seconds of the test process's tree when this was started."""

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the form container tools use in image references."""
        return f"{self.host}:{self.port}"

    def log(self) -> str:
        """Everything the server wrote so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, path: str = "/v2/", timeout: float = 120.0) -> None:
        """Wait until ``path`` answers anything (any HTTP status), or fail with the server's log. The
        bound is generous because a loaded 2-core machine has been seen to take over 30 s to start one.

        Cheap on purpose: the suite starts a server a few hundred times, each start takes seconds,
        and this loop runs in the test process the whole time. It used to call ``httpx.get`` every
        50 ms, a new client (and TLS context) each time: 35 ms of CPU per probe, about 40% of a core
        for as long as the server took to start. A refused ``connect`` costs microseconds; once the
        port accepts, one plain HTTP request waits for the answer (granian's listening socket takes
        connections before its worker is ready, and the request is answered when it is)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            if _answers(self.host, self.port, path, min(remaining, READY_REQUEST_TIMEOUT)):
                _note_start(time.monotonic() - (deadline - timeout), self.spawn_cpu)
                return
            time.sleep(READY_POLL_SECONDS)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (simulates a crash) and reap it."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it if it does not exit in time."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def terminate(self) -> None:
        """SIGTERM the process group without waiting (``stop_all`` waits for them together)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


READY_POLL_SECONDS = 0.02
"""Between readiness probes: a refused connection costs next to nothing, so polling often costs no CPU
and takes at most this long off a start."""
READY_REQUEST_TIMEOUT = 10.0
"""How long one readiness request waits for its answer once the port accepts (the application may
still be importing); a server that accepts and never answers is tried again until the deadline."""


def _answers(host: str, port: int, path: str, timeout: float) -> bool:
    """Whether ``GET path`` on ``host:port`` gets an HTTP answer (any status, even a TLS server's
    refusal of plain HTTP): False while nothing listens, the connection is dropped or no answer comes
    within ``timeout``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            head = b""
            while len(head) < 5 and (piece := sock.recv(5 - len(head))):
                head += piece
            return head == b"HTTP/"
    except OSError:
        return False


def _profiling() -> str | None:
    return os.environ.get("MOORAGE_TEST_PROFILE") or None


def _tree_cpu() -> float:
    from tests.support.cpu_profile import tree_cpu

    return tree_cpu()


def _note_start(seconds: float, spawn_cpu: float | None) -> None:
    """Under ``MOORAGE_TEST_PROFILE`` (tests/support/cpu_profile.py), add this start to the profile:
    which test file waited for a server, how long, and the CPU the test process and its descendants
    spent meanwhile (the server starting, mostly)."""
    directory = _profiling()
    if directory is None:
        return
    current = os.environ.get("PYTEST_CURRENT_TEST", "outside pytest").split("::", 1)[0]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    cpu = None if spawn_cpu is None else round(_tree_cpu() - spawn_cpu, 2)
    with (Path(directory) / f"starts-{worker}.jsonl").open("a") as handle:
        handle.write(json.dumps({"file": current, "wait": round(seconds, 2), "cpu": cpu}) + "\n")


def stop_all(servers: list[ServerProcess]) -> None:
    """Stop every server, all at once: each takes seconds to shut down, and at the end of a session a
    worker holds several."""
    for server in servers:
        server.terminate()
    for server in servers:
        server.stop()


def _spawn(argv: list[str], *, data_dir: Path, port: int, env: Mapping[str, str], name: str) -> ServerProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-{name}.log"
    full_env = {**os.environ, **env}
    spawn_cpu = _tree_cpu() if _profiling() else None
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True)
    return ServerProcess(process, "127.0.0.1", port, log_path, data_dir, dict(env), spawn_cpu)


def start_command(
    argv: list[str], data_dir: Path, *, port: int, name: str, env: Mapping[str, str] | None = None
) -> ServerProcess:
    """Run another HTTP server (``argv`` listening on ``port``) the way moorage's are run: its own
    session and log file; ready once ``/v2/`` answers."""
    server = _spawn(argv, data_dir=data_dir, port=port, env=env or {}, name=name)
    server.wait_ready()
    return server


def start_moorage(
    data_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    extra_args: list[str] | None = None,
    wait: bool = True,
) -> ServerProcess:
    """Run ``moorage serve`` from this interpreter on a free loopback port."""
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "moorage",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *(extra_args or []),
    ]
    server = _spawn(argv, data_dir=data_dir, port=port, env=env or {}, name="moorage")
    if wait:
        server.wait_ready()
    return server


def start_reference_registry(
    data_dir: Path,
    *,
    port: int | None = None,
    htpasswd: Path | None = None,
    wait: bool = True,
    tls: TlsFiles | None = None,
) -> ServerProcess:
    """Run Debian's ``docker-registry`` (CNCF distribution 2.8) with filesystem storage (over TLS with
    ``tls``'s certificate when given)."""
    require_tool(REFERENCE_REGISTRY_BIN)
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n" if htpasswd is not None else ""
    config = data_dir.parent / f"{data_dir.name}-config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {data_dir}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        + (f"  tls:\n    certificate: {tls.certificate}\n    key: {tls.key}\n" if tls else "")
        + auth
    )
    server = _spawn(
        [REFERENCE_REGISTRY_BIN, "serve", str(config)], data_dir=data_dir, port=port, env={}, name="reference"
    )
    if wait:
        server.wait_ready()
    return server
