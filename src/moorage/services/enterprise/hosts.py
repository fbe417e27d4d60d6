"""Virtual hosting: which registry instance a request's ``Host`` names.

A request whose host (``host:port``, or ``host`` alone, or a ``*.suffix`` wildcard) is one of an
instance's domain names is that instance's registry; any other host is the default (shared
edition) registry. The directory of host names is read from the database in one small query and
kept for ``ttl`` seconds, so the hot path (every OCI request) costs a dictionary lookup; a change
made through this process is seen at once, one made on another node within ``ttl``.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_instances as q


@dataclass(frozen=True, slots=True)
class _Snapshot:
    hosts: dict[str, str]
    owners: dict[str, str]
    loaded_at: float


def normalize_host(host: str) -> str:
    """``Host`` header value as stored: lower case, no trailing dot, no default-less brackets games."""
    return host.strip().lower().rstrip(".")


def split_host(host: str) -> tuple[str, str]:
    """(``host``, ``port`` or "") of ``host[:port]`` (IPv6 literals in brackets keep them)."""
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1], host[end + 2:] if end != -1 and host[end + 1: end + 2] == ":" else ""
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return name, port
    return host, ""


def is_ip_literal(host: str) -> bool:
    """Whether ``host`` (without port) is an IPv4 or bracketed IPv6 address."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class HostDirectory:
    """Host name -> instance, and instance -> owning domain, cached for ``ttl`` seconds."""

    def __init__(self, db: Database, *, ttl: float = 2.0) -> None:
        self.db = db
        self.ttl = ttl
        self._snapshot: _Snapshot | None = None

    def invalidate(self) -> None:
        """Forget the cache (after this process changed a host name or an instance)."""
        self._snapshot = None

    async def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is None or time.monotonic() - snapshot.loaded_at > self.ttl:
            hosts, owners = await self.db.read(q.host_directory)
            snapshot = _Snapshot(hosts, owners, time.monotonic())
            self._snapshot = snapshot
        return snapshot

    async def instance_for_host(self, host_header: str | None) -> str:
        """The instance a ``Host`` header names (the default instance when none does)."""
        if not host_header:
            return DEFAULT_INSTANCE
        snapshot = await self._current()
        if not snapshot.hosts:
            return DEFAULT_INSTANCE
        host = normalize_host(host_header)
        name, port = split_host(host)
        candidates = [host, name]
        if "." in name and not is_ip_literal(name):
            parent = name.split(".", 1)[1]
            candidates += [f"*.{parent}:{port}" if port else f"*.{parent}", f"*.{parent}"]
        for candidate in candidates:
            found = snapshot.hosts.get(candidate)
            if found is not None:
                return found
        return DEFAULT_INSTANCE

    async def owner(self, instance_id: str) -> str | None:
        """The domain that owns an instance (None: no such Enterprise Edition instance)."""
        snapshot = await self._current()
        owner = snapshot.owners.get(instance_id)
        if owner is None:
            found = await self.db.read(lambda conn: q.get_instance(conn, instance_id))
            owner = found.domain_id if found else None
        return owner
