"""Every image source: OCI layout, OCI archive, docker archive (both made by skopeo), root
filesystem, registry (Debian's docker-registry), and platform selection in an index."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from moorage.clients.egress import EgressPolicy
from moorage.clients.reference import ImageReference
from moorage.domain.oci_platform import Platform
from moorage.scanner.analysis import AnalysisOptions, analyze
from moorage.scanner.cache import DirectoryLayerCache
from moorage.scanner.errors import DigestMismatch, ImageSourceError
from moorage.scanner.sources import (
    DockerArchiveSource,
    OciArchiveSource,
    OciLayoutSource,
    RegistrySource,
    RootfsSource,
    open_source,
)
from moorage.scanner.sources.interface import LayerRef, ResolvedImage
from tests.scanner.imagebuild import skopeo_copy
from tests.support.servers import start_reference_registry

AMD64 = Platform("linux", "amd64")
EXPECTED = {("deb", "libc6", "2.36-9"), ("deb", "zlib1g", "1:1.2.13.dfsg-1"), ("pypi", "flask", "3.0.0")}


def _found(source: object, platform: Platform | None = AMD64, **kw: object) -> set[tuple[str, str, str]]:
    options = AnalysisOptions(executor="serial", **kw)  # type: ignore[arg-type]
    (result,) = analyze(source, platform=platform, options=options)  # type: ignore[arg-type]
    return {(p.ecosystem.value, p.name, p.version) for p in result.inventory.packages}


def test_oci_layout(small_layout: Path) -> None:
    with OciLayoutSource(small_layout) as source:
        assert _found(source) == EXPECTED


def test_oci_archive_from_skopeo(small_layout: Path, tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    skopeo_copy(f"oci:{small_layout}:latest", f"oci-archive:{archive}")
    with open_source(str(archive)) as source:
        assert isinstance(source, OciArchiveSource)
        assert _found(source) == EXPECTED


def test_docker_archive_from_skopeo(small_gzip_layout: Path, tmp_path: Path) -> None:
    archive = tmp_path / "docker.tar"
    skopeo_copy(f"oci:{small_gzip_layout}:latest", f"docker-archive:{archive}:moorage/small:1")
    with open_source(f"docker-archive:{archive}") as source:
        assert isinstance(source, DockerArchiveSource)
        (image,) = source.resolve(AMD64)
        assert all(layer.digest.startswith("sha256:") for layer in image.layers)
        assert _found(source) == EXPECTED
    with DockerArchiveSource(archive, "moorage/small:1") as source:
        assert _found(source) == EXPECTED
    with pytest.raises(ImageSourceError), DockerArchiveSource(archive, "nope:1") as source:
        source.resolve(AMD64)


def test_rootfs_directory_never_follows_links_out(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    outside = tmp_path / "outside-status"
    outside.write_text("Package: host-only\nStatus: install ok installed\nVersion: 9\n")
    (root / "var/lib/dpkg/status").symlink_to(outside)
    (root / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\n")
    os.symlink(str(outside), root / "etc/evil-link")
    with open_source(str(root)) as source:
        assert isinstance(source, RootfsSource)
        assert _found(source) == set()


def test_index_selects_one_platform_or_all(multiarch_layout: Path) -> None:
    with OciLayoutSource(multiarch_layout) as source:
        assert ("pypi", "flask-amd", "3.0.0") in _found(source, AMD64)
        assert ("pypi", "flask-arm", "3.0.0") in _found(source, Platform("linux", "arm64"))
        results = analyze(source, platform=None, all_platforms=True, options=AnalysisOptions(executor="serial"))
        assert sorted(r.inventory.platform for r in results) == ["linux/amd64", "linux/arm64/v8"]
        with pytest.raises(ImageSourceError):
            source.resolve(Platform("linux", "s390x"))


def test_missing_tag_and_tampered_blob_are_refused(small_layout: Path, tmp_path: Path) -> None:
    with pytest.raises(ImageSourceError):
        OciLayoutSource(small_layout, "v9").resolve(AMD64)
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(small_layout, broken)
    index = json.loads((broken / "index.json").read_text())
    manifest = broken / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]
    manifest.write_bytes(manifest.read_bytes().replace(b"schemaVersion", b"schemaVersioN"))
    with pytest.raises(DigestMismatch):
        OciLayoutSource(broken).resolve(AMD64)


def test_unknown_things_are_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar")
    for text in (str(junk), "oci:" + str(tmp_path / "missing"), "UPPER/Case:bad tag"):
        with pytest.raises(ImageSourceError):
            open_source(text).resolve(AMD64)


class CountingRegistrySource(RegistrySource):
    """Records which layers had to be downloaded."""

    def __init__(self, reference: ImageReference) -> None:
        super().__init__(reference, egress=EgressPolicy.unrestricted())
        self.fetched: list[str] = []

    def fetch(self, image: ResolvedImage, layers: Sequence[LayerRef]) -> ResolvedImage:
        self.fetched = [layer.digest for layer in layers]
        return super().fetch(image, layers)


@pytest.mark.slow
def test_registry_source_downloads_only_uncached_layers(small_layout: Path, tmp_path: Path) -> None:
    with start_reference_registry(tmp_path / "registry") as registry:
        skopeo_copy(
            f"oci:{small_layout}:latest",
            f"docker://{registry.address}/scan/small:1",
            "--dest-tls-verify=false",
        )
        cache = DirectoryLayerCache(tmp_path / "cache")
        reference = ImageReference.parse(f"{registry.address}/scan/small:1")
        with CountingRegistrySource(reference) as source:
            assert _found(source, cache=cache) == EXPECTED
            assert len(source.fetched) == 2
        with CountingRegistrySource(reference) as source:
            assert _found(source, cache=cache) == EXPECTED
            assert source.fetched == [], "a warm cache needs no layer download"
        with open_source(f"{registry.address}/scan/small:1") as source:
            assert isinstance(source, RegistrySource)
            assert _found(source) == EXPECTED
