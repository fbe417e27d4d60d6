"""Enterprise Edition retention policies (SWR ``CreateInstanceRetentionPolicy`` and its siblings):
create, list, show, update, delete. What a run does is in ``runner.py``; the rules' meaning and
their checks in ``rules.py``.

A policy has a name (1-256 letters, digits, ``_`` or ``-``; unique in its namespace), the algorithm
``or``, 1-15 rules and a trigger: ``manual`` or ``scheduled`` (a six-field UTC cron, checked; a
scheduled policy runs manually too). A namespace holds at most ``MAX_POLICIES_PER_NAMESPACE``
policies. A request that breaks any of this is refused (``Invalid``, 400) and nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from moorage.domain.cron import CronSchedule
from moorage.domain.enterprise import Page, PageRequest, Trigger
from moorage.domain.errors import Conflict, Invalid, NotFound, QuotaExceeded
from moorage.domain.events import NewEvent, Operation, ResourceType, change_event
from moorage.domain.identity import Principal
from moorage.domain.retention import ALGORITHM, PolicyRule, RetentionPolicy
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_instances as instances_q
from moorage.metadata.queries import retention_policies as q
from moorage.services.enterprise.namespaces import visible_namespace_ids
from moorage.services.events.recorder import record_events
from moorage.services.retention.rules import RuleFields, check_policy_rules, policy_rule

POLICY_NAME = re.compile(r"^[\w-]{1,256}$")
TRIGGERS = ("manual", "scheduled")
MAX_POLICIES_PER_NAMESPACE = 10


@dataclass(frozen=True, slots=True)
class PolicyChanges:
    """What a create or update request says (None: not given; required on create for ``name`` and
    ``rules``, unchanged on update); the rules as they came, checked by the service."""

    name: str | None = None
    algorithm: str | None = None
    enabled: bool | None = None
    trigger: Trigger | None = None
    rules: Sequence[RuleFields] | None = None

    def checked_rules(self) -> tuple[PolicyRule, ...] | None:
        """The rules checked (``Invalid`` names the first problem); their ids are their positions."""
        if self.rules is None:
            return None
        return tuple(policy_rule(fields, position) for position, fields in enumerate(self.rules, start=1))


def check_trigger(trigger: Trigger) -> Trigger:
    """``Invalid`` unless the trigger is ``manual`` or ``scheduled`` with a valid cron (a manual
    trigger's cron is dropped)."""
    if trigger.type not in TRIGGERS:
        raise Invalid(f"a retention policy's trigger type must be manual or scheduled, got {trigger.type[:32]!r}")
    if trigger.type == "scheduled":
        CronSchedule.parse(trigger.cron)
        return trigger
    return Trigger(trigger.type)


def _check_name(name: str) -> str:
    if not POLICY_NAME.fullmatch(name):
        raise Invalid(f"invalid policy name {name[:64]!r}: 1-256 letters, digits, '_' or '-'")
    return name


class RetentionPolicyService:
    """The retention policy operations of the instance API."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _namespace_id(conn: Connection, instance_id: str, namespace: str) -> int:
        found = instances_q.get_namespace(conn, instance_id, namespace)
        if found is None:
            raise NotFound(f"namespace {namespace!r} not found", reason="namespace_not_found")
        return found.id

    @staticmethod
    def _policy(conn: Connection, namespace_id: int, namespace: str, policy_id: int) -> RetentionPolicy:
        found = q.get_policy(conn, namespace_id, policy_id)
        if found is None:
            raise NotFound(
                f"retention policy {policy_id} not found in namespace {namespace!r}",
                reason="retention_policy_not_found",
            )
        return found

    async def create(self, *, instance_id: str, namespace: str, changes: PolicyChanges) -> int:
        """A new policy of a namespace; its id."""
        if changes.name is None or changes.rules is None:
            raise Invalid("name and rules are required")
        name = _check_name(changes.name)
        algorithm = changes.algorithm or ALGORITHM
        rules = changes.checked_rules() or ()
        check_policy_rules(algorithm, rules)
        trigger = check_trigger(changes.trigger or Trigger("manual"))

        def work(conn: Connection) -> int:
            namespace_id = self._namespace_id(conn, instance_id, namespace)
            if q.policies_of_namespace(conn, namespace_id) >= MAX_POLICIES_PER_NAMESPACE:
                raise QuotaExceeded(
                    f"namespace {namespace!r} already has {MAX_POLICIES_PER_NAMESPACE} retention policies",
                    reason="retention_policy_quota",
                )
            created = q.create_policy(
                conn,
                instance_id=instance_id,
                namespace_id=namespace_id,
                name=name,
                algorithm=algorithm,
                enabled=True if changes.enabled is None else changes.enabled,
                trigger=trigger,
                rules=rules,
            )
            if created is None:
                raise Conflict(
                    f"a retention policy called {name!r} already exists in {namespace!r}",
                    reason="retention_policy_exists",
                )
            record_events(conn, _changed(Operation.CREATE, instance_id, namespace, created))
            return created

        return await self.db.write(work)

    async def get(self, *, instance_id: str, namespace: str, policy_id: int) -> RetentionPolicy:
        """A policy of a namespace."""

        def work(conn: Connection) -> RetentionPolicy:
            return self._policy(conn, self._namespace_id(conn, instance_id, namespace), namespace, policy_id)

        return await self.db.read(work)

    async def list_policies(
        self, principal: Principal, *, instance_id: str, namespace_id: int | None, name: str | None, page: PageRequest
    ) -> Page[RetentionPolicy]:
        """Policies of the namespaces of the instance the principal may see (of one namespace, of one name)."""

        def work(conn: Connection) -> Page[RetentionPolicy]:
            wanted = visible_namespace_ids(conn, principal, instance_id)
            if namespace_id is not None:
                wanted = {namespace_id} if wanted is None or namespace_id in wanted else set()
            return q.list_policies(
                conn, instance_id, namespace_ids=wanted, name=name or None, offset=page.offset, limit=page.limit
            )

        return await self.db.read(work)

    async def update(self, *, instance_id: str, namespace: str, policy_id: int, changes: PolicyChanges) -> None:
        """Change the fields given (the rules are replaced as a whole)."""
        name = _check_name(changes.name) if changes.name is not None else None
        trigger = check_trigger(changes.trigger) if changes.trigger is not None else None
        new_rules = changes.checked_rules()

        def work(conn: Connection) -> None:
            namespace_id = self._namespace_id(conn, instance_id, namespace)
            current = self._policy(conn, namespace_id, namespace, policy_id)
            algorithm = changes.algorithm if changes.algorithm is not None else current.algorithm
            rules = new_rules if new_rules is not None else current.rules
            check_policy_rules(algorithm, rules)
            new_name = name if name is not None else current.name
            if q.policy_name_taken(conn, namespace_id, new_name, other_than=policy_id):
                raise Conflict(
                    f"a retention policy called {new_name!r} already exists in {namespace!r}",
                    reason="retention_policy_exists",
                )
            q.update_policy(
                conn,
                policy_id,
                name=new_name,
                algorithm=algorithm,
                enabled=changes.enabled if changes.enabled is not None else current.enabled,
                trigger=trigger if trigger is not None else current.trigger,
                rules=rules,
            )
            record_events(conn, _changed(Operation.UPDATE, instance_id, namespace, policy_id))

        await self.db.write(work)

    async def delete(self, *, instance_id: str, namespace: str, policy_id: int) -> None:
        """Delete a policy with its executions (a running one stops at its next step)."""

        def work(conn: Connection) -> None:
            namespace_id = self._namespace_id(conn, instance_id, namespace)
            self._policy(conn, namespace_id, namespace, policy_id)
            q.delete_policy(conn, policy_id)
            record_events(conn, _changed(Operation.DELETE, instance_id, namespace, policy_id))

        await self.db.write(work)


def _changed(operation: Operation, instance_id: str, namespace: str, policy_id: int) -> NewEvent:
    """The event of a retention policy created, changed or deleted."""
    return change_event(
        operation,
        ResourceType.RETENTION_POLICY,
        instance_id=instance_id,
        resource=f"{namespace}/{policy_id}",
        namespace=namespace,
    )
