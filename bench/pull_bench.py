"""Large-blob pulls with curl in interleaved rounds (issue 18): the reference, moorage sending the file
itself (granian's ``pathsend``), moorage behind nginx with ``X-Accel-Redirect`` (the shipped site file,
nginx sends the file with sendfile), and nginx serving the same file as a static file (the ceiling: no
registry work at all). Each round pulls once from every target, in an order that rotates, so that other
work on a shared machine weighs on every target alike; the report gives per target the median MB/s,
its min-max, the per-round ratio to the reference, and the server CPU per pull (every process of the
target: granian's workers, nginx's, the reference's).

    .venv/bin/python bench/pull_bench.py --rounds 7 --json bench/results/pulls-quiet.json
    .venv/bin/python bench/pull_bench.py --rounds 7 --load 2 --json bench/results/pulls-loaded.json
    .venv/bin/python bench/pull_bench.py --results bench/results/pulls-quiet.json

``--load N`` starts N busy-loop processes for the whole run (stopped by pid at the end), as other work
on the machine would; ``--pulls N`` makes a round N passes over the targets (each pass
starting at another one) and counts each target's median pull of the round.
``--variant NAME:ENV=VALUE[,ENV=VALUE]`` adds a moorage sending the file itself
with other settings (``moorage-uvicorn:MOORAGE_SERVER=uvicorn``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``tests`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import nginx
from tests.support.servers import ServerProcess, free_port, start_reference_registry

from bench import moorage_server
from bench.blob_transfer import BlobFile, SocketBlobClient, curl_pull, pull, push_monolithic
from bench.figures import add_results_arguments, load_line, run_or_load, server_variant
from bench.process_cpu import tree_context_switches, tree_cpu_seconds
from bench.registry_auth import Credentials, RegistryAuth, RegistryEndpoint

REPOSITORY = "bench/pulls"
_CLIENTS = {"curl": "curl -o /dev/null", "socket": "socket client (recv_into 4 MiB)"}
ACCEL_PREFIX = "/_moorage/blobs"
"""The internal location of ``deploy/nginx/moorage.conf``."""


@dataclass
class Target:
    """One way of serving the blob: where curl pulls it, and the processes whose CPU it costs."""

    name: str
    endpoint: RegistryEndpoint
    pids: tuple[int, ...]
    stop: Callable[[], None]

    def cpu_seconds(self) -> float:
        """CPU of every process of the target so far."""
        return sum(tree_cpu_seconds(pid) for pid in self.pids)

    def context_switches(self) -> int:
        """Context switches of the target's live threads so far."""
        return sum(tree_context_switches(pid) for pid in self.pids)


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _write_blob(path: Path, size: int) -> BlobFile:
    digest = hashlib.sha256()
    with path.open("wb") as output:
        for _ in range(0, size, 8 << 20):
            block = os.urandom(min(8 << 20, size - output.tell()))
            output.write(block)
            digest.update(block)
    return BlobFile(path, f"sha256:{digest.hexdigest()}", size)


def _push(endpoint: RegistryEndpoint, blob: BlobFile) -> None:
    with SocketBlobClient(endpoint) as client:
        client.authenticate(REPOSITORY)
        push_monolithic(client, REPOSITORY, blob, single_post=False)


def _static_nginx(directory: Path, blob: BlobFile) -> nginx.Nginx:
    """nginx serving the blob file at the registry's path, with the site file's sendfile settings."""
    root = directory / "root"
    target = root / "v2" / REPOSITORY / "blobs" / blob.digest
    target.parent.mkdir(parents=True)
    os.link(blob.path, target)
    port = free_port()
    site = directory / "static.conf"
    site.write_text(
        f"server {{\n    listen 127.0.0.1:{port};\n    root {root};\n    sendfile on;\n    tcp_nopush on;\n"
        "    sendfile_max_chunk 2m;\n    default_type application/octet-stream;\n}\n"
    )
    main = directory / "nginx.conf"
    main.write_text(nginx.main_config(directory, site))
    with (directory / "stderr.log").open("wb") as out:
        process = subprocess.Popen(
            [nginx.NGINX_BIN, "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(main)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = nginx.Nginx(process, port, directory, "http")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"static nginx did not start:\n{server.error_log()}")


def _start_targets(work: Path, blob: BlobFile, arguments: argparse.Namespace) -> list[Target]:
    credentials = Credentials("admin", secrets.token_urlsafe(18))
    targets: list[Target] = []
    try:
        _progress("reference: starting")
        reference = start_reference_registry(work / "reference")
        endpoint = RegistryEndpoint(reference.base_url, RegistryAuth(credentials))
        targets.append(Target("reference", endpoint, (reference.process.pid,), reference.stop))
        variants = [("moorage", {}), *arguments.variant]
        starting: list[tuple[str, ServerProcess]] = []
        for name, env in variants:
            _progress(f"{name}: starting ({env or 'defaults'})")
            # Not waited for here: they start side by side (a minute each on a busy machine).
            server = moorage_server.start(work / name, credentials, env=env, wait=False)
            endpoint = RegistryEndpoint(server.base_url, RegistryAuth(credentials))
            targets.append(Target(name, endpoint, (server.process.pid,), server.stop))
            starting.append((name, server))
        for name, server in starting:
            server.wait_ready(timeout=300)
            _progress(f"{name}: ready")
        _progress("moorage-nginx-accel: starting moorage and nginx with deploy/nginx/moorage.conf")
        accel_dir = work / "moorage-accel"
        accel_env = {"MOORAGE_STORAGE__ACCEL_REDIRECT_PREFIX": ACCEL_PREFIX, "MOORAGE_TRUSTED_PROXIES": "127.0.0.1"}
        accel = moorage_server.start(accel_dir, credentials, env=accel_env)
        auth = RegistryAuth(credentials)
        _push(RegistryEndpoint(accel.base_url, auth), blob)
        edge = nginx.start(
            work / "nginx-accel",
            port=free_port(),
            upstreams=[accel.address],
            tls=None,
            blobs_root=accel_dir / "storage" / "blobs",
        )

        def stop_accel() -> None:
            edge.stop()
            accel.stop()

        targets.append(
            Target(
                "moorage-nginx-accel",
                RegistryEndpoint(edge.base_url, auth),
                (accel.process.pid, edge.process.pid),
                stop_accel,
            )
        )
        static = _static_nginx(work / "nginx-static", blob)
        targets.append(Target("nginx-static", RegistryEndpoint(static.base_url), (static.process.pid,), static.stop))
        for target in targets:
            if target.name not in ("moorage-nginx-accel", "nginx-static"):
                _push(target.endpoint, blob)
    except BaseException:
        for target in targets:
            target.stop()
        raise
    return targets


def _client_cpu_seconds() -> float:
    """CPU of the pulling side so far: this process (the socket client) and its reaped children (curl)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _pull(target: Target, blob: BlobFile, client: str) -> float:
    """Seconds of one pull by ``curl -o /dev/null`` or by the socket client (``recv_into`` 4 MiB: a
    cheaper client, so that the server's share of the time shows)."""
    if client == "curl":
        return curl_pull(target.endpoint, REPOSITORY, blob)
    with SocketBlobClient(target.endpoint) as connection:
        return pull(connection, REPOSITORY, blob)


def _busy_loops(count: int) -> list[subprocess.Popen[bytes]]:
    """Each in a session of its own, as other work on the machine is: with the kernel's autogroup
    scheduling (Debian's default) busy loops in the benchmark's session share one CPU share with curl
    and starve it alone (nginx's static file then fell below the reference: the client was the limit)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True) for _ in range(count)]


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    """Start the targets, pull in rounds, stop everything; the per-round figures."""
    work = Path(tempfile.mkdtemp(prefix="moorage-pulls-", dir=arguments.work_dir))
    loads: list[subprocess.Popen[bytes]] = []
    targets: list[Target] = []
    samples: dict[str, list[dict[str, float]]] = {}
    try:
        blob = _write_blob(work / "blob", arguments.megabytes << 20)
        targets = _start_targets(work, blob, arguments)
        for target in targets:  # one warm-up pull each: tokens fetched, the file in the page cache
            curl_pull(target.endpoint, REPOSITORY, blob)
        samples = {target.name: [] for target in targets}
        loads = _busy_loops(arguments.load)
        for round_index in range(arguments.rounds):
            seconds: dict[str, list[float]] = {target.name: [] for target in targets}
            cpu = dict.fromkeys(seconds, 0.0)
            client_cpu = dict.fromkeys(seconds, 0.0)
            switches = dict.fromkeys(seconds, 0)
            for turn in range(arguments.pulls):  # each pass visits every target, starting somewhere else
                shift = (round_index * arguments.pulls + turn) % len(targets)
                for target in targets[shift:] + targets[:shift]:
                    before, client_before = target.cpu_seconds(), _client_cpu_seconds()
                    switches_before = target.context_switches()
                    seconds[target.name].append(_pull(target, blob, arguments.client))
                    cpu[target.name] += target.cpu_seconds() - before
                    client_cpu[target.name] += _client_cpu_seconds() - client_before
                    switches[target.name] += target.context_switches() - switches_before
            for target in targets:
                mbps = blob.size / statistics.median(seconds[target.name]) / 1e6
                per_pull = cpu[target.name] / arguments.pulls
                client = client_cpu[target.name] / arguments.pulls
                load = os.getloadavg()[0]
                wakeups = switches[target.name] / arguments.pulls
                samples[target.name].append(
                    {"mbps": mbps, "cpu_s": per_pull, "client_cpu_s": client, "switches": wakeups, "load": load}
                )
                _progress(
                    f"round {round_index + 1} {target.name}: {mbps:,.0f} MB/s, {per_pull:.3f} s CPU, "
                    f"{wakeups:,.0f} context switches per pull"
                )
    finally:
        for process in loads:
            process.kill()
            process.wait()
        for target in targets:
            target.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": arguments.rounds,
        "blob_bytes": arguments.megabytes << 20,
        "busy_loops": arguments.load,
        "pulls_per_round": arguments.pulls,
        "client": arguments.client,
        "cpus": os.cpu_count(),
        "variants": {name: env for name, env in arguments.variant},
        "samples": samples,
    }


def render(results: dict[str, Any]) -> str:
    """Per target: median and min-max MB/s, per-round ratio to the reference, median CPU per pull."""
    samples: dict[str, list[dict[str, float]]] = results["samples"]
    reference = samples.get("reference", [])
    lines = [
        f"{results['blob_bytes'] >> 20} MiB blob, {_CLIENTS[results.get('client', 'curl')]}, "
        f"{results['rounds']} interleaved rounds, "
        f"{results.get('pulls_per_round', 1)} pull(s) per target and round (median), "
        f"{results['busy_loops']} busy loops.\n",
        "| target | median MB/s | min-max MB/s | ratio to reference per round: median (min-max) | "
        "server CPU per pull (median) | client CPU per pull (median) | server context switches per pull (median) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, rounds in samples.items():
        rates = [s["mbps"] for s in rounds]
        ratios = [mine["mbps"] / ref["mbps"] for mine, ref in zip(rounds, reference, strict=True)]
        ratio = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})" if name != "reference" else "1"
        cpu = statistics.median(s["cpu_s"] for s in rounds)
        measured = [s["client_cpu_s"] for s in rounds if "client_cpu_s" in s]
        client = f"{statistics.median(measured) * 1000:.0f} ms" if measured else "-"
        counted = [s["switches"] for s in rounds if "switches" in s]
        wakeups = f"{statistics.median(counted):,.0f}" if counted else "-"
        lines.append(
            f"| {name} | {statistics.median(rates):,.0f} | {min(rates):,.0f}-{max(rates):,.0f} | {ratio} | "
            f"{cpu * 1000:.0f} ms | {client} | {wakeups} |"
        )
    loads = [s["load"] for rounds in samples.values() for s in rounds]
    lines.append(load_line(loads))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run (or load) and print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=512, help="blob size in MiB")
    parser.add_argument("--pulls", type=int, default=1, help="passes over the targets per round (median counts)")
    parser.add_argument("--client", choices=("curl", "socket"), default="curl", help="what pulls")
    parser.add_argument("--load", type=int, default=0, help="busy-loop processes running during the rounds")
    parser.add_argument("--variant", type=server_variant, action="append", default=[], metavar="NAME:ENV=VALUE,...")
    parser.add_argument("--work-dir", help="where data directories go (default: the system temp dir)")
    add_results_arguments(parser)
    print(render(run_or_load(parser.parse_args(argv), run)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
