"""``system_facts``: values set once by the first start, read by every later one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from moorage.metadata.database import now_ms
from moorage.metadata.tables import system_facts
from moorage.metadata.upsert import insert_ignore


def settle(conn: Connection, name: str, value: str) -> str:
    """The fact's value: the one stored, or ``value`` stored now when there is none (the first writer
    of concurrent starts wins; the others read its value)."""
    insert_ignore(conn, system_facts, {"name": name, "value": value, "created_at": now_ms()}, conflict=("name",))
    stored = conn.execute(select(system_facts.c.value).where(system_facts.c.name == name)).scalar_one()
    return str(stored)
