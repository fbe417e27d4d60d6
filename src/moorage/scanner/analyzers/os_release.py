"""OS detection: ``/etc/os-release`` (or ``/usr/lib/os-release``) and the older release files
(Alpine, Red Hat family, Debian, SUSE, LSB), for Debian, Ubuntu, Alpine, RHEL and its rebuilds,
Fedora, Amazon Linux, SUSE and distroless images."""

from __future__ import annotations

import re
import shlex

from moorage.scanner.analyzers.common import decode_text
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue
from moorage.scanner.inventory import Distro

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")
LEGACY_PATHS = (
    "/etc/lsb-release",
    "/etc/alpine-release",
    "/etc/redhat-release",
    "/etc/centos-release",
    "/etc/rocky-release",
    "/etc/almalinux-release",
    "/etc/fedora-release",
    "/etc/system-release",
    "/etc/debian_version",
    "/etc/SuSE-release",
)
_WANTED = frozenset((*OS_RELEASE_PATHS, *LEGACY_PATHS))
_RH_LINE = re.compile(r"^(?P<name>.+?) release (?P<version>[\d.]+)")
_RH_IDS = (
    ("red hat", "rhel"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("alma", "almalinux"),
    ("fedora", "fedora"),
    ("amazon", "amzn"),
    ("oracle", "ol"),
)


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines with shell quoting, as os-release(5) defines them."""
    values: dict[str, str] = {}
    for line in text.splitlines()[:500]:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        key = key.strip()
        if not key.replace("_", "").isalnum():
            continue
        try:
            parts = shlex.split(raw, posix=True)
        except ValueError:
            parts = [raw.strip("\"'")]
        values[key] = " ".join(parts)
    return values


class OsReleaseAnalyzer(Analyzer):
    """Finds the image's distribution."""

    name = "os-release"
    version = "1"
    stage = 0
    max_content_bytes = 64 << 10

    def wants(self, entry: FileEntry) -> bool:
        """The release files, by exact path."""
        return entry.path in _WANTED and entry.kind in (FileKind.REGULAR, FileKind.HARDLINK)

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """os-release style files into a dict; the others keep their first line."""
        text = decode_text(content)
        if entry.path in OS_RELEASE_PATHS or entry.path == "/etc/lsb-release":
            parsed: dict[str, JsonValue] = dict(parse_os_release(text))
            return parsed
        first = text.strip().splitlines()[0] if text.strip() else ""
        return {"line": first[:500]}

    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """The distro, os-release first, then the older files."""
        for path in OS_RELEASE_PATHS:
            target = view.resolve(path)
            found = view.result(self.name, target) if target else None
            if found is not None and isinstance(found[0], dict) and found[0].get("ID"):
                return AnalyzerOutput(distro=_from_os_release(found[0], view, self.name))
        return AnalyzerOutput(distro=_from_legacy(view, self.name))


def _text(values: dict[str, JsonValue], key: str) -> str:
    value = values.get(key, "")
    return value if isinstance(value, str) else ""


def _from_os_release(values: dict[str, JsonValue], view: FlatView, plugin: str) -> Distro:
    distro_id = _text(values, "ID").lower()
    version_id = _text(values, "VERSION_ID")
    if distro_id == "debian" and not version_id:
        version_id = _debian_version(view, plugin)
    return Distro(
        id=distro_id,
        version_id=version_id,
        codename=_text(values, "VERSION_CODENAME"),
        pretty_name=_text(values, "PRETTY_NAME"),
        id_like=tuple(_text(values, "ID_LIKE").lower().split()),
    )


def _line(view: FlatView, plugin: str, path: str) -> str:
    target = view.resolve(path)
    found = view.result(plugin, target) if target else None
    if found is None or not isinstance(found[0], dict):
        return ""
    line = found[0].get("line", "")
    return line if isinstance(line, str) else ""


def _debian_version(view: FlatView, plugin: str) -> str:
    line = _line(view, plugin, "/etc/debian_version")
    return line.split(".")[0] if line[:1].isdigit() else ""


def _from_legacy(view: FlatView, plugin: str) -> Distro | None:
    alpine = _line(view, plugin, "/etc/alpine-release")
    if alpine:
        return Distro(id="alpine", version_id=alpine.strip())
    for path in ("/etc/redhat-release", "/etc/centos-release", "/etc/system-release", "/etc/fedora-release"):
        match = _RH_LINE.match(_line(view, plugin, path))
        if match:
            lowered = match.group("name").lower()
            distro_id = next((i for key, i in _RH_IDS if key in lowered), "rhel")
            return Distro(id=distro_id, version_id=match.group("version"), pretty_name=match.group(0))
    lsb = view.result(plugin, "/etc/lsb-release")
    if lsb is not None and isinstance(lsb[0], dict) and lsb[0].get("DISTRIB_ID"):
        values = lsb[0]
        return Distro(
            id=_text(values, "DISTRIB_ID").lower(),
            version_id=_text(values, "DISTRIB_RELEASE"),
            codename=_text(values, "DISTRIB_CODENAME"),
            pretty_name=_text(values, "DISTRIB_DESCRIPTION"),
        )
    debian = _debian_version(view, plugin)
    if debian:
        return Distro(id="debian", version_id=debian)
    suse = _line(view, plugin, "/etc/SuSE-release")
    if suse:
        return Distro(id="sles", version_id="", pretty_name=suse)
    return None
