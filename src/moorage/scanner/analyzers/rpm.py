"""rpm: the SQLite, Berkeley DB and NDB package databases (``/var/lib/rpm``,
``/usr/lib/sysimage/rpm``), header blobs parsed in Python, with epoch, source RPM and file lists."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from moorage.scanner.analyzers.common import distro_qualifier, introduced_in, purl
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.analyzers.rpm_header import RpmHeader, parse_header_blob
from moorage.scanner.analyzers.rpmdb import bdb_blobs, ndb_blobs, sqlite_blobs
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue
from moorage.scanner.inventory import Ecosystem, Package

DB_DIRS = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")
DB_FILES = {"rpmdb.sqlite": "sqlite", "Packages": "bdb", "Packages.db": "ndb"}
_NAMESPACES = {
    "rhel": "redhat",
    "centos": "centos",
    "rocky": "rocky",
    "almalinux": "almalinux",
    "fedora": "fedora",
    "amzn": "amazon",
    "ol": "oracle",
    "sles": "suse",
    "opensuse-leap": "opensuse",
    "opensuse-tumbleweed": "opensuse",
}


def read_database(kind: str, content: bytes) -> Iterator[RpmHeader]:
    """Installed package headers of one database file (``gpg-pubkey`` pseudo-packages left out)."""
    blobs = {"sqlite": sqlite_blobs, "bdb": bdb_blobs, "ndb": ndb_blobs}[kind](content)
    for blob in blobs:
        header = parse_header_blob(blob)
        if header.name != "gpg-pubkey":
            yield header


def split_source_rpm(source_rpm: str) -> tuple[str, str]:
    """``bash-5.1.8-6.el9.src.rpm`` -> (``bash``, ``5.1.8-6.el9``)."""
    stem = source_rpm
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    else:
        return "", ""
    parts = stem.rsplit("-", 2)
    if len(parts) != 3:
        return "", ""
    return parts[0], f"{parts[1]}-{parts[2]}"


def full_version(epoch: int | None, version: str, release: str) -> str:
    """``[epoch:]version-release``, epoch only when non-zero."""
    text = f"{version}-{release}" if release else version
    return f"{epoch}:{text}" if epoch else text


class RpmAnalyzer(Analyzer):
    """Red Hat family, SUSE and Amazon Linux packages."""

    name = "rpm"
    version = "1"
    stage = 1
    max_content_bytes = 512 << 20

    def wants(self, entry: FileEntry) -> bool:
        """The package database files, by path."""
        if entry.kind not in (FileKind.REGULAR, FileKind.HARDLINK):
            return False
        directory, base = posixpath.split(entry.path)
        return directory in DB_DIRS and base in DB_FILES

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """One record per installed package."""
        kind = DB_FILES[posixpath.basename(entry.path)]
        records: list[JsonValue] = []
        for header in read_database(kind, content):
            records.append(
                {
                    "name": header.name,
                    "version": header.version,
                    "release": header.release,
                    "epoch": header.epoch,
                    "arch": header.arch,
                    "source_rpm": header.source_rpm,
                    "license": header.license,
                    "vendor": header.vendor,
                    "modularity_label": header.modularity_label,
                    "files": list(header.files),
                }
            )
        return records

    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """Packages from the first database found (sqlite, then ndb, then bdb)."""
        distro = context.distro
        namespace = _NAMESPACES.get(distro.id, distro.id) if distro else ""
        for directory in DB_DIRS:
            for base in ("rpmdb.sqlite", "Packages.db", "Packages"):
                path = f"{directory}/{base}"
                found = view.result(self.name, path)
                if found is None or not isinstance(found[0], list):
                    continue
                return self._packages(view, path, found, namespace, distro_qualifier(distro))
        return AnalyzerOutput()

    def _packages(
        self, view: FlatView, path: str, found: tuple[JsonValue, object], namespace: str, distro_text: str
    ) -> AnalyzerOutput:
        records, flat = found
        assert isinstance(records, list)
        packages: list[Package] = []
        owned: set[str] = set()
        for record in records:
            if not isinstance(record, dict):
                continue
            try:
                name, version, release = str(record["name"]), str(record["version"]), str(record["release"])
            except KeyError as exc:
                raise ParseError(f"rpm record without {exc}") from exc
            epoch = record.get("epoch")
            epoch = epoch if isinstance(epoch, int) else None
            arch = str(record.get("arch", ""))
            files = record.get("files")
            if isinstance(files, list):
                owned.update(f for f in files if isinstance(f, str))
            source_name, source_version = split_source_rpm(str(record.get("source_rpm", "")))
            evr = full_version(epoch, version, release)

            def same(v: JsonValue, name: str = name, evr: str = evr) -> bool:
                return isinstance(v, list) and any(
                    isinstance(r, dict)
                    and r.get("name") == name
                    and full_version(
                        r.get("epoch") if isinstance(r.get("epoch"), int) else None,  # type: ignore[arg-type]
                        str(r.get("version")),
                        str(r.get("release")),
                    )
                    == evr
                    for r in v
                )

            metadata = {k: str(record[k]) for k in ("vendor", "modularity_label") if record.get(k)}
            packages.append(
                Package(
                    ecosystem=Ecosystem.RPM,
                    name=name,
                    version=evr,
                    purl=purl(
                        "rpm",
                        name,
                        f"{version}-{release}" if release else version,
                        namespace=namespace,
                        qualifiers={
                            "arch": arch,
                            "epoch": str(epoch) if epoch else "",
                            "distro": distro_text,
                        },
                    ),
                    source_name=source_name,
                    source_version=(f"{epoch}:{source_version}" if epoch and source_version else source_version),
                    arch=arch,
                    licenses=(str(record["license"]),) if record.get("license") else (),
                    layer_digest=introduced_in(view, self.name, path, flat, same),  # type: ignore[arg-type]
                    path=path,
                    metadata=metadata,
                )
            )
        return AnalyzerOutput(packages=tuple(packages), owned_paths=frozenset(owned))
