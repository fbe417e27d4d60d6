"""Benchmark: garbage collection of a large store, and pushes while it runs.

1. ``collect``: a registry of 100,000 blobs and 20,000 manifests in 1,000 repositories, made
   directly in the metadata database (tiny blob files, every row two days old): 20,000 configs and
   40,000 shared layers the manifests reference, 40,000 blobs nothing references (deleted images'
   layers still linked from their repositories), 4,000 untagged manifests. One run of the whole
   registry with ``delete_untagged`` (a dry run first), each in a child process: wall and CPU time,
   the process's peak resident memory (and what it had before collecting), what was freed.
2. ``push``: a running ``moorage serve``, warmed by a few pushes; N small images (config + 2 layers)
   pushed by 8 clients while nothing else runs, then N others while ``moorage gc`` collects (a store
   of garbage made as in 1, the collector run back to back until the pushes end, the pushes timed
   from the moment its run has begun): images/s side by side.

    PYTHONPATH=src .venv/bin/python bench/gc_bench.py                  # both, full size
    PYTHONPATH=src .venv/bin/python bench/gc_bench.py --quick          # a tenth of the size
    PYTHONPATH=src .venv/bin/python bench/gc_bench.py --json new.json --compare bench/results/gc-before.json
    PYTHONPATH=src .venv/bin/python bench/gc_bench.py --database postgresql://...   # part 1 on PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``tests`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text

from bench import moorage_server
from bench.http_client import HttpConnection, run_concurrently
from bench.oci_client import Image, push_image
from bench.registry_auth import Credentials, RegistryAuth, RegistryEndpoint
from moorage.metadata.database import Database, now_ms
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import repositories as repo_q
from moorage.metadata.tables import (
    blobs,
    gc_runs,
    manifest_references,
    manifests,
    namespaces,
    repositories,
    repository_blobs,
    tags,
)

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
DAY_MS = 24 * 3600 * 1000
BLOB_FILE_BYTES = 64
LAYERS_PER_MANIFEST = 3
CONCURRENCY = 8
WARM_UP_PUSHES = 20


@dataclass(frozen=True)
class Sizes:
    """How big a run is."""

    blobs: int
    manifests: int
    repositories: int
    pushes: int

    @property
    def configs(self) -> int:
        return self.manifests

    @property
    def layers(self) -> int:
        return (self.blobs - self.manifests) // 2

    @property
    def garbage(self) -> int:
        return self.blobs - self.configs - self.layers

    @property
    def untagged(self) -> int:
        return self.manifests // 5


FULL = Sizes(blobs=100_000, manifests=20_000, repositories=1_000, pushes=400)
QUICK = Sizes(blobs=10_000, manifests=2_000, repositories=100, pushes=100)


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _digest(i: int, prefix: str) -> str:
    return "sha256:" + hashlib.sha256(f"{prefix}{i}".encode()).hexdigest()


def make_store(url: str, storage: Path, sizes: Sizes, *, prefix: str = "", instance: str = "default") -> int:
    """The store of part 1 (rows and tiny files), everything two days old; how many blobs a run with
    ``delete_untagged`` must free (what no tagged manifest references)."""
    db = Database(url)
    try:
        upgrade(db)
        db.run_write(lambda conn: repo_q.ensure_instance(conn, instance, instance))
        old = now_ms() - 2 * DAY_MS
        blob = [_digest(i, prefix) for i in range(sizes.blobs)]
        namespace = f"gcbench{prefix}"

        def repositories_and_blobs(conn: Any) -> list[int]:
            namespace_id = conn.execute(
                insert(namespaces)
                .values(instance_id=instance, name=namespace, created_at=old)
                .returning(namespaces.c.id)
            ).scalar_one()
            ids = [
                conn.execute(
                    insert(repositories)
                    .values(
                        instance_id=instance,
                        namespace_id=namespace_id,
                        name=f"r{r}",
                        full_name=f"{namespace}/r{r}",
                        created_at=old,
                        updated_at=old,
                    )
                    .returning(repositories.c.id)
                ).scalar_one()
                for r in range(sizes.repositories)
            ]
            conn.execute(
                insert(blobs),
                [{"digest": d, "size": BLOB_FILE_BYTES, "created_at": old, "touched_at": old} for d in blob],
            )
            return ids

        repository_ids = db.run_write(repositories_and_blobs)
        first_id = 1 + int(
            db.run_read(lambda conn: conn.execute(select(func.coalesce(func.max(manifests.c.id), 0))).scalar_one())
        )
        per_repository = max(1, sizes.manifests // sizes.repositories)
        links: set[tuple[int, str]] = set()
        kept: set[str] = set()
        manifest_rows, reference_rows, tag_rows = [], [], []
        for m in range(sizes.manifests):
            repository = repository_ids[min(m // per_repository, len(repository_ids) - 1)]
            config = blob[m]
            layers = [blob[sizes.configs + (m * 2 + k) % sizes.layers] for k in range(LAYERS_PER_MANIFEST)]
            payload = json.dumps({"schemaVersion": 2, "config": config, "layers": layers, "n": m}).encode()
            manifest_rows.append(
                {
                    "id": first_id + m,
                    "repository_id": repository,
                    "digest": "sha256:" + hashlib.sha256(payload).hexdigest(),
                    "media_type": "application/vnd.oci.image.manifest.v1+json",
                    "payload": payload,
                    "config_digest": config,
                    "total_size": 4 * BLOB_FILE_BYTES,
                    "created_at": old,
                }
            )
            for position, (kind, digest) in enumerate([("config", config), *(("layer", d) for d in layers)]):
                reference_rows.append(
                    {
                        "manifest_id": first_id + m,
                        "position": position,
                        "kind": kind,
                        "digest": digest,
                        "media_type": "application/octet-stream",
                        "size": BLOB_FILE_BYTES,
                    }
                )
                links.add((repository, digest))
            if m % 5:  # one manifest in five untagged
                kept.update([config, *layers])
                tag_rows.append(
                    {
                        "repository_id": repository,
                        "name": f"t{m}",
                        "manifest_id": first_id + m,
                        "created_at": old,
                        "updated_at": old,
                    }
                )
        for g in range(sizes.garbage):  # deleted images' layers, still linked
            links.add((repository_ids[g % len(repository_ids)], blob[sizes.configs + sizes.layers + g]))

        def the_rest(conn: Any) -> None:
            for table, rows in ((manifests, manifest_rows), (manifest_references, reference_rows), (tags, tag_rows)):
                for start in range(0, len(rows), 5000):
                    conn.execute(insert(table), rows[start : start + 5000])
            link_rows = [{"repository_id": r, "digest": d, "created_at": old} for r, d in sorted(links)]
            for start in range(0, len(link_rows), 5000):
                conn.execute(insert(repository_blobs), link_rows[start : start + 5000])
            if conn.dialect.name == "postgresql":  # ids were given: move the sequence past them
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence('manifests', 'id'), (SELECT MAX(id) FROM manifests))")
                )

        db.run_write(the_rest)
    finally:
        db.dispose()
    content = b"x" * BLOB_FILE_BYTES
    stamp = (time.time() - 2 * 86400,) * 2
    for digest in blob:
        directory = storage / "blobs" / "sha256" / digest[7:9] / digest[7:]
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").write_bytes(content)
        os.utime(directory / "data", stamp)
    return sizes.blobs - len(kept)


def collect_child(url: str, storage: str, dry_run: bool) -> None:
    """(In a child process) one run of the whole registry; its figures and resources as JSON."""
    from moorage.domain.gc import GcParameters
    from moorage.services.lifecycle.runs import GcRunService
    from moorage.settings.sections import GcSettings
    from moorage.storage.blobstore import BlobStore
    from moorage.storage.drivers.filesystem import FilesystemDriver

    rss_before = _rss_kib()
    db = Database(url)
    service = GcRunService(db, BlobStore(FilesystemDriver(Path(storage))), GcSettings(), jobs=None)
    wall, cpu = time.perf_counter(), time.process_time()
    run = asyncio.run(service.run_here(parameters=GcParameters(delete_untagged=True, dry_run=dry_run, workers=2)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    db.dispose()
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a child would report
    # the parent's peak (the parent built the store in memory) rather than its own.
    print(
        json.dumps(
            {
                "status": run.status.value,
                **run.figures.to_json(),
                "wall_seconds": wall,
                "cpu_seconds": cpu,
                "rss_before_kib": rss_before,
                "peak_rss_kib": _rss_kib("VmHWM"),
            }
        )
    )


def _rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _python_path() -> str:
    return os.pathsep.join([str(REPOSITORY_ROOT / "src"), str(REPOSITORY_ROOT), os.environ.get("PYTHONPATH", "")])


def _child_collect(url: str, storage: Path, *, dry_run: bool) -> dict[str, Any]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--child-collect", url, str(storage)]
    if dry_run:
        argv.append("--dry-run")
    done = subprocess.run(
        argv, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": _python_path()}
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_collect(work: Path, sizes: Sizes, database: str | None) -> dict[str, Any]:
    """Part 1."""
    url = database or f"sqlite:///{work / 'collect.db'}"
    storage = work / "collect-storage"
    started = time.perf_counter()
    expected_blobs = make_store(url, storage, sizes)
    _progress(
        f"collect: store of {sizes.blobs:,} blobs and {sizes.manifests:,} manifests made in "
        f"{time.perf_counter() - started:.0f} s"
    )
    dry = _child_collect(url, storage, dry_run=True)
    _progress(f"collect: dry run {dry['wall_seconds']:.1f} s")
    real = _child_collect(url, storage, dry_run=False)
    _progress(
        f"collect: run {real['wall_seconds']:.1f} s, freed {real['blobs']:,} blobs, {real['manifests']:,} manifests"
    )
    return {"dry_run": dry, "run": real, "expected_blobs": expected_blobs, "expected_manifests": sizes.untagged}


def _push_images(base_url: str, credentials: Credentials, images: list[Image], repository: str) -> float:
    """Push ``images`` at concurrency 8; images per second."""
    endpoint = RegistryEndpoint(base_url, RegistryAuth(credentials))

    def job(index: int) -> Callable[[HttpConnection], Awaitable[None]]:
        async def push(connection: HttpConnection) -> None:
            await push_image(connection, f"{repository}-{index % 10}", f"v{index}", images[index], single_post=True)

        return push

    async def pushes() -> float:
        timed = await run_concurrently(endpoint, [job(i) for i in range(len(images))], CONCURRENCY)
        return len(images) / timed.seconds

    return asyncio.run(pushes())


def run_push(work: Path, sizes: Sizes) -> dict[str, Any]:
    """Part 2 (SQLite: the collector and the server contend for its one write lock, the harder case)."""
    data = work / "push-data"
    data.mkdir()
    credentials = Credentials("admin", secrets.token_urlsafe(18))
    url = f"sqlite:///{data / 'moorage.db'}"
    env = {"MOORAGE_GC__SCHEDULE": "", "MOORAGE_JOBS__EMBEDDED_WORKER": "false"}
    server = moorage_server.start(data, credentials, env=env, database_url=url, wait=False)
    try:
        server.wait_ready(timeout=300)
        images = [Image.generate(seed=i, layer_bytes=4096) for i in range(2 * sizes.pushes + WARM_UP_PUSHES)]
        # Warm the server first (imports, caches, connections): otherwise the quiet phase, which goes
        # first, pays for it and the comparison favours the busy one.
        _push_images(server.base_url, credentials, images[2 * sizes.pushes :], "bench/warm")
        without = _push_images(server.base_url, credentials, images[: sizes.pushes], "bench/quiet")
        _progress(f"push: {without:.1f} images/s with no collection")
        make_store(url, data / "storage", sizes, prefix="push-", instance="default")
        gc_env = {**os.environ, **env, "MOORAGE_DATA_DIR": str(data)}
        stop = threading.Event()
        runs: list[dict[str, Any]] = []

        def collect_forever() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                process = subprocess.Popen(
                    [sys.executable, "-m", "moorage", "gc", "--json", "--delete-untagged"],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    env=gc_env,
                )
                while process.poll() is None and not stop.wait(0.2):
                    pass
                if process.poll() is None:  # the pushes are over: stop it (safe at any point, by design)
                    process.terminate()
                out, _ = process.communicate()
                lines = out.strip().splitlines()
                runs.append(
                    {
                        "seconds": time.perf_counter() - started,
                        "stopped": not lines,
                        **(json.loads(lines[-1]) if lines else {}),
                    }
                )

        collector = threading.Thread(target=collect_forever)
        collector.start()
        waited = _wait_for_a_running_collection(url, timeout=120)  # past the command's start-up
        pushing = time.perf_counter()
        during = _push_images(server.base_url, credentials, images[sizes.pushes :], "bench/busy")
        pushed_for = time.perf_counter() - pushing
        stop.set()
        collector.join()
        covered = min(1.0, max(0.0, (runs[0]["seconds"] - waited) / pushed_for)) if runs else 0.0
        database = Database(url)
        try:  # what the collector had done by the end of the pushes (it saves its figures every second)
            saved = database.run_read(
                lambda conn: conn.execute(select(gc_runs.c.figures).order_by(gc_runs.c.id.desc()).limit(1)).scalar()
            )
        finally:
            database.dispose()
        done_meanwhile = json.loads(saved or "{}")
        _progress(
            f"push: {during:.1f} images/s while collecting ({len(runs)} runs, the last stopped when the pushes ended)"
        )
        return {
            "images_per_second_quiet": without,
            "images_per_second_collecting": during,
            "ratio": during / without,
            "push_seconds": pushed_for,
            "collector_runs": runs,
            "share_of_pushes_the_first_run_covered": covered,
            "collected_meanwhile": done_meanwhile,
        }
    finally:
        server.stop()


def _wait_for_a_running_collection(url: str, *, timeout: float) -> float:
    """Wait until ``moorage gc`` has begun its run (its row says ``Running``); seconds waited."""
    started = time.perf_counter()
    database = Database(url)
    try:
        while time.perf_counter() - started < timeout:
            status = database.run_read(
                lambda conn: conn.execute(select(gc_runs.c.status).order_by(gc_runs.c.id.desc()).limit(1)).scalar()
            )
            if status == "Running":
                return time.perf_counter() - started
            time.sleep(0.05)
    finally:
        database.dispose()
    raise RuntimeError(f"moorage gc did not begin a run within {timeout:.0f} s")


def _print(results: dict[str, Any], before: dict[str, Any] | None) -> None:
    rows: list[tuple[str, str, str]] = []
    collect = results.get("collect")
    if collect:
        run, dry = collect["run"], collect["dry_run"]
        rows += [
            ("store", f"{results['sizes']['blobs']:,} blobs, {results['sizes']['manifests']:,} manifests", ""),
            ("dry run: wall / CPU", f"{dry['wall_seconds']:.1f} s / {dry['cpu_seconds']:.1f} s", "dry_wall"),
            ("run: wall / CPU", f"{run['wall_seconds']:.1f} s / {run['cpu_seconds']:.1f} s", "run_wall"),
            ("run: blobs freed (expected)", f"{run['blobs']:,} ({collect['expected_blobs']:,})", ""),
            ("run: manifests freed (expected)", f"{run['manifests']:,} ({collect['expected_manifests']:,})", ""),
            ("run: links removed, bytes freed", f"{run['links']:,}, {run['bytes']:,}", ""),
            ("run: blobs per second", f"{run['blobs'] / run['wall_seconds']:,.0f}", "rate"),
            (
                "peak RSS (before collecting)",
                f"{run['peak_rss_kib'] / 1024:.0f} MiB ({run['rss_before_kib'] / 1024:.0f} MiB)",
                "rss",
            ),
        ]
    push = results.get("push")
    if push:
        rows += [
            ("pushes, nothing else running", f"{push['images_per_second_quiet']:.1f} images/s", "quiet"),
            ("pushes, moorage gc running", f"{push['images_per_second_collecting']:.1f} images/s", "busy"),
            ("ratio (collecting / quiet)", f"{push['ratio']:.2f}", ""),
            (
                "collector runs; share of the pushes the first covered",
                f"{len(push['collector_runs'])}; {push['share_of_pushes_the_first_run_covered']:.0%}",
                "",
            ),
            (
                "collected by the end of the pushes",
                f"{push['collected_meanwhile'].get('manifests', 0):,} manifests, "
                f"{push['collected_meanwhile'].get('blobs', 0):,} blobs",
                "",
            ),
        ]
    previous = _flat(before) if before else {}
    current = _flat(results)
    width = max(len(label) for label, _, _ in rows)
    print(f"{'figure':<{width}}  {'this run':<34}  before")
    for label, value, key in rows:
        old = previous.get(key)
        now = current.get(key)
        tail = f"{old:.2f} ({now / old:.2f}x)" if key and old and now else ""
        print(f"{label:<{width}}  {value:<34}  {tail}")


def _flat(results: dict[str, Any]) -> dict[str, float]:
    flat: dict[str, float] = {}
    if collect := results.get("collect"):
        flat.update(
            dry_wall=collect["dry_run"]["wall_seconds"],
            run_wall=collect["run"]["wall_seconds"],
            rate=collect["run"]["blobs"] / collect["run"]["wall_seconds"],
            rss=collect["run"]["peak_rss_kib"] / 1024,
        )
    if push := results.get("push"):
        flat.update(quiet=push["images_per_second_quiet"], busy=push["images_per_second_collecting"])
    return flat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="collect,push", help="collect, push, or both")
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    parser.add_argument("--database", help="part 1's metadata in this (empty) PostgreSQL database, not SQLite")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--compare", help="a previous run's results, shown side by side")
    parser.add_argument("--work-dir", help="where the data goes (default: a temporary directory)")
    parser.add_argument("--child-collect", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child_collect:
        url, storage = arguments.child_collect
        collect_child(url, storage, arguments.dry_run)
        return
    sizes = QUICK if arguments.quick else FULL
    work = Path(tempfile.mkdtemp(prefix="moorage-gc-bench-", dir=arguments.work_dir))
    results: dict[str, Any] = {
        "sizes": sizes.__dict__,
        "load_average_at_start": os.getloadavg()[0],
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    try:
        parts = arguments.parts.split(",")
        if "collect" in parts:
            results["collect"] = run_collect(work, sizes, arguments.database)
        if "push" in parts:
            results["push"] = run_push(work, sizes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["load_average_at_end"] = os.getloadavg()[0]
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=2) + "\n")
    before = json.loads(Path(arguments.compare).read_text()) if arguments.compare else None
    _print(results, before)


if __name__ == "__main__":
    main()
