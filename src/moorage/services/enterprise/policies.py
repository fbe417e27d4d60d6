"""Image signature policies: per namespace, they select repositories and tags by doublestar
patterns, name a signing key, and run manually, on push (``event_based``) or on a schedule."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import Connection

from moorage.domain.cron import CronSchedule
from moorage.domain.enterprise import Page, PageRequest, PolicyChanges, SignPolicy, Trigger
from moorage.domain.errors import Conflict, Invalid, NotFound, QuotaExceeded
from moorage.domain.events import NewEvent, Operation, ResourceType, change_event
from moorage.domain.identity import Principal
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_instances as instances_q
from moorage.metadata.queries import enterprise_signing as q
from moorage.metadata.queries.policy_json import trigger_json
from moorage.services.enterprise.instances import SIGN_POLICY_QUOTA
from moorage.services.enterprise.namespaces import visible_namespace_ids
from moorage.services.enterprise.selectors import validate_rule
from moorage.services.events.recorder import record_events

_POLICY_NAME = re.compile(r"^[\w-]{1,256}$")
METHODS = ("KMS",)
TRIGGERS = ("manual", "event_based", "scheduled")
MAX_RULES = 20


def validate_trigger(trigger: Trigger) -> Trigger:
    """``Invalid`` unless the trigger type is known and a schedule has a valid cron."""
    if trigger.type not in TRIGGERS:
        raise Invalid(f"trigger type must be one of {', '.join(TRIGGERS)}, got {trigger.type!r}")
    if trigger.type == "scheduled":
        CronSchedule.parse(trigger.cron)
    return trigger


class SignPolicyService:
    """Create, list, show, update and delete signature policies."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _check(conn: Connection, instance_id: str, changes: PolicyChanges) -> None:
        if changes.name is not None and not _POLICY_NAME.fullmatch(changes.name):
            raise Invalid(f"invalid policy name {changes.name!r}: 1-256 letters, digits, '_' or '-'")
        if changes.signature_method is not None and changes.signature_method not in METHODS:
            raise Invalid(f"signature_method must be one of {', '.join(METHODS)} (keys held by moorage)")
        if changes.trigger is not None:
            validate_trigger(changes.trigger)
        if changes.scope_rules is not None:
            if not changes.scope_rules or len(changes.scope_rules) > MAX_RULES:
                raise Invalid(f"a policy needs 1-{MAX_RULES} scope rules")
            for rule in changes.scope_rules:
                validate_rule(rule)
        if changes.signature_key is not None:
            key = q.get_key(conn, instance_id, changes.signature_key)
            if key is None:
                raise NotFound(f"signing key {changes.signature_key!r} not found", reason="signing_key_not_found")
            if changes.signature_algorithm is not None and changes.signature_algorithm != key.algorithm:
                raise Invalid(
                    f"signature_algorithm {changes.signature_algorithm!r} does not match the key's {key.algorithm!r}"
                )

    async def create(
        self, principal: Principal, *, instance_id: str, namespace: str, changes: PolicyChanges
    ) -> SignPolicy:
        """A new policy of a namespace."""
        if changes.name is None or changes.signature_key is None or not changes.scope_rules:
            raise Invalid("name, signature_key and scope_rules are required")

        def work(conn: Connection) -> SignPolicy:
            found = instances_q.get_namespace(conn, instance_id, namespace)
            if found is None:
                raise NotFound(f"namespace {namespace!r} not found", reason="namespace_not_found")
            self._check(conn, instance_id, changes)
            key = q.get_key(conn, instance_id, str(changes.signature_key))
            assert key is not None
            if q.list_policies(conn, instance_id, namespace_ids=None, offset=0, limit=1).total >= SIGN_POLICY_QUOTA:
                raise QuotaExceeded(
                    f"the instance already has {SIGN_POLICY_QUOTA} signature policies", reason="sign_policy_quota"
                )
            created = q.create_policy(
                conn,
                instance_id=instance_id,
                namespace_id=found.id,
                name=str(changes.name),
                description=(changes.description or "")[:512],
                enabled=True if changes.enabled is None else changes.enabled,
                method=changes.signature_method or METHODS[0],
                algorithm=changes.signature_algorithm or key.algorithm,
                key_id=key.id,
                trigger=changes.trigger or Trigger("manual"),
                rules=list(changes.scope_rules or ()),
                creator=principal.user_name,
            )
            if created is None:
                raise Conflict(
                    f"a signature policy called {changes.name!r} already exists in {namespace!r}",
                    reason="sign_policy_exists",
                )
            record_events(conn, _changed(Operation.CREATE, instance_id, namespace, created.id, created.name))
            return created

        return await self.db.write(work)

    async def get(self, *, instance_id: str, namespace: str, policy_id: int) -> SignPolicy:
        """A policy of a namespace."""

        def work(conn: Connection) -> SignPolicy:
            found = instances_q.get_namespace(conn, instance_id, namespace)
            policy = q.get_policy(conn, found.id, policy_id) if found else None
            if policy is None:
                raise NotFound(
                    f"signature policy {policy_id} not found in {namespace!r}", reason="sign_policy_not_found"
                )
            return policy

        return await self.db.read(work)

    async def list_policies(
        self, principal: Principal, *, instance_id: str, namespace: str | None, page: PageRequest
    ) -> Page[SignPolicy]:
        """Policies of a namespace, or of every namespace of the instance the principal may see."""

        def work(conn: Connection) -> Page[SignPolicy]:
            wanted = visible_namespace_ids(conn, principal, instance_id)
            if namespace is not None:
                found = instances_q.get_namespace(conn, instance_id, namespace)
                if found is None:
                    raise NotFound(f"namespace {namespace!r} not found", reason="namespace_not_found")
                wanted = {found.id}
            return q.list_policies(conn, instance_id, namespace_ids=wanted, offset=page.offset, limit=page.limit)

        return await self.db.read(work)

    async def update(self, *, instance_id: str, namespace: str, policy_id: int, changes: PolicyChanges) -> None:
        """Change the given fields of a policy."""
        current = await self.get(instance_id=instance_id, namespace=namespace, policy_id=policy_id)

        def work(conn: Connection) -> None:
            key_id = changes.signature_key or current.signature_key
            check = PolicyChanges(
                changes.name,
                changes.description,
                changes.enabled,
                changes.signature_method,
                changes.signature_algorithm,
                key_id,
                changes.trigger,
                changes.scope_rules,
            )
            self._check(conn, instance_id, check)
            values: dict[str, Any] = {}
            if changes.name is not None and changes.name != current.name:
                if q.policy_name_taken(conn, current.namespace_id, changes.name, other_than=policy_id):
                    raise Conflict(
                        f"a signature policy called {changes.name!r} already exists", reason="sign_policy_exists"
                    )
                values["name"] = changes.name
            for column, value in (
                ("description", changes.description),
                ("enabled", changes.enabled),
                ("signature_method", changes.signature_method),
                ("signature_algorithm", changes.signature_algorithm),
                ("signature_key", changes.signature_key),
            ):
                if value is not None:
                    values[column] = value
            if changes.trigger is not None:
                values["trigger"] = trigger_json(changes.trigger)
            if changes.scope_rules is not None:
                values["scope_rules"] = q.rules_json(changes.scope_rules)
            if values:
                q.update_policy(conn, policy_id, values)
            record_events(conn, _changed(Operation.UPDATE, instance_id, namespace, policy_id, current.name))

        await self.db.write(work)

    async def delete(self, *, instance_id: str, namespace: str, policy_id: int) -> None:
        """Delete a policy with its executions (a running one stops at its next step)."""
        current = await self.get(instance_id=instance_id, namespace=namespace, policy_id=policy_id)

        def work(conn: Connection) -> None:
            q.delete_policy(conn, policy_id)
            record_events(conn, _changed(Operation.DELETE, instance_id, namespace, policy_id, current.name))

        await self.db.write(work)


def _changed(operation: Operation, instance_id: str, namespace: str, policy_id: int, name: str) -> NewEvent:
    """The event of a signature policy created, changed or deleted."""
    return change_event(
        operation,
        ResourceType.SIGNATURE_POLICY,
        instance_id=instance_id,
        resource=f"{namespace}/{name}",
        namespace=namespace,
        detail={"policy_id": policy_id},
    )
