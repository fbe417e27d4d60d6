"""External registries as a caller sets them and as the registry list filters them."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.security import RegistryType


@dataclass(frozen=True, slots=True)
class RegistryFields:
    """What a caller may set on an external registry."""

    name: str
    type: RegistryType
    api_version: str
    protocol: str
    address: str
    username: str
    password_encrypted: str
    organization_filter: str
    connect_cluster_id: str
    scan_image_channel: str


@dataclass(frozen=True, slots=True)
class RegistryQuery:
    """Filters of the registry list (None: any)."""

    name: str | None = None
    registry_id: str | None = None
    types: tuple[str, ...] = ()
    address: str | None = None
    status: str | None = None
