"""What events and webhooks cost a push and a pull, side by side in one run.

    PYTHONPATH=src .venv/bin/python bench/events_bench.py [--pushes 300] [--clients 8] [--pulls 3000]
                                                          [--baseline-src /path/to/other/moorage/src]

One ``moorage serve`` (SQLite, an embedded worker) with an Enterprise Edition instance on 127.0.0.5;
small images (a 1 KiB layer, a config, a manifest by tag) are pushed by ``--clients`` clients into
namespaces of that instance in interleaved rounds, so every column sees the same machine load:

- ``none``: a namespace without webhook policies;
- ``3 policies``: a namespace with three PUSH_ARTIFACT policies to a receiver answering 200 at once
  (every push makes three deliveries, sent by the worker meanwhile);
- ``3 policies, dead receiver``: three policies to a receiver that accepts the connection and never
  answers (each delivery waits for its timeout in the worker).

Figures: pushes/s and the manifest PUT's p50 and p99 (the request whose transaction writes the push's
event). Then pulls (manifest GET by tag, ``--clients`` clients) with pull events recorded and, on a
second server, with ``MOORAGE_EVENTS__RECORD_PULLS=false``. With ``--baseline-src`` the push and pull
workloads also run against a server from that source tree (a checkout without the event stream): the
cost of the event row itself. A replication column comes with the replication work.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ADMIN, PASSWORD = "admin", "bench-password-1"
INSTANCE_HOST = "127.0.0.5"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def receiver(answer: bool) -> Iterator[str]:
    """A webhook receiver on loopback: answering 200 at once, or never answering."""
    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if not answer:
                stopping.wait(120)
                return
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()


@contextmanager
def moorage(src: Path, work: Path, env: dict[str, str]) -> Iterator[str]:
    """``moorage serve`` from ``src`` on 127.0.0.1 and the instance address; its port."""
    port = free_port()
    data = Path(tempfile.mkdtemp(dir=work))
    full_env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "MOORAGE_AUTH__ADMIN_PASSWORD": PASSWORD,
        "MOORAGE_ACCESS_LOG": "false",
        "MOORAGE_LOG_LEVEL": "warning",
        "MOORAGE_SCANNER__VULNDB_SOURCES": "",
        "MOORAGE_ENTERPRISE__ALLOWED_DOMAIN_SUFFIXES": INSTANCE_HOST,
        "MOORAGE_EGRESS__ALLOW_NETWORKS": "127.0.0.0/8",
        **env,
    }
    log = (work / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "moorage",
            "serve",
            "--host",
            "127.0.0.1",
            "--host",
            INSTANCE_HOST,
            "--port",
            str(port),
            "--data-dir",
            str(data),
        ],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((work / f"server-{port}.log").read_text()[-3000:]) from None
                time.sleep(0.1)
        yield str(port)
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)
        log.close()


class Api:
    """The management API as the administrator."""

    def __init__(self, port: str) -> None:
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(
            base + "/v3/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {"user": {"name": ADMIN, "password": PASSWORD, "domain": {"name": ADMIN}}},
                    },
                    "scope": {"project": {"name": "local-1"}},
                }
            },
        ).headers["X-Subject-Token"]
        self.http = httpx.Client(base_url=base, headers={"X-Auth-Token": token}, timeout=60)
        self.project = self.http.get("/v3/projects", params={"name": "local-1"}).json()["projects"][0]["id"]

    def instance(self, port: str) -> str:
        created = self.http.post(
            f"/v2/{self.project}/instances",
            json={
                "name": "bench",
                "spec": "swr.ee.professional",
                "charge_mode": "postPaid",
                "vpc_id": "v",
                "subnet_id": "s",
                "project_id": self.project,
            },
        ).json()["instance_id"]
        added = self.http.post(
            f"/v2/{self.project}/instances/{created}/domainname", json={"domain_name": f"{INSTANCE_HOST}:{port}"}
        )
        assert added.status_code in (200, 201), added.text
        return str(created)

    def namespace(self, instance: str, name: str) -> None:
        made = self.http.post(
            f"/v2/{self.project}/instances/{instance}/namespaces",
            json={"namespace_name": name, "metadata": {"public": "false"}},
        )
        assert made.status_code in (200, 201), made.text

    def policy(self, instance: str, namespace: str, address: str, name: str) -> None:
        made = self.http.post(
            f"/v2/{self.project}/instances/{instance}/namespaces/{namespace}/webhook/policies",
            json={
                "name": name,
                "event_types": ["PUSH_ARTIFACT"],
                "enabled": True,
                "targets": [{"type": "http", "address": address}],
            },
        )
        assert made.status_code == 201, made.text


def image(seed: str) -> tuple[bytes, dict[str, bytes]]:
    layer = hashlib.sha256(seed.encode()).digest() * 32
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "seed": seed}
    ).encode()

    def digest(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer), "size": len(layer)}
            ],
        }
    ).encode()
    return manifest, {digest(layer): layer, digest(config): config}


def token(host: str, repository: str, actions: str) -> str:
    return str(
        httpx.get(
            f"http://{host}/service/token",
            auth=(ADMIN, PASSWORD),
            timeout=60,
            params={"scope": f"repository:{repository}:{actions}"},
        ).json()["token"]
    )


def push_round(host: str, namespace: str, pushes: int, clients: int, label: str) -> list[float]:
    """``pushes`` images into ``namespace/app`` by ``clients`` clients; the manifest PUT latencies."""
    repository = f"{namespace}/app"
    bearer = token(host, repository, "pull,push")
    latencies: list[float] = []
    lock = threading.Lock()

    def one(n: int, client: httpx.Client) -> None:
        manifest, blobs = image(f"{label}-{n}-{time.time_ns()}")
        for digest, data in blobs.items():
            done = client.post(f"/v2/{repository}/blobs/uploads/", params={"digest": digest}, content=data)
            assert done.status_code == 201, done.text
        started = time.perf_counter()
        stored = client.put(f"/v2/{repository}/manifests/t{n}", content=manifest, headers={"Content-Type": MANIFEST})
        took = time.perf_counter() - started
        assert stored.status_code == 201, stored.text
        with lock:
            latencies.append(took)

    def worker(k: int) -> None:
        with httpx.Client(
            base_url=f"http://{host}", headers={"Authorization": f"Bearer {bearer}"}, timeout=120
        ) as client:
            for n in range(k, pushes, clients):
                one(n, client)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    return latencies


def pull_rate(host: str, repository: str, pulls: int, clients: int) -> float:
    """Manifest GETs by tag per second."""
    bearer = token(host, repository, "pull")

    def worker(k: int) -> None:
        with httpx.Client(
            base_url=f"http://{host}", timeout=60, headers={"Authorization": f"Bearer {bearer}", "Accept": MANIFEST}
        ) as client:
            for _ in range(k, pulls, clients):
                assert client.get(f"/v2/{repository}/manifests/t0").status_code == 200

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    return pulls / (time.perf_counter() - started)


def summary(latencies: list[float], wall: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "pushes_per_s": round(len(ordered) / wall, 1),
        "put_p50_ms": round(statistics.median(ordered) * 1000, 1),
        "put_p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
    }


def run_pushes(src: Path, work: Path, pushes: int, clients: int, rounds: int) -> dict[str, dict[str, float]]:
    columns = {"none": "plain", "3 policies": "hooked", "3 policies, dead receiver": "stalled"}
    latencies: dict[str, list[float]] = {c: [] for c in columns}
    walls: dict[str, float] = dict.fromkeys(columns, 0.0)
    with (
        receiver(True) as live,
        receiver(False) as dead,
        moorage(src, work, {"MOORAGE_WEBHOOKS__TIMEOUT_SECONDS": "10"}) as port,
    ):
        api = Api(port)
        instance = api.instance(port)
        host = f"{INSTANCE_HOST}:{port}"
        for namespace in columns.values():
            api.namespace(instance, namespace)
        for k in range(3):
            api.policy(instance, "hooked", live, f"live-{k}")
            api.policy(instance, "stalled", dead, f"dead-{k}")
        per_round = pushes // rounds
        for r in range(rounds):  # interleaved, so each column meets the same load
            for column, namespace in columns.items():
                started = time.perf_counter()
                latencies[column] += push_round(host, namespace, per_round, clients, f"{namespace}-{r}")
                walls[column] += time.perf_counter() - started
    return {column: summary(latencies[column], walls[column]) for column in columns}


def run_pulls(src: Path, work: Path, pulls: int, clients: int, record: bool | None) -> float:
    env = {} if record is None else {"MOORAGE_EVENTS__RECORD_PULLS": "true" if record else "false"}
    with moorage(src, work, env) as port:
        host = f"127.0.0.1:{port}"
        api = Api(port)
        made = api.http.post("/v2/manage/namespaces", json={"namespace": "pulls"})
        assert made.status_code == 201, made.text
        push_round(host, "pulls", 1, 1, "pull")
        pull_rate(host, "pulls/app", min(pulls, 200), clients)  # warm up
        return round(pull_rate(host, "pulls/app", pulls, clients), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushes", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pulls", type=int, default=3000)
    parser.add_argument("--baseline-src", type=Path, help="a moorage src without the event stream (e.g. main's)")
    args = parser.parse_args()
    src = Path(__file__).resolve().parents[1] / "src"
    work = Path(tempfile.mkdtemp(prefix="events-bench-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.pushes} pushes per column, {args.clients} clients")
    pushes = run_pushes(src, work, args.pushes, args.clients, args.rounds)
    print(f"{'pushes':<32} {'pushes/s':>9} {'PUT p50 ms':>11} {'PUT p99 ms':>11}")
    for column, figures in pushes.items():
        print(f"{column:<32} {figures['pushes_per_s']:>9} {figures['put_p50_ms']:>11} {figures['put_p99_ms']:>11}")
    pulls = {
        "pull events recorded": run_pulls(src, work, args.pulls, args.clients, True),
        "pull events off": run_pulls(src, work, args.pulls, args.clients, False),
    }
    if args.baseline_src:
        for label, tree in (("shared edition, this tree", src), ("shared edition, baseline tree", args.baseline_src)):
            figures = shared_pushes(tree, work, args.pushes, args.clients)
            print(f"{label:<32} {figures['pushes_per_s']:>9} {figures['put_p50_ms']:>11} {figures['put_p99_ms']:>11}")
        pulls["baseline tree (no events)"] = run_pulls(args.baseline_src, work, args.pulls, args.clients, None)
    print(f"{'manifest GET by tag':<32} {'req/s':>9}")
    for column, rate in pulls.items():
        print(f"{column:<32} {rate:>9}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def shared_pushes(src: Path, work: Path, pushes: int, clients: int) -> dict[str, float]:
    """Pushes into a shared-edition namespace of a server from ``src`` (the same for a tree with and a
    tree without the event stream: the cost of the event row)."""
    with moorage(src, work, {}) as port:
        api = Api(port)
        made = api.http.post("/v2/manage/namespaces", json={"namespace": "base"})
        assert made.status_code == 201, made.text
        started = time.perf_counter()
        latencies = push_round(f"127.0.0.1:{port}", "base", pushes, clients, "base")
        return summary(latencies, time.perf_counter() - started)


if __name__ == "__main__":
    main()
