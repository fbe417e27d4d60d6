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
from urllib.parse import quote

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
    password: str | None = None
    """The ``postgres`` user's password when the cluster asks for one (else trust on loopback)."""

    def url(self, database: str = "postgres", driver: str = "psycopg") -> str:
        """SQLAlchemy URL of ``database`` (with the password, percent-encoded, when there is one)."""
        user = "postgres" if self.password is None else f"postgres:{quote(self.password, safe='')}"
        return f"postgresql+{driver}://{user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create a database (empty, or a copy of the database ``template``, which nobody may be
        connected to) and return its SQLAlchemy URL."""
        self.psql("postgres", f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def psql(self, database: str, command: str) -> None:
        """Run one SQL command in ``database`` as the ``postgres`` user."""
        env = {**os.environ, "PGPASSWORD": self.password} if self.password is not None else None
        argv = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database]
        subprocess.run(_as_postgres([*argv, "-q", "-c", command]), check=True, capture_output=True, env=env)

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


def start(*, password: str | None = None) -> PostgresServer:
    """initdb and start a cluster; return when it accepts connections. With ``password``, TCP
    clients must give it (scram-sha-256), else loopback is trusted."""
    directory = Path(tempfile.mkdtemp(prefix="moorage-pg-"))
    data = directory / "data"
    auth = ["--auth=trust"]
    if password is not None:
        password_file = directory / "password"
        password_file.write_text(password + "\n")
        auth = ["--auth-host=scram-sha-256", "--auth-local=trust", f"--pwfile={password_file}"]
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(directory, entry.pw_uid, entry.pw_gid)
        if password is not None:
            os.chown(directory / "password", entry.pw_uid, entry.pw_gid)
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                *auth,
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "-N",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = open(directory / "log", "wb")  # noqa: SIM115 - the server writes it until stopped
    process = subprocess.Popen(
        _as_postgres(
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "-k",
                str(directory),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ]
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True)
        if ready.returncode == 0:
            return PostgresServer(directory, port, process, password)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"PostgreSQL did not start:\n{(directory / 'log').read_text(errors='replace')}")
