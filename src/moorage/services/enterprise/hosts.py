"""Virtual hosting: which registry instance a request's ``Host`` names.

A request whose host is one of an instance's domain names (see ``domain.hosts`` for how names are
spelled and matched: exact names before wildcards, a wildcard covers one label) is that instance's
registry; any other host is the default (shared edition) registry. The registry's own names
(``HostPolicy.is_own``: its external host, its listen addresses, every spelling of localhost) always
reach the shared registry, whatever the database holds: a name stored before those rules existed
cannot take them over. The directory of host names is read from the database in one small query
and kept for ``ttl`` seconds, so the hot path (every OCI request) costs a parse and a few dictionary
lookups; a change made through this process is seen at once, one made on another node within ``ttl``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from moorage.domain.errors import Invalid
from moorage.domain.hosts import HostName, HostPolicy, parse_host
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_instances as q

log = logging.getLogger(__name__)

RESOLVED_CACHE_SIZE = 4096
"""``Host`` values remembered per snapshot (cleared when full: clients choose the values)."""


@dataclass(frozen=True, slots=True)
class _Snapshot:
    hosts: dict[str, str]
    owners: dict[str, str]
    loaded_at: float
    resolved: dict[tuple[str, str], str] = field(default_factory=dict)


def directory_entries(stored: list[tuple[str, str]], policy: HostPolicy) -> dict[str, str]:
    """Canonical claimed name -> instance of the stored ``(domain name, instance id)`` pairs (oldest
    first). Names that do not parse, that are or cover one of the registry's own names, or that
    spell a name an older entry already has, are left out (they can only come from before the rules
    of ``domain.hosts``) and logged."""
    hosts: dict[str, str] = {}
    for text, instance_id in stored:
        try:
            name = parse_host(text, wildcard=True)
        except Invalid:
            log.warning("ignoring the stored domain name %r of instance %s: not a host name", text, instance_id)
            continue
        if policy.covers_own(name):
            log.warning(
                "ignoring the stored domain name %r of instance %s: it is, or covers, a name of the shared registry",
                text,
                instance_id,
            )
            continue
        if hosts.setdefault(str(name), instance_id) != instance_id:
            log.warning(
                "ignoring the stored domain name %r of instance %s: an older instance has it", text, instance_id
            )
    return hosts


class HostDirectory:
    """Host name -> instance, and instance -> owning domain, cached for ``ttl`` seconds."""

    def __init__(self, db: Database, *, policy: HostPolicy | None = None, ttl: float = 2.0) -> None:
        self.db = db
        self.policy = policy or HostPolicy()
        self.ttl = ttl
        self._snapshot: _Snapshot | None = None

    def invalidate(self) -> None:
        """Forget the cache (after this process changed a host name or an instance)."""
        self._snapshot = None

    async def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is None or time.monotonic() - snapshot.loaded_at > self.ttl:
            stored, owners = await self.db.read(q.host_directory)
            snapshot = _Snapshot(directory_entries(stored, self.policy), owners, time.monotonic())
            self._snapshot = snapshot
        return snapshot

    async def instance_for_host(self, host_header: str | None, *, scheme: str = "http") -> str:
        """The instance a ``Host`` header names (the default instance when none does); ``scheme`` is
        the request's (its default port is no port)."""
        if not host_header:
            return DEFAULT_INSTANCE
        snapshot = await self._current()
        if not snapshot.hosts:
            return DEFAULT_INSTANCE
        key = (host_header, scheme)
        found = snapshot.resolved.get(key)
        if found is None:
            found = self._resolve(snapshot.hosts, host_header, scheme)
            if len(snapshot.resolved) >= RESOLVED_CACHE_SIZE:
                snapshot.resolved.clear()
            snapshot.resolved[key] = found
        return found

    def _resolve(self, hosts: dict[str, str], host_header: str, scheme: str) -> str:
        try:
            name = parse_host(host_header, scheme=scheme)
        except Invalid:
            return DEFAULT_INSTANCE
        if self.policy.is_own(name):
            return DEFAULT_INSTANCE
        for candidate in name.lookup_keys():
            found = hosts.get(candidate)
            if found is not None:
                return found
        return DEFAULT_INSTANCE

    def reachable(self, name: HostName) -> bool:
        """Whether a claimed name can reach its instance (not one of the registry's own names)."""
        return not self.policy.covers_own(name)

    async def owner(self, instance_id: str) -> str | None:
        """The domain that owns an instance (None: no such Enterprise Edition instance)."""
        snapshot = await self._current()
        owner = snapshot.owners.get(instance_id)
        if owner is None:
            found = await self.db.read(lambda conn: q.get_instance(conn, instance_id))
            owner = found.domain_id if found else None
        return owner
