"""Clients of other services; for now, an async OCI Distribution registry client, and the egress
policy every connection made on a tenant's behalf obeys. The OCI vocabulary they speak (descriptors,
manifests, platforms, media types) is :mod:`moorage.domain`'s.

The HTTP client (httpx) is imported on first use, so code that only needs references and errors
(the scanner's local image sources) starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moorage.clients.auth import Credentials
from moorage.clients.egress import EgressPolicy
from moorage.clients.errors import (
    AuthenticationError,
    BlobDigestError,
    EgressDenied,
    ImageTooLargeError,
    NotFoundError,
    RegistryError,
    TransferLimitError,
    UnreachableError,
)
from moorage.clients.limits import TransferLimits
from moorage.clients.reference import ImageReference, ReferenceError

if TYPE_CHECKING:
    from moorage.clients.registry import ManifestResponse, RegistryClient

_LAZY = {"ManifestResponse", "RegistryClient"}

__all__ = [
    "AuthenticationError",
    "BlobDigestError",
    "Credentials",
    "EgressDenied",
    "EgressPolicy",
    "ImageReference",
    "ImageTooLargeError",
    "ManifestResponse",
    "NotFoundError",
    "ReferenceError",
    "RegistryClient",
    "RegistryError",
    "TransferLimitError",
    "TransferLimits",
    "UnreachableError",
]


def __getattr__(name: str) -> Any:
    """Load the registry client's names on first access."""
    if name in _LAZY:
        from moorage.clients import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'moorage.clients' has no attribute {name!r}")
