"""How the server reaches tenants' external registries: the operator's egress policy, the read
limits and the timeout, built once from the settings, and the tenant-safe account of a failure.

Everything that connects to a registry a tenant configured (the check when it is added or changed,
synchronisation, scans) takes a ``RemoteAccess``; nothing builds a client without one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from moorage.clients.egress import EgressPolicy
from moorage.clients.errors import public_reason
from moorage.clients.limits import TransferLimits
from moorage.services.security.catalogs import CatalogError
from moorage.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RemoteAccess:
    """The policy and bounds of connections made for tenants."""

    egress: EgressPolicy
    """Where connections may go and where credentials may go."""
    limits: TransferLimits
    """How much of each answer is read."""
    timeout: float = 60.0
    """Seconds per request."""
    max_image_bytes: int = 10 * 1024**3
    """Bytes one scanned image may download in all."""


def remote_access_of(settings: Settings) -> RemoteAccess:
    """The deployment's ``RemoteAccess``."""
    egress = settings.egress
    return RemoteAccess(
        egress=EgressPolicy.from_lists(
            allow_networks=egress.allow_networks,
            allow_hosts=egress.allow_hosts,
            credential_realm_hosts=egress.credential_realm_hosts,
            max_redirects=egress.max_redirects,
        ),
        limits=TransferLimits(json_bytes=egress.max_json_bytes, json_depth=egress.max_json_depth),
        timeout=settings.scanner.remote_timeout_seconds,
        max_image_bytes=settings.scanner.max_image_bytes,
    )


def tenant_reason(error: BaseException, *, registry_id: str, action: str) -> str:
    """What a tenant is told about a failed connection to its registry (general terms only: no
    address, port or library text); the detail goes to the server log."""
    reason = str(error)[:255] if isinstance(error, CatalogError) else public_reason(error)
    log.warning("%s of external registry %s failed: %s: %s", action, registry_id, type(error).__name__, error)
    return reason
