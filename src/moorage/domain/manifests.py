"""Parse and validate manifests: OCI image manifest and index, Docker schema 2 manifest and list.

Parsing never trusts the input: every field is type-checked, every digest validated, and the
result is a frozen ``ParsedManifest`` listing exactly what the manifest references.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moorage.domain import mediatypes as mt
from moorage.domain.bounded_json import DEFAULT_MAX_DEPTH, JsonTooDeep, loads
from moorage.domain.digests import Digest
from moorage.domain.errors import DigestInvalid, ManifestInvalid, UnsupportedDigest


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A content descriptor: what a manifest says about a blob or another manifest."""

    media_type: str
    digest: Digest
    size: int
    artifact_type: str = ""
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    platform: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    urls: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The OCI JSON form of this descriptor."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = dict(self.platform)
        return out


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    """What a manifest is and what it references."""

    media_type: str
    """The manifest's own media type (from its ``mediaType`` field or the request's Content-Type)."""
    config: Descriptor | None
    """The config blob (image manifests only)."""
    layers: tuple[Descriptor, ...]
    """Layer blobs (image manifests) in order."""
    manifests: tuple[Descriptor, ...]
    """Child manifests (indexes only)."""
    subject: Descriptor | None
    """The manifest this one refers to (OCI 1.1 ``subject``), if any."""
    artifact_type: str
    """``artifactType``, else (image manifests) the config's media type, as the referrers API wants."""
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_index(self) -> bool:
        """True for an OCI index or Docker manifest list."""
        return self.media_type in mt.INDEXES

    def blob_references(self) -> tuple[Descriptor, ...]:
        """Config and layers: the blobs the repository must hold (non-distributable layers excepted)."""
        refs = ([self.config] if self.config else []) + list(self.layers)
        return tuple(d for d in refs if d.media_type not in mt.NON_DISTRIBUTABLE_LAYERS)

    def total_size(self) -> int:
        """Sum of the sizes of everything referenced (config, layers, children)."""
        return sum(d.size for d in ((self.config,) if self.config else ()) + self.layers + self.manifests)


def _fail(message: str) -> ManifestInvalid:
    return ManifestInvalid(message, detail={"reason": message})


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
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
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
        platform=platform,
        urls=tuple(urls),
    )


def parse_manifest(payload: bytes, content_type: str | None, *, max_depth: int = DEFAULT_MAX_DEPTH) -> ParsedManifest:
    """Parse ``payload`` sent with ``content_type``; raise ``ManifestInvalid`` with a clear reason
    (also for a document nested deeper than ``max_depth``).

    The media type comes from the document's ``mediaType`` when present, else the Content-Type;
    when both are present they must agree. Docker schema 1 is refused: it is deprecated, unsigned
    in practice and carries no content-addressable config.
    """
    declared = mt.base_type(content_type)
    if declared in mt.SCHEMA1_TYPES:
        raise _fail("Docker schema 1 manifests are not supported; push schema 2 or OCI (e.g. skopeo copy "
                    "--format v2s2 or oci)")
    try:
        doc = loads(payload, max_depth=max_depth)
    except JsonTooDeep as exc:
        raise _fail(f"manifest is {exc}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise _fail("manifest must be a JSON object")
    schema_version = doc.get("schemaVersion")
    if schema_version == 1:
        raise _fail("Docker schema 1 manifests are not supported; push schema 2 or OCI")
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
        return ParsedManifest(media_type, None, (), manifests, subject, artifact_type, annotations)

    if "manifests" in doc:
        raise _fail("an image manifest must not have 'manifests'")
    config = _descriptor(doc.get("config"), "config")
    layers_doc = doc.get("layers")
    if not isinstance(layers_doc, list):
        raise _fail("an image manifest must have a 'layers' list")
    layers = tuple(_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers_doc))
    # distribution-spec v1.1: a manifest without artifactType is listed by the referrers API with
    # its config's media type.
    artifact_type = artifact_type or config.media_type
    return ParsedManifest(media_type, config, layers, (), subject, artifact_type, annotations)
