"""Parse and validate manifests: OCI image manifest and index, Docker schema 2 manifest and list.

The one parser for every manifest moorage reads: pushed to the registry, downloaded by the
registry client, read by the scanner out of an OCI layout or archive. Parsing never trusts the
input: the document is bounded in size and depth, every field is type-checked, every digest
validated, and the result is a frozen :class:`ImageManifest` or :class:`ImageIndex` listing
exactly what the manifest references. Every refusal is ``ManifestInvalid`` with a clear reason
(``reason="schema1"`` for Docker schema 1, which is refused).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from moorage.domain import mediatypes as mt
from moorage.domain.bounded_json import DEFAULT_MAX_DEPTH, JsonTooDeep, JsonTooLarge, loads
from moorage.domain.digests import Digest
from moorage.domain.errors import DigestInvalid, ManifestInvalid, UnsupportedDigest
from moorage.domain.oci_platform import Platform

MAX_MANIFEST_BYTES = 4 << 20
"""The largest manifest (or image config) the registry client and the scanner read: the size the
distribution spec has every registry accept, and the default of the registry's own limit
(``MOORAGE_REGISTRY__MANIFEST_MAX_BYTES``)."""
SCHEMA1 = "schema1"
"""``ManifestInvalid.reason`` of a Docker schema 1 manifest."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A content descriptor: what a manifest says about a blob or another manifest."""

    media_type: str
    """Media type of the referenced content."""
    digest: Digest
    """Digest of the referenced content."""
    size: int
    """Its size in bytes."""
    artifact_type: str = ""
    """``artifactType`` (OCI 1.1), empty when none."""
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    """Descriptor annotations (``org.opencontainers.image.ref.name`` names an image of a layout)."""
    platform: Platform | None = None
    """For an index entry: the platform of that manifest (None when absent or incomplete)."""
    urls: tuple[str, ...] = ()
    """Where a non-distributable layer may be downloaded."""

    def to_json(self) -> dict[str, Any]:
        """The OCI JSON form of this descriptor."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.urls:
            out["urls"] = list(self.urls)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class _Document:
    """What image manifests and indexes both may say."""

    subject: Descriptor | None = None
    """The manifest this one refers to (OCI 1.1 ``subject``), if any."""
    artifact_type: str = ""
    """``artifactType`` (an image manifest without one: its config's media type, as the referrers
    API wants); empty when none."""
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    """The document's annotations."""

    def _with_common(self, out: dict[str, Any], artifact_type: str) -> dict[str, Any]:
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        if artifact_type:
            out["artifactType"] = artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True, slots=True)
class ImageManifest(_Document):
    """An image manifest (OCI or Docker schema 2): a config and layers, base layer first."""

    is_index: ClassVar[bool] = False
    manifests: ClassVar[tuple[Descriptor, ...]] = ()
    """No child manifests (an index has them)."""

    media_type: str
    """The manifest's own media type (from its ``mediaType`` field or the request's Content-Type)."""
    config: Descriptor
    """The config blob."""
    layers: tuple[Descriptor, ...]
    """Layer blobs in order."""

    def blob_references(self) -> tuple[Descriptor, ...]:
        """Config and layers: the blobs the repository must hold (non-distributable layers excepted)."""
        return tuple(d for d in (self.config, *self.layers) if d.media_type not in mt.NON_DISTRIBUTABLE_LAYERS)

    def total_size(self) -> int:
        """Sum of the sizes of everything referenced (config and layers)."""
        return self.config.size + sum(d.size for d in self.layers)

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this manifest (``artifactType`` only where it is not the config's type)."""
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [d.to_json() for d in self.layers],
        }
        return self._with_common(out, "" if self.artifact_type == self.config.media_type else self.artifact_type)


@dataclass(frozen=True, slots=True)
class ImageIndex(_Document):
    """An OCI index or Docker manifest list."""

    is_index: ClassVar[bool] = True
    config: ClassVar[None] = None
    """No config (an image manifest has one)."""
    layers: ClassVar[tuple[Descriptor, ...]] = ()
    """No layers (an image manifest has them)."""

    media_type: str
    """The index's own media type."""
    manifests: tuple[Descriptor, ...]
    """Child manifests, with their platforms."""

    def blob_references(self) -> tuple[Descriptor, ...]:
        """None: an index references manifests, not blobs."""
        return ()

    def total_size(self) -> int:
        """Sum of the sizes of the child manifests."""
        return sum(d.size for d in self.manifests)

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this index."""
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "manifests": [d.to_json() for d in self.manifests],
        }
        return self._with_common(out, self.artifact_type)


ParsedManifest: TypeAlias = ImageManifest | ImageIndex
"""What :func:`parse_manifest` returns."""


def _fail(message: str, *, reason: str = "") -> ManifestInvalid:
    return ManifestInvalid(message, detail={"reason": message}, reason=reason)


def _string(obj: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise _fail(f"missing field {key!r}")
        return ""
    if not isinstance(value, str):
        raise _fail(f"field {key!r} must be a string")
    return value


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    value = obj.get("annotations")
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _fail("annotations must map strings to strings")
    return dict(value)


def _descriptor(obj: Any, where: str) -> Descriptor:
    if not isinstance(obj, dict):
        raise _fail(f"{where} must be an object")
    media_type = _string(obj, "mediaType", required=True)
    size = obj.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _fail(f"{where}.size must be a non-negative integer")
    try:
        digest = Digest.parse(_string(obj, "digest", required=True))
    except (DigestInvalid, UnsupportedDigest) as exc:
        raise _fail(f"{where}.digest: {exc.message}") from exc
    platform = obj.get("platform")
    if platform is not None and not isinstance(platform, dict):
        raise _fail(f"{where}.platform must be an object")
    urls = obj.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise _fail(f"{where}.urls must be a list of strings")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        artifact_type=_string(obj, "artifactType"),
        annotations=_annotations(obj),
        platform=Platform.from_json(platform) if platform is not None else None,
        urls=tuple(urls),
    )


def load_object(payload: bytes, *, what: str, max_depth: int, max_bytes: int | None) -> dict[str, Any]:
    """The JSON object ``payload`` holds (a manifest, an image config: ``what``), through the bounded
    loader; ``ManifestInvalid`` saying what is wrong with it otherwise."""
    try:
        doc = loads(payload, max_depth=max_depth, max_bytes=max_bytes)
    except JsonTooDeep as exc:
        raise _fail(f"{what} is {exc}") from exc
    except JsonTooLarge as exc:
        raise _fail(f"{what} is too large: {exc}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise _fail(f"{what} must be a JSON object")
    return doc


def parse_manifest(
    payload: bytes, content_type: str | None, *, max_depth: int = DEFAULT_MAX_DEPTH, max_bytes: int | None = None
) -> ParsedManifest:
    """Parse ``payload`` sent (or served) with ``content_type``; raise ``ManifestInvalid`` with a
    clear reason, also for a document nested deeper than ``max_depth`` or longer than ``max_bytes``.

    The media type comes from the document's ``mediaType`` when present, else the Content-Type;
    when both are present they must agree (``application/json`` says nothing either way). Docker
    schema 1 is refused: it is deprecated, unsigned in practice and carries no content-addressable
    config.
    """
    declared = mt.base_type(content_type)
    if declared in mt.SCHEMA1_TYPES:
        raise _fail(
            "Docker schema 1 manifests are not supported; push schema 2 or OCI (e.g. skopeo copy --format v2s2 or oci)",
            reason=SCHEMA1,
        )
    doc = load_object(payload, what="manifest", max_depth=max_depth, max_bytes=max_bytes)
    schema_version = doc.get("schemaVersion")
    if schema_version == 1:
        raise _fail("Docker schema 1 manifests are not supported; push schema 2 or OCI", reason=SCHEMA1)
    if schema_version != 2 or isinstance(schema_version, bool):
        raise _fail("schemaVersion must be 2")
    media_type = _string(doc, "mediaType")
    if media_type and declared and declared != media_type and declared not in ("application/json", ""):
        raise _fail(f"Content-Type {declared!r} does not match the manifest's mediaType {media_type!r}")
    media_type = media_type or declared
    if not media_type or media_type == "application/json":
        # An OCI manifest may omit mediaType; tell manifest and index apart by their fields.
        media_type = mt.OCI_INDEX if "manifests" in doc else mt.OCI_MANIFEST
    if media_type not in mt.MANIFEST_TYPES:
        raise _fail(f"unsupported manifest media type {media_type!r}")

    subject = _descriptor(doc["subject"], "subject") if doc.get("subject") is not None else None
    artifact_type = _string(doc, "artifactType")
    annotations = _annotations(doc)

    if media_type in mt.INDEXES:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise _fail("an index must have a 'manifests' list")
        if "layers" in doc or "config" in doc:
            raise _fail("an index must not have 'config' or 'layers'")
        manifests = tuple(_descriptor(c, f"manifests[{i}]") for i, c in enumerate(children))
        return ImageIndex(media_type, manifests, subject=subject, artifact_type=artifact_type, annotations=annotations)

    if "manifests" in doc:
        raise _fail("an image manifest must not have 'manifests'")
    config = _descriptor(doc.get("config"), "config")
    layers_doc = doc.get("layers")
    if not isinstance(layers_doc, list):
        raise _fail("an image manifest must have a 'layers' list")
    layers = tuple(_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers_doc))
    # distribution-spec v1.1: a manifest without artifactType is listed by the referrers API with
    # its config's media type.
    return ImageManifest(
        media_type,
        config,
        layers,
        subject=subject,
        artifact_type=artifact_type or config.media_type,
        annotations=annotations,
    )


def select_platforms(index: ImageIndex, wanted: Platform | None) -> list[Descriptor]:
    """Image manifests of ``index`` for ``wanted`` (exact matches first, then entries whose variant
    is unsaid on one side) or, with None, every runnable platform.

    Entries without a platform or with ``unknown/unknown`` (build attestations) are skipped.
    """
    runnable = [
        d
        for d in index.manifests
        if d.platform is not None and d.platform.os != "unknown" and d.media_type in mt.IMAGE_MANIFESTS
    ]
    if wanted is None:
        return runnable
    exact = [d for d in runnable if d.platform == wanted]
    loose = [d for d in runnable if d.platform is not None and d.platform.matches(wanted) and d not in exact]
    return exact + loose
