"""The writes of a manifest PUT: tags keep the repository's tag counter true on both databases (a new
tag counts once, a moved or re-pushed tag does not, an immutable tag never moves) and, on PostgreSQL,
a new tag and its count are one statement (a round trip each would cost the push path); a new
manifest and its references are three statements, and a push that loses the insert of the same
manifest to a concurrent one answers the winner's row."""

from __future__ import annotations

import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Connection

from moorage.domain.manifests import parse_manifest
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import manifests as q
from moorage.metadata.queries import repositories as repositories_q
from moorage.metadata.tables import domains, manifest_references, repositories, tags
from moorage.metadata.upsert import insert_ignore
from tests.conftest import DATABASES
from tests.support import postgres, statements
from tests.support import swr_images as si


@pytest.fixture(params=DATABASES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    database = Database(url)
    upgrade(database)
    yield database
    database.dispose()


def _stored(conn: Connection, label: str) -> tuple[int, int]:
    """(repository id, manifest id) of an image stored in ``team/app``."""
    image = si.image([{"a.txt": label.encode()}], label=label)
    insert_ignore(conn, domains, {"id": "d" * 32, "name": "d", "created_at": 0}, conflict=["id"])
    repositories_q.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE)
    repository = repositories_q.ensure(conn, DEFAULT_INSTANCE, RepositoryName.parse("team/app"), domain_id="d" * 32)
    parsed = parse_manifest(image.manifest, image.media_type)
    return repository.id, q.store(conn, repository.id, image.digest, image.manifest, parsed)


def _count(conn: Connection, repository_id: int) -> int:
    return int(conn.execute(select(repositories.c.tag_count).where(repositories.c.id == repository_id)).scalar_one())


def _target(conn: Connection, repository_id: int, name: str) -> int:
    return int(
        conn.execute(
            select(tags.c.manifest_id).where(tags.c.repository_id == repository_id, tags.c.name == name)
        ).scalar_one()
    )


def test_new_moved_and_immutable_tags_keep_the_counter(db: Database) -> None:
    with db.write_transaction() as conn:
        repository_id, first = _stored(conn, "one")
        _, second = _stored(conn, "two")
        q.tag(conn, repository_id, "v1", first)
        q.tag(conn, repository_id, "v2", first)
        assert _count(conn, repository_id) == 2
        q.tag(conn, repository_id, "v1", second)  # moved: no new tag
        q.tag(conn, repository_id, "v1", second)  # re-pushed: the same
        assert _count(conn, repository_id) == 2 and _target(conn, repository_id, "v1") == second
        assert q.tag_once(conn, repository_id, "v3", first)
        assert q.tag_once(conn, repository_id, "v3", first)  # the same content again: accepted
        assert not q.tag_once(conn, repository_id, "v3", second)  # would move: refused, unchanged
        assert _count(conn, repository_id) == 3 and _target(conn, repository_id, "v3") == first
        assert q.untag(conn, repository_id, "v2")
        assert _count(conn, repository_id) == 2


def test_a_new_tag_is_one_statement_on_postgresql(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite runs in process: a statement there costs no round trip")
    with db.write_transaction() as conn:
        repository_id, manifest_id = _stored(conn, "counted")
        sent: list[str] = []

        def seen(*args: Any) -> None:
            sent.append(str(args[2]))

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            q.tag(conn, repository_id, "new", manifest_id)
            new_tag = list(sent)
            sent.clear()
            assert q.tag_once(conn, repository_id, "kept", manifest_id)
            kept = list(sent)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        assert len(new_tag) == 1 and len(kept) == 1, (new_tag, kept)
        assert _count(conn, repository_id) == 2


def test_a_new_manifest_is_stored_with_its_references_in_three_statements(db: Database) -> None:
    image = si.image([{"a.txt": b"one"}, {"b.txt": b"two"}], label="refs")
    parsed = parse_manifest(image.manifest, image.media_type)
    with db.write_transaction() as conn:
        repository_id, _ = _stored(conn, "setup")
        with statements.on_connection(conn) as sent:
            manifest_id = q.store(conn, repository_id, image.digest, image.manifest, parsed)
        # Its id looked up (absent), the row inserted answering its id, the references in one insert
        # (one executemany: SQLite's trace sees it run once per row).
        references = 1 if db.dialect == "postgresql" else 3
        assert len(sent.statements) == 2 + references, sent
        assert q.store(conn, repository_id, image.digest, image.manifest, parsed) == manifest_id  # a re-push
        kinds = conn.execute(
            select(manifest_references.c.kind, manifest_references.c.digest)
            .where(manifest_references.c.manifest_id == manifest_id)
            .order_by(manifest_references.c.position)
        ).all()
    config, *layers = image.blobs
    assert [tuple(row) for row in kinds] == [("config", config.digest)] + [("layer", blob.digest) for blob in layers]


def test_a_manifest_stored_concurrently_is_found_by_the_losing_push(db: Database) -> None:
    """PostgreSQL: the push that loses the insert waits for the winner, then answers the winner's id."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite write transactions are serial: no push can lose the insert")
    image = si.image([{"a.txt": b"race"}], label="race")
    parsed = parse_manifest(image.manifest, image.media_type)
    with db.write_transaction() as conn:
        repository_id, _ = _stored(conn, "race-setup")
    winner_inside = threading.Event()
    release = threading.Event()
    ids: list[int] = []

    def winner() -> None:
        with db.write_transaction() as conn:
            ids.append(q.store(conn, repository_id, image.digest, image.manifest, parsed))
            winner_inside.set()
            release.wait(10)

    thread = threading.Thread(target=winner)
    thread.start()
    assert winner_inside.wait(10)
    timer = threading.Timer(0.3, release.set)  # the loser's insert waits on the winner's row until then
    timer.start()
    with db.write_transaction() as conn:
        loser = q.store(conn, repository_id, image.digest, image.manifest, parsed)
    thread.join()
    assert loser == ids[0]


@pytest.fixture
def locale_db(pg_server: postgres.PostgresServer) -> Iterator[Database]:
    """PostgreSQL whose database sorts text by an ICU locale's rules (``a`` before ``B``), as a database
    created on a machine with a locale does; the test cluster's own default is C."""
    name = f"icu_{uuid.uuid4().hex[:12]}"
    try:
        pg_server.psql(
            "postgres",
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'",
        )
    except subprocess.CalledProcessError as error:
        pytest.skip(f"this PostgreSQL cannot create an ICU database: {error.stderr!r}")
    database = Database(pg_server.url(name))
    upgrade(database)
    yield database
    database.dispose()


def test_tags_are_listed_in_byte_order_a_page_at_a_time(db: Database) -> None:
    """The distribution spec's lexical order is byte order."""
    _listed_in_byte_order(db)


def test_tags_are_listed_in_byte_order_whatever_the_database_collation(locale_db: Database) -> None:
    """PostgreSQL sorts by the database's collation unless told otherwise (a locale's puts ``a``
    before ``B``)."""
    _listed_in_byte_order(locale_db)


def _listed_in_byte_order(db: Database) -> None:
    names = ["b", "B", "a", "_x", "Z9", "a-b", "a.b", "a_b", "0", "~"]
    with db.write_transaction() as conn:
        repository_id, manifest_id = _stored(conn, "listed")
        for name in names:
            q.tag(conn, repository_id, name, manifest_id)
    ordered = sorted(names, key=lambda n: n.encode())
    assert db.run_read(lambda conn: q.tag_names(conn, repository_id, limit=100, last=None)) == ordered
    walked: list[str] = []
    last: str | None = None
    while True:
        page = db.run_read(lambda conn, after=last: q.tag_names(conn, repository_id, limit=3, last=after))
        if not page:
            break
        walked += page
        last = page[-1]
    assert walked == ordered
