"""Java archives (jar, war, ear and plug-in archives), nested ones included: Maven coordinates
from ``META-INF/maven/**/pom.properties``, else name and version from ``MANIFEST.MF`` (the group
id is only ever the one declared, never guessed)."""

from __future__ import annotations

import io
import itertools
import posixpath
import re
import struct
import zipfile

from moorage.scanner.analyzers.common import purl
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue, PartialResult, SkipCode, Skipped
from moorage.scanner.inventory import Ecosystem, Package
from moorage.scanner.limits import ScanLimits

ARCHIVE_SUFFIXES = (".jar", ".war", ".ear", ".jpi", ".hpi", ".par", ".sar", ".nar", ".kar", ".rar")
MAX_METADATA_BYTES = 1 << 20
"""Most bytes of a ``pom.properties`` or ``MANIFEST.MF`` read (real ones are a few hundred)."""
MAX_RATIO = 200
"""A member inflating more than this many times its compressed size (past 1 MiB) is a bomb."""
READ_CHUNK = 1 << 20
_READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
"""Compression methods read. zipfile inflates bzip2 and LZMA members in one unbounded call, so a
small member could claim gigabytes at once; jars never use them."""
_FILE_VERSION = re.compile(r"^(?P<name>.+?)-(?P<version>\d[\w.+~-]*)$")
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_CENTRAL_HEADER = b"PK\x01\x02"


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


class _ArchiveRefused(Exception):
    """An archive (or one member) the bounds do not let us read; ``code`` says which bound."""

    def __init__(self, code: SkipCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def count_central_directory(content: bytes, limit: int) -> int:
    """Members the zip's central directory lists, counted from its headers before ``zipfile``
    builds one object per member; ``_ArchiveRefused`` past ``limit`` (a zip may declare a small
    count and list millions: zipfile reads the whole directory whatever the count says)."""
    tail_start = max(0, len(content) - (1 << 16) - 22)
    end = content.rfind(_EOCD, tail_start)
    if end < 0 or end + 22 > len(content):
        raise ParseError("no zip end-of-central-directory record")
    declared, size, _offset = struct.unpack_from("<HII", content, end + 10)
    directory_end = end
    if (declared == 0xFFFF or size == 0xFFFFFFFF) and end >= 20 and content[end - 20 : end - 16] == _EOCD64_LOCATOR:
        (record,) = struct.unpack_from("<Q", content, end - 12)
        record_end = end - 20
        if content[record : record + 4] == b"PK\x06\x06" and record + 56 <= len(content):
            declared, size = struct.unpack_from("<QQ", content, record + 32)
            record_end = record
        directory_end = record_end
    if declared > limit:
        raise _ArchiveRefused(SkipCode.ARCHIVE_TOO_LARGE, f"declares {declared} members, more than {limit}")
    start = directory_end - size
    if start < 0:
        raise ParseError("zip central directory out of bounds")
    position, count = start, 0
    while position < directory_end:
        if content[position : position + 4] != _CENTRAL_HEADER or position + 46 > directory_end:
            raise ParseError("bad zip central directory")
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", content, position + 28)
        position += 46 + name_length + extra_length + comment_length
        count += 1
        if count > limit:
            raise _ArchiveRefused(SkipCode.ARCHIVE_TOO_LARGE, f"lists more than {limit} members")
    return count


def _check_overlaps(members: list[zipfile.ZipInfo]) -> None:
    """Refuse members whose data overlap (the trick of the zip bombs that reuse one compressed
    kernel for every member)."""
    ordered = sorted(members, key=lambda info: info.header_offset)
    for before, after in itertools.pairwise(ordered):
        if before.header_offset + 30 + before.compress_size > after.header_offset:
            raise _ArchiveRefused(
                SkipCode.ARCHIVE_TOO_LARGE,
                f"members {before.filename!r} and {after.filename!r} overlap (a zip bomb)",
            )


class _Reading:
    """One top-level archive being read: its bounds, the bytes it may still inflate, what it skipped."""

    def __init__(self, limits: ScanLimits) -> None:
        self.limits = limits
        self.bytes_left = limits.max_archive_bytes
        self.members_left = limits.max_archive_members
        self.skipped: list[Skipped] = []

    def skip(self, code: SkipCode, message: str) -> None:
        self.skipped.append(Skipped(code, message))

    def read_member(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
        """A member's bytes, within its cap, the archive's byte budget and the ratio bound."""
        if info.compress_type not in _READABLE_METHODS:
            raise _ArchiveRefused(SkipCode.UNSUPPORTED, f"compression method {info.compress_type} is not read")
        if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _ArchiveRefused(
                SkipCode.ARCHIVE_TOO_LARGE,
                f"inflates {info.file_size // max(info.compress_size, 1)} times its size (a zip bomb)",
            )
        if info.file_size > cap:
            raise _ArchiveRefused(SkipCode.FILE_TOO_LARGE, f"{info.file_size} bytes, more than the cap of {cap}")
        if info.file_size > self.bytes_left:
            raise _ArchiveRefused(
                SkipCode.ARCHIVE_TOO_LARGE,
                f"{info.file_size} bytes, more than the {self.bytes_left} left of the archive's "
                f"{self.limits.max_archive_bytes}-byte budget",
            )
        out = io.BytesIO()  # chunk by chunk: peaks at the member's size, not twice it
        with archive.open(info) as member:
            while chunk := member.read(READ_CHUNK):
                out.write(chunk)
                if out.tell() > info.file_size:
                    raise ParseError(f"{info.filename} inflates past its declared size")
        self.bytes_left -= out.tell()
        return out.getvalue()


def scan_archive(content: bytes, location: str, limits: ScanLimits | None = None) -> JsonValue | PartialResult:
    """Every Maven artifact (or manifest identity) in an archive and the archives nested in it,
    within ``limits`` (``max_archive_depth``, ``max_archive_members``, ``max_archive_bytes``);
    what the bounds leave out is reported (a :class:`PartialResult`)."""
    reading = _Reading(limits or ScanLimits())
    try:
        found = _scan(content, location, reading, depth=0)
    except _ArchiveRefused as refused:
        return PartialResult([], (Skipped(refused.code, f"{location}: {refused}: not read"),))
    return PartialResult(found, tuple(reading.skipped)) if reading.skipped else found


def _open(content: bytes, location: str, reading: _Reading) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The archive and its members, once its central directory is known to fit what is left of
    ``max_archive_members`` (counted across the nested archives, so a zip of zips of zips stops)."""
    try:
        try:
            count = count_central_directory(content, reading.members_left)
        except _ArchiveRefused as refused:
            raise _ArchiveRefused(
                refused.code,
                f"{refused} (the archive and those nested in it may list {reading.limits.max_archive_members})",
            ) from None
        reading.members_left -= count
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error) as exc:
        raise ParseError(f"{location} is not a zip archive: {exc}") from exc
    _check_overlaps(members)
    return archive, members


def _scan(content: bytes, location: str, reading: _Reading, depth: int) -> list[JsonValue]:
    archive, members = _open(content, location, reading)
    found: list[JsonValue] = []
    manifest: dict[str, str] = {}
    nested: list[zipfile.ZipInfo] = []
    try:
        for info in members:
            name = info.filename
            is_pom = name.startswith("META-INF/maven/") and name.endswith("/pom.properties")
            if is_pom or name.upper() == "META-INF/MANIFEST.MF":
                try:
                    text = reading.read_member(archive, info, MAX_METADATA_BYTES).decode("utf-8", "replace")
                except _ArchiveRefused as refused:
                    reading.skip(refused.code, f"{location}!/{name}: {refused}: not read")
                    continue
                if not is_pom:
                    manifest = parse_manifest(text)
                    continue
                props = parse_properties(text)
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
        for info in nested:
            inner_location = f"{location}!/{info.filename}"
            if depth + 1 > reading.limits.max_archive_depth:
                reading.skip(
                    SkipCode.ARCHIVE_TOO_DEEP,
                    f"{inner_location}: nested deeper than {reading.limits.max_archive_depth} archives: not opened",
                )
                continue
            inner = b""
            try:
                inner = reading.read_member(archive, info, reading.limits.max_file_bytes)
                found.extend(_scan(inner, inner_location, reading, depth + 1))
            except _ArchiveRefused as refused:
                reading.skip(refused.code, f"{inner_location}: {refused}: not read")
            except ParseError as exc:
                reading.skip(SkipCode.MALFORMED, f"{inner_location}: {exc}")
            inner = b""  # let it go before the next nested archive is read
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
    version = "2"
    max_content_bytes = 512 << 20

    def wants(self, entry: FileEntry) -> bool:
        """Files named like Java archives."""
        return entry.kind in (FileKind.REGULAR, FileKind.HARDLINK) and entry.path.lower().endswith(ARCHIVE_SUFFIXES)

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue | PartialResult:
        """Artifacts found in the archive and the archives nested in it (within ``self.limits``)."""
        return scan_archive(content, entry.path, self.limits)

    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """One package per artifact; the nested location is kept in metadata.

        A Maven purl needs the group id (the purl specification makes ``namespace`` required for
        ``maven``), so an archive known only by its manifest or file name, with no declared group,
        is a package without a purl: its name, version and location, never a guessed group.
        """
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
                        purl=purl("maven", artifact, version, namespace=group) if group else "",
                        layer_digest=flat.entry.layer_digest,
                        path=path,
                        metadata={"location": str(item["location"]), "source": str(item["source"])},
                    )
                )
        return AnalyzerOutput(packages=tuple(packages))
