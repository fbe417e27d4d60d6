"""Upload sessions: their size so far and a short lease that keeps two chunks from interleaving."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from moorage.domain.registry import UploadSession
from moorage.metadata.database import now_ms
from moorage.metadata.tables import uploads


def create(conn: Connection, upload_id: str, instance_id: str, repository: str) -> UploadSession:
    """A new, empty session for a repository (which need not exist yet)."""
    now = now_ms()
    conn.execute(
        insert(uploads).values(
            id=upload_id, instance_id=instance_id, repository=repository, size=0, created_at=now, updated_at=now
        )
    )
    return UploadSession(upload_id, repository, 0)


def get(conn: Connection, upload_id: str, instance_id: str, repository: str) -> UploadSession | None:
    """The session if it belongs to the repository."""
    row = conn.execute(
        select(uploads.c.id, uploads.c.repository, uploads.c.size).where(
            uploads.c.id == upload_id, uploads.c.instance_id == instance_id, uploads.c.repository == repository
        )
    ).first()
    return UploadSession(row[0], row[1], int(row[2])) if row else None


def lease(conn: Connection, upload_id: str, *, size: int, seconds: float) -> bool:
    """Take the session for one chunk if nobody holds it and it is still ``size`` bytes long."""
    now = now_ms()
    result = conn.execute(
        update(uploads)
        .where(uploads.c.id == upload_id, uploads.c.size == size, uploads.c.lease_until < now)
        .values(lease_until=now + int(seconds * 1000), updated_at=now)
    )
    return bool(result.rowcount)


def release(conn: Connection, upload_id: str, *, size: int) -> None:
    """Record the new size and give the lease back."""
    conn.execute(update(uploads).where(uploads.c.id == upload_id).values(size=size, lease_until=0, updated_at=now_ms()))


def remove(conn: Connection, upload_id: str) -> bool:
    """Forget a session."""
    result = conn.execute(delete(uploads).where(uploads.c.id == upload_id))
    return bool(result.rowcount)


def remove_unleased(conn: Connection, upload_id: str, *, size: int) -> bool:
    """Forget a session that is still ``size`` bytes long and that no chunk holds (the closing PUT
    that carried the whole blob); False when it is gone, grew, or a chunk is streaming into it."""
    result = conn.execute(
        delete(uploads).where(uploads.c.id == upload_id, uploads.c.size == size, uploads.c.lease_until < now_ms())
    )
    return bool(result.rowcount)


def remove_if_stale(conn: Connection, upload_id: str, *, before_ms: int) -> bool:
    """Forget a session only if it is still untouched since ``before_ms`` and no chunk holds it (a
    client may have resumed it since it was found stale). True if it went."""
    result = conn.execute(
        delete(uploads).where(
            uploads.c.id == upload_id, uploads.c.updated_at < before_ms, uploads.c.lease_until < now_ms()
        )
    )
    return bool(result.rowcount)


def stale(conn: Connection, *, before_ms: int) -> list[str]:
    """Sessions untouched since ``before_ms``."""
    rows = conn.execute(select(uploads.c.id).where(uploads.c.updated_at < before_ms))
    return [r[0] for r in rows]


def known(conn: Connection, upload_ids: list[str]) -> set[str]:
    """Which of ``upload_ids`` have a session row."""
    if not upload_ids:
        return set()
    rows = conn.execute(select(uploads.c.id).where(uploads.c.id.in_(upload_ids)))
    return {r[0] for r in rows}


def lease_renew(conn: Connection, upload_id: str, *, seconds: float) -> None:
    """Extend the lease of a chunk still streaming in."""
    now = now_ms()
    conn.execute(
        update(uploads).where(uploads.c.id == upload_id).values(lease_until=now + int(seconds * 1000), updated_at=now)
    )
