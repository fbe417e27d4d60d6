"""A real Debian root filesystem for tests and benchmarks, made once by ``debootstrap`` and kept
as a tar under ``~/.cache/moorage-tests/`` (keyed by suite and variant; a file lock makes
parallel test workers share one debootstrap run)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.tools import require_root, require_tool

CACHE_DIR = Path(os.environ.get("MOORAGE_TEST_CACHE", Path.home() / ".cache" / "moorage-tests"))
MIRROR = "http://deb.debian.org/debian"


def debootstrap_tar(suite: str = "bookworm", variant: str = "minbase") -> Path:
    """The cached tar of ``debootstrap --variant=<variant> <suite>`` (built on first use)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    target = CACHE_DIR / f"debootstrap-{suite}-{variant}.tar"
    if target.exists():
        return target
    with (CACHE_DIR / f".{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        require_tool("debootstrap")
        require_root("debootstrap builds the Debian root filesystem in a chroot")
        work = Path(tempfile.mkdtemp(prefix="moorage-debootstrap-", dir=CACHE_DIR))
        try:
            root = work / "root"
            subprocess.run(
                ["debootstrap", f"--variant={variant}", suite, str(root), MIRROR],
                check=True,
                capture_output=True,
                timeout=1200,
            )
            partial = work / "rootfs.tar"
            subprocess.run(
                ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."],
                check=True,
                capture_output=True,
                timeout=600,
            )
            os.replace(partial, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def layout_from_tar(tar: Path, layout: Path, *, architecture: str = "amd64") -> None:
    """An OCI layout whose single, uncompressed layer is ``tar`` (hard-linked when possible)."""
    import json

    digest = hashlib.sha256()
    with tar.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    layer_digest = "sha256:" + digest.hexdigest()
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    layer_path = blobs / digest.hexdigest()
    try:
        os.link(tar, layer_path)
    except OSError:
        shutil.copyfile(tar, layer_path)

    def put(doc: dict[str, object]) -> tuple[str, int]:
        raw = json.dumps(doc).encode()
        hexdigest = hashlib.sha256(raw).hexdigest()
        (blobs / hexdigest).write_bytes(raw)
        return "sha256:" + hexdigest, len(raw)

    config_digest, config_size = put(
        {
            "architecture": architecture,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }
    )
    manifest_digest, manifest_size = put(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config_size,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest,
                    "size": tar.stat().st_size,
                }
            ],
        }
    )
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": manifest_digest,
                        "size": manifest_size,
                        "annotations": {"org.opencontainers.image.ref.name": "latest"},
                    }
                ],
            }
        )
    )
