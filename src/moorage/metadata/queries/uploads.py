"""Upload sessions: their size so far and a short lease that keeps two chunks from interleaving."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from moorage.domain.registry import UploadSession
from moorage.metadata.database import now_ms
from moorage.metadata.tables import uploads


async def create(conn: AsyncConnection, upload_id: str, repository_id: int) -> UploadSession:
    """A new, empty session."""
    now = now_ms()
    await conn.execute(
        insert(uploads).values(id=upload_id, repository_id=repository_id, size=0, created_at=now, updated_at=now)
    )
    return UploadSession(upload_id, repository_id, 0)


async def get(conn: AsyncConnection, upload_id: str, repository_id: int) -> UploadSession | None:
    """The session if it belongs to the repository."""
    row = (
        await conn.execute(
            select(uploads.c.id, uploads.c.repository_id, uploads.c.size).where(
                uploads.c.id == upload_id, uploads.c.repository_id == repository_id
            )
        )
    ).first()
    return UploadSession(row[0], int(row[1]), int(row[2])) if row else None


async def lease(conn: AsyncConnection, upload_id: str, *, size: int, seconds: float) -> bool:
    """Take the session for one chunk if nobody holds it and it is still ``size`` bytes long."""
    now = now_ms()
    result = await conn.execute(
        update(uploads)
        .where(uploads.c.id == upload_id, uploads.c.size == size, uploads.c.lease_until < now)
        .values(lease_until=now + int(seconds * 1000), updated_at=now)
    )
    return bool(result.rowcount)


async def release(conn: AsyncConnection, upload_id: str, *, size: int) -> None:
    """Record the new size and give the lease back."""
    await conn.execute(
        update(uploads).where(uploads.c.id == upload_id).values(size=size, lease_until=0, updated_at=now_ms())
    )


async def remove(conn: AsyncConnection, upload_id: str) -> bool:
    """Forget a session."""
    result = await conn.execute(delete(uploads).where(uploads.c.id == upload_id))
    return bool(result.rowcount)


async def stale(conn: AsyncConnection, *, before_ms: int) -> list[str]:
    """Sessions untouched since ``before_ms``."""
    rows = await conn.execute(select(uploads.c.id).where(uploads.c.updated_at < before_ms))
    return [r[0] for r in rows]


async def known(conn: AsyncConnection, upload_ids: list[str]) -> set[str]:
    """Which of ``upload_ids`` have a session row."""
    if not upload_ids:
        return set()
    rows = await conn.execute(select(uploads.c.id).where(uploads.c.id.in_(upload_ids)))
    return {r[0] for r in rows}


async def lease_renew(conn: AsyncConnection, upload_id: str, *, seconds: float) -> None:
    """Extend the lease of a chunk still streaming in."""
    now = now_ms()
    await conn.execute(
        update(uploads).where(uploads.c.id == upload_id).values(lease_until=now + int(seconds * 1000), updated_at=now)
    )
