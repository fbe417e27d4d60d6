"""RPM fixtures: two tiny packages built with rpmbuild and installed by rpm (SQLite rpmdb), the
same header blobs in a Berkeley DB made by db_load, and in an NDB file written after rpm's layout."""

from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
from pathlib import Path

from tests.scanner.analyzers.fixtures import AnalyzerCase
from tests.scanner.imagebuild import LayerBuilder
from tests.support.tools import require_tool

RPM_SPEC = """Name: {name}
Version: {version}
Release: {release}
{epoch_line}
Summary: moorage test package
License: {license}
BuildArch: noarch
%description
A tiny package for the scanner's tests.
%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo hello > %{{buildroot}}/usr/share/{name}/hello.txt
%files
/usr/share/{name}/hello.txt
"""
RPM_PACKAGES = [
    ("moorage-hello", "1.2.3", "4", "2", "MIT"),
    ("moorage-world", "0.9", "1.el9", "", "GPL-2.0-or-later"),
]


def build_rpm_root(work: Path) -> Path:
    """rpmbuild two tiny packages and install them into ``work/root`` (SQLite rpmdb)."""
    require_tool("rpmbuild", "rpm", "db5.3_load")
    top = work / "rpmbuild"
    for name, version, release, epoch, license_name in RPM_PACKAGES:
        spec = work / f"{name}.spec"
        spec.write_text(
            RPM_SPEC.format(
                name=name,
                version=version,
                release=release,
                license=license_name,
                epoch_line=f"Epoch: {epoch}" if epoch else "",
            )
        )
        subprocess.run(
            ["rpmbuild", "--define", f"_topdir {top}", "-bb", str(spec)],
            check=True,
            capture_output=True,
            timeout=120,
        )
    root = work / "root"
    root.mkdir()
    rpms = sorted(str(p) for p in (top / "RPMS").rglob("*.rpm"))
    subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "--initdb"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts", *rpms],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return root


def rpm_expected() -> set[tuple[str, str]]:
    return {(n, f"{e + ':' if e else ''}{v}-{r}") for n, v, r, e, _ in RPM_PACKAGES}


def rpm_header_blobs(sqlite_path: Path) -> list[bytes]:
    """The header blobs rpm wrote (to put them into the other database formats)."""
    connection = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("SELECT blob FROM Packages ORDER BY hnum")]
    finally:
        connection.close()


def write_bdb_packages(path: Path, blobs: list[bytes]) -> None:
    """A Berkeley DB hash ``Packages`` file made by ``db_load`` (keys: instance numbers)."""

    def escape(data: bytes) -> str:
        return "".join(chr(b) if 0x20 < b < 0x7F and b != 0x5C else f"\\{b:02x}" for b in data)

    lines = []
    for instance, blob in enumerate(blobs, start=1):
        lines.append(escape(struct.pack("<I", instance)))
        lines.append(escape(blob))
    subprocess.run(
        [shutil.which("db_load") or "db5.3_load", "-T", "-t", "hash", str(path)],
        input="\n".join(lines) + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )


def write_ndb_packages(path: Path, blobs: list[bytes]) -> None:
    """An rpm NDB ``Packages.db``, written after rpm's lib/backend/ndb/rpmpkg.c layout (Debian's
    rpm cannot write NDB): 32-byte header, one 4 KiB page of 16-byte slots, 16-byte-block blobs."""
    page = bytearray(4096)
    page[0:16] = struct.pack("<IIII", int.from_bytes(b"RpmP", "little"), 0, 1, 1)
    data = bytearray()
    block = 4096 // 16
    for index, blob in enumerate(blobs, start=1):
        record = struct.pack("<IIII", int.from_bytes(b"BlbS", "little"), index, 1, len(blob)) + blob
        record += b"\x00" * (-len(record) % 16) + b"\x00" * 16  # padding and a (zeroed) tail block
        count = len(record) // 16
        struct.pack_into("<IIII", page, (index + 1) * 16, int.from_bytes(b"Slot", "little"), index, block, count)
        data += record
        block += count
    path.write_bytes(bytes(page) + bytes(data))


def rpm_cases(work: Path) -> dict[str, AnalyzerCase]:
    """The same two packages in each rpm database format (SQLite written by rpm itself)."""
    root = build_rpm_root(work)
    sqlite_path = root / "var/lib/rpm/rpmdb.sqlite"
    blobs = rpm_header_blobs(sqlite_path)
    os_release = 'ID="rocky"\nVERSION_ID="9.3"\nID_LIKE="rhel centos fedora"\n'
    sqlite_layer = LayerBuilder().file("/etc/os-release", os_release).tree(root / "var/lib/rpm", "/var/lib/rpm")
    sqlite_layer.file("/usr/share/moorage-hello/hello.txt", "hello\n")
    bdb = work / "Packages"
    write_bdb_packages(bdb, blobs)
    ndb = work / "Packages.db"
    write_ndb_packages(ndb, blobs)
    return {
        "rpm-sqlite": AnalyzerCase("rpm", [sqlite_layer], rpm_expected(), {"bdb_file": bdb}),
        "rpm-bdb": AnalyzerCase(
            "rpm",
            [LayerBuilder().file("/etc/os-release", os_release).file("/var/lib/rpm/Packages", bdb.read_bytes())],
            rpm_expected(),
        ),
        "rpm-ndb": AnalyzerCase(
            "rpm",
            [
                LayerBuilder()
                .file("/etc/os-release", os_release)
                .file("/usr/lib/sysimage/rpm/Packages.db", ndb.read_bytes())
            ],
            rpm_expected(),
        ),
    }
