"""Copying artifacts between registries: the engine (``transfer.py``, whose docstring is the
interface), its two kinds of endpoint (``endpoints.py``), and what builds them from settings
(``wiring.py``). Enterprise replication and shared-edition image synchronisation use it."""

from __future__ import annotations

from moorage.services.replication.endpoints import (
    ArtifactSink,
    ArtifactSource,
    LocalEndpoint,
    LocalRegistry,
    Manifest,
    RemoteEndpoint,
)
from moorage.services.replication.transfer import (
    BlobCopy,
    BlobOutcome,
    CopyOptions,
    CopyReport,
    TokenBucket,
    copy_artifact,
    delete_artifact,
    list_repositories,
    list_tags,
)
from moorage.services.replication.wiring import local_registry, push_listeners, remote_endpoint

__all__ = [
    "ArtifactSink",
    "ArtifactSource",
    "BlobCopy",
    "BlobOutcome",
    "CopyOptions",
    "CopyReport",
    "LocalEndpoint",
    "LocalRegistry",
    "Manifest",
    "RemoteEndpoint",
    "TokenBucket",
    "copy_artifact",
    "delete_artifact",
    "list_repositories",
    "list_tags",
    "local_registry",
    "push_listeners",
    "remote_endpoint",
]
