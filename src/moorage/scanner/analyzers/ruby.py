"""Ruby: installed gem specifications (``.../specifications/<name>-<version>.gemspec``)."""

from __future__ import annotations

import posixpath
import re

from moorage.scanner.analyzers.common import decode_text, purl
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue
from moorage.scanner.inventory import Ecosystem, Package

_STRING = r"""(?:"([^"]*)"|'([^']*)'|%q\{([^}]*)\})"""
_NAME = re.compile(r"\.name\s*=\s*" + _STRING)
_VERSION = re.compile(r"\.version\s*=\s*(?:Gem::Version\.new\()?\s*" + _STRING)
_LICENSES = re.compile(r"\.licenses?\s*=\s*\[?([^\]\n]*)\]?")
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def _first(match: re.Match[str] | None) -> str:
    return next((g for g in match.groups() if g is not None), "") if match else ""


def parse_gemspec(text: str) -> dict[str, JsonValue]:
    """Name, version and licenses of an installed gemspec (Ruby source, read with patterns)."""
    name, version = _first(_NAME.search(text)), _first(_VERSION.search(text))
    if not name or not version:
        raise ParseError("gemspec without name or version")
    found = _LICENSES.search(text)
    licenses: list[JsonValue] = list(_QUOTED.findall(found.group(1))) if found else []
    return {"name": name, "version": version, "licenses": licenses}


class RubyAnalyzer(Analyzer):
    """Installed Ruby gems."""

    name = "ruby"
    version = "1"
    max_content_bytes = 1 << 20

    def wants(self, entry: FileEntry) -> bool:
        """Gemspecs in a ``specifications`` directory."""
        return (
            entry.kind in (FileKind.REGULAR, FileKind.HARDLINK)
            and entry.path.endswith(".gemspec")
            and posixpath.basename(posixpath.dirname(entry.path)) == "specifications"
        )

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """Name, version, licenses."""
        return parse_gemspec(decode_text(content))

    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """One package per gemspec."""
        packages = []
        for path, value, flat in view.results(self.name):
            if not isinstance(value, dict):
                continue
            name, version = str(value["name"]), str(value["version"])
            licenses = value.get("licenses")
            packages.append(
                Package(
                    ecosystem=Ecosystem.GEM,
                    name=name,
                    version=version,
                    purl=purl("gem", name, version),
                    licenses=tuple(str(x) for x in licenses) if isinstance(licenses, list) else (),
                    layer_digest=flat.entry.layer_digest,
                    path=path,
                )
            )
        return AnalyzerOutput(packages=tuple(packages))
