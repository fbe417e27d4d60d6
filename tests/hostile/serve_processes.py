"""Starting ``moorage serve`` exactly as an operator would (options, environment, TOML file only) and
finding every process it started, wherever they were re-parented: each server carries a marker in
its environment, which every descendant inherits (with today's code and with older code alike)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import ServerProcess

MARKER = "SERVE_TEST_MARKER"


@dataclass
class Served:
    """A ``moorage serve`` process and the marker its descendants carry."""

    server: ServerProcess
    marker: str

    @property
    def pid(self) -> int:
        """The ``moorage serve`` process."""
        return self.server.process.pid

    def processes(self) -> dict[int, str]:
        """Every live process started by this server (and the server), by pid, with its command line."""
        return marked_processes(self.marker)

    def http_workers(self) -> set[int]:
        """The HTTP worker processes (children of the server that are not the job worker or
        multiprocessing's resource tracker)."""
        return {
            pid
            for pid, cmdline in self.processes().items()
            if pid != self.pid
            and parent_of(pid) == self.pid
            and "moorage worker" not in cmdline
            and "resource_tracker" not in cmdline
        }

    def job_workers(self) -> set[int]:
        """The ``moorage worker`` processes."""
        return {pid for pid, cmdline in self.processes().items() if "moorage worker" in cmdline}

    def wait_gone(self, timeout: float) -> dict[int, str]:
        """Wait until no process of this server is left; what is left after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left

    def kill_everything(self) -> None:
        """SIGKILL whatever is left (cleanup after a failed assertion)."""
        self.server.kill()
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def marked_processes(marker: str) -> dict[int, str]:
    """Live processes whose environment holds ``SERVE_TEST_MARKER=<marker>`` (zombies have none)."""
    needle = f"{MARKER}={marker}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return found


def parent_of(pid: int) -> int | None:
    """The parent pid of a live process."""
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def launch(
    base: Path, name: str, *, port: int, data_dir: Path, args: list[str], env: dict[str, str] | None = None
) -> Served:
    """Run ``moorage serve <args>`` with ``env`` and no other ``MOORAGE*`` variable, in its own process
    group, output to ``<base>/<name>.log``."""
    marker = uuid.uuid4().hex
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE")}
    log_path = base / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moorage", "serve", *args],
            env={**clean, **(env or {}), MARKER: marker},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Served(ServerProcess(process, "127.0.0.1", port, log_path, data_dir, dict(env or {})), marker)


def socket_owner(server_port: int, client_port: int, pids: set[int]) -> int | None:
    """Which of ``pids`` holds the server side of the loopback connection from ``client_port``."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if (
            state == "01"
            and int(local.split(":")[1], 16) == server_port
            and int(remote.split(":")[1], 16) == client_port
        ):
            inode = fields[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            for fd in (Path("/proc") / str(pid) / "fd").iterdir():
                try:
                    if os.readlink(fd) == target:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


def connection_per_worker(served: Served, timeout: float = 90) -> dict[int, http.client.HTTPConnection]:
    """One open keep-alive connection to each HTTP worker, by worker pid (new connections are opened,
    and the ones already open kept, until every worker has accepted one)."""
    workers = served.http_workers()
    found: dict[int, http.client.HTTPConnection] = {}
    spare: list[http.client.HTTPConnection] = []
    deadline = time.monotonic() + timeout
    try:
        while set(found) != workers and time.monotonic() < deadline:
            connection = http.client.HTTPConnection("127.0.0.1", served.server.port, timeout=60)
            status, _, _ = call(connection, "GET", "/healthz")
            assert status == 200
            assert connection.sock is not None
            owner = socket_owner(served.server.port, connection.sock.getsockname()[1], workers)
            if owner is not None and owner not in found:
                found[owner] = connection
            else:
                spare.append(connection)
                if len(spare) > 50:
                    spare.pop(0).close()
                    time.sleep(0.2)
    finally:
        for connection in spare:
            connection.close()
    assert set(found) == workers, f"connections reached {sorted(found)} of the workers {sorted(workers)}"
    return found


def call(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a kept-alive connection: (status, headers in lower case, body)."""
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data
