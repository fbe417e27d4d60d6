"""Triggers of repositories (SWR's ``CreateTrigger``, ``ListTriggersDetails``, ``ShowTrigger``,
``UpdateTrigger``, ``DeleteTrigger``).

A trigger reacts to pushes and re-tags of the repository's tags it selects (all, a tag list, or an
RE2 regular expression). The ``cce`` and ``cci`` kinds (update a Huawei Cloud workload) are stored and
each match is recorded in the trigger's history as not executed; moorage's ``webhook`` kind calls an
HTTP(S) target with the Harbor payload of the push, signed like a webhook policy's deliveries. The
history is the trigger's deliveries (``webhook_deliveries``), newest first.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey
from moorage.clients.egress import EgressPolicy
from moorage.domain.errors import Conflict, Invalid, NotFound
from moorage.domain.events import NewEvent, Operation, ResourceType, change_event
from moorage.domain.identity import Principal
from moorage.domain.names import RepositoryName
from moorage.domain.registry import Repository
from moorage.domain.triggers import Trigger, TriggerMode, TriggerType, check_condition, check_name
from moorage.domain.webhooks import Delivery, WebhookTarget, check_target
from moorage.metadata.database import Database
from moorage.metadata.queries import repositories as repo_q
from moorage.metadata.queries import triggers as q
from moorage.metadata.queries import webhooks as deliveries_q
from moorage.services.events.recorder import record_events
from moorage.services.events.webhooks import check_reachable, check_secret, seal_secret

MAX_TRIGGERS_PER_REPOSITORY = 20
HISTORY = 100
"""Deliveries a trigger's answer lists at most."""
APP_TYPES = ("deployments", "statefulsets")
MAX_FIELD = 255


@dataclass(frozen=True, slots=True)
class TriggerFields:
    """A create request: the SDK's ``CreateTriggerRequestBody``, plus moorage's ``webhook`` target
    and optional signing ``secret`` for the ``webhook`` kind."""

    name: str
    mode: str
    trigger_type: str
    condition: str
    enabled: bool
    action: str = "update"
    app_type: str = ""
    application: str = ""
    cluster_id: str = ""
    cluster_name: str = ""
    cluster_ns: str = ""
    container: str = ""
    webhook: WebhookTarget | None = None
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class TriggerView:
    """A trigger with its newest deliveries."""

    trigger: Trigger
    history: list[Delivery]


def parse_enable(value: str | None, *, default: bool | None = None) -> bool:
    """SWR's ``enable``: the strings ``true`` or ``false``."""
    if value is None or value == "":
        if default is None:
            raise Invalid("enable is required: true or false")
        return default
    if value.lower() not in ("true", "false"):
        raise Invalid(f"enable must be true or false, got {value[:16]!r}")
    return value.lower() == "true"


def _check(fields: TriggerFields, egress: EgressPolicy) -> tuple[TriggerMode, TriggerType, str]:
    """The request's fields validated (``Invalid`` names the first problem)."""
    check_name(fields.name)
    try:
        mode = TriggerMode(fields.mode or "cce")
    except ValueError:
        raise Invalid(f"trigger_mode must be one of {', '.join(TriggerMode)}, got {fields.mode[:32]!r}") from None
    try:
        trigger_type = TriggerType(fields.trigger_type)
    except ValueError:
        raise Invalid(
            f"trigger_type must be one of {', '.join(TriggerType)}, got {fields.trigger_type[:32]!r}"
        ) from None
    condition = check_condition(trigger_type, fields.condition)
    for name, value in (
        ("action", fields.action),
        ("app_type", fields.app_type),
        ("application", fields.application),
        ("cluster_id", fields.cluster_id),
        ("cluster_name", fields.cluster_name),
        ("cluster_ns", fields.cluster_ns),
        ("container", fields.container),
    ):
        if len(value) > MAX_FIELD or any(ord(c) < 0x20 for c in value):
            raise Invalid(f"{name} must be at most {MAX_FIELD} printable characters")
    if fields.action not in ("", "update"):
        raise Invalid(f"action must be 'update', got {fields.action[:32]!r}")
    if mode.executed:
        if fields.webhook is None:
            raise Invalid(
                "a webhook trigger needs webhook.address (and optionally webhook.auth_header, webhook.skip_cert_verify)"
            )
        check_target(fields.webhook)
        check_reachable(egress, fields.webhook.address)
        check_secret(fields.secret)
    else:
        if fields.app_type not in APP_TYPES:
            raise Invalid(f"app_type must be one of {', '.join(APP_TYPES)}, got {fields.app_type[:32]!r}")
        if not fields.application or not fields.cluster_ns:
            raise Invalid("application and cluster_ns are required")
        if mode is TriggerMode.CCE and not (fields.cluster_id or fields.cluster_name):
            raise Invalid("a cce trigger needs cluster_id or cluster_name")
        if fields.webhook is not None or fields.secret is not None:
            raise Invalid("webhook and secret belong to the webhook trigger_mode only")
    return mode, trigger_type, condition


def _repository(conn: Connection, instance_id: str, name: RepositoryName) -> Repository:
    found = repo_q.get(conn, instance_id, name)
    if found is None:
        raise NotFound(f"repository {name} not found", reason="repository_not_found")
    return found


def _trigger(conn: Connection, repository: Repository, name: str) -> Trigger:
    found = q.get(conn, repository.id, name)
    if found is None:
        raise NotFound(f"trigger {name[:64]!r} not found in {repository.full_name}", reason="trigger_not_found")
    return found


def _changed(operation: Operation, repository: Repository, name: str, detail: dict[str, object]) -> NewEvent:
    return change_event(
        operation,
        ResourceType.TRIGGER,
        instance_id=repository.instance_id,
        resource=f"{repository.full_name}:{name}",
        namespace=repository.namespace,
        repository=repository.full_name,
        domain_id=repository.domain_id,
        detail=detail,
    )


class TriggerService:
    """The trigger operations of the shared edition's API."""

    def __init__(self, db: Database, master_key: MasterKey, *, egress: EgressPolicy) -> None:
        self.db = db
        self.master_key = master_key
        self.egress = egress

    async def create(
        self, principal: Principal, *, instance_id: str, name: RepositoryName, fields: TriggerFields
    ) -> tuple[Trigger, str | None]:
        """A new trigger; with the webhook kind's signing secret in clear (shown this once)."""
        mode, trigger_type, condition = _check(fields, self.egress)
        secret = (fields.secret or secrets.token_urlsafe(32)) if mode.executed else None
        target = fields.webhook if mode.executed else None
        values = {
            "name": fields.name,
            "mode": str(mode),
            "trigger_type": str(trigger_type),
            "condition": condition,
            "enabled": fields.enabled,
            "action": fields.action or "update",
            "app_type": fields.app_type,
            "application": fields.application,
            "cluster_id": fields.cluster_id,
            "cluster_name": fields.cluster_name,
            "cluster_ns": fields.cluster_ns,
            "container": fields.container,
            "creator_name": principal.user_name,
            "address": target.address if target else "",
            "auth_header": self.master_key.encrypt(target.auth_header, context=f"webhook-auth:{target.address}")
            if target and target.auth_header
            else "",
            "skip_cert_verify": bool(target and target.skip_cert_verify),
            "secret": seal_secret(self.master_key, secret) if secret else "",
        }

        def work(conn: Connection) -> Trigger:
            repository = _repository(conn, instance_id, name)
            if len(q.of_repository(conn, repository.id)) >= MAX_TRIGGERS_PER_REPOSITORY:
                raise Invalid(
                    f"repository {name} already has {MAX_TRIGGERS_PER_REPOSITORY} triggers", reason="trigger_quota"
                )
            if not q.create(conn, {"repository_id": repository.id, **values}):
                raise Conflict(f"a trigger called {fields.name!r} already exists in {name}", reason="trigger_exists")
            record_events(
                conn,
                _changed(
                    Operation.CREATE, repository, fields.name, {"trigger_mode": str(mode), "executed": mode.executed}
                ),
            )
            return _trigger(conn, repository, fields.name)

        return await self.db.write(work), secret

    async def list_triggers(self, *, instance_id: str, name: RepositoryName) -> list[TriggerView]:
        """A repository's triggers with their newest deliveries."""

        def work(conn: Connection) -> list[TriggerView]:
            repository = _repository(conn, instance_id, name)
            return [
                TriggerView(
                    t, deliveries_q.deliveries_page(conn, trigger_id=t.id, status=None, offset=0, limit=HISTORY).items
                )
                for t in q.of_repository(conn, repository.id)
            ]

        return await self.db.read(work)

    async def show(self, *, instance_id: str, name: RepositoryName, trigger: str) -> TriggerView:
        """One trigger with its newest deliveries."""

        def work(conn: Connection) -> TriggerView:
            found = _trigger(conn, _repository(conn, instance_id, name), trigger)
            return TriggerView(
                found,
                deliveries_q.deliveries_page(conn, trigger_id=found.id, status=None, offset=0, limit=HISTORY).items,
            )

        return await self.db.read(work)

    async def update(self, *, instance_id: str, name: RepositoryName, trigger: str, enabled: bool) -> None:
        """Turn a trigger on or off (what SWR's ``UpdateTrigger`` changes)."""

        def work(conn: Connection) -> None:
            repository = _repository(conn, instance_id, name)
            found = _trigger(conn, repository, trigger)
            q.set_enabled(conn, found.id, enabled)
            record_events(conn, _changed(Operation.UPDATE, repository, trigger, {"enabled": enabled}))

        await self.db.write(work)

    async def delete(self, *, instance_id: str, name: RepositoryName, trigger: str) -> None:
        """Delete a trigger with its history."""

        def work(conn: Connection) -> None:
            repository = _repository(conn, instance_id, name)
            found = _trigger(conn, repository, trigger)
            q.remove(conn, found.id)
            record_events(conn, _changed(Operation.DELETE, repository, trigger, {}))

        await self.db.write(work)
