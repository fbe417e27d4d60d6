"""The audit log of an Enterprise Edition instance (SWR's ``ListAuditLogs``): the instance's events,
newest first, optionally of one operation, in the instance API's pages."""

from __future__ import annotations

from moorage.domain.enterprise import Page, PageRequest
from moorage.domain.errors import Invalid
from moorage.domain.events import Event, Operation
from moorage.metadata.database import Database
from moorage.metadata.queries import events as q


class AuditLog:
    """Reads the events of an instance as audit records."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(self, *, instance_id: str, operation: str | None, page: PageRequest) -> Page[Event]:
        """One page of the instance's audit records (``operation``: one of ``Operation``'s values)."""
        if operation is not None and operation != "" and operation not in {str(o) for o in Operation}:
            raise Invalid(f"operation must be one of {', '.join(Operation)}, got {operation[:32]!r}")
        return await self.db.read(
            lambda conn: q.audit_page(
                conn, instance_id, operation=operation or None, offset=page.offset, limit=page.limit
            ),
            heavy=True,
        )
