"""Report export tasks (``security_exports``): a task row per export, holding, once done, the
report's table (zlib-compressed JSON) that the download renders as CSV or HTML."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from moorage.domain.security_tasks import ExportTask
from moorage.metadata.database import now_ms
from moorage.metadata.tables import security_exports as t


def create(
    conn: Connection, *, task_id: str, domain_id: str, kind: str, file_format: str, file_name: str, content: bytes
) -> None:
    """Record a finished export."""
    now = now_ms()
    conn.execute(
        t.insert().values(
            id=task_id,
            domain_id=domain_id,
            kind=kind[:32],
            file_format=file_format[:8],
            status="success",
            file_name=file_name[:255],
            content=content,
            created_at=now,
            finished_at=now,
        )
    )


def get(conn: Connection, domain_id: str, task_id: str) -> ExportTask | None:
    """One export task of an account."""
    r = conn.execute(select(t).where(t.c.domain_id == domain_id, t.c.id == task_id)).first()
    if r is None:
        return None
    return ExportTask(
        str(r.id),
        str(r.domain_id),
        str(r.kind),
        str(r.file_format),
        str(r.status),
        str(r.file_name),
        None if r.content is None else bytes(r.content),
        int(r.created_at),
        int(r.finished_at),
    )


def count(conn: Connection, domain_id: str) -> int:
    """How many export tasks an account has."""
    return int(conn.execute(select(func.count()).select_from(t).where(t.c.domain_id == domain_id)).scalar_one())
