"""Benchmark moorage scaled out: one API node against two behind nginx, side by side in one run.

Every moorage target runs on PostgreSQL and Redis (the scale-out configuration, so that the only
difference between the columns is the topology), with the blob storage a parameter (``--storage``;
``filesystem`` today, and every backend ``tests.support.cluster.storage_env`` knows). nginx runs the
shipped site file (``deploy/nginx/moorage.conf``) without TLS, so that the columns compare topologies,
not ciphers. The workloads are ``bench/workloads.py``'s: a 512 MiB blob pushed monolithically and in
16 MiB chunks, then pulled (median MB/s of the repeats), and 100 small images pushed by 8 clients.

The machine's limits are measured in the same run: sha256, disk write with fsync and loopback TCP
(``bench/machine_limits.py``), curl pushing and pulling the large blob through loopback against the
null server (``bench/null_server.py``, which stores nothing), and the benchmark's own client against
the null server directly and behind nginx: the ceilings of the client, and of nginx, on this machine.

    python bench/cluster_bench.py                           # everything, full size
    python bench/cluster_bench.py --quick                   # small sizes (the smoke test)
    python bench/cluster_bench.py --targets one-node,two-nodes --storage filesystem --json out.json
    python bench/cluster_bench.py --results out.json        # print a saved run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``tests`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import nginx, postgres, redis_server
from tests.support.cluster import STORAGE_BACKENDS, start_cluster, storage_env
from tests.support.servers import free_port

from bench import figures, machine_limits, workloads
from bench.parameters import FULL, QUICK, WorkloadSizes
from bench.registry_auth import Credentials, RegistryAuth, RegistryEndpoint
from bench.registry_bench import start_null_server

RESULTS_SCHEMA = "moorage-cluster-bench/1"
WORKLOADS = ("large", "images")
FIGURES = (
    ("blob_push_monolithic", "{large} blob push, monolithic", "MB/s"),
    ("blob_push_chunked", "{large} blob push, chunked ({chunk} PATCHes)", "MB/s"),
    ("blob_pull", "{large} blob pull", "MB/s"),
    ("image_push", "{images} small images pushed, {clients} clients", "images/s"),
)
"""Figures shown, with labels filled in from the run's sizes."""


@dataclass(frozen=True)
class Target:
    """One column: what serves (``null`` or ``moorage``), how many nodes, and whether nginx is in front."""

    name: str
    server: str
    nodes: int
    behind_nginx: bool
    description: str


TARGETS = (
    Target("null", "null", 1, False, "null server (stores nothing): the client's ceiling"),
    Target("null-nginx", "null", 1, True, "null server behind nginx: nginx's ceiling"),
    Target("one-node", "moorage", 1, False, "one moorage node"),
    Target("one-node-nginx", "moorage", 1, True, "one moorage node behind nginx"),
    Target("two-nodes", "moorage", 2, True, "two moorage nodes behind nginx"),
)
DEFAULT_TARGETS = ("null", "null-nginx", "one-node", "two-nodes")


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def storage(backend: str, directory: Path) -> Iterator[dict[str, str]]:
    """The storage settings of ``backend`` for as long as the block runs (a backend that needs a server
    of its own starts and stops it here: SeaweedFS for ``s3``)."""
    if backend != "s3":
        yield storage_env(backend, directory)
        return
    from tests.support import seaweedfs

    store = seaweedfs.start()
    try:
        yield storage_env(backend, directory, s3=store)
    finally:
        store.close()


@contextmanager
def shared_services() -> Iterator[tuple[postgres.PostgresServer, str]]:
    """A PostgreSQL cluster and a Redis for the run (each moorage target gets a database of its own)."""
    pg = postgres.start()
    redis = redis_server.start(secrets.token_urlsafe(16))
    try:
        yield pg, redis.url()
    finally:
        redis.stop()
        pg.stop()


@contextmanager
def serving(
    target: Target,
    work_dir: Path,
    credentials: Credentials,
    *,
    pg: postgres.PostgresServer,
    redis_url: str,
    backend: str,
) -> Iterator[str]:
    """Start ``target`` and yield the base URL clients use; stop it afterwards."""
    directory = work_dir / f"{target.name}-{backend}"
    if target.server == "null":
        null = start_null_server(directory / "null")
        edge = (
            nginx.start(directory / "nginx", port=free_port(), upstreams=[null.address], tls=None)
            if target.behind_nginx
            else None
        )
        try:
            yield edge.base_url if edge is not None else null.base_url
        finally:
            if edge is not None:
                edge.stop()
            null.stop()
        return
    with storage(backend, directory) as storage_settings:
        cluster = start_cluster(
            directory / "deployment",
            database_url=pg.create_database(f"bench_{secrets.token_hex(6)}"),
            redis_url=redis_url,
            storage=storage_settings,
            nodes=target.nodes,
            workers=0,
            tls=False,
            edge=target.behind_nginx,
            admin=(credentials.username, credentials.password),
        )
        try:
            yield cluster.proxy.base_url if target.behind_nginx else cluster.nodes[0].base_url
        finally:
            cluster.stop()


def run_target(
    target: Target,
    backend: str,
    work_dir: Path,
    blobs: workloads.LargeBlobs,
    sizes: WorkloadSizes,
    *,
    pg: postgres.PostgresServer,
    redis_url: str,
) -> dict[str, Any]:
    """Start one target, run the workloads, stop it, remove its data."""
    label = target.name if target.server == "null" else f"{target.name}/{backend}"
    outcome: dict[str, Any] = {
        "description": target.description,
        "storage": backend if target.server != "null" else "",
        "load_average_at_start": os.getloadavg()[0],
    }
    _progress(f"{label}: starting")
    credentials = Credentials("admin", secrets.token_urlsafe(18))
    try:
        with serving(target, work_dir, credentials, pg=pg, redis_url=redis_url, backend=backend) as base_url:
            endpoint = RegistryEndpoint(base_url, RegistryAuth(credentials))
            result = workloads.run_all(
                endpoint, blobs, sizes, lambda line: _progress(f"{label}: {line}"), use_curl=False, selected=WORKLOADS
            )
    except (RuntimeError, OSError) as error:
        outcome["error"] = f"{type(error).__name__}: {str(error)[:2000]}"
        _progress(f"{label}: {outcome['error']}")
        return outcome
    finally:
        shutil.rmtree(work_dir / f"{target.name}-{backend}", ignore_errors=True)
        os.sync()  # the next target must not pay for this one's writeback
    outcome.update(figures=result.figures, samples=result.samples, errors=result.errors, notes=result.notes)
    return outcome


def curl_limits(work_dir: Path, blobs: workloads.LargeBlobs, sizes: WorkloadSizes) -> dict[str, float]:
    """curl pushing and pulling the large blob through loopback against the null server (MB/s)."""
    null = start_null_server(work_dir / "curl-null")
    try:
        endpoint = RegistryEndpoint(null.base_url, RegistryAuth())
        result = workloads.run_all(
            endpoint, blobs, sizes, lambda line: _progress(f"curl limit: {line}"), use_curl=True, selected=("large",)
        )
    finally:
        null.stop()
    return {
        "curl_push_mbps": result.figures.get("blob_push_monolithic", 0.0),
        "curl_pull_mbps": result.figures.get("blob_pull", 0.0),
    }


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    """Measure the limits, then every target (each moorage one on every storage backend) in turn."""
    sizes = replace(
        QUICK if arguments.quick else FULL,
        large_blob_repeats=arguments.repeats or (QUICK if arguments.quick else FULL).large_blob_repeats,
    )
    base = Path(arguments.work_dir) if arguments.work_dir else None
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix="moorage-cluster-bench-", dir=base))
    outcomes: dict[str, Any] = {}
    try:
        _progress(f"work directory {work_dir}; measuring machine limits")
        limits = machine_limits.measure(work_dir, sizes.limits_bytes)
        blobs = workloads.make_large_blobs(work_dir, sizes)
        os.sync()
        curl = curl_limits(work_dir, blobs, sizes)
        _progress(
            f"limits: sha256 {limits.sha256_mbps:.0f}, disk+fsync {limits.disk_fsync_write_mbps:.0f}, "
            f"loopback {limits.loopback_tcp_mbps:.0f}, curl push {curl['curl_push_mbps']:.0f} / pull "
            f"{curl['curl_pull_mbps']:.0f} MB/s"
        )
        with shared_services() as (pg, redis_url):
            for target in (t for t in TARGETS if t.name in arguments.targets):
                for backend in arguments.storage if target.server == "moorage" else [""]:
                    key = target.name if target.server == "null" else f"{target.name}/{backend}"
                    outcomes[key] = run_target(target, backend, work_dir, blobs, sizes, pg=pg, redis_url=redis_url)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return {
        "schema": RESULTS_SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": arguments.quick,
        "host": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg()[0],
        },
        "sizes": sizes.as_dict(),
        "limits": {
            "sha256_mbps": limits.sha256_mbps,
            "disk_fsync_write_mbps": limits.disk_fsync_write_mbps,
            "loopback_tcp_mbps": limits.loopback_tcp_mbps,
            **curl,
        },
        "targets": outcomes,
    }


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def render(results: dict[str, Any]) -> str:
    """The figures as a markdown table (a column per target), then the limits."""
    targets: dict[str, Any] = results["targets"]
    order = [target.name for target in TARGETS]
    columns = sorted(
        targets, key=lambda key: (order.index(key.split("/")[0]) if key.split("/")[0] in order else len(order), key)
    )  # a saved run's keys come back sorted
    sizes = results["sizes"]
    names = {
        "large": f"{sizes['large_blob_bytes'] >> 20} MiB",
        "chunk": f"{sizes['chunk_bytes'] >> 20} MiB",
        "images": sizes["image_count"],
        "clients": sizes["image_concurrency"],
    }
    lines = ["| figure | unit | " + " | ".join(columns) + " |", "| --- | --- |" + " --- |" * len(columns)]
    for key, label, unit in FIGURES:
        cells = [_number(targets[c].get("figures", {}).get(key)) for c in columns]
        lines.append(f"| {label.format(**names)} | {unit} | " + " | ".join(cells) + " |")
    lines.append(
        "| load average at the target's start | | "
        + " | ".join(f"{targets[c].get('load_average_at_start', 0):.1f}" for c in columns)
        + " |"
    )
    limits = results["limits"]
    lines += [
        "",
        "| machine limit (same run) | MB/s |",
        "| --- | --- |",
        f"| sha256 (hashlib, one core) | {_number(limits['sha256_mbps'])} |",
        f"| disk write + fsync | {_number(limits['disk_fsync_write_mbps'])} |",
        f"| loopback TCP, one connection | {_number(limits['loopback_tcp_mbps'])} |",
        f"| curl push through loopback to the null server | {_number(limits['curl_push_mbps'])} |",
        f"| curl pull through loopback from the null server | {_number(limits['curl_pull_mbps'])} |",
    ]
    errors = [f"- {name}: {outcome['error']}" for name, outcome in targets.items() if outcome.get("error")]
    errors += [
        f"- {name} {workload}: {error}"
        for name, outcome in targets.items()
        for workload, error in outcome.get("errors", {}).items()
    ]
    if errors:
        lines += ["", "Failures:", *errors]
    return "\n".join(lines)


def _names(value: str, known: Sequence[str], what: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(known))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{what} are a comma list of {', '.join(known)}; got {value!r}")
    return names


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--targets",
        type=lambda v: _names(v, [t.name for t in TARGETS], "targets"),
        default=list(DEFAULT_TARGETS),
        help=f"default: {','.join(DEFAULT_TARGETS)}",
    )
    parser.add_argument(
        "--storage",
        type=lambda v: _names(v, STORAGE_BACKENDS, "storage backends"),
        default=["filesystem"],
        help=f"storage backends of the moorage targets: {','.join(STORAGE_BACKENDS)}",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--repeats", type=int, default=0, help="large blobs per measurement (default 3, quick 1)")
    parser.add_argument("--work-dir", help="where data directories go (default: the system temp dir)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the results to OUT as JSON")
    parser.add_argument("--results", type=Path, metavar="IN", help="do not run: print the results in IN")
    return parser.parse_args(argv)


def read_results(path: Path) -> dict[str, Any]:
    """Results written by ``--json``, refusing another schema."""
    results: dict[str, Any] = json.loads(path.read_text())
    if results.get("schema") != RESULTS_SCHEMA:
        raise ValueError(f"{path}: not a cluster_bench results file of schema {RESULTS_SCHEMA}")
    return results


def main(argv: list[str] | None = None) -> int:
    """Run (or load) and print; 1 if anything failed."""
    arguments = parse_arguments(argv)
    results = read_results(arguments.results) if arguments.results else run(arguments)
    print(render(results))
    if arguments.json:
        figures.write_results(arguments.json, results)
    failed = any(o.get("error") or o.get("errors") for o in results["targets"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
