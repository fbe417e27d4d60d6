"""Upload sessions: their size so far and a short lease that keeps two chunks from interleaving."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.engine import Connection

from moorage.domain.registry import UploadSession
from moorage.metadata import direct
from moorage.metadata.database import now_ms
from moorage.metadata.queries.gc import FENCE_KEY, writer_fence
from moorage.metadata.tables import upload_claims, uploads
from moorage.metadata.upsert import insert_ignore

# Prebuilt: every push runs these (one statement object, compiled once; see moorage.metadata.upsert).
_CREATE = insert(uploads).values(
    id=bindparam("upload"),
    instance_id=bindparam("instance"),
    repository=bindparam("repository"),
    size=0,
    created_at=bindparam("created"),
    updated_at=bindparam("now"),
)
_GET = select(uploads.c.id, uploads.c.repository, uploads.c.size).where(
    uploads.c.id == bindparam("upload"),
    uploads.c.instance_id == bindparam("instance"),
    uploads.c.repository == bindparam("repository"),
)
_LEASE = (
    update(uploads)
    .where(
        uploads.c.id == bindparam("upload"),
        uploads.c.size == bindparam("old_size"),
        uploads.c.lease_until < bindparam("now"),
    )
    .values(lease_until=bindparam("until"), updated_at=bindparam("now"))
)
_RELEASE = (
    update(uploads)
    .where(uploads.c.id == bindparam("upload"))
    .values(size=bindparam("new_size"), lease_until=0, updated_at=bindparam("now"))
)
_REMOVE = delete(uploads).where(uploads.c.id == bindparam("upload"))
_REMOVE_UNLEASED = delete(uploads).where(
    uploads.c.id == bindparam("upload"),
    uploads.c.size == bindparam("old_size"),
    uploads.c.lease_until < bindparam("now"),
)
_REMOVE_EMPTY_OF = delete(uploads).where(
    uploads.c.id == bindparam("upload"),
    uploads.c.instance_id == bindparam("instance"),
    uploads.c.repository == bindparam("repository"),
    uploads.c.size == 0,
    uploads.c.lease_until < bindparam("now"),
)
_CLAIMED = select(upload_claims.c.id).where(upload_claims.c.id == bindparam("upload"))


def create(
    conn: Connection, upload_id: str, instance_id: str, repository: str, *, created_ms: int | None = None
) -> UploadSession:
    """A new, empty session for a repository (which need not exist yet); ``created_ms`` when it was
    started earlier (a session whose state was signed into its Location gets its row late)."""
    now = now_ms()
    conn.execute(
        _CREATE,
        {
            "upload": upload_id,
            "instance": instance_id,
            "repository": repository,
            "now": now,
            "created": now if created_ms is None else created_ms,
        },
    )
    return UploadSession(upload_id, repository, 0)


def claim(conn: Connection, upload_id: str) -> bool:
    """Use up the signed state of a session started without a row; False when it was used already
    (a chunk made its row, or it was closed or cancelled)."""
    return insert_ignore(conn, upload_claims, {"id": upload_id, "claimed_at": now_ms()}, conflict=("id",)) > 0


# PostgreSQL: ``gc.writer_fence`` and ``claim`` as one statement (one round trip instead of two): the
# insert reads its row from the CTE that takes the fence, so the lock is held before the claim is made.
_CLAIM_IN_FENCE_PG = text(
    """
    WITH fence AS (SELECT pg_advisory_xact_lock_shared(CAST(:fence AS BIGINT)))
    INSERT INTO upload_claims (id, claimed_at)
    SELECT CAST(:upload AS VARCHAR), CAST(:now AS BIGINT) FROM fence
    ON CONFLICT (id) DO NOTHING
    RETURNING id
    """
)


def claim_in_fence(conn: Connection, upload_id: str) -> bool:
    """Take the garbage collector's writer fence (first in the transaction, as ``gc.writer_fence``
    wants), then ``claim``."""
    if conn.dialect.name != "postgresql":
        writer_fence(conn)
        return claim(conn, upload_id)
    return bool(direct.run(conn, _CLAIM_IN_FENCE_PG, {"fence": FENCE_KEY, "upload": upload_id, "now": now_ms()}).rows)


def claimed(conn: Connection, upload_id: str) -> bool:
    """Whether the signed state of the session was used up."""
    return conn.execute(_CLAIMED, {"upload": upload_id}).first() is not None


def purge_claims(conn: Connection, *, before_ms: int) -> int:
    """Forget claims older than any state still valid; how many went."""
    result = conn.execute(delete(upload_claims).where(upload_claims.c.claimed_at < before_ms))
    return int(result.rowcount or 0)


def get(conn: Connection, upload_id: str, instance_id: str, repository: str) -> UploadSession | None:
    """The session if it belongs to the repository."""
    row = conn.execute(_GET, {"upload": upload_id, "instance": instance_id, "repository": repository}).first()
    return UploadSession(row[0], row[1], int(row[2])) if row else None


def lease(conn: Connection, upload_id: str, *, size: int, seconds: float) -> bool:
    """Take the session for one chunk if nobody holds it and it is still ``size`` bytes long."""
    now = now_ms()
    result = conn.execute(
        _LEASE, {"upload": upload_id, "old_size": size, "now": now, "until": now + int(seconds * 1000)}
    )
    return bool(result.rowcount)


def release(conn: Connection, upload_id: str, *, size: int) -> None:
    """Record the new size and give the lease back."""
    conn.execute(_RELEASE, {"upload": upload_id, "new_size": size, "now": now_ms()})


def remove(conn: Connection, upload_id: str) -> bool:
    """Forget a session."""
    result = conn.execute(_REMOVE, {"upload": upload_id})
    return bool(result.rowcount)


def remove_unleased(conn: Connection, upload_id: str, *, size: int) -> bool:
    """Forget a session that is still ``size`` bytes long and that no chunk holds (the closing PUT
    that carried the whole blob); False when it is gone, grew, or a chunk is streaming into it."""
    result = conn.execute(_REMOVE_UNLEASED, {"upload": upload_id, "old_size": size, "now": now_ms()})
    return bool(result.rowcount)


def remove_empty_of(conn: Connection, upload_id: str, instance_id: str, repository: str) -> bool:
    """Forget the repository's session if it is still empty and no chunk holds it (the closing PUT
    that carried the whole blob, without reading the session first); False otherwise."""
    key = {"upload": upload_id, "instance": instance_id, "repository": repository, "now": now_ms()}
    result = direct.run(conn, _REMOVE_EMPTY_OF, key)
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
