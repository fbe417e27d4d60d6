"""Replication policies of an Enterprise Edition instance (``CreateInstanceReplicationPolicy`` and
its siblings). A policy copies what its filters select from this instance to a registry
(push-based) or from a registry to this instance (pull-based): exactly one side is a registry of the
instance (``src_registry``/``dest_registry`` absent or id 0: this instance).

Checked on create and update (``Invalid``, 400, nothing stored): name (1-256 letters, digits, ``_``,
``-``; unique in the instance), filters (``name``/``tag`` doublestar patterns, ``label``), trigger
(``manual``; ``scheduled`` with a six-field UTC cron; ``event_based`` for push-based policies only),
``dest_namespace_replace_count`` (-1 flatten all, 0 none, 1-3 levels), ``speed`` (KiB/s, -1 none).
"""

from __future__ import annotations

import re
from typing import TypeVar

from sqlalchemy.engine import Connection

from moorage.domain.cron import CronSchedule
from moorage.domain.enterprise import Page, PageRequest, Trigger
from moorage.domain.errors import Conflict, Invalid, NotFound
from moorage.domain.events import NewEvent, Operation, ResourceType
from moorage.domain.replication import (
    FLATTEN_ALL,
    MAX_FLATTENING,
    TRIGGER_TYPES,
    PolicyChanges,
    ReplicationPolicy,
)
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_instances as instances_q
from moorage.metadata.queries import replication as q
from moorage.services.enterprise.replication.registries import order
from moorage.services.events.recorder import record_events

POLICY_NAME = re.compile(r"^[\w-]{1,256}$")
NAMESPACE_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
MAX_FILTERS = 10
SCOPE_MODES = ("regular", "selection")


T = TypeVar("T")


def pick(new: T | None, old: T) -> T:
    """A changed field: the new value when given, else the old one."""
    return old if new is None else new


def check_trigger(trigger: Trigger, *, push_based: bool) -> Trigger:
    """``Invalid`` unless the trigger is one a replication policy takes (a cron only when scheduled)."""
    if trigger.type not in TRIGGER_TYPES:
        raise Invalid(f"trigger type must be one of {', '.join(TRIGGER_TYPES)}, got {trigger.type[:32]!r}")
    if trigger.type == "scheduled":
        CronSchedule.parse(trigger.cron)
        return trigger
    if trigger.type == "event_based" and not push_based:
        raise Invalid("an event_based trigger needs a push-based policy (src_registry is this instance)")
    return Trigger(trigger.type)


def _event(instance_id: str, operation: Operation, policy_name: str) -> NewEvent:
    return NewEvent(operation, ResourceType.REPLICATION_POLICY, instance_id, policy_name)


class ReplicationPolicyService:
    """The policy operations of the instance API."""

    def __init__(self, db: Database, *, max_policies: int = 100) -> None:
        self.db = db
        self.max_policies = max_policies

    @staticmethod
    def _checked(conn: Connection, instance_id: str, policy: ReplicationPolicy) -> ReplicationPolicy:
        """``policy`` if it is whole and consistent (its registries belong to the instance)."""
        if not POLICY_NAME.fullmatch(policy.name):
            raise Invalid("name must have 1-256 letters, digits, '_' or '-'")
        if (policy.src_registry_id is None) == (policy.dest_registry_id is None):
            raise Invalid("exactly one of src_registry and dest_registry must be a registry (the other this instance)")
        for registry_id in (policy.src_registry_id, policy.dest_registry_id):
            if registry_id is not None and q.get_registry(conn, instance_id, registry_id) is None:
                raise NotFound(f"replication registry {registry_id} not found", reason="registry_not_found")
        if len(policy.filters) > MAX_FILTERS:
            raise Invalid(f"a policy has at most {MAX_FILTERS} filters")
        if policy.repo_scope_mode not in SCOPE_MODES:
            raise Invalid("repo_scope_mode must be regular or selection")
        if policy.dest_namespace and not NAMESPACE_NAME.fullmatch(policy.dest_namespace):
            raise Invalid(f"dest_namespace {policy.dest_namespace[:64]!r} is not a repository path")
        if not FLATTEN_ALL <= policy.dest_namespace_replace_count <= MAX_FLATTENING:
            raise Invalid(f"dest_namespace_replace_count must be from -1 to {MAX_FLATTENING}")
        if policy.speed_kb == 0 or policy.speed_kb < -1:
            raise Invalid("speed must be -1 (no limit) or a positive number of KiB/s")
        check_trigger(policy.trigger, push_based=policy.push_based)
        return policy

    @staticmethod
    def _merge(current: ReplicationPolicy, changes: PolicyChanges) -> ReplicationPolicy:
        return ReplicationPolicy(
            current.id,
            current.instance_id,
            pick(changes.name, current.name),
            pick(changes.description, current.description)[:1024],
            changes.src_registry_id if changes.src_given else current.src_registry_id,
            changes.dest_registry_id if changes.dest_given else current.dest_registry_id,
            pick(changes.dest_namespace, current.dest_namespace),
            pick(changes.dest_namespace_replace_count, current.dest_namespace_replace_count),
            pick(changes.filters, current.filters),
            pick(changes.repo_scope_mode, current.repo_scope_mode),
            (
                Trigger(changes.trigger.type, changes.trigger.cron if changes.trigger.type == "scheduled" else "")
                if changes.trigger is not None
                else current.trigger
            ),
            pick(changes.override, current.override),
            pick(changes.enabled, current.enabled),
            pick(changes.replicate_deletion, current.replicate_deletion),
            pick(changes.speed_kb, current.speed_kb),
            pick(changes.copy_by_chunk, current.copy_by_chunk),
            current.created_at,
            current.updated_at,
        )

    async def create(self, *, instance_id: str, changes: PolicyChanges) -> int:
        """A new policy; its id."""
        if changes.name is None:
            raise Invalid("name is required")
        blank = ReplicationPolicy(
            0, instance_id, "", "", None, None, "", FLATTEN_ALL, (), "regular", Trigger("manual"),
            False, False, False, -1, False, 0, 0,
        )  # fmt: skip
        wanted = self._merge(blank, changes)

        def work(conn: Connection) -> int:
            if instances_q.get_instance(conn, instance_id) is None:
                raise NotFound(f"instance {instance_id!r} not found", reason="instance_not_found")
            policy = self._checked(conn, instance_id, wanted)
            if q.policy_name_taken(conn, instance_id, policy.name, other_than=None):
                raise Conflict(f"a replication policy named {policy.name!r} exists", reason="policy_exists")
            if q.count_policies(conn, instance_id) >= self.max_policies:
                raise Invalid(f"an instance has at most {self.max_policies} replication policies")
            created = q.create_policy(conn, instance_id=instance_id, values=q.policy_values(policy))
            record_events(conn, _event(instance_id, Operation.CREATE, policy.name))
            return created

        return await self.db.write(work)

    async def get(self, *, instance_id: str, policy_id: int) -> ReplicationPolicy:
        """A policy of an instance."""
        found = await self.db.read(lambda conn: q.get_policy(conn, instance_id, policy_id))
        if found is None:
            raise NotFound(f"replication policy {policy_id} not found", reason="policy_not_found")
        return found

    async def list_policies(
        self,
        *,
        instance_id: str,
        name: str | None,
        registry_id: int | None,
        order_column: str | None,
        order_type: str | None,
        page: PageRequest,
    ) -> Page[ReplicationPolicy]:
        """Policies of an instance (of a name, of a registry)."""
        column, descending = order(order_column, order_type)
        return await self.db.read(
            lambda conn: q.list_policies(
                conn,
                instance_id,
                name=name or None,
                registry_id=registry_id,
                order_column=column,
                descending=descending,
                offset=page.offset,
                limit=page.limit,
            )
        )

    async def update(self, *, instance_id: str, policy_id: int, changes: PolicyChanges) -> None:
        """Change the fields given (filters as a whole)."""

        def work(conn: Connection) -> None:
            current = q.get_policy(conn, instance_id, policy_id)
            if current is None:
                raise NotFound(f"replication policy {policy_id} not found", reason="policy_not_found")
            policy = self._checked(conn, instance_id, self._merge(current, changes))
            if q.policy_name_taken(conn, instance_id, policy.name, other_than=policy_id):
                raise Conflict(f"a replication policy named {policy.name!r} exists", reason="policy_exists")
            q.update_policy(conn, policy_id, q.policy_values(policy))
            record_events(conn, _event(instance_id, Operation.UPDATE, policy.name))

        await self.db.write(work)

    async def delete(self, *, instance_id: str, policy_id: int) -> None:
        """Delete a policy with its executions (a running one stops at its next artifact)."""

        def work(conn: Connection) -> None:
            current = q.get_policy(conn, instance_id, policy_id)
            if current is None:
                raise NotFound(f"replication policy {policy_id} not found", reason="policy_not_found")
            q.delete_policy(conn, policy_id)
            record_events(conn, _event(instance_id, Operation.DELETE, current.name))

        await self.db.write(work)
