"""apk (Alpine): ``/lib/apk/db/installed``, with origin, license and the files each package owns."""

from __future__ import annotations

from moorage.scanner.analyzers.common import decode_text, distro_qualifier, introduced_in, purl
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue
from moorage.scanner.inventory import Ecosystem, Package

INSTALLED = "/lib/apk/db/installed"
MAX_PACKAGES = 100_000


def parse_installed(text: str) -> list[dict[str, JsonValue]]:
    """Records of an apk ``installed`` database: ``X:value`` lines, blank line between packages;
    ``F:`` (directory) and ``R:`` (file) lines give the package's files."""
    records: list[dict[str, JsonValue]] = []
    current: dict[str, JsonValue] = {}
    files: list[str] = []
    directory = ""

    def close() -> None:
        if current.get("P") and current.get("V"):
            current["files"] = list(files)
            records.append(dict(current))

    for line in text.splitlines():
        if not line.strip():
            close()
            current, files, directory = {}, [], ""
            if len(records) > MAX_PACKAGES:
                raise ParseError(f"more than {MAX_PACKAGES} packages")
            continue
        if len(line) < 2 or line[1] != ":":
            continue
        key, value = line[0], line[2:]
        if key == "F":
            directory = value.strip("/")
        elif key == "R":
            files.append("/" + (f"{directory}/{value}" if directory else value))
        elif key in "PVAoLtc":
            current[key] = value
    close()
    return records


class ApkAnalyzer(Analyzer):
    """Alpine packages."""

    name = "apk"
    version = "1"
    stage = 1
    max_content_bytes = 64 << 20

    def wants(self, entry: FileEntry) -> bool:
        """The installed database."""
        return entry.path == INSTALLED and entry.kind in (FileKind.REGULAR, FileKind.HARDLINK)

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """Package records."""
        records: list[JsonValue] = list(parse_installed(decode_text(content)))
        return records

    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """Installed packages and their files."""
        found = view.result(self.name, INSTALLED)
        if found is None:
            return AnalyzerOutput()
        value, flat = found
        if not isinstance(value, list):
            return AnalyzerOutput()
        distro = context.distro
        namespace = distro.id if distro else "alpine"
        packages: list[Package] = []
        owned: set[str] = set()
        for record in value:
            if not isinstance(record, dict):
                continue
            name, version = str(record.get("P", "")), str(record.get("V", ""))
            arch, origin = str(record.get("A", "")), str(record.get("o", ""))
            license_text = str(record.get("L", ""))
            files = record.get("files")
            if isinstance(files, list):
                owned.update(f for f in files if isinstance(f, str))

            def same(v: JsonValue, name: str = name, version: str = version) -> bool:
                return isinstance(v, list) and any(
                    isinstance(r, dict) and r.get("P") == name and r.get("V") == version for r in v
                )

            packages.append(
                Package(
                    ecosystem=Ecosystem.APK,
                    name=name,
                    version=version,
                    purl=purl(
                        "apk",
                        name,
                        version,
                        namespace=namespace,
                        qualifiers={"arch": arch, "distro": distro_qualifier(distro)},
                    ),
                    source_name=origin or name,
                    arch=arch,
                    licenses=(license_text,) if license_text else (),
                    layer_digest=introduced_in(view, self.name, INSTALLED, flat, same),
                    path=INSTALLED,
                )
            )
        return AnalyzerOutput(packages=tuple(packages), owned_paths=frozenset(owned))
