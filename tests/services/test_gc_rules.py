"""The collector's pure rules and its bookkeeping, without a server: which manifests are garbage
(property-tested against a fixpoint oracle), the cron helpers of the schedules, the scheduler's
once-per-fire start, runs that conflict, stop and page, and the fence on PostgreSQL (the collector
waits for a writer inside it, and a writer for the collector)."""

from __future__ import annotations

import asyncio
import datetime
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from huey import SqliteHuey
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from moorage.domain.cron import CronSchedule
from moorage.domain.digests import Digest
from moorage.domain.errors import Conflict, Invalid
from moorage.domain.gc import GcParameters, GcRunStatus, GcTrigger
from moorage.domain.manifests import parse_manifest
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.jobs.queue import JobQueue
from moorage.jobs.runner import JobContext, JobRunner
from moorage.metadata.database import Database
from moorage.metadata.queries import gc as gc_q
from moorage.metadata.queries import gc_runs as gc_q_runs
from moorage.metadata.queries import manifests as manifest_q
from moorage.metadata.queries import repositories as repo_q
from moorage.metadata.queries.gc import ManifestNode
from moorage.services.lifecycle.reachability import garbage_groups
from moorage.services.lifecycle.runs import GC_JOB, GcRunService
from moorage.services.lifecycle.schedule import last_fire, next_fire, schedule_pass
from moorage.services.tag_management import TagManagement
from moorage.settings import Settings
from moorage.settings.sections import GcSettings
from moorage.storage.blobstore import BlobStore
from moorage.storage.drivers.filesystem import FilesystemDriver
from tests.fuzz.budget import FUZZ
from tests.services.gc_support import image, migrated_template, open_registry

# Which manifests are garbage ---------------------------------------------------------------------

GRAPHS = st.integers(min_value=1, max_value=9).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.tuples(st.booleans(), st.booleans(), st.one_of(st.none(), st.integers(0, n))), min_size=n, max_size=n
        ),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n)), max_size=2 * n),
    )
)
"""(size, per node (tagged, young, subject index or None; index ``n`` names a missing manifest),
index edges (parent, child index; ``n`` again a missing one))."""


def _oracle(n: int, nodes: list[tuple[bool, bool, int | None]], edges: list[tuple[int, int]]) -> set[int]:
    """Kept manifests by the rules as written, applied until nothing changes."""
    kept = {i for i, (tagged, young, _) in enumerate(nodes) if tagged or young}
    changed = True
    while changed:
        changed = False
        for parent, child in edges:
            if parent in kept and child < n and child not in kept:
                kept.add(child)
                changed = True
        for i, (_, _, subject) in enumerate(nodes):
            if subject is not None and subject < n and (subject in kept) != (i in kept):
                kept |= {i, subject}
                changed = True
    return kept


@FUZZ
@given(GRAPHS)
def test_garbage_is_what_no_tag_reaches_in_connected_groups(graph: tuple[int, list, list]) -> None:  # type: ignore[type-arg]
    n, nodes, edges = graph
    digest = [f"sha256:{i:064x}" for i in range(n + 1)]
    manifests = [
        ManifestNode(i + 1, digest[i], None if subject is None else digest[subject], 0 if not young else 100, tagged)
        for i, (tagged, young, subject) in enumerate(nodes)
    ]
    groups = garbage_groups(manifests, [(parent + 1, digest[child]) for parent, child in edges], keep_after_ms=50)
    garbage = {i - 1 for group in groups for i in group}
    assert garbage == set(range(n)) - _oracle(n, nodes, edges)
    assert sum(len(group) for group in groups) == len(garbage)  # each once
    group_of = {i - 1: g for g, group in enumerate(groups) for i in group}
    for parent, child in edges:  # garbage linked to garbage is deleted together
        if parent in group_of and child in group_of:
            assert group_of[parent] == group_of[child]
    for i, (_, _, subject) in enumerate(nodes):
        if subject is not None and i in group_of and subject in group_of:
            assert group_of[i] == group_of[subject]


# Schedules ----------------------------------------------------------------------------------------


def test_next_and_last_fire() -> None:
    monday_two_thirty = CronSchedule.parse("0 30 2 * * 1")
    tuesday = datetime.datetime(2026, 12, 8, 10, 0, tzinfo=datetime.UTC)  # a Tuesday
    assert next_fire(monday_two_thirty, tuesday) == datetime.datetime(2026, 12, 14, 2, 30, tzinfo=datetime.UTC)
    every_ten = CronSchedule.parse("*/10 * * * * *")
    assert next_fire(every_ten, tuesday) == tuesday.replace(second=10)
    assert next_fire(CronSchedule.parse("0 0 0 29 2 *"), tuesday) == datetime.datetime(2028, 2, 29, tzinfo=datetime.UTC)
    at = int(tuesday.timestamp() * 1000)
    assert last_fire(every_ten, at - 60_000, at + 15_000) == at + 10_000
    assert last_fire(monday_two_thirty, at - 60_000, at) is None


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'moorage.db'}"
    migrated_template(url)
    db = Database(url)
    db.run_write(lambda conn: repo_q.ensure_instance(conn, "inst", "inst"))
    yield db
    db.dispose()


def _queue(db: Database, tmp_path: Path) -> JobQueue:
    """A queue nobody consumes: runs stay pending."""
    return JobQueue(db, SqliteHuey("gc-test", filename=str(tmp_path / "queue.db"), results=False))


def test_a_schedule_starts_each_fire_once_and_not_over_a_pending_run(sqlite_db: Database, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, gc=GcSettings(schedule="0 * * * * *"))
    store = BlobStore(FilesystemDriver(tmp_path / "storage"))
    queue = _queue(sqlite_db, tmp_path)
    minute = int(datetime.datetime(2026, 12, 8, 10, 0, 5, tzinfo=datetime.UTC).timestamp() * 1000)
    started = schedule_pass(settings, sqlite_db, store, queue, now=minute)
    assert len(started) == 1
    assert schedule_pass(settings, sqlite_db, store, queue, now=minute + 1000) == []  # same fire
    run = sqlite_db.run_read(lambda conn: gc_q_runs.get_run(conn, started[0]))
    assert run is not None and run.trigger is GcTrigger.SCHEDULE and run.instance_id is None
    assert schedule_pass(settings, sqlite_db, store, queue, now=minute + 60_000) == []  # the last one is pending
    asyncio.run(GcRunService(sqlite_db, store, settings.gc, queue).execute(started[0]))
    assert len(schedule_pass(settings, sqlite_db, store, queue, now=minute + 60_000)) == 1


def test_a_run_whose_job_ended_without_it_blocks_nothing(sqlite_db: Database, tmp_path: Path) -> None:
    """A run's job can end while the run is still Pending or Running: its only attempt failed before
    the run recorded anything (the database out of reach for a moment), or after it started and
    before it recorded its end. Such a run never goes on; it must not refuse every later
    execute_gc_schedule (409) and hold back every scheduled run of its scope for ever."""
    settings = Settings(data_dir=tmp_path, gc=GcSettings(schedule="0 * * * * *"))
    store = BlobStore(FilesystemDriver(tmp_path / "storage"))
    queue = _queue(sqlite_db, tmp_path)
    service = GcRunService(sqlite_db, store, settings.gc, queue)

    def run_job_failing(run_id: int, *, after_start: bool) -> None:
        def handler(context: JobContext) -> dict[str, Any]:
            if after_start:
                sqlite_db.run_write(lambda conn: gc_q_runs.begin_run(conn, run_id))
            raise OperationalError("UPDATE gc_runs ...", {}, Exception("the database is out of reach"))

        run = sqlite_db.run_read(lambda conn: gc_q_runs.get_run(conn, run_id, any_scope=True))
        assert run is not None and run.job_id is not None
        JobRunner(
            sqlite_db, {GC_JOB: handler}, resources={}, lease_seconds=30, send=lambda job_id, delay: None
        ).execute(run.job_id)

    first = asyncio.run(service.execute_instance(instance_id="inst", parameters=GcParameters()))
    run_job_failing(first, after_start=False)
    second = asyncio.run(service.execute_instance(instance_id="inst", parameters=GcParameters()))
    run_job_failing(second, after_start=True)
    third = asyncio.run(service.execute_instance(instance_id="inst", parameters=GcParameters()))
    statuses = [
        sqlite_db.run_read(lambda conn, i=i: gc_q_runs.get_run(conn, i, any_scope=True)).status  # type: ignore[union-attr]
        for i in (first, second, third)
    ]
    assert statuses == [GcRunStatus.ERROR, GcRunStatus.ERROR, GcRunStatus.PENDING]

    minute = int(datetime.datetime(2026, 12, 8, 10, 0, 5, tzinfo=datetime.UTC).timestamp() * 1000)
    [scheduled] = schedule_pass(settings, sqlite_db, store, queue, now=minute)
    run_job_failing(scheduled, after_start=True)
    assert len(schedule_pass(settings, sqlite_db, store, queue, now=minute + 60_000)) == 1


def test_runs_conflict_stop_and_page(sqlite_db: Database, tmp_path: Path) -> None:
    service = GcRunService(
        sqlite_db, BlobStore(FilesystemDriver(tmp_path / "storage")), GcSettings(), _queue(sqlite_db, tmp_path)
    )

    async def scenario() -> None:
        first = await service.execute_instance(instance_id="inst", parameters=GcParameters())
        with pytest.raises(Conflict):
            await service.execute_instance(instance_id="inst", parameters=GcParameters())
        stopped = await service.stop(instance_id="inst", run_id=first)
        assert stopped.status is GcRunStatus.STOPPED
        assert (await service.stop(instance_id="inst", run_id=first)).status is GcRunStatus.STOPPED
        second = await service.execute_instance(instance_id="inst", parameters=GcParameters(dry_run=True))
        done = await service.execute(second)
        assert done.status is GcRunStatus.SUCCESS
        with pytest.raises(Conflict):
            await service.stop(instance_id="inst", run_id=second)
        for _ in range(10):
            sqlite_db.run_write(
                lambda conn: gc_q_runs.create_run(
                    conn, instance_id="inst", trigger=GcTrigger.SCHEDULE, parameters=GcParameters()
                )
            )
        seen, marker = [], None
        while True:
            page = await service.list_runs(instance_id="inst", status=None, marker=marker, limit=5)
            seen += [run.id for run in page.items]
            if page.next_marker is None:
                break
            marker = page.next_marker
        assert seen == sorted(seen, reverse=True) and len(seen) == 12
        pending = await service.list_runs(instance_id="inst", status="Pending", marker=None, limit=100)
        assert len(pending.items) == 10
        with pytest.raises(Invalid):
            await service.list_runs(instance_id="inst", status=None, marker="-1", limit=5)

    asyncio.run(scenario())


# The fence on PostgreSQL ---------------------------------------------------------------------------


def test_the_collector_waits_for_a_writer_inside_the_fence(pg_database_url: str, tmp_path: Path) -> None:
    migrated_template(pg_database_url)
    registry = open_registry(pg_database_url, tmp_path / "storage")
    try:
        pushed = image(b"a layer a manifest is being pushed with")
        asyncio.run(_upload_all(registry, pushed))
        registry.age(2 * 3600 * 1000)
        cutoff = int(time.time() * 1000) - 3600 * 1000
        repository = registry.repository("team/app")
        layer = next(d for d in pushed.blobs if d != next(iter(pushed.blobs)))

        with registry.db.engine.connect() as writer, writer.begin():  # a manifest PUT, half way
            gc_q.writer_fence(writer)
            assert gc_q.linked_blob(writer, repository.id, layer) is not None
            collector_result: list[bool] = []

            def release(conn: Connection) -> bool:
                gc_q.collector_fence(conn)
                return gc_q.release_links(conn, [(repository.id, layer)], cutoff=cutoff) == 1

            collector = threading.Thread(target=lambda: collector_result.append(registry.db.run_write(release)))
            collector.start()
            time.sleep(1.0)
            assert collector.is_alive() and collector_result == []  # it waits for the writer
            manifest_q.store(
                writer, repository.id, pushed.digest, pushed.manifest, parse_manifest(pushed.manifest, None)
            )
        collector.join(30)
        assert collector_result == [False]  # it saw the reference the writer committed

        with registry.db.engine.connect() as gc_conn, gc_conn.begin():  # and a writer waits for the collector
            gc_q.collector_fence(gc_conn)
            waited: list[float] = []
            started = time.monotonic()

            def write(conn: Connection) -> float:
                gc_q.writer_fence(conn)
                return time.monotonic() - started

            blocked = threading.Thread(target=lambda: waited.append(registry.db.run_write(write)))
            blocked.start()
            time.sleep(1.0)
            assert blocked.is_alive()
        blocked.join(30)
        assert waited and waited[0] >= 0.9
    finally:
        registry.db.dispose()


def test_every_writer_that_tags_links_or_references_waits_for_the_collector(
    pg_database_url: str, tmp_path: Path
) -> None:
    """Each service write that creates a tag, a repository link or a manifest reference (or marks a
    blob as used) waits while the collector holds its fence: one that did not could tag, link or
    reference a row between the collector's check and its delete."""
    migrated_template(pg_database_url)
    registry = open_registry(pg_database_url, tmp_path / "storage")
    try:
        pushed = image(b"layer of the image every writer works on")
        asyncio.run(_upload_all(registry, pushed))
        asyncio.run(registry.put_manifest("team/app", "1", pushed.manifest))
        source = registry.repository("team/app")
        layer = sorted(pushed.blobs)[0]
        registry.age(2 * 3600 * 1000)  # (so that the HEAD marks the blob as used)
        tag_service = TagManagement(registry.db)
        other = image(b"layer of a new image")
        writers: dict[str, Callable[[], Awaitable[object]]] = {
            "manifest PUT": lambda: registry.put_manifest("team/app", "2", pushed.manifest),
            "blob upload": lambda: registry.upload("team/new", next(iter(other.blobs.values()))),
            "mount": lambda: registry.blobs.mount(
                target=registry.target("team/mounted"), digest=Digest.parse(layer), source=source
            ),
            "blob HEAD": lambda: registry.blobs.size(repository=source, digest=Digest.parse(layer)),
            "tag copy": lambda: tag_service.copy(
                instance_id=DEFAULT_INSTANCE,
                name=RepositoryName.parse("team/app"),
                source="1",
                destination="copied",
                override=False,
            ),
        }
        finished: dict[str, float] = {}
        started = time.monotonic()

        def run(name: str) -> None:
            asyncio.run(writers[name]())
            finished[name] = time.monotonic() - started

        with registry.db.engine.connect() as gc_conn, gc_conn.begin():
            gc_q.collector_fence(gc_conn)
            threads = [threading.Thread(target=run, args=(name,)) for name in writers]
            for thread in threads:
                thread.start()
            time.sleep(1.0)
            assert finished == {}, f"done inside the collector's fence: {sorted(finished)}"
        for thread in threads:
            thread.join(30)
        assert sorted(finished) == sorted(writers) and min(finished.values()) >= 0.9
    finally:
        registry.db.dispose()


async def _upload_all(registry: object, pushed: object) -> None:
    from tests.services.gc_support import Image, Registry

    assert isinstance(registry, Registry) and isinstance(pushed, Image)
    for data in pushed.blobs.values():
        await registry.upload("team/app", data)
