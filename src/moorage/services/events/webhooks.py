"""Webhook policies of Enterprise Edition namespaces (SWR's ``CreateInstanceWebhook`` and its siblings)
and the deliveries they made (``ListInstanceWebhookJobs``).

A policy has a name (unique in its namespace), event types (Harbor's), targets (HTTP(S) addresses
with an optional auth header and TLS verification skip) and optional scope rules (one doublestar
repository selector and one tag selector each, as the immutable tag rules). Auth headers and the
policy's signing secret are sealed with the master key; answers show ``******`` for an auth header,
and the signing secret only once, when the policy is created (or when an update sets a new one).
A request that breaks a rule is refused (``Invalid``, 400) and nothing is stored.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey
from moorage.clients.egress import EgressPolicy, parse_ip
from moorage.domain.enterprise import Page, PageRequest, ScopeRule, Selector
from moorage.domain.errors import Conflict, Invalid, NotFound, QuotaExceeded
from moorage.domain.events import NewEvent, Operation, ResourceType, change_event
from moorage.domain.identity import WRITE, Principal
from moorage.domain.webhooks import (
    MASK,
    MAX_TARGETS,
    Delivery,
    WebhookPolicy,
    WebhookTarget,
    check_event_types,
    check_name,
    check_target,
)
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_instances as instances_q
from moorage.metadata.queries import permissions as grants_q
from moorage.metadata.queries import webhooks as q
from moorage.services.enterprise.selectors import validate_rule
from moorage.services.events.recorder import record_events

MAX_POLICIES_PER_NAMESPACE = 20
MAX_DESCRIPTION = 1024
MIN_SECRET = 16
MAX_SECRET = 256
ORDER_COLUMNS = ("created_at", "updated_at", "name")
DELIVERY_STATUSES = ("Initialized", "Pending", "InProgress", "Succeed", "Failed", "Stopped")


@dataclass(frozen=True, slots=True)
class PolicyFields:
    """A create or update request (the SDK's ``Create``/``UpdateWebhookPolicyRequestBody``), plus
    moorage's optional ``secret`` (the HMAC key; generated on create when not given)."""

    name: str
    description: str
    targets: Sequence[WebhookTarget]
    event_types: Sequence[str]
    scope_rules: Sequence[ScopeRule]
    enabled: bool | None
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedPolicy:
    """A new policy and its signing secret in clear (shown this once)."""

    policy: WebhookPolicy
    secret: str


def seal_auth_header(master_key: MasterKey, target: WebhookTarget) -> WebhookTarget:
    """The target as stored: its auth header sealed, bound to its address."""
    if not target.auth_header:
        return target
    return replace(target, auth_header=master_key.encrypt(target.auth_header, context=f"webhook-auth:{target.address}"))


def open_auth_header(master_key: MasterKey, target: WebhookTarget) -> str:
    """A stored target's auth header in clear (only to send it)."""
    if not target.auth_header:
        return ""
    return master_key.decrypt(target.auth_header, context=f"webhook-auth:{target.address}")


def seal_secret(master_key: MasterKey, secret: str) -> str:
    """A signing secret as stored."""
    return master_key.encrypt(secret, context="webhook-secret")


def open_secret(master_key: MasterKey, sealed: str) -> str:
    """A stored signing secret in clear (only to sign a delivery)."""
    return master_key.decrypt(sealed, context="webhook-secret")


def masked(policy: WebhookPolicy) -> WebhookPolicy:
    """A policy as answers show it: auth headers replaced by ``******``."""
    return replace(policy, targets=tuple(replace(t, auth_header=MASK if t.auth_header else "") for t in policy.targets))


def check_reachable(egress: EgressPolicy, address: str) -> None:
    """Refuse at once a receiver the egress policy can never reach: a literal internal address, or a
    loopback name, the operator did not allow. (Names are resolved, and checked, at each delivery.)"""
    host = urlsplit(address).hostname or ""
    if egress.host_allowed(host):
        return
    literal = parse_ip(host)
    if egress.name_denied(host) or (literal is not None and not egress.address_allowed(literal)):
        raise Invalid(
            f"address {address[:200]!r} is an internal address, which the operator's egress policy "
            "does not allow (MOORAGE_EGRESS__ALLOW_NETWORKS / ALLOW_HOSTS)"
        )


def check_secret(secret: str | None) -> str | None:
    """A caller-chosen signing secret: 16-256 printable characters."""
    if secret is None:
        return None
    if not MIN_SECRET <= len(secret) <= MAX_SECRET or not secret.isprintable():
        raise Invalid(f"secret must be {MIN_SECRET}-{MAX_SECRET} printable characters")
    return secret


def check_scope_rules(rules: Sequence[ScopeRule]) -> tuple[ScopeRule, ...]:
    """Scope rules as SWR documents them: one tag selector and one repository selector each."""
    if len(rules) > 10:
        raise Invalid("at most 10 scope rules")
    for rule in rules:
        if len(rule.tag_selectors) != 1 or len(rule.repository_selectors) != 1:
            raise Invalid("a scope rule has exactly one tag selector and one scope_selectors.repository selector")
        for selector in (*rule.tag_selectors, *rule.repository_selectors):
            if not selector.pattern:
                raise Invalid("a selector's pattern must not be empty ('**' selects everything)")
        if rule.repo_scope_mode not in ("regular", "selection"):
            raise Invalid(f"repo_scope_mode must be regular or selection, got {rule.repo_scope_mode[:32]!r}")
        validate_rule(rule)
    return tuple(rules)


def rule_of(
    tag_selectors: Sequence[Selector], scope_selectors: Mapping[str, Sequence[Selector]], repo_scope_mode: str | None
) -> ScopeRule:
    """A scope rule from the API's fields (``scope_selectors`` takes ``repository`` only)."""
    unknown = sorted(set(scope_selectors) - {"repository"})
    if unknown:
        raise Invalid(f"scope_selectors supports only 'repository', got {unknown[0][:32]!r}")
    return ScopeRule(tuple(tag_selectors), tuple(scope_selectors.get("repository") or ()), repo_scope_mode or "regular")


class WebhookPolicyService:
    """The webhook policy operations of the instance API."""

    def __init__(self, db: Database, master_key: MasterKey, *, egress: EgressPolicy) -> None:
        self.db = db
        self.master_key = master_key
        self.egress = egress

    def _checked(self, fields: PolicyFields) -> tuple[PolicyFields, tuple[str, ...], tuple[ScopeRule, ...]]:
        check_name(fields.name)
        if len(fields.description) > MAX_DESCRIPTION:
            raise Invalid(f"description longer than {MAX_DESCRIPTION} characters")
        if not fields.targets or len(fields.targets) > MAX_TARGETS:
            raise Invalid(f"targets must list 1-{MAX_TARGETS} targets")
        for target in fields.targets:
            check_target(replace(target, auth_header="" if target.auth_header == MASK else target.auth_header))
            check_reachable(self.egress, target.address)
        check_secret(fields.secret)
        return fields, check_event_types(fields.event_types), check_scope_rules(fields.scope_rules)

    @staticmethod
    def _namespace_id(conn: Connection, instance_id: str, namespace: str) -> int:
        found = instances_q.get_namespace(conn, instance_id, namespace)
        if found is None:
            raise NotFound(f"namespace {namespace!r} not found", reason="namespace_not_found")
        return found.id

    @staticmethod
    def _policy(conn: Connection, namespace_id: int, namespace: str, policy_id: int) -> WebhookPolicy:
        found = q.get_policy(conn, namespace_id, policy_id)
        if found is None:
            raise NotFound(
                f"webhook policy {policy_id} not found in namespace {namespace!r}", reason="webhook_policy_not_found"
            )
        return found

    def _sealed_targets(self, targets: Sequence[WebhookTarget], current: WebhookPolicy | None) -> str:
        """The targets as stored; an auth header sent back as ``******`` keeps the stored one of the
        target with the same address."""
        stored = {t.address: t for t in (current.targets if current else ())}
        result = []
        for target in targets:
            if target.auth_header == MASK:
                kept = stored.get(target.address)
                if kept is None or not kept.auth_header:
                    raise Invalid(f"auth_header {MASK!r} keeps a stored header, but {target.address[:200]!r} has none")
                result.append(replace(target, auth_header=kept.auth_header))
            else:
                result.append(seal_auth_header(self.master_key, target))
        return q.targets_json(result)

    async def create(
        self, principal: Principal, *, instance_id: str, namespace: str, fields: PolicyFields
    ) -> CreatedPolicy:
        """A new policy of a namespace, with its signing secret (given, or generated)."""
        checked, event_types, rules = self._checked(fields)
        if any(t.auth_header == MASK for t in checked.targets):
            raise Invalid(f"auth_header {MASK!r} is what answers show in place of a header; send the header")
        secret = checked.secret or secrets.token_urlsafe(32)
        targets = self._sealed_targets(checked.targets, None)
        sealed_secret = seal_secret(self.master_key, secret)

        def work(conn: Connection) -> WebhookPolicy:
            namespace_id = self._namespace_id(conn, instance_id, namespace)
            if (
                q.list_policies(
                    conn,
                    instance_id,
                    namespace_ids={namespace_id},
                    name=None,
                    order_column="created_at",
                    descending=True,
                    offset=0,
                    limit=1,
                ).total
                >= MAX_POLICIES_PER_NAMESPACE
            ):
                raise QuotaExceeded(
                    f"namespace {namespace!r} already has {MAX_POLICIES_PER_NAMESPACE} webhook policies",
                    reason="webhook_policy_quota",
                )
            created = q.create_policy(
                conn,
                instance_id=instance_id,
                namespace_id=namespace_id,
                name=checked.name,
                description=checked.description,
                event_types=event_types,
                targets=targets,
                scope_rules=q.rules_json(rules),
                enabled=True if checked.enabled is None else checked.enabled,
                creator=principal.user_name,
                secret=sealed_secret,
            )
            if created is None:
                raise Conflict(
                    f"a webhook policy called {checked.name!r} already exists in {namespace!r}",
                    reason="webhook_policy_exists",
                )
            record_events(conn, _changed(Operation.CREATE, instance_id, namespace, created, checked.name))
            return self._policy(conn, namespace_id, namespace, created)

        return CreatedPolicy(masked(await self.db.write(work)), secret)

    async def get(self, *, instance_id: str, namespace: str, policy_id: int) -> WebhookPolicy:
        """A policy of a namespace (auth headers masked)."""

        def work(conn: Connection) -> WebhookPolicy:
            return self._policy(conn, self._namespace_id(conn, instance_id, namespace), namespace, policy_id)

        return masked(await self.db.read(work))

    async def list_policies(
        self,
        principal: Principal,
        *,
        instance_id: str,
        namespace_id: int | None,
        name: str | None,
        order_column: str | None,
        order_type: str | None,
        page: PageRequest,
    ) -> Page[WebhookPolicy]:
        """Policies of the instance's namespaces the caller may manage webhooks of (write or more on
        the namespace; every namespace for a domain administrator), optionally of one namespace."""
        column = order_column or "created_at"
        if column not in ORDER_COLUMNS:
            raise Invalid(f"order_column must be one of {', '.join(ORDER_COLUMNS)}, got {column[:32]!r}")
        if order_type not in (None, "", "asc", "desc"):
            raise Invalid(f"order_type must be asc or desc, got {order_type[:16]!r}")
        if name is not None and len(name) > 256:
            raise Invalid("name longer than 256 characters")

        def work(conn: Connection) -> Page[WebhookPolicy]:
            wanted: set[int] | None = None
            if not principal.is_admin:
                levels = grants_q.namespace_ids_with_grants(conn, principal.user_id or "", instance_id)
                wanted = {namespace for namespace, level in levels.items() if level >= WRITE}
            if namespace_id is not None:
                wanted = {namespace_id} if wanted is None or namespace_id in wanted else set()
            return q.list_policies(
                conn,
                instance_id,
                namespace_ids=wanted,
                name=name or None,
                order_column=column,
                descending=order_type != "asc",
                offset=page.offset,
                limit=page.limit,
            )

        found = await self.db.read(work)
        return Page([masked(p) for p in found.items], found.total)

    async def update(self, *, instance_id: str, namespace: str, policy_id: int, fields: PolicyFields) -> str | None:
        """Replace a policy's fields (``enabled`` None keeps it); the new signing secret when one was given."""
        checked, event_types, rules = self._checked(fields)

        def work(conn: Connection) -> None:
            namespace_id = self._namespace_id(conn, instance_id, namespace)
            current = self._policy(conn, namespace_id, namespace, policy_id)
            if checked.name != current.name and q.name_taken(conn, namespace_id, checked.name, other_than=policy_id):
                raise Conflict(
                    f"a webhook policy called {checked.name!r} already exists in {namespace!r}",
                    reason="webhook_policy_exists",
                )
            values: dict[str, Any] = {
                "name": checked.name,
                "description": checked.description,
                "event_types": _json_list(event_types),
                "targets": self._sealed_targets(checked.targets, current),
                "scope_rules": q.rules_json(rules),
            }
            if checked.enabled is not None:
                values["enabled"] = checked.enabled
            if checked.secret is not None:
                values["secret"] = seal_secret(self.master_key, checked.secret)
            q.update_policy(conn, policy_id, values)
            record_events(conn, _changed(Operation.UPDATE, instance_id, namespace, policy_id, checked.name))

        await self.db.write(work)
        return checked.secret

    async def set_enabled(self, *, instance_id: str, namespace: str, policy_id: int, enabled: bool) -> None:
        """Enable or disable a policy, its other fields kept: ``update`` (``UpdateInstanceWebhook``)
        replaces every field, so a caller holding only the masked policy (the web console) could not
        send them back unchanged; this is the same change in one transaction."""

        def work(conn: Connection) -> None:
            namespace_id = self._namespace_id(conn, instance_id, namespace)
            current = self._policy(conn, namespace_id, namespace, policy_id)
            q.update_policy(conn, policy_id, {"enabled": enabled})
            record_events(conn, _changed(Operation.UPDATE, instance_id, namespace, policy_id, current.name))

        await self.db.write(work)

    async def delete(self, *, instance_id: str, namespace: str, policy_id: int) -> None:
        """Delete a policy with its delivery records (deliveries in flight stop at their next attempt)."""

        def work(conn: Connection) -> None:
            namespace_id = self._namespace_id(conn, instance_id, namespace)
            current = self._policy(conn, namespace_id, namespace, policy_id)
            q.delete_policy(conn, policy_id)
            record_events(conn, _changed(Operation.DELETE, instance_id, namespace, policy_id, current.name))

        await self.db.write(work)

    async def deliveries(
        self, *, instance_id: str, namespace: str, policy_id: int, status: str | None, page: PageRequest
    ) -> Page[Delivery]:
        """A policy's deliveries, newest first, optionally of one status."""
        if status is not None and status not in DELIVERY_STATUSES:
            raise Invalid(f"status must be one of {', '.join(DELIVERY_STATUSES)}, got {status[:32]!r}")

        def work(conn: Connection) -> Page[Delivery]:
            self._policy(conn, self._namespace_id(conn, instance_id, namespace), namespace, policy_id)
            return q.deliveries_page(conn, policy_id=policy_id, status=status, offset=page.offset, limit=page.limit)

        return await self.db.read(work)


def _json_list(values: Sequence[str]) -> str:
    return json.dumps(list(values))


def _changed(operation: Operation, instance_id: str, namespace: str, policy_id: int, name: str) -> NewEvent:
    """The event of a webhook policy created, changed or deleted."""
    return change_event(
        operation,
        ResourceType.WEBHOOK_POLICY,
        instance_id=instance_id,
        resource=f"{namespace}/{name}",
        namespace=namespace,
        detail={"policy_id": policy_id},
    )
