"""Garbage collection while clients push, mount and delete, on SQLite and PostgreSQL: pushers,
mounters and deleters work against a running server through the OCI API for a bounded time while a
garbage collection loop runs back to back on the same database and storage (as ``moorage gc`` does,
with a two-second grace period, small batches, and untagged manifests collected every other run).
Afterwards every tag pulls with skopeo byte for byte, and every blob no manifest references, older
than the grace period, is gone from the metadata and from the disk."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exists, not_, select

from moorage.domain.gc import GcParameters, GcRunStatus
from moorage.metadata.database import Database
from moorage.metadata.tables import blobs, manifest_references
from moorage.services.lifecycle.runs import GcRunService
from moorage.settings.sections import GcSettings
from moorage.storage.blobstore import BlobStore
from moorage.storage.drivers.filesystem import FilesystemDriver
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, DATABASES, MoorageFactory
from tests.lifecycle.oci import Client, Pushed, build_image
from tests.support import skopeo
from tests.support.servers import ServerProcess

STRESS_SECONDS = 20.0
GRACE_SECONDS = 2
WORKERS = 3
REPOSITORIES_PER_WORKER = 2
TAGS = ("a", "b", "c")


@dataclass
class Outcome:
    """What the clients saw."""

    expected: dict[tuple[str, str], Pushed] = field(default_factory=dict)
    operations: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    """Client errors a push met because the collector took a blob it had found (then pushed again)."""
    server_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str) -> None:
        with self.lock:
            self.operations[what] = self.operations.get(what, 0) + 1


def _worker(index: int, server: ServerProcess, outcome: Outcome, pool: list[bytes], deadline: float) -> None:
    rng = random.Random(index)
    own = [f"gc/w{index}-{r}" for r in range(REPOSITORIES_PER_WORKER)]
    others = [f"gc/w{w}-{r}" for w in range(WORKERS) for r in range(REPOSITORIES_PER_WORKER) if w != index]
    client = Client(server, own + others, outcome)
    sequence = 0
    while time.monotonic() < deadline:
        sequence += 1
        repository, tag = rng.choice(own), rng.choice(TAGS)
        action = rng.random()
        if action < 0.55:  # push: a shared layer (others push and drop it too) and one of its own
            image = build_image([rng.choice(pool), f"own layer {index}.{sequence} ".encode() * rng.randint(1, 400)])
            mount_from = rng.choice(others) if action < 0.2 else None
            if client.push(repository, tag, image, mount_from=mount_from):
                with outcome.lock:
                    outcome.expected[(repository, tag)] = image
                outcome.count("pushed with mounts" if mount_from else "pushed")
        elif action < 0.8:  # delete an image by digest (its tags go), or
            with outcome.lock:
                found = outcome.expected.get((repository, tag))
            if found is None:
                continue
            client.delete(repository, found.digest)
            with outcome.lock:
                for key in [k for k, v in outcome.expected.items() if k[0] == repository and v.digest == found.digest]:
                    del outcome.expected[key]
            outcome.count("deleted by digest")
        else:  # ... only a tag (the manifest stays, untagged)
            with outcome.lock:
                present = outcome.expected.pop((repository, tag), None)
            if present is not None:
                client.delete(repository, tag)
                outcome.count("untagged")
    client.http.close()


def _collect_forever(url: str, root: Path, stop: threading.Event, runs: list[Any]) -> None:
    settings = GcSettings(grace_seconds=GRACE_SECONDS, batch_size=5, orphan_scan=True)
    database = Database(url)
    service = GcRunService(database, BlobStore(FilesystemDriver(root)), settings, jobs=None)
    try:
        while not stop.is_set():
            untagged = len(runs) % 2 == 1
            runs.append(asyncio.run(service.run_here(parameters=GcParameters(delete_untagged=untagged, workers=3))))
    finally:
        database.dispose()


@pytest.fixture(params=DATABASES)
def server(request: pytest.FixtureRequest, moorage_factory: MoorageFactory) -> Iterator[ServerProcess]:
    yield moorage_factory(
        database=request.param,
        env={
            "MOORAGE_GC__GRACE_SECONDS": str(GRACE_SECONDS),
            "MOORAGE_GC__SCHEDULE": "",
            "MOORAGE_ACCESS_LOG": "false",
        },
    )


def test_pushes_mounts_and_deletes_against_a_collection_loop(server: ServerProcess, tmp_path: Path) -> None:
    url = server.env["MOORAGE_DATABASE_URL"]
    root = server.data_dir / "storage"
    pool = [f"shared layer {i} ".encode() * (100 * (i + 1)) for i in range(6)]
    outcome = Outcome()
    runs: list[Any] = []
    stop = threading.Event()
    collector = threading.Thread(target=_collect_forever, args=(url, root, stop, runs))
    collector.start()
    deadline = time.monotonic() + STRESS_SECONDS
    workers = [threading.Thread(target=_worker, args=(i, server, outcome, pool, deadline)) for i in range(WORKERS)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(STRESS_SECONDS + 120)
    finally:
        stop.set()
        collector.join(120)
    assert not any(w.is_alive() for w in workers) and not collector.is_alive()
    assert outcome.server_errors == []
    assert all(run.status is GcRunStatus.SUCCESS and run.figures.errors == 0 for run in runs)
    assert len(runs) >= 2 and sum(run.figures.blobs for run in runs) > 0

    time.sleep(GRACE_SECONDS + 0.5)  # everything unreferenced is now older than the grace period
    settings = GcSettings(grace_seconds=GRACE_SECONDS)
    database = Database(url)
    try:
        final = asyncio.run(
            GcRunService(database, BlobStore(FilesystemDriver(root)), settings, jobs=None).run_here(
                parameters=GcParameters(delete_untagged=True)
            )
        )
        assert final.status is GcRunStatus.SUCCESS
        unreferenced = database.run_read(
            lambda conn: (
                conn.execute(
                    select(blobs.c.digest).where(not_(exists().where(manifest_references.c.digest == blobs.c.digest)))
                )
                .scalars()
                .all()
            )
        )
        referenced = set(database.run_read(lambda conn: conn.execute(select(blobs.c.digest)).scalars().all()))
    finally:
        database.dispose()
    assert unreferenced == []
    on_disk = {f"sha256:{p.parent.name}" for p in (root / "blobs").rglob("data")}
    assert on_disk == referenced  # not a byte more, not a byte less

    expected = dict(outcome.expected)
    assert expected, outcome.operations
    for (repository, tag), image in sorted(expected.items()):
        target = tmp_path / "pulled" / repository.replace("/", "_") / tag
        target.parent.mkdir(parents=True, exist_ok=True)
        skopeo.run(
            "copy",
            "--retry-times",
            "0",
            "--src-tls-verify=false",
            "--src-creds",
            f"{ADMIN_USER}:{ADMIN_PASSWORD}",
            f"docker://{server.address}/{repository}:{tag}",
            f"dir:{target}",
        )
        assert (target / "manifest.json").read_bytes() == image.manifest, (repository, tag)
        for digest, data in image.blobs.items():
            assert (target / digest.removeprefix("sha256:")).read_bytes() == data, (repository, tag, digest)
    print(
        f"operations {outcome.operations}, refused then pushed again {len(outcome.refused)}, "
        f"{len(runs)} collections freed {sum(r.figures.blobs for r in runs)} blobs, "
        f"{sum(r.figures.manifests for r in runs)} manifests; {len(expected)} tags pulled"
    )
