"""The events outbox on real databases: an event exists exactly when its change committed; two
dispatchers at once hand each event over once (PostgreSQL's SKIP LOCKED, SQLite's one writer); the
prune removes only what is past its retention and dispatched; the buffer of pull and login events is
bounded."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from moorage.domain.errors import ManifestBlobUnknown
from moorage.domain.events import (
    Actor,
    Event,
    EventContext,
    NewEvent,
    Operation,
    ResourceType,
    artifact_event,
    change_event,
    event_context,
)
from moorage.domain.identity import Principal
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, UploadTarget
from moorage.metadata.database import Database, now_ms
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import events as q
from moorage.metadata.queries import repositories as repositories_q
from moorage.metadata.tables import events
from moorage.services.events.dispatch import EventDispatcher
from moorage.services.events.recorder import EventBuffer, record_events
from moorage.services.events.retention import DAY_MS, prune
from moorage.services.manifests import ManifestService
from moorage.services.namespaces import NamespaceService
from moorage.services.pulls import PullRecorder
from tests.conftest import DATABASES
from tests.enterprise import layouts

ADMIN = Principal(user_id="u1", user_name="alice", domain_id="d1", domain_name="acme", is_admin=True, via="token")


@pytest.fixture(params=DATABASES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    database = Database(url)
    upgrade(database)
    database.run_write(lambda conn: repositories_q.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
    yield database
    database.dispose()


def count(db: Database) -> int:
    return int(db.run_read(lambda conn: conn.execute(select(func.count()).select_from(events)).scalar_one()))


def one_event(n: int = 0) -> NewEvent:
    return change_event(
        Operation.CREATE,
        ResourceType.NAMESPACE,
        instance_id=DEFAULT_INSTANCE,
        resource=f"ns{n}",
        namespace=f"ns{n}",
        domain_id="d1",
    )


def test_an_event_is_written_with_its_change_and_rolled_back_with_it(db: Database) -> None:
    def failing(conn: Connection) -> None:
        record_events(conn, one_event())
        raise RuntimeError("the change fails after its event was recorded")

    with pytest.raises(RuntimeError):
        db.run_write(failing)
    assert count(db) == 0
    context = EventContext(
        actor=Actor("u9", "bob", "d1", "acme", "password"), client_address="192.0.2.7", instance_id=DEFAULT_INSTANCE
    )
    with event_context(context):
        db.run_write(lambda conn: record_events(conn, one_event()))
    [written] = db.run_read(lambda conn: q.pending(conn, limit=10))
    assert (written.actor.user_name, written.client_address, written.domain_id) == ("bob", "192.0.2.7", "d1")


async def test_a_refused_push_records_nothing(db: Database) -> None:
    await NamespaceService(db, quota=10).create(ADMIN, instance_id=DEFAULT_INSTANCE, name="team")
    before = count(db)
    service = ManifestService(db, max_bytes=1 << 20, pulls=PullRecorder(db))
    manifest, _blobs = layouts.image_blobs("never stored")
    target = UploadTarget(DEFAULT_INSTANCE, RepositoryName("team", "app"), "d1")
    with pytest.raises(ManifestBlobUnknown):  # its blobs were never uploaded: the whole push rolls back
        await service.put(target=target, reference="1.0", content_type=layouts.OCI_MANIFEST, payload=manifest)
    assert count(db) == before


class Collector:
    """A consumer that remembers which events it was handed (only by transactions that commit: a
    dispatcher that cannot lock hands nothing)."""

    name = "collector"

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.lock = threading.Lock()

    def consume(self, conn: Connection, batch: Sequence[Event]) -> list[str]:
        with self.lock:
            self.seen += [e.id for e in batch]
        return []


def test_two_dispatchers_hand_each_event_over_once(db: Database) -> None:
    db.run_write(lambda conn: record_events(conn, *(one_event(n) for n in range(300))))
    collector = Collector()
    dispatchers = [EventDispatcher(db, [collector], send=lambda _job: None, batch=7) for _ in range(2)]

    def drain(dispatcher: EventDispatcher) -> None:
        while db.run_read(q.has_pending):
            dispatcher.dispatch_once()

    threads = [threading.Thread(target=drain, args=(d,)) for d in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(collector.seen) == sorted(set(collector.seen)) and len(collector.seen) == 300
    assert not db.run_read(q.has_pending)


def test_a_consumer_that_fails_on_one_event_holds_up_no_other(db: Database) -> None:
    db.run_write(lambda conn: record_events(conn, *(one_event(n) for n in range(5))))
    collector = Collector()

    class Fussy:
        name = "fussy"

        def consume(self, conn: Connection, batch: Sequence[Event]) -> list[str]:
            if any(e.resource == "ns2" for e in batch):
                raise ValueError("cannot handle ns2")
            return []

    assert EventDispatcher(db, [Fussy(), collector], send=lambda _job: None).dispatch_once() == 5
    assert len(collector.seen) == 4 and not db.run_read(q.has_pending)


def test_prune_removes_only_dispatched_events_past_their_retention(db: Database) -> None:
    db.run_write(lambda conn: record_events(conn, *(one_event(n) for n in range(4))))
    old = now_ms() - 91 * DAY_MS
    ids = sorted(e.id for e in db.run_read(lambda conn: q.pending(conn, limit=10)))
    db.run_write(lambda conn: conn.execute(update(events).where(events.c.id.in_(ids[:3])).values(occurred_at=old)))
    db.run_write(lambda conn: q.mark_dispatched(conn, ids[:2] + ids[3:]))
    assert prune(db, retention_days=90) == {"events": 2, "deliveries": 0}
    left = {e.id for e in db.run_read(lambda conn: q.pending(conn, limit=10))}
    assert left == {ids[2]}  # old but not yet dispatched: kept until a consumer had it
    assert count(db) == 2


async def test_pull_events_ride_with_the_pull_counters(db: Database) -> None:
    recorder = PullRecorder(db, events=EventBuffer(max_events=100))
    pulled = artifact_event(
        Operation.PULL,
        instance_id=DEFAULT_INSTANCE,
        repository="team/app",
        namespace="team",
        domain_id="d1",
        tag="1.0",
        digest="sha256:" + "a" * 64,
    )
    recorder.note(pulled)
    assert count(db) == 0  # nothing written per pull
    await recorder.flush()
    [written] = db.run_read(lambda conn: q.pending(conn, limit=10))
    assert (written.operation, written.resource) == (Operation.PULL, "team/app:1.0")
    quiet = PullRecorder(db, events=EventBuffer(), pull_events=False)
    quiet.record(1, 1, pulled)
    assert quiet.events is not None and len(quiet.events) == 0


def test_the_event_buffer_is_bounded() -> None:
    buffer = EventBuffer(max_events=100)
    for n in range(250):
        buffer.add(one_event(n))
    kept = buffer.drain()
    assert len(kept) == 100 and kept[0].resource == "ns150"  # the oldest went
    buffer.restore(kept)
    assert len(buffer) == 100
