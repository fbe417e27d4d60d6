"""Clients of other services; for now, an async OCI Distribution registry client."""

from moorage.clients.auth import Credentials
from moorage.clients.oci_types import Descriptor, ImageIndex, ImageManifest, Platform
from moorage.clients.reference import ImageReference, ReferenceError
from moorage.clients.registry import (
    AuthenticationError,
    BlobDigestError,
    ManifestResponse,
    NotFoundError,
    RegistryClient,
    RegistryError,
)

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
