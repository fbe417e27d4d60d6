"""Organization policies (moorage's, beyond HSS): scan on push, and refusing pulls of images with
findings at or above a severity, with an allowlist of vulnerability ids (Harbor's "prevent
vulnerable images from running")."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

from sqlalchemy.engine import Connection

from moorage.domain.errors import Invalid, NotFound
from moorage.domain.events import Operation, ResourceType, change_event
from moorage.domain.identity import Principal
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.domain.security import NamespacePolicy
from moorage.metadata.database import Database
from moorage.metadata.queries import namespaces as namespaces_q
from moorage.metadata.queries import permissions as grants_q
from moorage.metadata.queries import repositories as repo_q
from moorage.metadata.queries import security_tasks as q
from moorage.services.events.recorder import record_events
from moorage.services.security.images import account_of

BLOCK_SEVERITIES = ("", "low", "medium", "high", "critical")
MAX_ALLOWLIST = 1000
PUSH_CACHE_ENTRIES = 4096
"""Organizations whose scan-on-push answer one process keeps at most."""
_VULNERABILITY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{1,127}$")


def _visible_namespaces(conn: Connection, principal: Principal) -> set[int]:
    """Ids of the shared registry's organizations a user who is not a domain administrator sees:
    those they hold a grant on, or a grant on a repository of."""
    if principal.user_id is None:
        return set()
    held = set(grants_q.namespace_ids_with_grants(conn, principal.user_id, DEFAULT_INSTANCE))
    repositories = grants_q.repository_ids_with_grants(conn, principal.user_id)
    return held | (repo_q.namespace_ids_of(conn, list(repositories)) if repositories else set())


def default_policy(namespace_id: int) -> NamespacePolicy:
    """The policy of an organization that never set one (scan on push follows the global setting)."""
    return NamespacePolicy(namespace_id, None, "", False, (), 0)


class PolicyService:
    """Reading and changing organization policies.

    Whether a push is scanned is asked on every tagged push, so ``scans_push`` keeps each
    organization's answer for ``cache_seconds`` in this process (the pull gate's bound for the same
    policies, ``MOORAGE_SCANNER__PULL_POLICY_CACHE_SECONDS``): a change made through ``set`` applies
    at once in this process, and within ``cache_seconds`` on every other node and process sharing the
    database (0 reads it on every push)."""

    def __init__(
        self,
        db: Database,
        *,
        scan_on_push_default: bool,
        cache_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.scan_on_push_default = scan_on_push_default
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._push_answers: dict[int, tuple[float, bool]] = {}
        self._changes = 0
        self.push_policy_reads = 0
        """Database reads ``scans_push`` made so far (tests watch it)."""

    def _namespace_id(self, conn: Connection, principal: Principal, namespace: str) -> int:
        """The id of an organization of the caller's account that the caller sees (one they may not
        see is one that does not exist)."""
        record = namespaces_q.get(conn, DEFAULT_INSTANCE, namespace)
        if (
            record is None
            or record.domain_id != account_of(principal)
            or not (principal.is_admin or record.id in _visible_namespaces(conn, principal))
        ):
            raise NotFound(f"organization {namespace[:64]!r} not found", reason="namespace_not_found")
        return record.id

    async def get(self, principal: Principal, namespace: str) -> NamespacePolicy:
        """An organization's policy (its defaults when it has none)."""

        def work(conn: Connection) -> NamespacePolicy:
            namespace_id = self._namespace_id(conn, principal, namespace)
            return q.namespace_policy(conn, namespace_id) or default_policy(namespace_id)

        return await self.db.read(work)

    async def all(self, principal: Principal) -> list[tuple[str, NamespacePolicy]]:
        """Every organization of the account that has a policy (of those the caller sees: a user who
        is not a domain administrator sees the organizations they hold a grant in, as in the SWR
        organization list)."""
        domain_id = account_of(principal)

        def work(conn: Connection) -> list[tuple[str, NamespacePolicy]]:
            found = q.namespace_policies_of_domain(conn, domain_id, DEFAULT_INSTANCE)
            if principal.is_admin:
                return found
            visible = _visible_namespaces(conn, principal)
            return [(name, policy) for name, policy in found if policy.namespace_id in visible]

        return await self.db.read(work)

    async def set(
        self,
        principal: Principal,
        namespace: str,
        *,
        scan_on_push: bool | None,
        block_severity: str,
        block_unscanned: bool,
        allowlist: Sequence[str],
    ) -> NamespacePolicy:
        """Replace an organization's policy."""
        account_of(principal)  # an account is needed
        severity = block_severity.strip().lower()
        if severity not in BLOCK_SEVERITIES:
            raise Invalid(f"block_severity must be one of {', '.join(s or '(empty: off)' for s in BLOCK_SEVERITIES)}")
        if len(allowlist) > MAX_ALLOWLIST:
            raise Invalid(f"an allowlist holds at most {MAX_ALLOWLIST} ids")
        for vulnerability_id in allowlist:
            if not _VULNERABILITY_ID.match(vulnerability_id):
                raise Invalid(f"{vulnerability_id[:64]!r} is not a vulnerability or rule id")

        def work(conn: Connection) -> NamespacePolicy:
            namespace_id = self._namespace_id(conn, principal, namespace)
            stored = q.set_namespace_policy(
                conn,
                namespace_id=namespace_id,
                scan_on_push=scan_on_push,
                block_severity=severity,
                block_unscanned=block_unscanned,
                allowlist=allowlist,
            )
            detail = {"block_severity": severity, "block_unscanned": block_unscanned, "allowlist": len(allowlist)}
            record_events(
                conn,
                change_event(
                    Operation.UPDATE,
                    ResourceType.SECURITY_POLICY,
                    instance_id=DEFAULT_INSTANCE,
                    resource=namespace,
                    namespace=namespace,
                    detail=detail,
                ),
            )
            return stored

        stored = await self.db.write(work)
        self._changes += 1
        self._push_answers.pop(stored.namespace_id, None)  # this process sees its own change at once
        return stored

    async def scans_push(self, namespace_id: int) -> bool:
        """Whether a tagged push into the organization is scanned (its policy, or the global setting),
        read through this process's short cache."""
        now = self.clock()
        held = self._push_answers.get(namespace_id)
        if held is not None and held[0] > now:
            return held[1]
        self.push_policy_reads += 1
        changes = self._changes
        answer = self.scan_on_push(await self.db.read(lambda conn: q.namespace_policy(conn, namespace_id)))
        if self.cache_seconds > 0 and changes == self._changes:  # not read before a change of ours
            if len(self._push_answers) >= PUSH_CACHE_ENTRIES:
                self._push_answers.clear()  # bounded; refilled at one read per organization
            self._push_answers[namespace_id] = (now + self.cache_seconds, answer)
        return answer

    def scan_on_push(self, policy: NamespacePolicy | None) -> bool:
        """Whether a push into an organization with ``policy`` is scanned."""
        if policy is None or policy.scan_on_push is None:
            return self.scan_on_push_default
        return policy.scan_on_push
