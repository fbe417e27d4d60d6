"""The write workloads in interleaved rounds: moorage (this tree, and optionally another tree) and the
reference run side by side, round after round, so that other work on a shared machine weighs on every
server alike. ``registry_bench.py`` runs one server after the other (minutes apart); here each round
runs every server for a few seconds in turn, and the report gives, per figure, the median rate, the
ratio of the medians and the spread of the per-round ratios, and the server CPU (every process of it)
per operation.

    PYTHONPATH=src .venv/bin/python bench/interleaved_bench.py --rounds 5 --before-src /tmp/before/src
    .venv/bin/python bench/interleaved_bench.py --results bench/results/interleaved-new.json

Workloads per round (every one pushes new content: nothing is skipped as already stored):
4 KiB blobs by 16 clients (POST then PUT ``?digest=``, as docker and skopeo push; ``--single-post``
lets moorage use ``POST ?digest=``), manifest PUT by new tags on one manifest by 16 clients, small
images (config + 2 layers of 4 KiB, HEAD each blob, push, PUT the manifest by tag) by 8 clients.
``--postgres`` runs each moorage on a throwaway PostgreSQL of its own (``tests/support/postgres.py``),
whose CPU is counted with that moorage's (a shared one counted, during a target's round, what it did
for the other moorage's background work too).

A/A runs (this tree as both moorages) show a bias for the one started second, cause unknown: on
PostgreSQL 6.68 against 6.10 ms per 4 KiB blob with one server shared and 7.28 against 6.46 with one
each, rates 3-12% apart; on SQLite 6.48 against 6.10 ms and 3.69 against 3.76 ms per tag, rates
within 4%. Read an A/B difference smaller than that as none.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``tests`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import postgres
from tests.support.servers import ServerProcess, start_reference_registry

from bench import moorage_server
from bench.figures import add_results_arguments, load_line, run_or_load
from bench.http_client import HttpConnection, TimedRun, run_concurrently
from bench.oci_client import Blob, Image, push_blob, push_image, put_manifest
from bench.process_cpu import tree_cpu_seconds
from bench.registry_auth import Credentials, RegistryAuth, RegistryEndpoint

WORKLOADS = ("small", "tags", "images")
UNITS = {"small": "blobs/s", "tags": "tags/s", "images": "images/s"}


@dataclass
class Target:
    """One server under test."""

    name: str
    server: ServerProcess
    endpoint: RegistryEndpoint
    single_post: bool
    database_pid: int | None = None
    """The PostgreSQL server the target uses: its CPU counts as the target's."""


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def _timed(
    target: Target, count: int, concurrency: int, job: Callable[[HttpConnection, int], Awaitable[None]]
) -> TimedRun:
    def bind(index: int) -> Callable[[HttpConnection], Awaitable[None]]:
        return lambda connection: job(connection, index)

    return await run_concurrently(target.endpoint, [bind(i) for i in range(count)], concurrency)


async def _round(target: Target, workload: str, round_index: int, size: int) -> TimedRun:
    """One round of ``workload`` with ``size`` operations, on content no earlier round pushed."""
    if workload == "small":
        blobs = [Blob.of(os.urandom(4096)) for _ in range(size)]

        async def blob(connection: HttpConnection, index: int) -> None:
            await push_blob(connection, "bench/small-blobs", blobs[index], single_post=target.single_post)

        return await _timed(target, size, 16, blob)
    if workload == "tags":
        image = Image.generate(seed=1, layer_bytes=4096)
        connection = HttpConnection(target.endpoint)
        try:
            await push_image(connection, "bench/tags", "t-base", image, single_post=target.single_post)
        finally:
            connection.close()

        async def tag(connection: HttpConnection, index: int) -> None:
            await put_manifest(connection, "bench/tags", f"r{round_index}-t{index:05d}", image.manifest)

        return await _timed(target, size, 16, tag)
    images = [Image.generate(seed=10_000 * (round_index + 1) + i, layer_bytes=4096) for i in range(size)]

    async def image_push(connection: HttpConnection, index: int) -> None:
        await push_image(
            connection,
            f"bench/images-{index % 10}",
            f"r{round_index}-v{index}",
            images[index],
            single_post=target.single_post,
        )

    return await _timed(target, size, 8, image_push)


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    """Start every target, run the rounds, stop them; the per-round figures."""
    work = Path(tempfile.mkdtemp(prefix="moorage-interleaved-", dir=arguments.work_dir))
    targets: list[Target] = []
    databases: list[postgres.PostgresServer] = []
    sizes = {"small": arguments.blobs, "tags": arguments.tags, "images": arguments.images}
    samples: dict[str, dict[str, list[dict[str, float]]]] = {}
    try:
        credentials = Credentials("admin", secrets.token_urlsafe(18))
        sources = [("moorage", moorage_server.THIS_SRC)]
        if arguments.before_src:
            sources.append(("moorage-before", arguments.before_src.resolve()))
        extra_env = dict(item.split("=", 1) for item in arguments.moorage_env)
        before_env = dict(item.split("=", 1) for item in arguments.before_env)
        for name, src in sources:
            _progress(f"{name}: starting from {src}")
            env = {**extra_env, **(before_env if name == "moorage-before" else {})}
            database_url, database_pid = None, None
            if arguments.postgres:
                databases.append(postgres.start())
                database_url = databases[-1].create_database(name.replace("-", "_"))
                database_pid = databases[-1].process.pid
            server = moorage_server.start(work / name, credentials, src=src, env=env, database_url=database_url)
            endpoint = RegistryEndpoint(server.base_url, RegistryAuth(credentials), server_pid=server.process.pid)
            targets.append(Target(name, server, endpoint, arguments.single_post, database_pid))
        _progress("reference: starting")
        reference = start_reference_registry(work / "reference")
        targets.append(
            Target(
                "reference",
                reference,
                RegistryEndpoint(reference.base_url, RegistryAuth(credentials), server_pid=reference.process.pid),
                False,
            )
        )
        for workload in arguments.workloads:
            samples[workload] = {target.name: [] for target in targets}
            for round_index in range(arguments.rounds):
                order = targets[round_index % len(targets) :] + targets[: round_index % len(targets)]
                for target in order:
                    database_cpu = tree_cpu_seconds(target.database_pid) if target.database_pid else 0.0
                    timed = uvloop.run(_round(target, workload, round_index, sizes[workload]))
                    if target.database_pid:
                        database_cpu = tree_cpu_seconds(target.database_pid) - database_cpu
                    rate = sizes[workload] / timed.seconds
                    cpu_ms = ((timed.server_cpu_seconds or 0.0) + database_cpu) * 1000 / sizes[workload]
                    samples[workload][target.name].append({"rate": rate, "cpu_ms": cpu_ms, "load": os.getloadavg()[0]})
                    figure = f"{rate:,.1f} {UNITS[workload]}, {cpu_ms:.2f} ms CPU/op"
                    _progress(f"{workload} round {round_index + 1} {target.name}: {figure}")
    finally:
        for target in targets:
            target.server.stop()
        for database in databases:
            database.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": arguments.rounds,
        "sizes": sizes,
        "single_post": arguments.single_post,
        "database": "postgresql" if arguments.postgres else "sqlite",
        "moorage_env": arguments.moorage_env,
        "before_env": arguments.before_env,
        "samples": samples,
    }


def render(results: dict[str, Any]) -> str:
    """Per workload and target: median rate, median CPU per op, and ratios to the reference."""
    lines = [
        "| workload | target | median rate | per-round ratio to reference (min-max) | ratio of medians | "
        "median server CPU per op | CPU ratio (reference / target) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for workload, by_target in results["samples"].items():
        reference = by_target.get("reference", [])
        ref_rate = statistics.median(s["rate"] for s in reference) if reference else None
        ref_cpu = statistics.median(s["cpu_ms"] for s in reference) if reference else None
        for name, rounds in by_target.items():
            if not rounds:
                continue
            rate = statistics.median(s["rate"] for s in rounds)
            cpu = statistics.median(s["cpu_ms"] for s in rounds)
            per_round = [mine["rate"] / ref["rate"] for mine, ref in zip(rounds, reference, strict=False)]
            spread = f"{min(per_round):.2f}-{max(per_round):.2f}" if name != "reference" and per_round else ""
            lines.append(
                f"| {workload} | {name} | {rate:,.1f} {UNITS[workload]} | {spread} | "
                f"{(rate / ref_rate) if ref_rate and name != 'reference' else 1:.2f} | {cpu:.2f} ms | "
                f"{(ref_cpu / cpu) if ref_cpu and cpu else 0:.2f} |"
            )
    lines.insert(0, f"Database: {results.get('database', 'sqlite')}.\n")
    loads = [s["load"] for by_target in results["samples"].values() for rounds in by_target.values() for s in rounds]
    if loads:
        lines.append(load_line(loads))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run (or load) and print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--blobs", type=int, default=500, help="4 KiB blobs per round")
    parser.add_argument("--tags", type=int, default=1000, help="tags per round")
    parser.add_argument("--images", type=int, default=40, help="small images per round")
    parser.add_argument("--workloads", type=lambda v: [w for w in v.split(",") if w], default=list(WORKLOADS))
    parser.add_argument("--before-src", type=Path, help="also run the moorage whose src is here")
    parser.add_argument("--single-post", action="store_true", help="moorage pushes blobs by POST ?digest=")
    parser.add_argument("--moorage-env", action="append", default=[], metavar="NAME=VALUE", help="for moorage")
    parser.add_argument(
        "--before-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="for the --before-src moorage only, over --moorage-env (e.g. MOORAGE_WORKERS=2 on the same tree)",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="moorage on PostgreSQL (a throwaway server; its CPU counts as moorage's)",
    )
    parser.add_argument("--work-dir", help="where data directories go (default: the system temp dir)")
    add_results_arguments(parser)
    print(render(run_or_load(parser.parse_args(argv), run)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
