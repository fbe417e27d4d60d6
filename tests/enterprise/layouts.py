"""Small deterministic OCI image layouts for the Enterprise Edition tests (skopeo pushes them).

Each image is one gzip layer (skopeo would compress an uncompressed one, changing the digests)
holding one file, a config with a build history, and a
manifest; the same ``content`` always gives the same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = 0
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


def image_blobs(content: str) -> tuple[bytes, dict[str, bytes]]:
    """(manifest, blobs by digest) of a one-layer image whose file holds ``content``."""
    tar = _tar({"hello.txt": content.encode()})
    layer = gzip.compress(tar, mtime=0)
    config = _canonical(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/hello.txt"]},
            "rootfs": {"type": "layers", "diff_ids": [_digest(tar)]},
            "history": [
                {"created": "2024-01-01T00:00:00Z", "created_by": f"COPY hello.txt # {content}"},
                {"created": "2024-01-01T00:00:01Z", "created_by": 'CMD ["/hello.txt"]', "empty_layer": True},
            ],
        }
    )
    manifest = _canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": _digest(layer), "size": len(layer)}],
        }
    )
    return manifest, {_digest(layer): layer, _digest(config): config, _digest(manifest): manifest}


def write_layout(path: Path, images: Mapping[str, str]) -> Path:
    """An OCI layout at ``path`` holding one image per tag (tag -> file content)."""
    (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entries = []
    for tag, content in images.items():
        manifest, blobs = image_blobs(content)
        for digest, data in blobs.items():
            (path / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": _digest(manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        )
    (path / "index.json").write_bytes(_canonical({"schemaVersion": 2, "manifests": entries}))
    return path


def manifest_digest(content: str) -> str:
    """The manifest digest of the image ``write_layout`` makes for ``content``."""
    return _digest(image_blobs(content)[0])
