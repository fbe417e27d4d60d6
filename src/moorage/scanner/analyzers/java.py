"""Java archives (jar, war, ear and plug-in archives), nested ones included: Maven coordinates
from ``META-INF/maven/**/pom.properties``, else name and version from ``MANIFEST.MF`` (the group
id is only ever the one declared, never guessed)."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile

from moorage.scanner.analyzers.common import purl
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue
from moorage.scanner.inventory import Ecosystem, Package

ARCHIVE_SUFFIXES = (".jar", ".war", ".ear", ".jpi", ".hpi", ".par", ".sar", ".nar", ".kar", ".rar")
MAX_DEPTH = 4
MAX_NESTED_BYTES = 256 << 20
MAX_MEMBERS = 100_000
MAX_RATIO = 200
_FILE_VERSION = re.compile(r"^(?P<name>.+?)-(?P<version>\d[\w.+~-]*)$")


def parse_properties(text: str) -> dict[str, str]:
    """Java ``.properties`` lines (``key=value`` or ``key: value``; ``#`` comments)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        match = re.match(r"([^=:\s]+)\s*[=:]\s*(.*)", line)
        if match:
            out[match.group(1)] = match.group(2).strip()
    return out


def parse_manifest(text: str) -> dict[str, str]:
    """Main attributes of a ``MANIFEST.MF`` (72-byte lines continued with a leading space)."""
    out: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line:
            break
        if line.startswith(" ") and last:
            out[last] += line[1:]
            continue
        key, sep, value = line.partition(":")
        if sep:
            last = key.strip()
            out[last] = value.strip()
    return out


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    if info.file_size > cap or (
        info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1 << 20
    ):
        raise ParseError(f"{info.filename} is too large or too compressed")
    with archive.open(info) as member:
        return member.read(cap + 1)[:cap]


def scan_archive(content: bytes, location: str, depth: int = 0) -> list[JsonValue]:
    """Every Maven artifact (or manifest identity) in an archive and the archives nested in it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ParseError(f"{location} is not a zip archive: {exc}") from exc
    if len(members) > MAX_MEMBERS:
        raise ParseError(f"{location} has more than {MAX_MEMBERS} members")
    found: list[JsonValue] = []
    manifest: dict[str, str] = {}
    nested: list[zipfile.ZipInfo] = []
    try:
        for info in members:
            name = info.filename
            if name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                props = parse_properties(_read_member(archive, info, 1 << 20).decode("utf-8", "replace"))
                if props.get("artifactId") and props.get("version"):
                    found.append(
                        {
                            "group": props.get("groupId", ""),
                            "artifact": props["artifactId"],
                            "version": props["version"],
                            "location": location,
                            "source": "pom.properties",
                        }
                    )
            elif name.upper() == "META-INF/MANIFEST.MF":
                manifest = parse_manifest(_read_member(archive, info, 1 << 20).decode("utf-8", "replace"))
            elif name.lower().endswith(ARCHIVE_SUFFIXES) and not info.is_dir():
                nested.append(info)
        identity = _manifest_identity(manifest, location)
        single_same_version = (
            len(found) == 1
            and isinstance(found[0], dict)
            and identity is not None
            and (found[0].get("version") == identity["version"])
        )
        if (
            identity is not None
            and not single_same_version
            and not any(_same_artifact(item, identity) for item in found)
        ):
            found.insert(0, identity)  # the archive itself, when its pom.properties are all shaded ones
        if depth < MAX_DEPTH:
            for info in nested:
                inner = _read_member(archive, info, MAX_NESTED_BYTES)
                try:
                    found.extend(scan_archive(inner, f"{location}!/{info.filename}", depth + 1))
                except ParseError:
                    continue
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ParseError(f"{location}: unreadable member: {exc}") from exc
    return found


def _same_artifact(item: JsonValue, identity: dict[str, JsonValue]) -> bool:
    """Whether a pom.properties entry describes the archive itself (same name, or one names the
    other with a suffix, as ``guava`` and ``guava-jre`` do)."""
    if not isinstance(item, dict):
        return False
    artifact, name = str(item.get("artifact", "")), str(identity["artifact"])
    return artifact == name or name.startswith(artifact) or artifact.startswith(name)


def _manifest_identity(manifest: dict[str, str], location: str) -> dict[str, JsonValue] | None:
    """Name and version of the archive itself: the file name's when it carries a version, else the
    manifest title (without spaces) or the file stem; the version from the manifest first."""
    stem = posixpath.basename(location.rsplit("!/", 1)[-1]).rsplit(".", 1)[0]
    from_file = _FILE_VERSION.match(stem)
    title = manifest.get("Implementation-Title", "")
    if from_file:
        name = from_file.group("name")
    elif title and " " not in title:
        name = title
    else:
        name = stem
    version = (
        manifest.get("Implementation-Version")
        or manifest.get("Bundle-Version")
        or (from_file.group("version") if from_file else "")
    )
    if not name or not version:
        return None
    group = manifest.get("Implementation-Vendor-Id", "")
    return {
        "group": group,
        "artifact": name,
        "version": version,
        "location": location,
        "source": "MANIFEST.MF",
    }


class JavaArchiveAnalyzer(Analyzer):
    """Maven artifacts in Java archives."""

    name = "java-archive"
    version = "1"
    max_content_bytes = 512 << 20

    def wants(self, entry: FileEntry) -> bool:
        """Files named like Java archives."""
        return entry.kind in (FileKind.REGULAR, FileKind.HARDLINK) and entry.path.lower().endswith(
            ARCHIVE_SUFFIXES
        )

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """Artifacts found in the archive and the archives nested in it."""
        return scan_archive(content, entry.path)

    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """One package per artifact; the nested location is kept in metadata."""
        packages = []
        for path, value, flat in view.results(self.name):
            for item in value if isinstance(value, list) else []:
                if not isinstance(item, dict):
                    continue
                group, artifact, version = str(item["group"]), str(item["artifact"]), str(item["version"])
                packages.append(
                    Package(
                        ecosystem=Ecosystem.MAVEN,
                        name=artifact,
                        version=version,
                        namespace=group,
                        purl=purl("maven", artifact, version, namespace=group),
                        layer_digest=flat.entry.layer_digest,
                        path=path,
                        metadata={"location": str(item["location"]), "source": str(item["source"])},
                    )
                )
        return AnalyzerOutput(packages=tuple(packages))
