"""Endpoint policies of Enterprise Edition instances (CreateInstanceEndpointPolicy,
ShowInstanceEndpointPolicy, UpdateInstanceEndpointPolicy): whether an instance's public endpoint (its
host names) answers at all, and from which client addresses.

An instance without a policy answers every address (as before policies existed); ``enable: false``
refuses every request to its host names; a non-empty allowlist refuses every address outside it. The
check (``admits``) runs for each request before authentication and before its body is read
(``api/enterprise/endpoint_guard.py``), on a snapshot of every policy read in one small query and kept
for ``ttl`` seconds: a change made through this process is seen at once, one made on another node
within ``ttl`` (``MOORAGE_ENTERPRISE__HOST_CACHE_SECONDS``, as the host names themselves).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv6Address

from sqlalchemy.engine import Connection

from moorage.domain.clock import now_ms
from moorage.domain.enterprise_access import OPEN_POLICY, EndpointPolicy, parse_allowlist
from moorage.domain.errors import Conflict, NotFound
from moorage.domain.events import NewEvent, Operation, ResourceType, change_event
from moorage.domain.identity import Principal
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_access as q
from moorage.metadata.queries import enterprise_instances as instances_q
from moorage.services.events.recorder import record_events


@dataclass(frozen=True, slots=True)
class _Snapshot:
    policies: dict[str, EndpointPolicy]
    loaded_at: float


class EndpointPolicyService:
    """Read, change and apply instances' endpoint policies."""

    def __init__(self, db: Database, *, ttl: float = 2.0) -> None:
        self.db = db
        self.ttl = ttl
        self._snapshot: _Snapshot | None = None

    async def show(self, principal: Principal, instance_id: str) -> EndpointPolicy:
        """The instance's policy (the open default when it has none)."""

        def work(conn: Connection) -> EndpointPolicy:
            _instance_of(conn, principal, instance_id)
            return q.endpoint_policy(conn, instance_id) or OPEN_POLICY

        return await self.db.read(work)

    async def set_enabled(self, principal: Principal, instance_id: str, enabled: bool) -> None:
        """Turn the public endpoint on or off (SWR: only an endpoint that is off can be turned on, and
        the other way round)."""

        def work(conn: Connection) -> None:
            _instance_of(conn, principal, instance_id)
            current = q.endpoint_policy(conn, instance_id) or OPEN_POLICY
            if current.enabled == enabled:
                state = "enabled" if enabled else "disabled"
                raise Conflict(f"the public endpoint is already {state}", reason="endpoint_policy_state")
            q.save_endpoint_policy(conn, instance_id, replace(current, enabled=enabled), now_ms())
            record_events(conn, _changed(instance_id, principal, {"enable": enabled}))

        await self.db.write(work)
        self.invalidate()

    async def set_allowlist(self, principal: Principal, instance_id: str, entries: list[tuple[str, str]]) -> None:
        """Replace the allowlist (``(ip, description)`` pairs; empty: every address)."""
        allowlist = parse_allowlist(entries)

        def work(conn: Connection) -> None:
            _instance_of(conn, principal, instance_id)
            current = q.endpoint_policy(conn, instance_id) or OPEN_POLICY
            q.save_endpoint_policy(conn, instance_id, replace(current, allowlist=allowlist), now_ms())
            record_events(conn, _changed(instance_id, principal, {"ip_list": [e.ip for e in allowlist]}))

        await self.db.write(work)
        self.invalidate()

    # The check of each request --------------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget the snapshot (after this process changed a policy)."""
        self._snapshot = None

    async def admits(self, instance_id: str, address: IPv4Address | IPv6Address | None) -> bool:
        """Whether a request from ``address`` may reach the instance's host names."""
        snapshot = self._snapshot
        if snapshot is None or time.monotonic() - snapshot.loaded_at > self.ttl:
            snapshot = _Snapshot(await self.db.read(q.all_endpoint_policies), time.monotonic())
            self._snapshot = snapshot
        return snapshot.policies.get(instance_id, OPEN_POLICY).admits(address)


def _instance_of(conn: Connection, principal: Principal, instance_id: str) -> None:
    instance = instances_q.get_instance(conn, instance_id)
    if instance is None or instance.domain_id != principal.domain_id:
        raise NotFound(f"instance {instance_id!r} not found", reason="instance_not_found")


def _changed(instance_id: str, principal: Principal, detail: dict[str, object]) -> NewEvent:
    return change_event(
        Operation.UPDATE,
        ResourceType.ENDPOINT_POLICY,
        instance_id=instance_id,
        resource=instance_id,
        domain_id=principal.domain_id,
        detail=detail,
    )
