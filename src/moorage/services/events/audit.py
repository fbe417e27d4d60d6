"""The audit log: an Enterprise Edition instance's (SWR's ``ListAuditLogs``: the instance's events,
newest first, optionally of one operation, in the instance API's pages), and the operator's search
over every event (``moorage audit``: the shared edition's and the accounts' too, which no SWR
operation reads)."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.enterprise import Page, PageRequest
from moorage.domain.errors import Invalid
from moorage.domain.events import Event, Operation, ResourceType
from moorage.metadata.database import Database
from moorage.metadata.queries import events as q

MAX_SEARCH = 10_000
"""Events one search returns at most."""


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """What ``AuditLog.search`` looks for (None: anything)."""

    instance_id: str | None = None
    operation: str | None = None
    resource_type: str | None = None
    actor_name: str | None = None
    domain_id: str | None = None
    since: int | None = None
    """Epoch milliseconds."""
    limit: int = 100


def _check_operation(operation: str | None) -> None:
    if operation and operation not in {str(o) for o in Operation}:
        raise Invalid(f"operation must be one of {', '.join(Operation)}, got {operation[:32]!r}")


def _check_resource_type(resource_type: str | None) -> None:
    if resource_type and resource_type not in {str(t) for t in ResourceType}:
        raise Invalid(f"resource type must be one of {', '.join(ResourceType)}, got {resource_type[:32]!r}")


class AuditLog:
    """Reads the events of an instance as audit records."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self,
        *,
        instance_id: str,
        operation: str | None,
        page: PageRequest,
        resource_type: str | None = None,
        actor_name: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> Page[Event]:
        """One page of the instance's audit records (``operation``: one of ``Operation``'s values).
        ``ListAuditLogs`` filters by operation only; the console also by resource type, user name
        and time (``since`` inclusive, ``until`` exclusive, epoch milliseconds)."""
        _check_operation(operation)
        _check_resource_type(resource_type)
        if actor_name is not None and len(actor_name) > 255:
            raise Invalid("user name longer than 255 characters")
        return await self.db.read(
            lambda conn: q.audit_page(
                conn,
                instance_id,
                operation=operation or None,
                offset=page.offset,
                limit=page.limit,
                resource_type=resource_type or None,
                actor_name=actor_name or None,
                since=since,
                until=until,
            ),
            heavy=True,
        )

    async def search(self, query: AuditQuery) -> list[Event]:
        """Events matching ``query``, newest first (the operator's view: no account boundary)."""
        _check_operation(query.operation)
        _check_resource_type(query.resource_type)
        if not 1 <= query.limit <= MAX_SEARCH:
            raise Invalid(f"limit must be 1 to {MAX_SEARCH}")
        return await self.db.read(
            lambda conn: q.search(
                conn,
                instance_id=query.instance_id,
                operation=query.operation or None,
                resource_type=query.resource_type or None,
                actor_name=query.actor_name,
                domain_id=query.domain_id,
                since=query.since,
                limit=query.limit,
            ),
            heavy=True,
        )
