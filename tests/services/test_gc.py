"""Garbage collection on a real database (SQLite and PostgreSQL) and a real filesystem store, in
this process: what is garbage and what is not (grace period, untagged policy, indexes, referrers,
manifests shared by repositories), freed bytes really gone from disk, storage errors that do not end
a run, a killed run's leftovers, dry runs, expired uploads, and the writer protocol (a blob re-pushed
while the collector deletes it). Harbor's failure modes each have a test named after the issue."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from moorage.domain.digests import Digest
from moorage.domain.errors import BlobUnknown, ManifestBlobUnknown
from moorage.domain.gc import GcParameters, GcRunStatus, GcTrigger
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.queries import gc as gc_q
from moorage.metadata.queries import gc_runs as gc_q_runs
from moorage.metadata.queries import quotas as quota_queries
from moorage.metadata.queries import repositories as repo_q
from moorage.metadata.tables import blobs, repositories, uploads
from moorage.services.lifecycle.reachability import garbage_groups
from moorage.storage.drivers.filesystem import FilesystemDriver
from tests.conftest import DATABASES
from tests.services.gc_support import (
    DAY_MS,
    OCI_INDEX,
    Image,
    Registry,
    copy_database,
    digest_of,
    image,
    index,
    migrated_template,
    open_registry,
)

HOUR_MS = 3600 * 1000


@pytest.fixture(scope="module")
def templates(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated database of each kind, copied for each test (migrating each costs seconds)."""
    made: dict[str, str] = {}

    def template(kind: str) -> str:
        if kind not in made:
            if kind == "sqlite":
                made[kind] = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.db'}"
            else:
                made[kind] = request.getfixturevalue("pg_server").create_database(f"gc_template_{uuid.uuid4().hex[:8]}")
            migrated_template(made[kind])
        return made[kind]

    return {kind: template(kind) for kind in DATABASES}


def _database(request: pytest.FixtureRequest, templates: dict[str, str], tmp_path: Path) -> str:
    return copy_database(templates[request.param], f"t_{uuid.uuid4().hex[:12]}", tmp_path)


@pytest.fixture(params=DATABASES)
def registry(request: pytest.FixtureRequest, templates: dict[str, str], tmp_path: Path) -> Iterator[Registry]:
    opened = open_registry(_database(request, templates, tmp_path), tmp_path / "storage")
    yield opened
    opened.db.dispose()


def _size(registry: Registry, name: str) -> int:
    return int(
        registry.db.run_read(
            lambda conn: conn.execute(select(repositories.c.size).where(repositories.c.full_name == name)).scalar_one()
        )
    )


async def test_unreferenced_blobs_are_freed_and_their_bytes_leave_the_disk(registry: Registry) -> None:
    base = b"base layer " * 1000
    kept = image(base, b"app one")
    dropped = image(base, b"app two " * 500)
    await registry.push("team/app", "1", kept)
    await registry.push("team/app", "2", dropped)
    await registry.delete("team/app", dropped.digest)
    registry.age(2 * HOUR_MS)
    before = registry.stored_bytes()

    run = await registry.collect()

    assert run.status is GcRunStatus.SUCCESS
    only_dropped = set(dropped.blobs) - set(kept.blobs)
    assert run.figures.blobs == len(only_dropped) == 2
    assert run.figures.bytes == sum(len(dropped.blobs[d]) for d in only_dropped)
    assert before - registry.stored_bytes() == run.figures.bytes  # measured on disk
    assert not any(registry.has_bytes(d) for d in only_dropped)
    assert registry.blob_rows() == set(kept.blobs)
    assert run.figures.links == 2 and _size(registry, "team/app") == sum(map(len, kept.blobs.values()))
    # The organization's storage counter (quotas, usage figures) lost the released links' bytes too.
    assert registry.db.run_read(lambda conn: quota_queries.namespace_stored(conn, DEFAULT_INSTANCE, "team")) == sum(
        map(len, kept.blobs.values())
    )
    await registry.pull("team/app", "1", kept)
    again = await registry.collect()
    assert (again.figures.blobs, again.figures.links, again.figures.bytes) == (0, 0, 0)


async def test_the_grace_period_keeps_what_a_push_may_still_need(registry: Registry) -> None:
    pushed = image(b"layer of a push whose manifest is not there yet")
    for data in pushed.blobs.values():
        await registry.upload("team/slow", data)  # blobs uploaded, manifest still to come
    stale = image(b"an old image")
    await registry.push("team/old", "1", stale)
    await registry.delete("team/old", stale.digest)

    run = await registry.collect()  # nothing is older than the grace period yet
    assert (run.figures.blobs, run.figures.links) == (0, 0)

    registry.age(2 * HOUR_MS)
    await registry.put_manifest("team/slow", "1", pushed.manifest)  # the slow push ends
    run = await registry.collect()
    assert run.figures.blobs == len(stale.blobs)
    await registry.pull("team/slow", "1", pushed)


async def test_a_blob_found_by_a_head_is_kept_for_the_push_that_found_it(registry: Registry) -> None:
    first = image(b"shared layer for a later push")
    await registry.push("team/app", "1", first)
    await registry.delete("team/app", first.digest)
    registry.age(2 * HOUR_MS)
    for digest in first.blobs:  # a client HEADs every layer, finds them, skips the upload...
        await registry.blobs.size(repository=registry.repository("team/app"), digest=Digest.parse(digest))
    run = await registry.collect()
    assert run.figures.blobs == 0
    await registry.put_manifest("team/app", "again", first.manifest)  # ... and its PUT succeeds
    await registry.pull("team/app", "again", first)


async def test_a_manifest_put_after_the_collector_took_its_blob_is_refused(registry: Registry) -> None:
    pushed = image(b"layer collected before the manifest came")
    for data in pushed.blobs.values():
        await registry.upload("team/late", data)
    registry.age(2 * HOUR_MS)
    assert (await registry.collect()).figures.blobs == 2
    with pytest.raises(ManifestBlobUnknown):  # never a manifest whose layers are gone
        await registry.put_manifest("team/late", "1", pushed.manifest)
    await registry.push("team/late", "1", pushed)  # the client uploads again
    await registry.pull("team/late", "1", pushed)


async def test_untagged_manifests_stay_unless_the_policy_says_so(registry: Registry) -> None:
    old = image(b"version one")
    await registry.push("team/app", "latest", old)
    await registry.push("team/app", "latest", image(b"version two"))  # the tag moves: "old" is untagged
    registry.age(2 * HOUR_MS)
    kept = await registry.collect()
    assert (kept.figures.manifests, kept.figures.blobs) == (0, 0)
    await registry.pull("team/app", old.digest, old)
    registry.age(2 * HOUR_MS)  # (a pull counts as a use of its blobs)

    collected = await registry.collect(delete_untagged=True)
    assert (collected.figures.manifests, collected.figures.blobs) == (1, 2)
    with pytest.raises(BlobUnknown):
        await registry.pull_blob("team/app", next(iter(old.blobs)))


async def test_indexes_referrers_and_young_manifests_are_kept(registry: Registry) -> None:
    amd64, arm64 = image(b"amd64"), image(b"arm64")
    multi = index(amd64, arm64)
    await registry.push("team/multi", amd64.digest, amd64)
    await registry.push("team/multi", arm64.digest, arm64)
    await registry.push("team/multi", "1", multi, media_type=OCI_INDEX)  # children reached through the index
    signed = image(b"signed image")
    signature = image(b"signature payload", subject=signed.manifest, artifact_type="application/vnd.dev.sig")
    await registry.push("team/signed", "1", signed)
    await registry.push("team/signed", signature.digest, signature)  # an untagged referrer of a tagged image
    orphan_sig = image(b"signature of nothing", subject=image(b"gone").manifest)
    await registry.push("team/signed", orphan_sig.digest, orphan_sig)  # its subject does not exist
    dangling = image(b"untagged, nothing reaches it")
    await registry.push("team/signed", dangling.digest, dangling)
    registry.age(2 * HOUR_MS)
    child_later = image(b"child whose index arrives later")
    await registry.push("team/multi", child_later.digest, child_later)  # young: its index is still to come

    run = await registry.collect(delete_untagged=True)

    assert run.figures.manifests == 2  # the referrer of nothing and the dangling image
    for repository, ref, pushed in (
        ("team/multi", amd64.digest, amd64),
        ("team/multi", arm64.digest, arm64),
        ("team/signed", "1", signed),
        ("team/signed", signature.digest, signature),
        ("team/multi", child_later.digest, child_later),
    ):
        await registry.pull(repository, ref, pushed)
    await registry.put_manifest("team/multi", "2", index(amd64, child_later).manifest, media_type=OCI_INDEX)


async def test_a_subject_is_kept_by_its_tagged_referrer_and_goes_with_its_last_one(registry: Registry) -> None:
    subject = image(b"image signed with a cosign-style tag")
    signature = image(b"cosign signature", subject=subject.manifest)
    await registry.push("team/cosign", subject.digest, subject)  # pushed by digest only
    await registry.push("team/cosign", "sha256-abc.sig", signature)
    registry.age(2 * HOUR_MS)
    assert (await registry.collect(delete_untagged=True)).figures.manifests == 0
    await registry.delete("team/cosign", "sha256-abc.sig")  # the tag goes: both are garbage together
    run = await registry.collect(delete_untagged=True)
    assert run.figures.manifests == 2
    assert run.figures.blobs == len(set(subject.blobs) | set(signature.blobs))


async def test_a_manifest_pushed_again_after_the_collector_read_its_repository_is_kept(registry: Registry) -> None:
    """The collector read a repository's manifests and found an old untagged one; then a client
    deleted it and pushed it again by digest (a child whose index comes next). SQLite gives the new row
    the old id (the largest rowid, deleted, is reused): the delete must not trust the id it read."""
    child = image(b"child deleted and pushed again while the collector works")
    await registry.push("team/multi", child.digest, child)
    registry.age(2 * HOUR_MS)
    repository_id = registry.repository("team/multi").id
    cutoff = int(time.time() * 1000) - HOUR_MS
    nodes, edges = registry.db.run_read(lambda conn: gc_q.repository_graph(conn, repository_id))
    groups = garbage_groups(nodes, edges, keep_after_ms=cutoff)  # the collector's read
    assert groups == [[nodes[0].id]]
    await registry.delete("team/multi", child.digest)
    await registry.push("team/multi", child.digest, child)  # young now: its index is still to come

    def sweep_the_stale_group(conn: Any) -> int:
        gc_q.collector_fence(conn)
        return gc_q.delete_manifest_group(conn, repository_id, groups[0], created_before=cutoff)

    assert registry.db.run_write(sweep_the_stale_group) == 0
    assert (await registry.collect(delete_untagged=True)).figures.manifests == 0
    await registry.put_manifest("team/multi", "1", index(child).manifest, media_type=OCI_INDEX)
    await registry.pull("team/multi", child.digest, child)


async def test_harbor_11533_a_manifest_shared_by_two_repositories(registry: Registry) -> None:
    shared = image(b"one image in two repositories " * 100)
    await registry.push("team/a", "1", shared)
    await registry.push("team/b", "1", shared)
    await registry.delete("team/a", shared.digest)
    registry.age(2 * HOUR_MS)

    run = await registry.collect(delete_untagged=True)

    assert (run.figures.blobs, run.figures.links) == (0, 2)  # a's links go; b still uses the blobs
    assert _size(registry, "team/a") == 0
    await registry.pull("team/b", "1", shared)
    with pytest.raises(BlobUnknown):
        await registry.pull_blob("team/a", next(iter(shared.blobs)))
    await registry.delete("team/b", "1")  # untagged in b now, unreachable: collected with its blobs
    registry.age(2 * HOUR_MS)  # (the pull used the blobs)
    run = await registry.collect(delete_untagged=True)
    assert (run.figures.manifests, run.figures.blobs) == (1, 2)
    assert registry.blob_rows() == set()


async def test_one_registry_run_collects_every_instance_over_the_shared_storage(registry: Registry) -> None:
    """``moorage gc`` covers the shared registry and every Enterprise instance in one pass: their
    deleted images' blobs go, a layer one instance dropped and another still uses stays (the dropping
    instance's link goes), and untagged manifests are an instance's own business (its runs'
    ``delete_untagged``), not the registry's ``--delete-untagged``."""
    for instance in ("ee-a", "ee-b"):
        registry.db.run_write(lambda conn, i=instance: repo_q.ensure_instance(conn, i, i))
    base = b"a base layer every tenant uses " * 40
    kept = {instance: image(base, f"kept in {instance}".encode()) for instance in ("default", "ee-a", "ee-b")}
    dropped = {instance: image(base, f"dropped in {instance} ".encode() * 30) for instance in kept}
    untagged = image(b"untagged in ee-b " * 30)
    for instance in kept:
        await registry.push("team/app", "kept", kept[instance], instance_id=instance)
        await registry.push("team/app", "dropped", dropped[instance], instance_id=instance)
        await registry.delete("team/app", dropped[instance].digest, instance_id=instance)
    await registry.push("team/app", "old", untagged, instance_id="ee-b")
    await registry.delete("team/app", "old", instance_id="ee-b")  # the tag goes, the manifest stays
    registry.age(2 * HOUR_MS)
    only_dropped = {d for pushed in dropped.values() for d in pushed.blobs} - {
        d for pushed in kept.values() for d in pushed.blobs
    }
    before = registry.stored_bytes()

    run = await registry.collect(delete_untagged=True)

    assert run.figures.manifests == 0  # ee-b's untagged manifest is ee-b's to collect
    assert run.figures.blobs == len(only_dropped) == 6
    assert (
        before - registry.stored_bytes()
        == run.figures.bytes
        == sum(len(pushed.blobs[d]) for pushed in dropped.values() for d in pushed.blobs if d in only_dropped)
    )
    assert not any(registry.has_bytes(d) for d in only_dropped)
    for instance, pushed in kept.items():
        await registry.pull("team/app", "kept", pushed, instance_id=instance)
    await registry.pull("team/app", untagged.digest, untagged, instance_id="ee-b")

    registry.age(2 * HOUR_MS)  # (the pulls used the blobs)
    service = registry.gc_service()
    run_id = registry.db.run_write(
        lambda conn: gc_q_runs.create_run(
            conn, instance_id="ee-b", trigger=GcTrigger.MANUAL, parameters=GcParameters(delete_untagged=True)
        )
    )
    assert run_id is not None
    own = await service.execute(run_id)
    assert (own.status, own.figures.manifests, own.figures.blobs) == (GcRunStatus.SUCCESS, 1, len(untagged.blobs))
    for instance, pushed in kept.items():
        await registry.pull("team/app", "kept", pushed, instance_id=instance)


class FailingDriver(FilesystemDriver):
    """A filesystem that behaves as an object store: no local paths (every read, stat and delete goes
    through the driver), and deletions of chosen paths fail as an object store's 500 would."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.failing: set[str] = set()
        self.deletes: list[str] = []

    def local_path(self, path: str) -> Path | None:
        return None

    async def delete(self, path: str) -> None:
        self.deletes.append(path)
        if any(part in path for part in self.failing):
            raise OSError(500, "InternalError: we encountered an internal error, please try again")
        await super().delete(path)


@pytest.fixture(params=DATABASES)
def failing(
    request: pytest.FixtureRequest, templates: dict[str, str], tmp_path: Path
) -> Iterator[tuple[Registry, FailingDriver]]:
    driver = FailingDriver(tmp_path / "storage")
    opened = open_registry(_database(request, templates, tmp_path), tmp_path / "storage", driver=driver)
    yield opened, driver
    opened.db.dispose()


async def test_harbor_15822_16373_one_storage_error_does_not_end_the_run(
    failing: tuple[Registry, FailingDriver],
) -> None:
    registry, driver = failing
    images = [image(f"layer {i}".encode() * 50) for i in range(4)]
    for i, pushed in enumerate(images):
        await registry.push("team/app", str(i), pushed)
        await registry.delete("team/app", pushed.digest)
    registry.age(2 * HOUR_MS)
    erroring = digest_of(f"layer {1}".encode() * 50)
    missing = digest_of(f"layer {2}".encode() * 50)
    driver.failing.add(erroring[7:])  # a 500 on this one
    (registry.root / "blobs" / "sha256" / missing[7:9] / missing[7:] / "data").unlink()  # a 404 on this one

    run = await registry.collect()

    assert run.status is GcRunStatus.SUCCESS
    assert run.figures.errors == 1
    assert run.figures.blobs == 7  # 8 blobs; the erroring one stays
    log = await registry.db.read(lambda conn: gc_q_runs.run_log(conn, run.id))
    assert any(line.level == "error" and erroring in line.message for line in log)
    assert any(missing in line.message and "already gone" in line.message for line in log)
    assert registry.blob_rows() == {erroring}
    assert registry.db.run_read(lambda conn: gc_q.blob_deleting(conn, erroring))
    driver.failing.clear()
    again = await registry.collect()  # the next run finishes it
    assert (again.figures.blobs, again.figures.errors) == (1, 0)
    assert registry.blob_rows() == set() and registry.stored_bytes() == 0


async def test_harbor_12948_16010_many_tags_on_one_manifest_cost_nothing_more(
    failing: tuple[Registry, FailingDriver],
) -> None:
    registry, driver = failing
    pushed = image(b"one image, thousands of tags " * 100)
    await registry.push("team/tags", "0", pushed)
    target = registry.target("team/tags")
    tags = [f"t{i}" for i in range(1, 3000)]
    await registry.manifests.put(
        target=target, reference=pushed.digest, content_type=None, payload=pushed.manifest, extra_tags=tags[:1500]
    )
    await registry.manifests.put(
        target=target, reference=pushed.digest, content_type=None, payload=pushed.manifest, extra_tags=tags[1500:]
    )
    await registry.delete("team/tags", pushed.digest)  # one statement removes every tag
    registry.age(2 * HOUR_MS)
    started = time.monotonic()
    run = await registry.collect()
    elapsed = time.monotonic() - started
    assert run.figures.blobs == 2
    assert len([d for d in driver.deletes if d.startswith("blobs/")]) == 2  # one storage call per blob
    assert elapsed < 10, elapsed


async def test_a_killed_runs_leftovers_are_finished_and_nothing_referenced_is_touched(registry: Registry) -> None:
    kept = image(b"kept image")
    await registry.push("team/app", "1", kept)
    garbage = [image(f"garbage {i}".encode()) for i in range(3)]
    for i, pushed in enumerate(garbage):
        await registry.push("team/tmp", str(i), pushed)
        await registry.delete("team/tmp", pushed.digest)
    registry.age(2 * HOUR_MS)
    # A run killed after its first transaction: marked rows, links gone, bytes still there ...
    cutoff = int(time.time() * 1000) - HOUR_MS
    marked = sorted(garbage[0].blobs)

    def mark(conn: Any) -> None:
        gc_q.release_links(conn, [(registry.repository("team/tmp").id, digest) for digest in marked], cutoff=cutoff)
        assert sorted(gc_q.mark_deleting(conn, marked, cutoff=cutoff)) == marked

    registry.db.run_write(mark)
    # ... and one killed in its second: the bytes of one blob gone, its row still marked.
    (registry.root / "blobs" / "sha256" / marked[0][7:9] / marked[0][7:] / "data").unlink()
    # A file whose push was killed before the blob was recorded: no row at all.
    orphan = b"bytes of a push killed before its metadata was written"
    orphan_path = registry.root / "blobs" / "sha256" / digest_of(orphan)[7:9] / digest_of(orphan)[7:] / "data"
    orphan_path.parent.mkdir(parents=True)
    orphan_path.write_bytes(orphan)
    old = time.time() - 2 * 3600
    os.utime(orphan_path, (old, old))
    for digest in garbage[0].blobs:
        path = registry.root / "blobs" / "sha256" / digest[7:9] / digest[7:] / "data"
        if path.exists():
            os.utime(path, (old, old))

    run = await registry.collect()

    assert run.figures.blobs == 6 and run.figures.orphans == 1 and run.figures.orphan_bytes == len(orphan)
    assert registry.blob_rows() == set(kept.blobs)
    assert not orphan_path.exists()
    await registry.pull("team/app", "1", kept)


async def test_a_blob_pushed_again_while_marked_is_put_back_and_kept(registry: Registry) -> None:
    pushed = image(b"re-pushed while the collector deletes it " * 10)
    await registry.push("team/app", "1", pushed)
    await registry.delete("team/app", pushed.digest)
    registry.age(2 * HOUR_MS)
    cutoff = int(time.time() * 1000) - HOUR_MS
    repository_id = registry.repository("team/app").id

    def mark(conn: Any) -> None:  # the collector's first transaction
        gc_q.release_links(conn, [(repository_id, digest) for digest in pushed.blobs], cutoff=cutoff)
        assert sorted(gc_q.mark_deleting(conn, list(pushed.blobs), cutoff=cutoff)) == sorted(pushed.blobs)

    registry.db.run_write(mark)
    for digest in pushed.blobs:  # its bytes went too (the second transaction, killed before its commit)
        await registry.store.delete_blob(Digest.parse(digest))
    await registry.push("team/app", "2", pushed)  # a client pushes the same image now

    run = await registry.collect()
    assert run.figures.blobs == 0
    await registry.pull("team/app", "2", pushed)
    assert not any(registry.db.run_read(partial(gc_q.blob_deleting, digest=d)) for d in pushed.blobs)


async def test_expired_uploads_go_with_their_bytes(registry: Registry) -> None:
    session = await registry.uploads.start(target=registry.target("team/app"))

    async def chunk() -> AsyncIterator[bytes]:
        yield b"x" * 5000

    await registry.uploads.append(
        target=registry.target("team/app"), upload_id=session.id, chunks=chunk(), start=0, length=5000
    )
    fresh = await registry.uploads.start(target=registry.target("team/app"))
    registry.db.run_write(
        lambda conn: conn.execute(
            update(uploads).where(uploads.c.id == session.id).values(updated_at=uploads.c.updated_at - 8 * DAY_MS)
        )
    )

    dry = await registry.collect(dry_run=True)
    assert (dry.figures.uploads, dry.figures.upload_bytes) == (1, 5000)
    assert (registry.root / "uploads" / session.id / "data").exists()
    run = await registry.collect()
    assert (run.figures.uploads, run.figures.upload_bytes) == (1, 5000)
    assert not (registry.root / "uploads" / session.id).exists()
    await registry.uploads.get(target=registry.target("team/app"), upload_id=fresh.id)


class ResumingDriver(FilesystemDriver):
    """A filesystem on which a client resumes an upload session at the moment the collector, having
    found the session expired, looks at its data (a chunk arrives between the collector's read and
    its delete)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.on_upload_stat: Any = None

    async def stat(self, path: str) -> Any:
        if path.startswith("uploads/") and self.on_upload_stat is not None:
            hook, self.on_upload_stat = self.on_upload_stat, None
            await hook()
        return await super().stat(path)


@pytest.fixture(params=DATABASES)
def resuming(
    request: pytest.FixtureRequest, templates: dict[str, str], tmp_path: Path
) -> Iterator[tuple[Registry, ResumingDriver]]:
    driver = ResumingDriver(tmp_path / "storage")
    opened = open_registry(_database(request, templates, tmp_path), tmp_path / "storage", driver=driver)
    yield opened, driver
    opened.db.dispose()


async def test_an_expired_upload_resumed_while_the_collector_removes_it_stays(
    resuming: tuple[Registry, ResumingDriver],
) -> None:
    registry, driver = resuming
    target = registry.target("team/app")
    session = await registry.uploads.start(target=target)

    async def chunk(data: bytes) -> AsyncIterator[bytes]:
        yield data

    await registry.uploads.append(target=target, upload_id=session.id, chunks=chunk(b"x" * 5000), start=0, length=5000)
    registry.db.run_write(
        lambda conn: conn.execute(
            update(uploads).where(uploads.c.id == session.id).values(updated_at=uploads.c.updated_at - 8 * DAY_MS)
        )
    )

    async def client_resumes() -> None:
        await registry.uploads.append(
            target=target, upload_id=session.id, chunks=chunk(b"y" * 3000), start=5000, length=3000
        )

    driver.on_upload_stat = client_resumes
    run = await registry.collect()

    assert driver.on_upload_stat is None  # the client did resume in the middle of the run
    assert run.figures.uploads == 0
    data = b"x" * 5000 + b"y" * 3000
    size = await registry.uploads.finish(
        target=target, upload_id=session.id, digest=Digest.parse(digest_of(data)), chunks=None, length=None
    )
    assert size == len(data) and await registry.pull_blob("team/app", digest_of(data)) == data


async def test_a_dry_run_changes_nothing_and_predicts_the_real_run(registry: Registry) -> None:
    kept = image(b"kept")
    untagged = image(b"untagged " * 200)
    deleted = image(b"deleted " * 300)
    await registry.push("team/app", "1", kept)
    await registry.push("team/app", untagged.digest, untagged)
    await registry.push("team/app", "2", deleted)
    await registry.delete("team/app", deleted.digest)
    registry.age(2 * HOUR_MS)
    rows, size = registry.blob_rows(), registry.stored_bytes()

    dry = await registry.collect(delete_untagged=True, dry_run=True)

    assert registry.blob_rows() == rows and registry.stored_bytes() == size
    real = await registry.collect(delete_untagged=True)
    assert dry.figures.to_json() == real.figures.to_json()
    assert (real.figures.manifests, real.figures.blobs) == (1, 4)
    assert size - registry.stored_bytes() == real.figures.bytes


async def test_a_run_is_recorded_with_its_log(registry: Registry) -> None:
    pushed = image(b"logged " * 10)
    await registry.push("team/app", "1", pushed)
    await registry.delete("team/app", pushed.digest)
    registry.age(2 * HOUR_MS)
    run = await registry.collect()
    stored = await registry.db.read(lambda conn: gc_q_runs.get_run(conn, run.id))
    assert stored is not None and stored.status is GcRunStatus.SUCCESS and stored.finished_at
    log = await registry.db.read(lambda conn: gc_q_runs.run_log(conn, run.id))
    assert log[0].message.startswith("collecting the whole registry")
    assert log[-1].level == "summary" and "2 blobs" in log[-1].message
    assert sum(1 for line in log if line.message.startswith("blob sha256:") and "deleted (" in line.message) == 2


async def test_touched_at_is_set_for_blobs_recorded_before_the_migration(registry: Registry) -> None:
    await registry.upload("team/app", b"a blob")
    row = registry.db.run_read(lambda conn: conn.execute(select(blobs.c.created_at, blobs.c.touched_at)).one())
    assert row[1] >= row[0] > 0


async def test_harbor_12975_15445_20131_a_blob_referenced_anywhere_is_never_deleted(registry: Registry) -> None:
    """Harbor lost referenced blobs when a push re-used a blob between the mark and the sweep, and
    when a blob's other users were not seen. Here: a page of candidates read by the collector goes
    stale while a client pushes a manifest using one of them; another instance references a blob
    this instance only links; a repository deletes its link to a blob its manifest still needs."""
    registry.db.run_write(lambda conn: repo_q.ensure_instance(conn, "other", "other"))
    shared = image(b"layer used by two instances " * 50)
    await registry.push("team/a", "1", shared)
    await registry.delete("team/a", shared.digest)  # a's links dangle now
    await registry.push("team/b", "1", shared, instance_id="other")  # the other instance references them
    reused = image(b"layer a push re-uses between mark and sweep " * 50)
    await registry.push("team/c", "1", reused)
    await registry.delete("team/c", reused.digest)
    needed = image(b"layer whose link the repository deleted " * 50)
    await registry.push("team/d", "1", needed)
    await registry.blobs.delete(repository=registry.repository("team/d"), digest=Digest.parse(next(iter(needed.blobs))))
    registry.age(2 * HOUR_MS)
    cutoff = int(time.time() * 1000) - HOUR_MS
    stale_page = registry.db.run_read(partial(gc_q.blob_page, after="", limit=1000))  # the collector's read
    assert set(reused.blobs) <= {row.digest for row in stale_page}
    await registry.put_manifest("team/c", "again", reused.manifest)  # the client's PUT lands after the read

    def sweep_with_the_stale_page(conn: Any) -> list[str]:
        gc_q.collector_fence(conn)
        links = gc_q.links_of(conn, [row.digest for row in stale_page])
        gc_q.release_links(conn, [(link.repository_id, link.digest) for link in links], cutoff=cutoff)
        return gc_q.mark_deleting(conn, [row.digest for row in stale_page], cutoff=cutoff)

    assert registry.db.run_write(sweep_with_the_stale_page) == []  # every blob is referenced somewhere
    for other_run in (
        await registry.gc_service().run_here(parameters=GcParameters()),
        await registry.collect(delete_untagged=True),
    ):
        assert other_run.figures.blobs == 0
    await registry.pull("team/c", "again", reused)
    await registry.pull("team/b", "1", shared, instance_id="other")
    assert all(registry.has_bytes(digest) for digest in needed.blobs)
    await registry.pull("team/d", "1", Image(needed.manifest))  # the manifest itself still resolves
