"""A manifest PUT against real SQLite and PostgreSQL, statement by statement: on PostgreSQL a push into an
existing repository is one statement in a transaction of its own (the function of migration 0021:
the collector's fence, the repository's lookup, the checks, the manifest and its references unless
stored, the tag, its counter and the event), and writes what the general path writes; and every
statement keeps what the longer path did: the counter counts a tag once however many pushes race for
it, a refused push writes nothing, the event row is the one ``record_events`` writes, and pushes of
a repository's first manifest at one instant neither deadlock nor miscount."""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection

from moorage.domain.errors import ManifestBlobUnknown, ManifestInvalid
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, UploadTarget
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import blobs as blob_queries
from moorage.metadata.queries import gc as gc_queries
from moorage.metadata.queries import manifests as q
from moorage.metadata.queries import repositories
from moorage.metadata.tables import blobs, events, manifest_references, manifests, repository_blobs, tags
from moorage.services.blob_links import link_blob
from moorage.services.manifests import ManifestService
from moorage.services.pulls import PullRecorder
from moorage.services.tag_protection import NoProtection
from tests.conftest import DATABASES
from tests.services.gc_support import OCI_INDEX, OCI_MANIFEST, Image, image, index
from tests.support import statements

REPOSITORY = "org/app"


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    db = Database(url, pool_size=20)
    upgrade(db)
    db.run_write(lambda conn: repositories.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
    yield db
    db.dispose()


def _target(name: str = REPOSITORY) -> UploadTarget:
    return UploadTarget(DEFAULT_INSTANCE, RepositoryName.parse(name), "d" * 32)


def _service(database: Database) -> ManifestService:
    return ManifestService(database, max_bytes=4 << 20, pulls=PullRecorder(database))


def _link(database: Database, pushed: Image, name: str = REPOSITORY) -> None:
    """The image's blobs stored and linked, as their uploads leave them."""

    def work(conn: Connection) -> None:
        gc_queries.writer_fence(conn)
        for digest, data in pushed.blobs.items():
            link_blob(conn, _target(name), digest, len(data))

    database.run_write(work)


def _put(database: Database, reference: str, payload: bytes, *, media_type: str = OCI_MANIFEST) -> None:
    asyncio.run(_service(database).put(target=_target(), reference=reference, content_type=media_type, payload=payload))


def _state(database: Database, name: str = REPOSITORY) -> tuple[dict[str, str], int, int, list[tuple[str, str]]]:
    """(tag -> digest, the repository's tag counter, its manifests, (tag, digest) of its events)."""

    def work(conn: Connection) -> tuple[dict[str, str], int, int, list[tuple[str, str]]]:
        repository = repositories.get(conn, DEFAULT_INSTANCE, RepositoryName.parse(name))
        assert repository is not None
        named = conn.execute(
            select(tags.c.name, manifests.c.digest)
            .select_from(tags.join(manifests, tags.c.manifest_id == manifests.c.id))
            .where(tags.c.repository_id == repository.id)
        ).all()
        counter = conn.execute(text("SELECT tag_count FROM repositories WHERE id = :id"), {"id": repository.id})
        stored = conn.execute(select(manifests.c.id).where(manifests.c.repository_id == repository.id)).all()
        recorded = conn.execute(
            select(events.c.tag, events.c.digest).where(events.c.repository == name).order_by(events.c.id)
        ).all()
        return dict(named), int(counter.scalar_one()), len(stored), [(r[0], r[1]) for r in recorded]

    return database.run_read(work)


def test_a_push_into_an_existing_repository_is_one_statement_without_a_transaction_on_postgresql(
    database: Database,
) -> None:
    pushed = image(b"layer")
    _link(database, pushed)
    with statements.on_database(database) as new_manifest:
        _put(database, "v1", pushed.manifest)
    with statements.on_database(database) as new_tag:
        _put(database, "v2", pushed.manifest)
    if database.dialect == "postgresql":
        # One statement each, its own transaction (no BEGIN and COMMIT round trips): ``moorage_push_manifest``.
        assert (len(new_manifest.statements), len(new_tag.statements)) == (1, 1), (new_manifest, new_tag)
        assert new_manifest.autocommit == new_tag.autocommit == [True]
    else:
        # The repository; the checks with the manifest's id; then a new manifest's row and its
        # references (one per row in SQLite's trace: the image has a config and one layer) or nothing;
        # the tag, its counter, the event.
        assert (len(new_manifest.statements), len(new_tag.statements)) == (8, 5), (new_manifest, new_tag)
    assert _state(database)[:3] == ({"v1": pushed.digest, "v2": pushed.digest}, 2, 1)


class _MayProtect(NoProtection):
    """No rule covers anything, but pushes must ask: they take the general path."""

    def may_protect(self, instance_id: str) -> bool:
        return True


def test_the_one_statement_push_writes_what_the_general_path_writes(database: Database) -> None:
    pushed = image(b"same", b"rows")
    for name in ("org/general", "org/alone"):
        _link(database, pushed, name)
    general = ManifestService(database, max_bytes=4 << 20, pulls=PullRecorder(database), protection=_MayProtect())
    for service, name in ((general, "org/general"), (_service(database), "org/alone")):
        for reference in ("v1", "v2", "v1", pushed.digest):
            asyncio.run(
                service.put(
                    target=_target(name), reference=reference, content_type=OCI_MANIFEST, payload=pushed.manifest
                )
            )

    def rows(conn: Connection, name: str) -> dict[str, Any]:
        repository = repositories.get(conn, DEFAULT_INSTANCE, RepositoryName.parse(name))
        assert repository is not None
        kept = [c for c in manifests.c if c.name not in ("id", "repository_id", "created_at")]
        stored = conn.execute(select(manifests.c.id, *kept).where(manifests.c.repository_id == repository.id)).all()
        assert len(stored) == 1
        references = conn.execute(
            select(*[c for c in manifest_references.c if c.name != "manifest_id"])
            .where(manifest_references.c.manifest_id == stored[0][0])
            .order_by(manifest_references.c.position)
        ).all()
        recorded = conn.execute(
            select(*[c for c in events.c if c.name not in ("id", "occurred_at", "repository", "resource")])
            .where(events.c.repository == name)
            .order_by(events.c.id)
        ).all()
        counter = conn.execute(text("SELECT tag_count FROM repositories WHERE id = :id"), {"id": repository.id})
        return {
            "manifest": tuple(stored[0][1:]),
            "references": [tuple(r) for r in references],
            "events": [tuple(r) for r in recorded],
            "tags": _state(database, name)[0],
            "counter": counter.scalar_one(),
        }

    general_rows = database.run_read(lambda conn: rows(conn, "org/general"))
    assert general_rows == database.run_read(lambda conn: rows(conn, "org/alone"))
    assert len(general_rows["references"]) == 3 and len(general_rows["events"]) == 4
    assert general_rows["counter"] == 2 and general_rows["events"][0][1] == "d" * 32  # the namespace's account


def test_the_push_function_inserts_every_column_the_tables_have() -> None:
    """A column added to these tables needs the function of migration 0021 replaced (its docstring)."""
    function = importlib.import_module("moorage.metadata.migrations.versions.0021_push_manifest_function")
    listed = {
        manifests: {*function.MANIFEST_COLUMNS.split(", "), "id", "repository_id", "payload", "last_pulled_at"},
        manifest_references: {*function.REFERENCE_COLUMNS.split(", "), "manifest_id"},
        events: {*function.EVENT_COLUMNS.split(", "), "id", "domain_id"},
    }
    for table, columns in listed.items():
        assert {c.name for c in table.c} == columns, table.name


def test_fenced_get_holds_the_fence_and_finds_the_repository(database: Database) -> None:
    def look(name: str) -> tuple[int | None, int]:
        def work(conn: Connection) -> tuple[int | None, int]:
            found = repositories.fenced_get(conn, DEFAULT_INSTANCE, RepositoryName.parse(name))
            if conn.dialect.name != "postgresql":
                return (found.id if found else None), 1
            held = conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock'"
                    " AND granted AND pid = pg_backend_pid()"
                )
            ).scalar_one()
            return (found.id if found else None), int(held)

        return database.run_write(work)

    _link(database, image(b"x"))
    expected = database.run_read(
        lambda conn: repositories.get(conn, DEFAULT_INSTANCE, RepositoryName.parse(REPOSITORY))
    )
    assert expected is not None
    assert look(REPOSITORY) == (expected.id, 1)
    assert look("org/none") == (None, 1)  # no repository: the fence is taken all the same


def test_push_state_answers_links_children_and_the_manifest_in_one_query(database: Database) -> None:
    pushed = image(b"a", b"b")
    _link(database, pushed)
    _put(database, "v1", pushed.manifest)
    other = image(b"c")
    repository = database.run_read(
        lambda conn: repositories.get(conn, DEFAULT_INSTANCE, RepositoryName.parse(REPOSITORY))
    )
    assert repository is not None
    wanted = [*pushed.blobs, *other.blobs]
    sizes, held, own = database.run_read(
        lambda conn: q.push_state(conn, repository.id, pushed.digest, wanted, [pushed.digest, other.digest])
    )
    assert sizes == {d: len(data) for d, data in pushed.blobs.items()}
    assert held == {pushed.digest} and own is not None
    assert database.run_read(lambda conn: q.push_state(conn, repository.id, other.digest, [], [])) == ({}, set(), None)


def test_tags_moves_and_pushes_by_digest_keep_the_counter_and_their_events(database: Database) -> None:
    one, two = image(b"one"), image(b"two")
    _link(database, one)
    _link(database, two)
    _put(database, "v1", one.manifest)  # a new manifest
    _put(database, "v2", one.manifest)  # a new tag of it
    _put(database, "v2", one.manifest)  # the same again: no new tag
    _put(database, two.digest, two.manifest)  # by digest: no tag
    _put(database, "v1", two.manifest)  # moved to a stored manifest
    _put(database, one.digest, one.manifest)  # by digest, stored already
    named, counter, stored, recorded = _state(database)
    assert named == {"v1": two.digest, "v2": one.digest} and counter == 2 and stored == 2
    assert recorded == [
        ("v1", one.digest),
        ("v2", one.digest),
        ("v2", one.digest),
        ("", two.digest),
        ("v1", two.digest),
        ("", one.digest),
    ]


def test_the_event_row_is_the_one_record_events_writes(database: Database) -> None:
    pushed = image(b"event")
    _link(database, pushed)
    _put(database, "v1", pushed.manifest)  # a new manifest: record_events
    _put(database, "v2", pushed.manifest)  # a stored one: in the tag's statement on PostgreSQL
    columns = [c for c in events.c if c.name not in ("id", "occurred_at", "tag", "resource")]
    rows = database.run_read(lambda conn: conn.execute(select(*columns).order_by(events.c.id)).all())
    assert len(rows) == 2 and rows[0] == rows[1]
    named = database.run_read(lambda conn: conn.execute(select(events.c.tag, events.c.resource)).all())
    assert sorted(tuple(r) for r in named) == [("v1", f"{REPOSITORY}:v1"), ("v2", f"{REPOSITORY}:v2")]
    assert rows[0]._mapping["domain_id"] == "d" * 32 and '"size"' in rows[0]._mapping["detail"]


def test_a_refused_push_of_a_stored_manifest_writes_nothing(database: Database) -> None:
    pushed = image(b"kept", b"unlinked")
    _link(database, pushed)
    _put(database, "v1", pushed.manifest)
    layer = next(d for d, data in pushed.blobs.items() if data == b"unlinked")
    repository = database.run_read(
        lambda conn: repositories.get(conn, DEFAULT_INSTANCE, RepositoryName.parse(REPOSITORY))
    )
    assert repository is not None
    database.run_write(lambda conn: blob_queries.unlink(conn, repository.id, layer))
    before = _state(database)
    with pytest.raises(ManifestBlobUnknown) as refused:
        _put(database, "v2", pushed.manifest)
    assert refused.value.detail["digest"] == layer
    _link(database, pushed)  # linked again, but the stored blob says another size than the descriptor
    database.run_write(lambda conn: conn.execute(update(blobs).where(blobs.c.digest == layer).values(size=1)))
    with pytest.raises(ManifestInvalid):
        _put(database, "v2", pushed.manifest)
    assert _state(database) == before


def test_an_index_needs_its_children_in_the_repository(database: Database) -> None:
    child = image(b"child")
    _link(database, child)
    parent = index(child)
    with pytest.raises(ManifestBlobUnknown):
        _put(database, "list", parent.manifest, media_type=OCI_INDEX)
    _put(database, "child", child.manifest)
    _put(database, "list", parent.manifest, media_type=OCI_INDEX)
    _put(database, "list2", parent.manifest, media_type=OCI_INDEX)  # stored: the short path checks it too
    assert _state(database)[:3] == ({"child": child.digest, "list": parent.digest, "list2": parent.digest}, 3, 2)


def test_concurrent_pushes_neither_deadlock_nor_miscount(database: Database) -> None:
    """Sixteen pushes at one instant (a barrier), three times: a manifest new to the repository under
    sixteen tags (some store it, the others find it stored), a stored manifest under one new tag (one
    insert counts it), and an index that is its repository's first content (some create the
    repository, the others find it)."""
    pushers = 16
    pushed = image(b"race")
    _link(database, pushed)
    empty = index()

    def at_once(job: Any) -> None:
        barrier = threading.Barrier(pushers)

        def run(index: int) -> None:
            barrier.wait()
            job(index)

        with ThreadPoolExecutor(pushers) as pool:
            list(pool.map(run, range(pushers)))

    at_once(lambda i: _put(database, f"t{i}", pushed.manifest))
    named, counter, stored, recorded = _state(database)
    assert len(named) == pushers and counter == pushers and stored == 1 and len(recorded) == pushers

    at_once(lambda _i: _put(database, "same", pushed.manifest))
    named, counter, stored, recorded = _state(database)
    assert named["same"] == pushed.digest and counter == pushers + 1 and len(recorded) == 2 * pushers

    def first(i: int) -> None:
        asyncio.run(
            _service(database).put(
                target=_target("fresh/index"), reference=f"i{i}", content_type=OCI_INDEX, payload=empty.manifest
            )
        )

    at_once(first)
    named, counter, stored, recorded = _state(database, "fresh/index")
    assert len(named) == pushers and counter == pushers and stored == 1 and len(recorded) == pushers
    links = database.run_read(lambda conn: conn.execute(select(repository_blobs.c.digest)).all())
    assert len(links) == len(pushed.blobs)
