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


@dataclass(frozen=True, slots=True)
class RegistryInput:
    """A registry as a caller describes it (None: unchanged, on update)."""

    name: str | None = None
    type: str | None = None
    api_version: str | None = None
    protocol: str | None = None
    address: str | None = None
    username: str | None = None
    password: str | None = None
    organization_filter: str | None = None
    connect_cluster_id: str | None = None
    scan_image_channel: str | None = None
