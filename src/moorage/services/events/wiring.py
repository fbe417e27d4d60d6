"""The event services the handlers call, built once by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.auth.keys import MasterKey
from moorage.metadata.database import Database
from moorage.services.events.audit import AuditLog
from moorage.services.events.triggers import TriggerService
from moorage.services.events.webhooks import WebhookPolicyService
from moorage.services.security.remote_access import remote_access_of
from moorage.settings import Settings


@dataclass(frozen=True)
class EventServices:
    """What the handlers of the audit log, webhook policies and triggers call."""

    audit: AuditLog
    webhooks: WebhookPolicyService
    triggers: TriggerService


def build_event_services(settings: Settings, db: Database, master_key: MasterKey) -> EventServices:
    """The event services (no I/O); receivers are checked against the deployment's egress policy."""
    egress = remote_access_of(settings).egress
    return EventServices(
        audit=AuditLog(db),
        webhooks=WebhookPolicyService(db, master_key, egress=egress),
        triggers=TriggerService(db, master_key, egress=egress),
    )
