"""Rust: the dependency list ``cargo auditable`` embeds in a binary (section ``.dep-v0``, zlib-
compressed JSON)."""

from __future__ import annotations

import zlib

from moorage.domain.bounded_json import loads
from moorage.scanner.analyzers.binfmt import section_bytes
from moorage.scanner.analyzers.common import purl
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue
from moorage.scanner.inventory import Ecosystem, Package
from moorage.scanner.limits import DEFAULT_JSON_DEPTH

SECTION = ".dep-v0"
MAX_JSON = 16 << 20


def parse_audit_data(compressed: bytes, *, max_depth: int = DEFAULT_JSON_DEPTH) -> list[JsonValue]:
    """Crates (name, version, source, kind, root) from the section's compressed JSON."""
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(compressed, MAX_JSON)
        if inflater.unconsumed_tail:
            raise ParseError("cargo-auditable data larger than the cap")
        doc = loads(raw, max_depth=max_depth)
    except (zlib.error, ValueError) as exc:
        raise ParseError(f"bad cargo-auditable data: {exc}") from exc
    items = doc.get("packages") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ParseError("cargo-auditable data has no packages")
    out: list[JsonValue] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("version"), str):
            out.append(
                {
                    "name": item["name"],
                    "version": item["version"],
                    "source": str(item.get("source", "")),
                    "kind": str(item.get("kind", "runtime")),
                    "root": bool(item.get("root", False)),
                }
            )
    return out


class CargoAuditableAnalyzer(Analyzer):
    """Crates compiled into Rust binaries built with ``cargo auditable``."""

    name = "cargo-auditable"
    version = "1"
    max_content_bytes = 512 << 20

    def wants(self, entry: FileEntry) -> bool:
        """Executable regular files."""
        return entry.kind in (FileKind.REGULAR, FileKind.HARDLINK) and entry.mode & 0o111 != 0 and entry.size >= 1024

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """Crates, or None for a binary without the section."""
        if not content.startswith(b"\x7fELF") or SECTION.encode() not in content:
            return None
        data = section_bytes(content, SECTION)
        return None if data is None else parse_audit_data(data, max_depth=self.limits.max_json_depth)

    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """Runtime crates from a registry (the binary's own crate and build-only crates left out)."""
        packages = []
        for path, value, flat in view.results(self.name):
            for crate in value if isinstance(value, list) else []:
                if not isinstance(crate, dict) or crate.get("root") or crate.get("kind") == "build":
                    continue
                name, version = str(crate["name"]), str(crate["version"])
                packages.append(
                    Package(
                        ecosystem=Ecosystem.CARGO,
                        name=name,
                        version=version,
                        purl=purl("cargo", name, version),
                        layer_digest=flat.entry.layer_digest,
                        path=path,
                        metadata={"source": str(crate.get("source", ""))},
                    )
                )
        return AnalyzerOutput(packages=tuple(packages))
