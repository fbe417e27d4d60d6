"""Small test images for the SWR management tests: built in memory (a config and gzipped tar layers),
pushed over HTTP with httpx (monolithic blob uploads, Basic auth), or written as an OCI layout for
skopeo. Deterministic: the same arguments give the same digests."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Blob:
    """Bytes with their media type."""

    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        """Content digest."""
        return sha256(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        """The OCI descriptor of this blob."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


@dataclass(frozen=True)
class Image:
    """A manifest and the blobs it references."""

    manifest: bytes
    media_type: str
    blobs: tuple[Blob, ...] = field(default=())
    config: Blob | None = None

    @property
    def digest(self) -> str:
        """The manifest digest."""
        return sha256(self.manifest)

    @property
    def size(self) -> int:
        """Config plus layers: what SWR reports as the image size."""
        return sum(len(b.data) for b in self.blobs)


def layer(files: dict[str, bytes]) -> Blob:
    """A gzipped tar layer holding ``files`` (fixed times, so digests are stable)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path, content in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(content), 0, 0o644
            tar.addfile(info, io.BytesIO(content))
    return Blob(OCI_LAYER, gzip.compress(raw.getvalue(), mtime=0))


def image(
    files: list[dict[str, bytes]], *, label: str = "", subject: Image | None = None, artifact_type: str = ""
) -> Image:
    """An OCI image with one layer per dict of files (``label`` varies the config, hence the digest);
    with ``subject``, a referrer of that image (a signature, an SBOM...)."""
    layers = [layer(f) for f in files]
    diff_ids = [sha256(gzip.decompress(blob.data)) for blob in layers]
    config = Blob(
        OCI_CONFIG,
        json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Labels": {"t": label}},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
            },
            sort_keys=True,
        ).encode(),
    )
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [b.descriptor() for b in layers],
    }
    if artifact_type:
        manifest["artifactType"] = artifact_type
    if subject is not None:
        manifest["subject"] = {"mediaType": subject.media_type, "digest": subject.digest, "size": len(subject.manifest)}
    return Image(json.dumps(manifest, separators=(",", ":")).encode(), OCI_MANIFEST, (config, *layers), config)


def index(children: list[Image]) -> Image:
    """An OCI index of ``children`` (push the children first)."""
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": c.media_type,
                "digest": c.digest,
                "size": len(c.manifest),
                "platform": {"architecture": f"arch{i}", "os": "linux"},
            }
            for i, c in enumerate(children)
        ],
    }
    return Image(json.dumps(body, separators=(",", ":")).encode(), OCI_INDEX)


def push(client: httpx.Client, name: str, reference: str, img: Image) -> httpx.Response:
    """Upload ``img``'s blobs (monolithic POSTs) and PUT its manifest as ``reference``; the manifest
    answer. ``client`` carries the base URL and the credentials."""
    for blob in img.blobs:
        if client.head(f"/v2/{name}/blobs/{blob.digest}").status_code == 200:
            continue
        uploaded = client.post(
            f"/v2/{name}/blobs/uploads/",
            params={"digest": blob.digest},
            content=blob.data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert uploaded.status_code == 201, uploaded.text
    answer = client.put(
        f"/v2/{name}/manifests/{reference}", content=img.manifest, headers={"Content-Type": img.media_type}
    )
    assert answer.status_code == 201, answer.text
    return answer


def registry_client(base_url: str, user: str, password: str) -> httpx.Client:
    """An httpx client for the OCI API with Basic credentials."""
    return httpx.Client(base_url=base_url, auth=(user, password), timeout=60)


def write_layout(directory: Path, tagged: dict[str, Image]) -> Path:
    """An OCI image layout holding ``tagged`` (tag -> image), for ``skopeo copy oci:<dir>:<tag>``."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entries = []
    for tag, img in tagged.items():
        for data in (img.manifest, *(b.data for b in img.blobs)):
            (blobs / sha256(data).split(":")[1]).write_bytes(data)
        entries.append(
            {
                "mediaType": img.media_type,
                "digest": img.digest,
                "size": len(img.manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        )
    (directory / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))
    return directory
