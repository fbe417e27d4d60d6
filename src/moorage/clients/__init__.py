"""Clients of other services; for now, an async OCI Distribution registry client.

The HTTP client (httpx) is imported on first use, so code that only needs the manifest types and
references (the scanner's local image sources) starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moorage.clients.auth import Credentials
from moorage.clients.oci_types import Descriptor, ImageIndex, ImageManifest, Platform
from moorage.clients.reference import ImageReference, ReferenceError

if TYPE_CHECKING:
    from moorage.clients.registry import (
        AuthenticationError,
        BlobDigestError,
        ManifestResponse,
        NotFoundError,
        RegistryClient,
        RegistryError,
    )

_LAZY = {
    "AuthenticationError",
    "BlobDigestError",
    "ManifestResponse",
    "NotFoundError",
    "RegistryClient",
    "RegistryError",
}

__all__ = [
    "AuthenticationError",
    "BlobDigestError",
    "Credentials",
    "Descriptor",
    "ImageIndex",
    "ImageManifest",
    "ImageReference",
    "ManifestResponse",
    "NotFoundError",
    "Platform",
    "ReferenceError",
    "RegistryClient",
    "RegistryError",
]


def __getattr__(name: str) -> Any:
    """Load the registry client's names on first access."""
    if name in _LAZY:
        from moorage.clients import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'moorage.clients' has no attribute {name!r}")
