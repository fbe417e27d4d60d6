"""CPU of the write a whole-body closing PUT makes (``BlobStore.put_verified`` of a new small blob:
temporary file, fsync, named in ``blobs/``), this tree against another, in interleaved rounds: each
round runs every tree once in a process of its own, so other work on a shared machine weighs on both.
Prints, per tree, the median CPU (user + system) and wall time per write, and the median of the
per-round CPU ratios (other / this).

    .venv/bin/python bench/put_new_bench.py --before-src /tmp/before/src --rounds 9 --writes 1500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "src"


def _one_round(writes: int, size: int, directory: str) -> tuple[float, float]:
    """(CPU s, wall s) per write, in this process (run with the tree's ``src`` first on the path)."""
    from moorage.domain.digests import Digest
    from moorage.storage.blobstore import BlobStore
    from moorage.storage.drivers.filesystem import FilesystemDriver

    async def run() -> tuple[float, float]:
        store = BlobStore(FilesystemDriver(Path(tempfile.mkdtemp(dir=directory))))
        blobs = [os.urandom(size) for _ in range(writes)]
        digests = [Digest.of(blob) for blob in blobs]
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for digest, blob in zip(digests, blobs, strict=True):
            await store.put_verified(digest, blob, verified=True)
        after, ended = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return cpu / writes, (ended - started) / writes

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before-src", type=Path, required=True, help="the other tree's src directory")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--writes", type=int, default=1500)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--dir", default=None, help="where the stores go (default: a directory under the cwd)")
    parser.add_argument("--results", type=Path, default=None, help="write the rounds here as JSON")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(_one_round(int(arguments.child[0]), int(arguments.child[1]), arguments.child[2])))
        return
    directory = arguments.dir or tempfile.mkdtemp(prefix="put-new-bench-", dir=Path.cwd())
    trees = {"before": arguments.before_src.resolve(), "this": HERE}
    rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for _ in range(arguments.rounds):
        for name, src in trees.items():
            env = {**os.environ, "PYTHONPATH": str(src)}
            child = [sys.executable, __file__, "--before-src", str(src), "--child"]
            output = subprocess.run(
                [*child, str(arguments.writes), str(arguments.size), directory],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            rounds[name].append(tuple(json.loads(output)))
    for name, figures in rounds.items():
        cpu = statistics.median(c for c, _ in figures) * 1e6
        wall = statistics.median(w for _, w in figures) * 1e6
        print(f"{name:>6}: {cpu:7.1f} µs CPU, {wall:7.1f} µs wall per write (median of {len(figures)} rounds)")
    ratios = [b[0] / t[0] for b, t in zip(rounds["before"], rounds["this"], strict=True)]
    print(f"CPU before/this per round: median {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})")
    if arguments.results:
        arguments.results.write_text(
            json.dumps(
                {
                    "arguments": vars(arguments)
                    | {"before_src": str(arguments.before_src), "results": str(arguments.results), "dir": directory},
                    "rounds": rounds,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
