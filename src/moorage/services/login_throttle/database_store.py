"""Failed-login counters in the metadata database (the default): every worker and node that shares
the database shares the counts. Expired rows are purged by the writes that add failures."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from moorage.metadata.database import Database
from moorage.metadata.queries import login_failures as q
from moorage.services.login_throttle.interface import FailureCount


class DatabaseFailureStore:
    """``FailureStore`` on the ``login_failures`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def counts(self, keys: Sequence[str], *, marker: str, now: float) -> tuple[dict[str, FailureCount], bool]:
        """The unexpired counters among ``keys`` and whether ``marker`` is set (one query)."""
        rows = await self.db.read(lambda conn: q.counts(conn, [*keys, marker], now=now))
        marked = marker in rows
        return {key: FailureCount(*rows[key]) for key in keys if key in rows and rows[key][0] > 0}, marked

    async def record(
        self, keys: Sequence[str], *, once: str, now: float, ttl: Sequence[float], once_ttl: float
    ) -> bool:
        """Count a failure under ``keys`` unless ``once`` was marked lately (one transaction)."""

        def work(conn: Connection) -> bool:
            q.purge_expired(conn, now=now)
            if not q.mark(conn, once, now=now, expires_at=now + once_ttl):
                return False
            for key, seconds in zip(keys, ttl, strict=True):
                q.add_failure(conn, key, now=now, expires_at=now + seconds)
            return True

        return await self.db.write(work)

    async def clear(self, key: str) -> None:
        """Forget one counter."""
        await self.db.write(lambda conn: q.clear(conn, key))
