"""Signatures of accepted SDK-signed requests (the replay record every node shares)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from moorage.metadata.tables import seen_signatures
from moorage.metadata.upsert import insert_ignore


def claim(conn: Connection, signature: str, *, now: int, expires_at: int) -> int | None:
    """Record the first use of ``signature`` (times in epoch milliseconds) and forget the expired
    ones; None when this is its first use, else when it was first used."""
    conn.execute(delete(seen_signatures).where(seen_signatures.c.expires_at < now))
    if insert_ignore(
        conn,
        seen_signatures,
        {"signature": signature, "first_seen_at": now, "expires_at": expires_at},
        conflict=["signature"],
    ):
        return None
    first = conn.execute(
        select(seen_signatures.c.first_seen_at).where(seen_signatures.c.signature == signature)
    ).scalar_one_or_none()
    return now if first is None else int(first)
