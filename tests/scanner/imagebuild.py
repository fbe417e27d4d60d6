"""Build container images by hand for tests: tar layers (plain, gzip, zstd) with files, links and
whiteouts; OCI layouts (single image or multi-platform index); and, through ``skopeo``, OCI
archives, ``docker save`` archives and pushes to a registry. No Docker engine needed.

Other suites reuse it: ``LayerBuilder`` for layer contents, ``write_oci_layout`` for an image.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

from tests.support.tools import require_tool

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


def sha256(data: bytes) -> str:
    """``sha256:<hex>`` of some bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class LayerBuilder:
    """Collects tar entries for one layer, in order."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._tar = tarfile.open(fileobj=self._buffer, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self._dirs: set[str] = set()

    def _parents(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directory = "/".join(parts[:i])
            if directory and directory not in self._dirs:
                self.directory(directory)

    def _name(self, path: str) -> str:
        return path.lstrip("/")

    def directory(self, path: str, mode: int = 0o755) -> LayerBuilder:
        """A directory entry."""
        name = self._name(path).rstrip("/")
        self._dirs.add(name)
        self._parents(name)
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        info.mode = mode
        self._tar.addfile(info)
        return self

    def file(self, path: str, content: bytes | str, mode: int = 0o644) -> LayerBuilder:
        """A regular file."""
        data = content.encode() if isinstance(content, str) else content
        name = self._name(path)
        self._parents(name)
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode
        self._tar.addfile(info, io.BytesIO(data))
        return self

    def symlink(self, path: str, target: str) -> LayerBuilder:
        """A symbolic link (target written as given)."""
        name = self._name(path)
        self._parents(name)
        info = tarfile.TarInfo(name)
        info.type = tarfile.SYMTYPE
        info.linkname = target
        self._tar.addfile(info)
        return self

    def hardlink(self, path: str, target: str) -> LayerBuilder:
        """A hard link to an earlier entry of this layer."""
        name = self._name(path)
        self._parents(name)
        info = tarfile.TarInfo(name)
        info.type = tarfile.LNKTYPE
        info.linkname = self._name(target)
        self._tar.addfile(info)
        return self

    def whiteout(self, path: str) -> LayerBuilder:
        """Delete ``path`` (and what is below it) from the lower layers."""
        name = self._name(path)
        parent, _, base = name.rpartition("/")
        return self.file(f"{parent}/.wh.{base}" if parent else f".wh.{base}", b"")

    def opaque(self, directory: str) -> LayerBuilder:
        """Hide everything the lower layers have in ``directory``."""
        name = self._name(directory).rstrip("/")
        if name not in self._dirs:
            self.directory(name)
        return self.file(f"{name}/.wh..wh..opq", b"")

    def tree(self, root: Path, prefix: str = "/") -> LayerBuilder:
        """Every file, directory and link under ``root`` placed at ``prefix``."""
        for item in sorted(root.rglob("*")):
            relative = item.relative_to(root).as_posix()
            target = f"{prefix.rstrip('/')}/{relative}"
            if item.is_symlink():
                self.symlink(target, str(item.readlink()))
            elif item.is_dir():
                self.directory(target)
            elif item.is_file():
                self.file(target, item.read_bytes(), item.stat().st_mode & 0o7777)
        return self

    def tar_bytes(self) -> bytes:
        """The uncompressed tar."""
        self._tar.close()
        return self._buffer.getvalue()


def compress(tar: bytes, compression: str) -> bytes:
    """``none``, ``gzip`` or ``zstd``."""
    if compression == "gzip":
        return gzip.compress(tar, compresslevel=1, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(tar)
    return tar


@dataclass
class Layer:
    """A finished layer: its blob, media type, and the digest of the uncompressed tar."""

    blob: bytes
    media_type: str
    diff_id: str

    @property
    def digest(self) -> str:
        """Digest of the blob as stored."""
        return sha256(self.blob)

    @classmethod
    def of(cls, builder: LayerBuilder | bytes, compression: str = "gzip") -> Layer:
        """Finish a builder (or take a ready tar) with the given compression."""
        tar = builder.tar_bytes() if isinstance(builder, LayerBuilder) else builder
        return cls(compress(tar, compression), LAYER_TYPES[compression], sha256(tar))


@dataclass
class ImageSpec:
    """One platform's image."""

    layers: list[Layer]
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""
    history: list[dict[str, object]] = field(default_factory=list)
    config_extra: dict[str, object] = field(default_factory=dict)


def _put_blob(root: Path, data: bytes) -> str:
    digest = sha256(data)
    path = root / "blobs" / "sha256" / digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def _write_image(root: Path, spec: ImageSpec) -> tuple[str, int]:
    config = {
        "architecture": spec.architecture,
        "os": spec.os,
        **({"variant": spec.variant} if spec.variant else {}),
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in spec.layers]},
        "history": spec.history or [{"created_by": f"layer {i}"} for i in range(len(spec.layers))],
        **spec.config_extra,
    }
    config_raw = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": _put_blob(root, config_raw), "size": len(config_raw)},
        "layers": [
            {"mediaType": layer.media_type, "digest": _put_blob(root, layer.blob), "size": len(layer.blob)}
            for layer in spec.layers
        ],
    }
    raw = json.dumps(manifest).encode()
    return _put_blob(root, raw), len(raw)


def write_oci_layout(root: Path, images: ImageSpec | list[ImageSpec], *, tag: str = "latest") -> str:
    """An OCI layout at ``root`` holding one image, or an index of several platforms under
    ``tag``; returns the digest ``index.json`` points at."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    if isinstance(images, ImageSpec):
        digest, size = _write_image(root, images)
        top = {"mediaType": OCI_MANIFEST, "digest": digest, "size": size}
    else:
        entries = []
        for spec in images:
            digest, size = _write_image(root, spec)
            platform = {"os": spec.os, "architecture": spec.architecture}
            if spec.variant:
                platform["variant"] = spec.variant
            entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size, "platform": platform})
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        digest = _put_blob(root, raw)
        top = {"mediaType": OCI_INDEX, "digest": digest, "size": len(raw)}
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top]}))
    return str(top["digest"])


def skopeo_copy(source: str, destination: str, *extra: str) -> None:
    """``skopeo copy`` with no signature policy checks (tests only)."""
    require_tool("skopeo")
    subprocess.run(
        ["skopeo", "--insecure-policy", "copy", "--quiet", *extra, source, destination],
        check=True,
        capture_output=True,
        timeout=300,
    )
