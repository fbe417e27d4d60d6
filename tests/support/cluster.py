"""A scale-out moorage on loopback, as docs/deployment.md describes it: API nodes (``moorage serve``
without the embedded worker), ``moorage worker`` processes, one PostgreSQL database, one Redis, one blob
storage, and nginx in front with the shipped site file. Every node and worker has a data directory of
its own, as separate machines would; what they share comes from the environment.

The storage is a parameter: ``storage_env`` gives the settings of a backend by name (``filesystem``,
``s3``), and nothing else here depends on it.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support import nginx

if TYPE_CHECKING:
    from tests.support.seaweedfs import SeaweedFS
from tests.support.servers import ServerProcess, free_port, start_moorage, stop_all

STORAGE_BACKENDS = ("filesystem", "s3")
"""Storage backends the benchmark can run on (``storage_env`` knows each)."""

TESTED_BACKENDS = ("s3",)
"""What the multi-node tests run on: an object store (SeaweedFS), as a scale-out deployment would
(the filesystem driver on a shared mount behaves as one machine's, which the rest of the suite tests;
running both would double the package's cost)."""


def storage_env(backend: str, directory: Path, *, s3: SeaweedFS | None = None) -> dict[str, str]:
    """The storage settings every node and worker shares, for ``backend``; ``directory`` is the test's
    to use (a filesystem root), ``s3`` the running object store of the ``s3`` backend."""
    if backend == "filesystem":
        root = directory / "storage"
        root.mkdir(parents=True, exist_ok=True)
        return {"MOORAGE_STORAGE__DRIVER": "filesystem", "MOORAGE_STORAGE__ROOT": str(root)}
    if backend == "s3":
        if s3 is None:
            raise ValueError("the s3 backend needs a running SeaweedFS")
        return s3.settings_env()
    raise ValueError(f"no storage backend {backend!r}: known are {', '.join(STORAGE_BACKENDS)}")


@dataclass
class WorkerProcess:
    """A ``moorage worker`` in its own process group."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        """Its process id (job rows name their worker ``<host>:<pid>``)."""
        return self.process.pid

    def log(self) -> str:
        """What it wrote so far."""
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL its whole group (a crash: the job it runs dies with it)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self) -> None:
        """SIGTERM without waiting."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        self.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()


def bytes_received(port: int) -> int:
    """Bytes received so far on the established TCP connections whose local port is ``port`` (a node's
    listening port: what nginx sends it), from the kernel's TCP statistics (``ss -i``). It tells which
    node is receiving an upload, whatever the node does with the bytes (a file, an object store)."""
    listed = subprocess.run(
        ["ss", "-Htni", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True, check=True
    ).stdout
    return sum(int(match) for match in re.findall(r"\bbytes_received:(\d+)", listed))


@dataclass
class Cluster:
    """The running deployment: nodes, workers, nginx, and the environment they share."""

    directory: Path
    shared_env: dict[str, str]
    nodes: list[ServerProcess] = field(default_factory=list)
    node_ports: list[int] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)
    edge: nginx.Nginx | None = None
    tls: nginx.TlsFiles | None = None
    started_at: float = field(default_factory=time.time)
    """When the deployment was started (epoch seconds)."""

    @property
    def proxy(self) -> nginx.Nginx:
        """The load balancer."""
        assert self.edge is not None
        return self.edge

    def node_env(self, index: int) -> dict[str, str]:
        """Node ``index``'s environment: the shared one and a data directory of its own."""
        return {**self.shared_env, "MOORAGE_DATA_DIR": str(self.directory / f"node-{index}")}

    def start_node(self, index: int, *, wait: bool = True) -> ServerProcess:
        """Start (or start again, on its port and data directory) API node ``index``."""
        env = self.node_env(index)
        node = start_moorage(Path(env["MOORAGE_DATA_DIR"]), env=env, port=self.node_ports[index], wait=False)
        if index < len(self.nodes):
            self.nodes[index] = node
        else:
            self.nodes.append(node)
        if wait:
            node.wait_ready("/healthz")
        return node

    def start_worker(self) -> WorkerProcess:
        """Start one more ``moorage worker`` with a data directory of its own."""
        index = len(self.workers)
        data_dir = self.directory / f"worker-{index}"
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.directory / f"worker-{index}.log"
        with log_path.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "moorage", "worker"],
                env={**os.environ, **self.shared_env, "MOORAGE_DATA_DIR": str(data_dir)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = WorkerProcess(process, log_path)
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        """Stop everything, all at once, by process id."""
        if self.edge is not None:
            self.edge.stop()
        for worker in self.workers:
            worker.terminate()
        stop_all([node for node in self.nodes])
        for worker in self.workers:
            worker.stop()


def start_cluster(
    directory: Path,
    *,
    database_url: str,
    redis_url: str,
    storage: Mapping[str, str],
    nodes: int = 2,
    workers: int = 1,
    tls: bool = True,
    edge: bool = True,
    admin: tuple[str, str],
    env: Mapping[str, str] | None = None,
) -> Cluster:
    """Start the nodes and workers together (on a new database they migrate it one at a time, as nodes
    started together do), and nginx in front of the nodes (unless not ``edge``: then clients use the
    first node's address); return when every node answers. ``env`` adds settings for every process."""
    directory.mkdir(parents=True, exist_ok=True)
    node_ports = [free_port() for _ in range(nodes)]
    edge_port = free_port()
    tls_files = nginx.self_signed(directory / "tls") if tls and edge else None
    edge_url = (
        f"{'https' if tls_files else 'http'}://127.0.0.1:{edge_port}" if edge else f"http://127.0.0.1:{node_ports[0]}"
    )
    shared = {
        "MOORAGE_DATABASE_URL": database_url,
        "MOORAGE_REDIS_URL": redis_url,
        "MOORAGE_AUTH__MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "MOORAGE_AUTH__ADMIN_USER": admin[0],
        "MOORAGE_AUTH__ADMIN_PASSWORD": admin[1],
        "MOORAGE_EXTERNAL_URL": edge_url,
        "MOORAGE_TRUSTED_PROXIES": "127.0.0.1",
        "MOORAGE_JOBS__EMBEDDED_WORKER": "false",
        "MOORAGE_ACCESS_LOG": "false",
        "MOORAGE_SCANNER__VULNDB_SOURCES": "",
        **storage,
        **(env or {}),
    }
    cluster = Cluster(directory, shared, node_ports=node_ports, tls=tls_files)
    try:
        for index in range(nodes):
            cluster.start_node(index, wait=False)
        for _ in range(workers):
            cluster.start_worker()
        if edge:
            cluster.edge = nginx.start(
                directory / "nginx",
                port=edge_port,
                upstreams=[f"127.0.0.1:{port}" for port in cluster.node_ports],
                tls=tls_files,
            )
        for node in cluster.nodes:
            node.wait_ready("/healthz")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def wait_until(check: Callable[[], object], *, timeout: float, interval: float = 0.05, what: str = "") -> float:
    """Poll ``check`` until it returns something truthy; the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(interval)
    return time.monotonic() - started
