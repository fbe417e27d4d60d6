"""dpkg: ``/var/lib/dpkg/status``, distroless ``/var/lib/dpkg/status.d/*``, and the
``/var/lib/dpkg/info/*.list`` file lists (for file ownership)."""

from __future__ import annotations

from collections.abc import Callable

from moorage.scanner.analyzers.common import decode_text, distro_qualifier, introduced_in, iter_stanzas, purl
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue
from moorage.scanner.inventory import Ecosystem, Package

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d/"
INFO = "/var/lib/dpkg/info/"
_KEEP = ("Package", "Status", "Version", "Source", "Architecture", "Maintainer")
_PRESENT_STATES = frozenset(
    {"installed", "half-configured", "unpacked", "half-installed", "triggers-awaited", "triggers-pending"}
)


def parse_status(text: str) -> list[dict[str, str]]:
    """Stanzas of a dpkg status file, keeping the fields the inventory uses."""
    out = []
    for stanza in iter_stanzas(text):
        fields = {k: v for k, v in stanza if k in _KEEP}
        if fields.get("Package") and fields.get("Version"):
            out.append(fields)
    return out


def is_present(fields: dict[str, str]) -> bool:
    """Whether the package's files are on disk (distroless stanzas have no Status)."""
    status = fields.get("Status")
    if status is None:
        return True
    words = status.split()
    return len(words) == 3 and words[2] in _PRESENT_STATES


class DpkgAnalyzer(Analyzer):
    """Debian and Ubuntu packages."""

    name = "dpkg"
    version = "1"
    stage = 1
    max_content_bytes = 64 << 20

    def wants(self, entry: FileEntry) -> bool:
        """The status file, status.d stanzas and info/*.list."""
        if entry.kind not in (FileKind.REGULAR, FileKind.HARDLINK):
            return False
        path = entry.path
        if path == STATUS:
            return True
        if path.startswith(STATUS_D):
            return "/" not in path[len(STATUS_D) :] and not path.endswith(".md5sums")
        return path.startswith(INFO) and path.endswith(".list") and "/" not in path[len(INFO) :]

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """Stanzas (as dicts) for status files; the owned paths for a .list file."""
        text = decode_text(content)
        if entry.path.endswith(".list") and entry.path.startswith(INFO):
            return [line for line in text.splitlines() if line.startswith("/")]
        stanzas: list[JsonValue] = [dict(s) for s in parse_status(text)]
        return stanzas

    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """Installed packages and the files they own."""
        packages: list[Package] = []
        owned: set[str] = set()
        distro = context.distro
        namespace = distro.id if distro and distro.id in ("debian", "ubuntu") else (distro.id if distro else "debian")
        for path, value, flat in view.results(self.name):
            if path.endswith(".list") and path.startswith(INFO):
                if isinstance(value, list):
                    owned.update(v for v in value if isinstance(v, str))
                continue
            if not isinstance(value, list):
                continue
            for stanza in value:
                if not isinstance(stanza, dict):
                    continue
                fields = {k: v for k, v in stanza.items() if isinstance(v, str)}
                if not is_present(fields):
                    continue
                name, version = fields["Package"], fields["Version"]
                arch = fields.get("Architecture", "")
                source_name, source_version = name, ""
                if fields.get("Source"):
                    source_name, _, rest = fields["Source"].partition(" ")
                    source_version = rest.strip().strip("()").strip()
                layer = introduced_in(view, self.name, path, flat, _same_package(name, version))
                packages.append(
                    Package(
                        ecosystem=Ecosystem.DEB,
                        name=name,
                        version=version,
                        purl=purl(
                            "deb",
                            name,
                            version,
                            namespace=namespace,
                            qualifiers={"arch": arch, "distro": distro_qualifier(distro)},
                        ),
                        source_name=source_name,
                        source_version=source_version,
                        arch=arch,
                        layer_digest=layer,
                        path=path,
                    )
                )
        return AnalyzerOutput(packages=tuple(packages), owned_paths=frozenset(owned))


def _same_package(name: str, version: str) -> Callable[[JsonValue], bool]:
    def same(value: JsonValue) -> bool:
        if not isinstance(value, list):
            return False
        return any(
            isinstance(s, dict)
            and s.get("Package") == name
            and s.get("Version") == version
            and is_present({k: v for k, v in s.items() if isinstance(v, str)})
            for s in value
        )

    return same
