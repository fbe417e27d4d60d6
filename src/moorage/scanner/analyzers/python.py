"""Python: ``*.dist-info/METADATA`` and ``*.egg-info`` (``PKG-INFO`` or the single-file form),
anywhere in the image."""

from __future__ import annotations

import re

from moorage.scanner.analyzers.common import decode_text, purl
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue
from moorage.scanner.inventory import Ecosystem, Package

_NORMALIZE = re.compile(r"[-_.]+")


def normalize_name(name: str) -> str:
    """PEP 503 normalised name (the purl form)."""
    return _NORMALIZE.sub("-", name).lower()


def parse_metadata(text: str) -> dict[str, JsonValue]:
    """The header block of core metadata (RFC 822 style): name, version and licenses."""
    headers: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t" and headers:
            key, value = headers[-1]
            headers[-1] = (key, value + "\n" + line.strip())
            continue
        key, sep, value = line.partition(":")
        if sep:
            headers.append((key.strip().lower(), value.strip()))
    fields: dict[str, list[str]] = {}
    for key, value in headers:
        fields.setdefault(key, []).append(value)
    name = (fields.get("name") or [""])[0]
    version = (fields.get("version") or [""])[0]
    if not name or not version:
        raise ParseError("metadata without Name or Version")
    licenses: list[JsonValue] = []
    if fields.get("license-expression"):
        licenses.append(fields["license-expression"][0])
    elif fields.get("license") and fields["license"][0] not in ("", "UNKNOWN") and "\n" not in fields["license"][0]:
        licenses.append(fields["license"][0][:200])
    else:
        licenses.extend(c.split("::")[-1].strip() for c in fields.get("classifier", []) if c.startswith("License ::"))
    return {"name": name, "version": version, "licenses": licenses}


class PythonAnalyzer(Analyzer):
    """Installed Python distributions."""

    name = "python"
    version = "1"
    max_content_bytes = 4 << 20
    accepts_truncated = True  # only the header block at the top is read
    prefix_is_enough = True

    def wants(self, entry: FileEntry) -> bool:
        """dist-info METADATA, egg-info PKG-INFO, and single-file ``.egg-info``."""
        if entry.kind not in (FileKind.REGULAR, FileKind.HARDLINK):
            return False
        path = entry.path
        return path.endswith(".dist-info/METADATA") or path.endswith(".egg-info/PKG-INFO") or path.endswith(".egg-info")

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """Name, version, licenses."""
        return parse_metadata(decode_text(content))

    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """One package per metadata file."""
        packages = []
        for path, value, flat in view.results(self.name):
            if not isinstance(value, dict):
                continue
            name, version = str(value.get("name")), str(value.get("version"))
            licenses = value.get("licenses")
            packages.append(
                Package(
                    ecosystem=Ecosystem.PYPI,
                    name=name,
                    version=version,
                    purl=purl("pypi", normalize_name(name), version),
                    licenses=tuple(str(x) for x in licenses) if isinstance(licenses, list) else (),
                    layer_digest=flat.entry.layer_digest,
                    path=path,
                )
            )
        return AnalyzerOutput(packages=tuple(packages))
