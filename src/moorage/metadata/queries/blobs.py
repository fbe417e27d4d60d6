"""Blobs (stored once) and the links that let a repository serve them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection

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
        conn.execute(_GROW, {"repository": repository_id, "by": size, "now": now_ms()})
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


_LINKED_SIZES = (
    select(blobs.c.digest, blobs.c.size)
    .select_from(repository_blobs.join(blobs, repository_blobs.c.digest == blobs.c.digest))
    .where(
        repository_blobs.c.repository_id == bindparam("in_repository"),
        repository_blobs.c.digest.in_(bindparam("digests", expanding=True)),
    )
)


def linked_sizes(conn: Connection, repository_id: int, digests: Iterable[str]) -> dict[str, int]:
    """Sizes of those of ``digests`` that the repository may serve."""
    wanted = sorted(set(digests))
    if not wanted:
        return {}
    rows = conn.execute(_LINKED_SIZES, {"in_repository": repository_id, "digests": wanted})
    return {r[0]: int(r[1]) for r in rows}
