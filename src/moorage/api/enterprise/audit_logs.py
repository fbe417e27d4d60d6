"""The audit log of an instance (``ListAuditLogs``): every event recorded for it, newest first,
optionally of one ``operation`` (``create``, ``update``, ``delete``, ``pull``, ``scan``, ``login``),
in the instance API's pages. Domain administrators only: it names every user and address."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from moorage.api.deps import ServicesDep, authorize
from moorage.api.enterprise.common import INSTANCE, page
from moorage.api.enterprise.schemas_events import AuditLogList, AuditLogView
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_ADMIN, access_rules

AUDIT_LOGS = INSTANCE + "/audit-logs"

router = APIRouter(
    tags=["Enterprise Edition audit logs"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

ACCESS_RULES = access_rules(
    {
        ("GET", AUDIT_LOGS): INSTANCE_ADMIN,
    }
)


@router.get(AUDIT_LOGS, response_model=AuditLogList)
async def list_audit_logs(
    instance_id: str,
    services: ServicesDep,
    operation: str | None = Query(default=None, max_length=32),
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> AuditLogList:
    """The instance's audit records, newest first."""
    found = await services.events.audit.page(instance_id=instance_id, operation=operation, page=page(offset, limit))
    return AuditLogList(audit_logs=[AuditLogView.of(e) for e in found.items], total=found.total)
