"""A real Debian (debootstrap minbase, cached): the inventory has exactly what dpkg-query lists."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest

from moorage.domain.oci_platform import Platform
from moorage.scanner.analysis import AnalysisOptions, analyze
from moorage.scanner.inventory import Ecosystem
from moorage.scanner.sources import OciLayoutSource
from tests.scanner.rootfs_cache import debootstrap_tar, layout_from_tar

pytestmark = pytest.mark.slow


def _dpkg_query(tar: Path, work: Path) -> set[tuple[str, str]]:
    admin = work / "admindir"
    with tarfile.open(tar) as archive:
        member = archive.getmember("./var/lib/dpkg/status")
        admin.mkdir()
        (admin / "status").write_bytes(archive.extractfile(member).read())  # type: ignore[union-attr]
    (admin / "info").mkdir()
    (admin / "updates").mkdir()
    out = subprocess.run(
        ["dpkg-query", f"--admindir={admin}", "-W", "-f", "${Package}\t${Version}\t${db:Status-Status}\n"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    rows = [line.split("\t") for line in out.splitlines() if line]
    return {(name, version) for name, version, status in rows if status not in ("not-installed", "config-files")}


def test_every_dpkg_query_package_and_nothing_else(tmp_path: Path) -> None:
    tar = debootstrap_tar()
    expected = _dpkg_query(tar, tmp_path)
    assert len(expected) > 50
    layout_from_tar(tar, tmp_path / "layout")
    with OciLayoutSource(tmp_path / "layout") as source:
        (result,) = analyze(source, platform=Platform("linux", "amd64"), options=AnalysisOptions(executor="serial"))
    debs = {(p.name, p.version) for p in result.inventory.packages if p.ecosystem is Ecosystem.DEB}
    assert debs == expected
    distro = result.inventory.distro
    assert distro is not None and (distro.id, distro.version_id, distro.codename) == (
        "debian",
        "12",
        "bookworm",
    )
    libc = next(p for p in result.inventory.packages if p.name == "libc6")
    assert libc.source_name == "glibc" and libc.purl.startswith("pkg:deb/debian/libc6@")
    assert not result.inventory.errors
