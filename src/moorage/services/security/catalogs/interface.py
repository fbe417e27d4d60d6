"""How moorage lists the images of an external registry: one implementation per registry kind
(the OCI catalog, Harbor's v2 API, JFrog Artifactory's API), behind one contract.

A catalog yields ``RemoteTag``s: a repository path as the OCI API names it (what a scan pulls), a
tag, and whatever the registry's own API already told about it (digest, size, push time,
platform images). The synchroniser fills in what is missing from the manifests themselves.
Nothing a registry answers is trusted: types are checked, pages and items are capped, answers are
read with the size and depth bounds of ``RemoteRegistry.limits``, and every connection obeys
``RemoteRegistry.egress``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from moorage.clients.auth import Credentials
from moorage.clients.egress import EgressPolicy
from moorage.clients.limits import TransferLimits

MAX_PAGES = 1000
"""Pages one listing follows at most."""


class CatalogError(Exception):
    """A registry's listing API answered with something unreadable. Its message is shown to the
    tenant, so it says what was wrong in general terms and names API paths only (never an address
    or a library's text)."""


@dataclass(frozen=True, slots=True)
class RemotePlatform:
    """A platform image of a multi-architecture tag, as a registry API describes it."""

    digest: str
    platform: str
    size: int = -1


@dataclass(frozen=True, slots=True)
class RemoteTag:
    """One tag of an external registry."""

    repository: str
    """Repository path under ``/v2/`` (``project/name``)."""
    tag: str
    digest: str = ""
    """Manifest digest, when the listing API gives it."""
    media_type: str = ""
    size: int = -1
    """Image size in bytes (-1: unknown, read from the manifest)."""
    updated_at: int = 0
    """Push time, epoch ms (0: unknown)."""
    platforms: tuple[RemotePlatform, ...] = ()
    """Platform images, when the API lists them (Harbor)."""


@dataclass(frozen=True, slots=True)
class RemoteRegistry:
    """How to reach an external registry."""

    address: str
    """``host[:port]``."""
    plain_http: bool
    credentials: Credentials | None
    egress: EgressPolicy
    """Where connections may go (the operator's policy for tenants)."""
    limits: TransferLimits
    """How much of each answer is read."""
    organizations: tuple[str, ...] = ()
    """Organizations (first path component, Harbor projects, Artifactory repository keys) to list;
    empty: all of them."""
    timeout: float = 60.0
    verify_tls: bool = True
    """Check the registry's TLS certificate (off only for a registry its owner marked insecure: a
    self-signed certificate)."""

    @property
    def base_url(self) -> str:
        """``http(s)://host[:port]``."""
        return f"{'http' if self.plain_http else 'https'}://{self.address}"

    def wanted(self, organization: str) -> bool:
        """Whether the organization filter lets ``organization`` through."""
        return not self.organizations or organization in self.organizations


class RegistryCatalog(ABC):
    """Lists one kind of registry."""

    def __init__(self, registry: RemoteRegistry) -> None:
        self.registry = registry

    @abstractmethod
    async def check(self) -> None:
        """Reach the registry with the credentials (raise ``CatalogError`` or a client error)."""

    @abstractmethod
    async def tags(self, *, limit: int) -> list[RemoteTag]:
        """Up to ``limit`` tags of the repositories the organization filter lets through."""
