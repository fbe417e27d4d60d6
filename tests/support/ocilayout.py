"""Build OCI content in memory for tests: layers, configs, images, indexes, artifacts, layouts.

Everything is deterministic (sorted tar members, zero timestamps, canonical JSON), so the same
inputs always give the same digests and a test can compare what a registry hands back byte for
byte. Layers come from a mapping of path -> bytes (or `File` / `Directory` / `Symlink`), compressed
with gzip, zstd or not at all; manifests are OCI or Docker schema 2; digests sha256 or sha512.
An `Image` or `Index` knows every blob and manifest it needs, in push order (children first).
`write_layout` / `read_layout` turn them into and back from an OCI image layout directory, which
is what skopeo, umoci and the scanner read. Tar members and compression live in
tests/support/tarfiles.py and are re-exported here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.support.tarfiles import Compression as Compression
from tests.support.tarfiles import Directory as Directory
from tests.support.tarfiles import Entry as Entry
from tests.support.tarfiles import File as File
from tests.support.tarfiles import Files as Files
from tests.support.tarfiles import Hardlink as Hardlink
from tests.support.tarfiles import Symlink as Symlink
from tests.support.tarfiles import compress as compress
from tests.support.tarfiles import tar_archive as tar_archive

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
EMPTY_JSON = b"{}"

Flavour = Literal["oci", "docker"]
Algorithm = Literal["sha256", "sha512"]
Descriptor = dict[str, Any]

_LAYER_MEDIA_TYPES: dict[tuple[Flavour, Compression], str] = {
    ("oci", "none"): OCI_LAYER,
    ("oci", "gzip"): OCI_LAYER_GZIP,
    ("oci", "zstd"): OCI_LAYER_ZSTD,
    ("docker", "none"): DOCKER_LAYER,
    ("docker", "gzip"): DOCKER_LAYER_GZIP,
    ("docker", "zstd"): DOCKER_LAYER_ZSTD,
}


def digest_of(data: bytes, algorithm: Algorithm = "sha256") -> str:
    """The OCI digest string (``algorithm:hex``) of ``data``."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def canonical_json(document: Any) -> bytes:
    """Compact JSON with sorted keys: one byte representation per document."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Blob:
    """Content with its media type; the digest is computed once, with ``algorithm``."""

    media_type: str
    data: bytes
    algorithm: Algorithm = "sha256"
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", digest_of(self.data, self.algorithm))

    @property
    def size(self) -> int:
        """Length of the content in bytes."""
        return len(self.data)

    def descriptor(self, **extra: Any) -> Descriptor:
        """An OCI descriptor for this blob; ``extra`` adds fields such as annotations."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


def empty_config(algorithm: Algorithm = "sha256") -> Blob:
    """The empty JSON config (``{}``) image-spec 1.1 prescribes for artifacts."""
    return Blob(OCI_EMPTY, EMPTY_JSON, algorithm)


# --- layers, configs, images, indexes --------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """A layer blob and the digest of its uncompressed tar (the config's ``diff_id``)."""

    blob: Blob
    diff_id: str


def layer(
    files: Files | bytes,
    *,
    compression: Compression = "gzip",
    flavour: Flavour = "oci",
    algorithm: Algorithm = "sha256",
    media_type: str | None = None,
) -> Layer:
    """A layer from ``files`` (or from ready tar bytes), compressed as asked."""
    tar = files if isinstance(files, bytes) else tar_archive(files)
    blob = Blob(media_type or _LAYER_MEDIA_TYPES[(flavour, compression)], compress(tar, compression), algorithm)
    return Layer(blob, digest_of(tar, "sha256"))


def image_config(
    diff_ids: Sequence[str],
    *,
    os: str = "linux",
    architecture: str = "amd64",
    variant: str | None = None,
    container_config: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    flavour: Flavour = "oci",
    algorithm: Algorithm = "sha256",
) -> Blob:
    """An image config blob naming the layers' ``diff_ids`` and the platform."""
    document: dict[str, Any] = {
        "created": "1970-01-01T00:00:00Z",
        "architecture": architecture,
        "os": os,
        "config": dict(container_config or {}),
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
    }
    if variant:
        document["variant"] = variant
    if history is not None:
        document["history"] = [dict(entry) for entry in history]
    return Blob(OCI_CONFIG if flavour == "oci" else DOCKER_CONFIG, canonical_json(document), algorithm)


@dataclass(frozen=True)
class Image:
    """An image (or artifact) manifest with its config and layer blobs."""

    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]
    platform: Descriptor | None = None

    @property
    def digest(self) -> str:
        """The manifest digest."""
        return self.manifest.digest

    def document(self) -> Descriptor:
        """The manifest parsed back into a dict."""
        return dict(json.loads(self.manifest.data))

    def blobs(self) -> tuple[Blob, ...]:
        """Config and layer blobs, each once, in push order."""
        return _unique([self.config, *self.layers])

    def manifests(self) -> tuple[Blob, ...]:
        """Manifests to push, children first: here just this one."""
        return (self.manifest,)

    def descriptor(self, **extra: Any) -> Descriptor:
        """Descriptor of the manifest (with the platform, for an index entry)."""
        platform = {"platform": self.platform} if self.platform else {}
        return self.manifest.descriptor(**platform, **extra)


@dataclass(frozen=True)
class Index:
    """An image index (or Docker manifest list) with the images or indexes it lists."""

    manifest: Blob
    children: tuple[Image | Index, ...]

    @property
    def digest(self) -> str:
        """The index digest."""
        return self.manifest.digest

    def document(self) -> Descriptor:
        """The index parsed back into a dict."""
        return dict(json.loads(self.manifest.data))

    def blobs(self) -> tuple[Blob, ...]:
        """Every non-manifest blob of every child, each once."""
        return _unique([blob for child in self.children for blob in child.blobs()])

    def manifests(self) -> tuple[Blob, ...]:
        """Every manifest to push, children before the index that lists them."""
        return _unique([*(m for child in self.children for m in child.manifests()), self.manifest])

    def descriptor(self, **extra: Any) -> Descriptor:
        """Descriptor of the index."""
        return self.manifest.descriptor(**extra)


Content = Image | Index


def _unique(blobs: Iterable[Blob]) -> tuple[Blob, ...]:
    seen: dict[str, Blob] = {}
    for blob in blobs:
        seen.setdefault(blob.digest, blob)
    return tuple(seen.values())


def _optional_fields(
    annotations: Mapping[str, str] | None,
    subject: Content | Blob | Descriptor | None,
    artifact_type: str | None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if artifact_type:
        fields["artifactType"] = artifact_type
    if subject is not None:
        fields["subject"] = subject if isinstance(subject, dict) else subject.descriptor()
    if annotations:
        fields["annotations"] = dict(annotations)
    return fields


def image(
    layers: Sequence[Layer | Files] = (),
    *,
    os: str = "linux",
    architecture: str = "amd64",
    variant: str | None = None,
    container_config: Mapping[str, Any] | None = None,
    annotations: Mapping[str, str] | None = None,
    subject: Content | Blob | Descriptor | None = None,
    artifact_type: str | None = None,
    flavour: Flavour = "oci",
    compression: Compression = "gzip",
    algorithm: Algorithm = "sha256",
    config: Blob | None = None,
) -> Image:
    """An image manifest over ``layers`` (``Layer`` objects or file mappings to build them).

    The config is generated from the layers' diff_ids and the platform unless given.
    ``flavour="docker"`` writes a Docker schema 2 manifest (no subject/artifactType there).
    """
    built = [
        item if isinstance(item, Layer) else layer(item, compression=compression, flavour=flavour, algorithm=algorithm)
        for item in layers
    ]
    if config is None:
        config = image_config(
            [item.diff_id for item in built],
            os=os,
            architecture=architecture,
            variant=variant,
            container_config=container_config,
            flavour=flavour,
            algorithm=algorithm,
        )
    media_type = OCI_MANIFEST if flavour == "oci" else DOCKER_MANIFEST
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": [item.blob.descriptor() for item in built],
        **_optional_fields(annotations, subject, artifact_type),
    }
    platform: Descriptor = {"architecture": architecture, "os": os}
    if variant:
        platform["variant"] = variant
    return Image(
        Blob(media_type, canonical_json(document), algorithm), config, tuple(item.blob for item in built), platform
    )


def artifact(
    artifact_type: str | None,
    blobs: Sequence[Blob] = (),
    *,
    subject: Content | Blob | Descriptor | None = None,
    annotations: Mapping[str, str] | None = None,
    config: Blob | None = None,
    algorithm: Algorithm = "sha256",
) -> Image:
    """An artifact manifest (image-spec 1.1): ``artifactType``, empty config unless given.

    ``artifact_type=None`` with a typed ``config`` makes the older form of artifact whose type is
    the config's media type. With no blobs, the single layer is the empty descriptor, as the image
    spec recommends.
    """
    config = config or empty_config(algorithm)
    layers = tuple(blobs) or (empty_config(algorithm),)
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [blob.descriptor() for blob in layers],
        **_optional_fields(annotations, subject, artifact_type),
    }
    return Image(Blob(OCI_MANIFEST, canonical_json(document), algorithm), config, layers)


def index(
    children: Sequence[Content],
    *,
    annotations: Mapping[str, str] | None = None,
    subject: Content | Blob | Descriptor | None = None,
    artifact_type: str | None = None,
    flavour: Flavour = "oci",
    algorithm: Algorithm = "sha256",
) -> Index:
    """An OCI image index (or, with ``flavour="docker"``, a manifest list) of ``children``."""
    media_type = OCI_INDEX if flavour == "oci" else DOCKER_MANIFEST_LIST
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [child.descriptor() for child in children],
        **_optional_fields(annotations, subject, artifact_type),
    }
    return Index(Blob(media_type, canonical_json(document), algorithm), tuple(children))


def platform_images(
    platforms: Sequence[tuple[str, str, str | None]],
    *,
    layer_count: int = 2,
    flavour: Flavour = "oci",
    compression: Compression = "gzip",
) -> list[Image]:
    """One small distinct image per ``(os, architecture, variant)``, each with ``layer_count`` layers."""
    images = []
    for os_name, architecture, variant in platforms:
        label = "-".join(part for part in (os_name, architecture, variant) if part)
        layers = [
            {f"layer{n}/{label}.txt": f"{label} layer {n}\n".encode(), "etc/os-release": b"ID=test\n"}
            for n in range(layer_count)
        ]
        images.append(
            image(
                layers, os=os_name, architecture=architecture, variant=variant, flavour=flavour, compression=compression
            )
        )
    return images


# --- OCI image layout on disk ----------------------------------------------------------


def write_layout(path: Path, refs: Mapping[str, Content], *, extra: Iterable[Content] = ()) -> Path:
    """Write an OCI image layout at ``path`` holding ``refs`` (tag -> content) and ``extra``.

    ``index.json`` lists each tagged top-level manifest with ``org.opencontainers.image.ref.name``;
    ``extra`` content (e.g. referrers) is stored in ``blobs/`` without an index entry.
    """
    path.mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    contents = [*refs.values(), *extra]
    for blob in _unique(b for item in contents for b in (*item.blobs(), *item.manifests())):
        algorithm, hex_digest = blob.digest.split(":", 1)
        target = path / "blobs" / algorithm / hex_digest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.data)
    entries = [item.manifest.descriptor(annotations={REF_NAME_ANNOTATION: tag}) for tag, item in refs.items()]
    (path / "index.json").write_bytes(
        canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    )
    return path


@dataclass(frozen=True)
class LayoutContent:
    """What an OCI image layout holds: its ``index.json`` and every blob by digest."""

    index: Descriptor
    blobs: Mapping[str, bytes]

    def ref(self, tag: str) -> Descriptor:
        """The ``index.json`` entry named ``tag``; KeyError when absent."""
        for entry in self.index.get("manifests", []):
            if entry.get("annotations", {}).get(REF_NAME_ANNOTATION) == tag:
                return dict(entry)
        raise KeyError(tag)

    def reachable(self, digest: str) -> set[str]:
        """Digests of the manifest ``digest`` and everything it references, transitively."""
        found: set[str] = set()
        pending = [digest]
        while pending:
            current = pending.pop()
            if current in found:
                continue
            found.add(current)
            document = _json_or_none(self.blobs[current])
            if not isinstance(document, dict) or document.get("schemaVersion") != 2:
                continue  # a config or a layer, not a manifest
            children = [*document.get("manifests", []), *document.get("layers", [])]
            if isinstance(document.get("config"), dict):
                children.append(document["config"])
            pending.extend(child["digest"] for child in children)
        return found


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError):
        return None


def read_layout(path: Path) -> LayoutContent:
    """Read an OCI image layout, verifying that every blob matches the digest it is filed under."""
    layout = json.loads((path / "oci-layout").read_bytes())
    if layout.get("imageLayoutVersion") != "1.0.0":
        raise ValueError(f"{path}: unexpected oci-layout {layout!r}")
    blobs: dict[str, bytes] = {}
    for algorithm_dir in sorted((path / "blobs").iterdir()):
        for blob_path in sorted(algorithm_dir.iterdir()):
            data = blob_path.read_bytes()
            digest = f"{algorithm_dir.name}:{blob_path.name}"
            if algorithm_dir.name not in ("sha256", "sha512"):
                raise ValueError(f"{path}: unsupported digest algorithm {algorithm_dir.name}")
            if digest_of(data, algorithm_dir.name) != digest:  # type: ignore[arg-type]
                raise ValueError(f"{path}: blob {digest} does not match its content")
            blobs[digest] = data
    return LayoutContent(json.loads((path / "index.json").read_bytes()), blobs)
