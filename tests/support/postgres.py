"""A throwaway PostgreSQL 15 from Debian's binaries: initdb into a temporary directory, listen on a
free 127.0.0.1 port, stop by process id. PostgreSQL refuses to run as root, so as root it runs as
the ``postgres`` system user that Debian's package creates."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@dataclass
class PostgresServer:
    """A running cluster: its port, directory and process."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    def url(self, database: str = "postgres", driver: str = "psycopg") -> str:
        """SQLAlchemy URL of ``database`` (trust authentication on loopback)."""
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        subprocess.run(
            _as_postgres([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                          "-q", "-c", f'CREATE DATABASE "{name}"']),
            check=True, capture_output=True,
        )
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown, then remove the cluster."""
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM = smart shutdown; fine, no clients remain
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def available() -> bool:
    """Whether PostgreSQL 15's server binaries are installed."""
    return (PG_BIN / "postgres").exists()


def start() -> PostgresServer:
    """initdb and start a cluster; return when it accepts connections."""
    directory = Path(tempfile.mkdtemp(prefix="moorage-pg-"))
    data = directory / "data"
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    subprocess.run(
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                      "--encoding=UTF8", "--locale=C.UTF-8", "-N"]),
        check=True, capture_output=True,
    )
    port = free_port()
    log = open(directory / "log", "wb")  # noqa: SIM115 - the server writes it until stopped
    process = subprocess.Popen(
        _as_postgres([str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
                      "-k", str(directory), "-c", "fsync=off", "-c", "synchronous_commit=off",
                      "-c", "full_page_writes=off", "-c", "max_connections=200"]),
        stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        )
        if ready.returncode == 0:
            return PostgresServer(directory, port, process)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"PostgreSQL did not start:\n{(directory / 'log').read_text(errors='replace')}")
