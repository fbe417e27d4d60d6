"""PHP: Composer's ``vendor/composer/installed.json`` (format 1: a list; format 2: ``packages``)."""

from __future__ import annotations

from moorage.domain.bounded_json import loads
from moorage.scanner.analyzers.common import purl
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue
from moorage.scanner.inventory import Ecosystem, Package
from moorage.scanner.limits import DEFAULT_JSON_DEPTH


def parse_installed_json(content: bytes, *, max_depth: int = DEFAULT_JSON_DEPTH) -> list[JsonValue]:
    """``{"name", "version", "licenses"}`` per installed package."""
    try:
        doc = loads(content, max_depth=max_depth)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"installed.json is not JSON: {exc}") from exc
    items = doc.get("packages") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ParseError("installed.json lists no packages")
    out: list[JsonValue] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        name, version = item.get("name"), item.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name:
            continue
        licenses = item.get("license")
        if version[:1] == "v" and version[1:2].isdigit():
            version = version[1:]
        out.append(
            {
                "name": name,
                "version": version,
                "licenses": [str(x) for x in licenses] if isinstance(licenses, list) else [],
            }
        )
    return out


class ComposerAnalyzer(Analyzer):
    """PHP Composer packages."""

    name = "composer"
    version = "1"
    max_content_bytes = 32 << 20

    def wants(self, entry: FileEntry) -> bool:
        """``.../vendor/composer/installed.json``."""
        return entry.kind in (FileKind.REGULAR, FileKind.HARDLINK) and entry.path.endswith(
            "/vendor/composer/installed.json"
        )

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """Package records."""
        return parse_installed_json(content, max_depth=self.limits.max_json_depth)

    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """One package per record."""
        packages = []
        for path, value, flat in view.results(self.name):
            for item in value if isinstance(value, list) else []:
                if not isinstance(item, dict):
                    continue
                full, version = str(item["name"]), str(item["version"])
                vendor, _, short = full.rpartition("/")
                licenses = item.get("licenses")
                packages.append(
                    Package(
                        ecosystem=Ecosystem.COMPOSER,
                        name=full,
                        version=version,
                        namespace=vendor,
                        purl=purl("composer", short, version, namespace=vendor),
                        licenses=tuple(str(x) for x in licenses) if isinstance(licenses, list) else (),
                        layer_digest=flat.entry.layer_digest,
                        path=path,
                    )
                )
        return AnalyzerOutput(packages=tuple(packages))
