"""Blobs (stored once) and the links that let a repository serve them."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.engine import Connection

from moorage.metadata import direct
from moorage.metadata.database import now_ms
from moorage.metadata.queries import namespace_usage
from moorage.metadata.tables import blobs, repositories, repository_blobs
from moorage.metadata.upsert import insert_ignore

# Prebuilt: every blob HEAD and GET, and every first link, runs these (see moorage.metadata.upsert on why).
_LINKED_SIZE = (
    select(blobs.c.size)
    .select_from(repository_blobs.join(blobs, repository_blobs.c.digest == blobs.c.digest))
    .where(
        repository_blobs.c.repository_id == bindparam("in_repository"),
        repository_blobs.c.digest == bindparam("of_digest"),
    )
)
_GROW = (
    update(repositories)
    .where(repositories.c.id == bindparam("repository"))
    .values(size=repositories.c.size + bindparam("by"), updated_at=bindparam("now"))
)


_REPOSITORY_BY_NAME = select(repositories.c.id, repositories.c.namespace_id).where(
    repositories.c.instance_id == bindparam("instance"), repositories.c.full_name == bindparam("name")
)

# PostgreSQL: what ``add`` then ``link`` do (blob row, link, the repository's size, the organization's
# ``namespace_usage`` counters), with the repository found by name, as one statement: one round trip
# where they take six (each costs ~0.3 ms of CPU between the driver and the server). The parts chain
# through RETURNING (data-modifying CTEs share one snapshot and do not see each other's rows), which
# also makes them run in the order of the statements they replace: rows are locked in the same
# order on every path (a CTE nothing reads runs at the end, in no documented order, and two pushes
# locking the repository and the organization's counter in opposite orders deadlock). The
# organization's row is inserted or has one more link counted in one upsert (links = 1 after it: it
# was inserted, and its bytes count, as ``namespace_usage.link_added`` decides). Nothing happens when
# the repository does not exist: the caller creates it and links the usual way.
_ADD_AND_LINK_PG = text(
    """
    WITH repo AS (
        SELECT id, namespace_id FROM repositories
        WHERE instance_id = CAST(:instance AS VARCHAR) AND full_name = CAST(:name AS VARCHAR)
    ), new_blob AS (
        INSERT INTO blobs (digest, size, created_at, touched_at)
        SELECT CAST(:digest AS VARCHAR), CAST(:size AS BIGINT), CAST(:now AS BIGINT), CAST(:now AS BIGINT) FROM repo
        ON CONFLICT (digest) DO NOTHING
        RETURNING digest
    ), new_link AS (
        INSERT INTO repository_blobs (repository_id, digest, created_at)
        SELECT repo.id, CAST(:digest AS VARCHAR), CAST(:now AS BIGINT) FROM repo LEFT JOIN new_blob ON true
        ON CONFLICT (repository_id, digest) DO NOTHING
        RETURNING repository_id
    ), grown AS (
        UPDATE repositories SET size = repositories.size + CAST(:size AS BIGINT), updated_at = CAST(:now AS BIGINT)
        FROM new_link WHERE repositories.id = new_link.repository_id
        RETURNING repositories.namespace_id
    ), held AS (
        INSERT INTO namespace_blobs (namespace_id, digest, size, links)
        SELECT grown.namespace_id, CAST(:digest AS VARCHAR), CAST(:size AS BIGINT), 1 FROM grown
        ON CONFLICT (namespace_id, digest) DO UPDATE SET links = namespace_blobs.links + 1
        RETURNING namespace_id, links
    ), stored AS (
        INSERT INTO namespace_storage (namespace_id, stored_bytes)
        SELECT namespace_id, CAST(:size AS BIGINT) FROM held WHERE links = 1 AND CAST(:size AS BIGINT) <> 0
        ON CONFLICT (namespace_id) DO UPDATE SET stored_bytes = namespace_storage.stored_bytes + excluded.stored_bytes
    )
    SELECT EXISTS (SELECT FROM repo), EXISTS (SELECT FROM new_blob)
    """
)


def add_and_link(conn: Connection, instance_id: str, repository: str, digest: str, size: int) -> bool | None:
    """``add`` and ``link`` for the repository called ``repository`` (its full name) if it exists:
    whether the blob is new (as ``add`` says); None, and nothing done, when there is no such
    repository (its first content: the caller creates it)."""
    if conn.dialect.name == "postgresql":
        found, new = direct.run(
            conn,
            _ADD_AND_LINK_PG,
            {"instance": instance_id, "name": repository, "digest": digest, "size": size, "now": now_ms()},
        ).one()
        return bool(new) if found else None
    row = direct.run(conn, _REPOSITORY_BY_NAME, {"instance": instance_id, "name": repository}).first()
    if row is None:
        return None
    new = add(conn, digest, size)
    link(conn, row[0], digest, size, namespace_id=row[1])
    return new


def linked_size(conn: Connection, repository_id: int, digest: str) -> int | None:
    """Size of ``digest`` when the repository may serve it, else None."""
    row = conn.execute(_LINKED_SIZE, {"in_repository": repository_id, "of_digest": digest}).first()
    return int(row[0]) if row else None


def size(conn: Connection, digest: str) -> int | None:
    """Size of a stored blob, whatever repository links it, or None."""
    row = (conn.execute(select(blobs.c.size).where(blobs.c.digest == digest))).first()
    return int(row[0]) if row else None


def add(conn: Connection, digest: str, size: int) -> bool:
    """Record a stored blob (idempotent: concurrent pushes of the same content are one blob); True
    if it is new (touched now, not being deleted)."""
    now = now_ms()
    return (
        insert_ignore(
            conn, blobs, {"digest": digest, "size": size, "created_at": now, "touched_at": now}, conflict=["digest"]
        )
        > 0
    )


def link(conn: Connection, repository_id: int, digest: str, size: int, *, namespace_id: int | None = None) -> bool:
    """Let a repository serve a blob; the repository's size grows by the blob's once, and its
    organization's by the blob's if none of its repositories linked it (``namespace_usage``; the
    repository's ``namespace_id`` spares looking it up). True if new."""
    added = insert_ignore(
        conn,
        repository_blobs,
        {"repository_id": repository_id, "digest": digest, "created_at": now_ms()},
        conflict=["repository_id", "digest"],
    )
    if added:
        direct.run(conn, _GROW, {"repository": repository_id, "by": size, "now": now_ms()})
        namespace_usage.link_added(conn, repository_id, digest, size, namespace_id=namespace_id)
    return added > 0


def unlink(conn: Connection, repository_id: int, digest: str) -> bool:
    """Stop a repository serving a blob (the bytes stay until garbage collection). True if it did."""
    blob_size = linked_size(conn, repository_id, digest)
    if blob_size is None:
        return False
    result = conn.execute(
        delete(repository_blobs).where(
            repository_blobs.c.repository_id == repository_id, repository_blobs.c.digest == digest
        )
    )
    if not result.rowcount:  # a concurrent unlink got there first
        return False
    namespace_usage.link_removed(conn, repository_id, digest)
    conn.execute(
        update(repositories)
        .where(repositories.c.id == repository_id)
        .values(
            size=func.max(repositories.c.size - blob_size, 0)
            if conn.dialect.name == "sqlite"
            else func.greatest(repositories.c.size - blob_size, 0),
            updated_at=now_ms(),
        )
    )
    return True
