"""Image configuration blobs: the parts of an OCI / Docker image config that moorage reads (its
platform, layer diff ids and build history), parsed with the one bounded JSON loader.

A config that is not a JSON object, or whose ``rootfs.diff_ids`` or ``history`` are not lists,
is ``ManifestInvalid`` (the config is part of what a manifest describes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moorage.domain.bounded_json import DEFAULT_MAX_DEPTH
from moorage.domain.errors import ManifestInvalid
from moorage.domain.manifests import MAX_MANIFEST_BYTES, load_object
from moorage.domain.oci_platform import Platform


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of an image configuration moorage uses."""

    platform: Platform | None
    """os/architecture[/variant] as the config states them (None unless both are strings)."""
    diff_ids: tuple[str, ...]
    """Digests of the uncompressed layers, base first."""
    history: tuple[dict[str, Any], ...]
    """Build history entries (``created_by`` commands), as written (entries that are not objects
    left out)."""
    raw: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """The whole document."""


def parse_config(
    raw: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH, max_bytes: int | None = MAX_MANIFEST_BYTES
) -> ImageConfig:
    """An image configuration blob, no deeper than ``max_depth`` nor longer than ``max_bytes``."""
    doc = load_object(raw, what="image config", max_depth=max_depth, max_bytes=max_bytes)
    rootfs = doc.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids", []) if isinstance(rootfs, dict) else []
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise ManifestInvalid("image config: rootfs.diff_ids must be a list of strings")
    history = doc.get("history") or []
    if not isinstance(history, list):
        raise ManifestInvalid("image config: history must be a list")
    return ImageConfig(Platform.from_json(doc), tuple(diff_ids), tuple(h for h in history if isinstance(h, dict)), doc)
