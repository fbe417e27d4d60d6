"""OCI and Docker manifest value types: media types, descriptors, platforms, and their parsing.

Shared by the registry client and the scanner's image sources. Parsing is strict about types,
sizes and nesting depth (input comes from other registries and from image archives) and raises
:class:`ManifestError`.
"""

from __future__ import annotations

import platform as host_platform
import re
from dataclasses import dataclass, field
from typing import Any

from moorage.clients.limits import load_json

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MANIFEST_MEDIA_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
ACCEPT_MANIFESTS = ", ".join((*MANIFEST_MEDIA_TYPES, *INDEX_MEDIA_TYPES))
"""``Accept`` header value for manifest requests: every manifest and index type we read."""
MAX_MANIFEST_BYTES = 4 << 20
DIGEST_PATTERN = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")


class ManifestError(ValueError):
    """A manifest, index or config document is malformed."""


@dataclass(frozen=True, slots=True)
class Platform:
    """An image platform: ``os/architecture[/variant]``."""

    os: str
    """Operating system (``linux``, ``windows``)."""
    architecture: str
    """GOARCH-style architecture (``amd64``, ``arm64``, ``arm``, ``s390x``)."""
    variant: str = ""
    """Architecture variant (``v7``, ``v8``), empty when none."""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/amd64`` or ``linux/arm/v7``."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ManifestError(f"platform {text!r} is not os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    @classmethod
    def host(cls) -> Platform:
        """The platform of the machine we run on, in GOARCH terms."""
        machine = host_platform.machine().lower()
        mapping = {
            "x86_64": ("amd64", ""),
            "amd64": ("amd64", ""),
            "aarch64": ("arm64", ""),
            "arm64": ("arm64", ""),
            "armv7l": ("arm", "v7"),
            "armv6l": ("arm", "v6"),
            "i386": ("386", ""),
            "i686": ("386", ""),
            "ppc64le": ("ppc64le", ""),
            "s390x": ("s390x", ""),
            "riscv64": ("riscv64", ""),
        }
        arch, variant = mapping.get(machine, (machine, ""))
        return cls("linux", arch, variant)

    def matches(self, other: Platform) -> bool:
        """Same os and architecture; variants must agree only when both name one."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        return not self.variant or not other.variant or self.variant == other.variant


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A content descriptor: what a manifest or index says about a blob or child manifest."""

    media_type: str
    """Media type of the referenced content."""
    digest: str
    """``sha256:<hex>`` or ``sha512:<hex>``."""
    size: int
    """Size in bytes."""
    platform: Platform | None = None
    """For an index entry: the platform of that manifest."""
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    """Descriptor annotations (``org.opencontainers.image.ref.name`` for layout tags)."""


@dataclass(frozen=True, slots=True)
class ImageManifest:
    """An image manifest (OCI or Docker schema 2): config and layers, bottom first."""

    media_type: str
    """Manifest media type."""
    config: Descriptor
    """The image configuration blob."""
    layers: tuple[Descriptor, ...]
    """Layer blobs, base layer first."""


@dataclass(frozen=True, slots=True)
class ImageIndex:
    """An OCI index or Docker manifest list."""

    media_type: str
    """Index media type."""
    manifests: tuple[Descriptor, ...]
    """Child manifests with their platforms."""


def _load(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"document of {len(raw)} bytes is larger than {MAX_MANIFEST_BYTES}")
    try:
        doc = load_json(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ManifestError("document is not a JSON object")
    return doc


def parse_descriptor(item: Any) -> Descriptor:
    """A descriptor object from a manifest or index."""
    if not isinstance(item, dict):
        raise ManifestError("descriptor is not an object")
    digest, size, media_type = item.get("digest"), item.get("size"), item.get("mediaType", "")
    if not isinstance(digest, str) or not DIGEST_PATTERN.match(digest):
        raise ManifestError(f"bad digest {digest!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"bad size {size!r}")
    if not isinstance(media_type, str):
        raise ManifestError("bad mediaType")
    found_platform = None
    raw_platform = item.get("platform")
    if isinstance(raw_platform, dict):
        os_name, arch = raw_platform.get("os"), raw_platform.get("architecture")
        variant = raw_platform.get("variant", "")
        if isinstance(os_name, str) and isinstance(arch, str) and isinstance(variant, str):
            found_platform = Platform(os_name, arch, variant)
    annotations = item.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ManifestError("bad annotations")
    return Descriptor(
        media_type, digest, size, found_platform, {str(k): str(v) for k, v in annotations.items()}
    )


def parse_manifest_or_index(raw: bytes, media_type: str = "") -> ImageManifest | ImageIndex:
    """Parse a manifest or an index; the media type comes from the header or the document."""
    doc = _load(raw)
    kind = doc.get("mediaType") or media_type
    if not isinstance(kind, str):
        raise ManifestError("bad mediaType")
    if kind in INDEX_MEDIA_TYPES or (not kind and "manifests" in doc):
        items = doc.get("manifests")
        if not isinstance(items, list):
            raise ManifestError("index has no manifests list")
        return ImageIndex(kind or OCI_INDEX, tuple(parse_descriptor(i) for i in items))
    if kind in MANIFEST_MEDIA_TYPES or (not kind and "layers" in doc):
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise ManifestError("manifest has no layers list")
        return ImageManifest(
            kind or OCI_MANIFEST,
            parse_descriptor(doc.get("config")),
            tuple(parse_descriptor(i) for i in layers),
        )
    if doc.get("schemaVersion") == 1:
        raise ManifestError("Docker schema 1 manifests are not supported")
    raise ManifestError(f"unsupported manifest media type {kind!r}")


def select_platforms(index: ImageIndex, wanted: Platform | None) -> list[Descriptor]:
    """Index entries for ``wanted`` (best match first) or, with None, every runnable platform.

    Entries without a platform or with ``unknown/unknown`` (build attestations) are skipped.
    """
    runnable = [
        d
        for d in index.manifests
        if d.platform is not None
        and d.platform.os != "unknown"
        and d.media_type in (*MANIFEST_MEDIA_TYPES, "")
    ]
    if wanted is None:
        return runnable
    exact = [d for d in runnable if d.platform == wanted]
    loose = [d for d in runnable if d.platform is not None and d.platform.matches(wanted) and d not in exact]
    return exact + loose


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of an image configuration the scanner uses."""

    platform: Platform | None
    """os/architecture as the config states them."""
    diff_ids: tuple[str, ...]
    """Digests of the uncompressed layers, base first."""
    history: tuple[dict[str, Any], ...]
    """Build history entries (``created_by`` commands), as written."""
    raw: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """The whole document."""


def parse_config(raw: bytes) -> ImageConfig:
    """An image configuration blob."""
    doc = _load(raw)
    rootfs = doc.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids", []) if isinstance(rootfs, dict) else []
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise ManifestError("bad rootfs.diff_ids")
    history = doc.get("history") or []
    if not isinstance(history, list):
        raise ManifestError("bad history")
    os_name, arch = doc.get("os"), doc.get("architecture")
    found = (
        Platform(os_name, arch, str(doc.get("variant") or ""))
        if isinstance(os_name, str) and isinstance(arch, str)
        else None
    )
    return ImageConfig(found, tuple(diff_ids), tuple(h for h in history if isinstance(h, dict)), doc)
