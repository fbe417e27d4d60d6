"""Listing external registries (see ``interface``) and the factory from a registry type."""

from __future__ import annotations

from moorage.domain.security import RegistryType
from moorage.services.security.catalogs.harbor import HarborCatalog
from moorage.services.security.catalogs.interface import (
    CatalogError,
    RegistryCatalog,
    RemotePlatform,
    RemoteRegistry,
    RemoteTag,
)
from moorage.services.security.catalogs.jfrog import JfrogCatalog
from moorage.services.security.catalogs.oci import OciCatalog

__all__ = ["CatalogError", "RegistryCatalog", "RemotePlatform", "RemoteRegistry", "RemoteTag", "make_catalog"]


def make_catalog(kind: RegistryType, registry: RemoteRegistry) -> RegistryCatalog:
    """The catalog for a registry type: Harbor's and Artifactory's APIs, else the OCI catalog."""
    if kind is RegistryType.HARBOR:
        return HarborCatalog(registry)
    if kind is RegistryType.JFROG:
        return JfrogCatalog(registry)
    if kind is RegistryType.OTHER:
        return OciCatalog(registry)
    raise ValueError(f"{kind.value} is not an external registry type")
