"""Large-blob pushes in interleaved rounds (issue 18): moorage (this tree), optionally moorage from
another tree (``--before-src``), moorage with other settings (``--variant``) and the reference. Each
round pushes two new blobs to every target, in an order that rotates: one in a single request with
``curl -T`` (``POST ?digest=`` to moorage, POST then PUT to the reference, or ``--two-step``
everywhere) and one in 16 MiB PATCHes with ``Content-Range`` (the socket client, ``sendfile``),
then the closing PUT. The report gives per target and kind the median MB/s, its min-max, the per-round
ratio to the first target, and the server CPU per push (every process of the target). ``--pull`` pulls
each blob pushed in one request right after its push (the "first pull": from the page cache, or from
the disk when the push bypassed it).

    .venv/bin/python bench/push_bench.py --rounds 3 --before-src /tmp/push-before/src \\
        --json bench/results/pushes-new.json
    .venv/bin/python bench/push_bench.py --results bench/results/pushes-new.json

Every blob is new to every target (the blobs of a round are copies of one random file with their own
first 8 bytes, made before the round and removed after it), so every push stores a new blob.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``tests`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.servers import ServerProcess, free_port, start_command, start_reference_registry

from bench import moorage_server
from bench.blob_transfer import BlobFile, SocketBlobClient, curl_pull, curl_push_monolithic, push_chunked
from bench.figures import add_results_arguments, load_line, run_or_load, server_variant
from bench.process_cpu import tree_cpu_seconds
from bench.registry_auth import Credentials, RegistryAuth, RegistryEndpoint

REPOSITORY = "bench/pushes"
CHUNK = 16 << 20
KINDS = ("monolithic", "chunked")
FIRST_PULL = "first pull"
"""With ``--pull``: the blob just pushed in one request, pulled once with curl (is it still in the page
cache? Direct writes leave it on the disk only)."""


@dataclass
class Target:
    """One server under test."""

    name: str
    server: ServerProcess
    endpoint: RegistryEndpoint
    single_post: bool

    def cpu_seconds(self) -> float:
        """CPU of every process of the server so far."""
        return tree_cpu_seconds(self.server.process.pid)


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _base_file(path: Path, size: int) -> None:
    with path.open("wb") as output:
        for offset in range(0, size, 8 << 20):
            output.write(os.urandom(min(8 << 20, size - offset)))


def _variant_of(base: Path, path: Path, head: bytes) -> BlobFile:
    """A copy of ``base`` whose first bytes are ``head``: a blob no target has yet."""
    shutil.copyfile(base, path)
    with path.open("r+b") as output:
        output.write(head)
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(8 << 20):
            digest.update(block)
    return BlobFile(path, f"sha256:{digest.hexdigest()}", path.stat().st_size)


def _start_targets(work: Path, arguments: argparse.Namespace) -> list[Target]:
    credentials = Credentials("admin", secrets.token_urlsafe(18))
    auth = RegistryAuth(credentials)
    single_post = not arguments.two_step
    wanted: list[tuple[str, Path, dict[str, str]]] = [("moorage", moorage_server.THIS_SRC, {})]
    if arguments.before_src:
        wanted.append(("moorage-before", Path(arguments.before_src).resolve(), {}))
    wanted += [(name, moorage_server.THIS_SRC, env) for name, env in arguments.variant]
    targets: list[Target] = []
    try:
        for name, src, env in wanted:
            _progress(f"{name}: starting from {src} ({env or 'defaults'})")
            server = moorage_server.start(work / name, credentials, src=src, env=env)
            targets.append(Target(name, server, RegistryEndpoint(server.base_url, auth), single_post))
        for name, hashing in (("granian-null", "0"), ("granian-null-sha256", "1")) if arguments.null_asgi else ():
            _progress(f"{name}: starting")
            port = free_port()
            argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port)]
            argv += ["--workers", str(len(os.sched_getaffinity(0))), "--no-ws", "--http", "1", "bench.null_asgi:app"]
            env = {"NULL_ASGI_SHA256": hashing, "PYTHONPATH": str(moorage_server.REPOSITORY_ROOT)}
            server = start_command(argv, work / name, port=port, name=name, env=env)
            targets.append(Target(name, server, RegistryEndpoint(server.base_url, auth), True))
        if arguments.reference:
            _progress("reference: starting")
            reference = start_reference_registry(work / "reference")
            targets.append(Target("reference", reference, RegistryEndpoint(reference.base_url, auth), False))
    except BaseException:
        for target in targets:
            target.server.stop()
        raise
    return targets


def _push(target: Target, blob: BlobFile, kind: str) -> float:
    with SocketBlobClient(target.endpoint) as client:
        client.authenticate(REPOSITORY)
        if kind == "monolithic":
            return curl_push_monolithic(client, target.endpoint, REPOSITORY, blob, single_post=target.single_post)
        return push_chunked(client, REPOSITORY, blob, chunk_size=CHUNK)


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    """Start the targets, push in rounds, stop everything; the per-round figures."""
    work = Path(tempfile.mkdtemp(prefix="moorage-pushes-", dir=arguments.work_dir))
    targets: list[Target] = []
    samples: dict[str, dict[str, list[dict[str, float]]]] = {}
    size = arguments.megabytes << 20
    try:
        targets = _start_targets(work, arguments)
        base = work / "base"
        _base_file(base, size)
        kinds = (*KINDS, FIRST_PULL) if arguments.pull else KINDS
        samples = {target.name: {kind: [] for kind in kinds} for target in targets}
        for round_index in range(-1, arguments.rounds):  # round -1 warms up (tokens, code paths)
            for kind in KINDS:
                blob = _variant_of(base, work / "blob", f"{round_index:+04d}{kind[:4]}".encode())
                os.sync()  # the copy's dirty pages are not the server's to write
                shift = (round_index + KINDS.index(kind)) % len(targets)
                for target in targets[shift:] + targets[:shift]:
                    before = target.cpu_seconds()
                    seconds = _push(target, blob, kind)
                    cpu = target.cpu_seconds() - before
                    if round_index < 0:
                        continue
                    mbps = size / seconds / 1e6
                    load = os.getloadavg()[0]
                    samples[target.name][kind].append({"mbps": mbps, "cpu_s": cpu, "load": load})
                    _progress(f"round {round_index + 1} {target.name} {kind}: {mbps:,.0f} MB/s, {cpu:.2f} s CPU")
                    if arguments.pull and kind == "monolithic":
                        before = target.cpu_seconds()
                        seconds = curl_pull(target.endpoint, REPOSITORY, blob)
                        cpu = target.cpu_seconds() - before
                        sample = {"mbps": size / seconds / 1e6, "cpu_s": cpu, "load": os.getloadavg()[0]}
                        samples[target.name][FIRST_PULL].append(sample)
                        _progress(f"round {round_index + 1} {target.name} {FIRST_PULL}: {sample['mbps']:,.0f} MB/s")
                blob.path.unlink()
    finally:
        for target in targets:
            target.server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": arguments.rounds,
        "blob_bytes": size,
        "chunk_bytes": CHUNK,
        "two_step": arguments.two_step,
        "cpus": os.cpu_count(),
        "before_src": arguments.before_src,
        "variants": {name: env for name, env in arguments.variant},
        "samples": samples,
    }


def render(results: dict[str, Any]) -> str:
    """Per target and kind: median and min-max MB/s, per-round ratio to the first target, CPU per push."""
    samples: dict[str, dict[str, list[dict[str, float]]]] = results["samples"]
    first = next(iter(samples))
    lines = [
        f"{results['blob_bytes'] >> 20} MiB blobs, {results['rounds']} interleaved rounds; monolithic by curl -T "
        f"({'POST then PUT' if results['two_step'] else 'POST ?digest= to moorage'}), chunked by "
        f"{results['chunk_bytes'] >> 20} MiB PATCHes.\n",
        f"| target | kind | median MB/s | min-max MB/s | ratio to {first} per round: median (min-max) | "
        "server CPU per operation (median) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, kinds in samples.items():
        for kind, rounds in kinds.items():
            rates = [s["mbps"] for s in rounds]
            ratios = [mine["mbps"] / ref["mbps"] for mine, ref in zip(rounds, samples[first][kind], strict=True)]
            ratio = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
            cpu = statistics.median(s["cpu_s"] for s in rounds)
            lines.append(
                f"| {name} | {kind} | {statistics.median(rates):,.0f} | {min(rates):,.0f}-{max(rates):,.0f} | "
                f"{ratio} | {cpu * 1000:,.0f} ms |"
            )
    loads = [s["load"] for kinds in samples.values() for rounds in kinds.values() for s in rounds]
    lines.append(load_line(loads))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run (or load) and print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=512, help="blob size in MiB")
    parser.add_argument("--before-src", help="the src directory of another moorage tree to push to as well")
    parser.add_argument("--variant", type=server_variant, action="append", default=[], metavar="NAME:ENV=VALUE,...")
    parser.add_argument("--reference", action="store_true", help="push to the reference registry too")
    parser.add_argument("--two-step", action="store_true", help="POST then PUT to moorage too")
    parser.add_argument(
        "--null-asgi",
        action="store_true",
        help="push to granian serving bench/null_asgi.py too (drop the body; drop it after sha256)",
    )
    parser.add_argument("--pull", action="store_true", help="pull each blob pushed in one request right after")
    parser.add_argument("--work-dir", help="where data directories go (default: the system temp dir)")
    add_results_arguments(parser)
    print(render(run_or_load(parser.parse_args(argv), run)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
