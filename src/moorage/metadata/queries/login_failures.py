"""Failed-login counters and repeat markers (``login_failures``): small rows with an expiry, shared by
every node that shares the database. Keys are opaque digests made by the login throttle; times are
epoch milliseconds in the table and epoch seconds (float) in these functions' arguments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from moorage.metadata.tables import login_failures

MARKER = -1
"""``failures`` of a repeat marker row (a marker is never read as a counter)."""


def _insert(conn: Connection) -> postgresql.Insert | sqlite.Insert:
    return postgresql.insert(login_failures) if conn.dialect.name == "postgresql" else sqlite.insert(login_failures)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


_COUNTS = select(login_failures.c.key, login_failures.c.failures, login_failures.c.last_failure_ms).where(
    login_failures.c.key.in_(bindparam("keys", expanding=True)), login_failures.c.expires_at_ms >= bindparam("now")
)
"""Built once: every login attempt runs it, and building the statement would cost more than running it."""


def counts(conn: Connection, keys: Sequence[str], *, now: float) -> dict[str, tuple[int, float]]:
    """``key -> (failures, last failure in epoch seconds)`` of the unexpired rows among ``keys``
    (a marker's ``failures`` is ``MARKER``)."""
    rows = conn.execute(_COUNTS, {"keys": list(keys), "now": _ms(now)})
    return {str(row[0]): (int(row[1]), int(row[2]) / 1000) for row in rows}


def add_failure(conn: Connection, key: str, *, now: float, expires_at: float) -> None:
    """One more failure under ``key`` (an expired counter starts again at one)."""
    table = login_failures
    stmt = _insert(conn).values(key=key, failures=1, last_failure_ms=_ms(now), expires_at_ms=_ms(expires_at))
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case((table.c.expires_at_ms < _ms(now), 1), else_=table.c.failures + 1),
                "last_failure_ms": stmt.excluded.last_failure_ms,
                "expires_at_ms": stmt.excluded.expires_at_ms,
            },
        )
    )


def mark(conn: Connection, key: str, *, now: float, expires_at: float) -> bool:
    """Set the marker ``key`` until ``expires_at``; False (and nothing changed) when an unexpired one
    is already there."""
    table = login_failures
    stmt = _insert(conn).values(key=key, failures=MARKER, last_failure_ms=_ms(now), expires_at_ms=_ms(expires_at))
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"last_failure_ms": stmt.excluded.last_failure_ms, "expires_at_ms": stmt.excluded.expires_at_ms},
        where=table.c.expires_at_ms < _ms(now),
    )
    return conn.execute(stmt.returning(table.c.key)).first() is not None


def clear(conn: Connection, key: str) -> None:
    """Forget a counter."""
    conn.execute(delete(login_failures).where(login_failures.c.key == key))


def purge_expired(conn: Connection, *, now: float) -> None:
    """Drop rows whose time is over (indexed on ``expires_at_ms``)."""
    conn.execute(delete(login_failures).where(login_failures.c.expires_at_ms < _ms(now)))
