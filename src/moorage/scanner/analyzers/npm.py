"""Node.js: installed ``node_modules/**/package.json`` (every nested copy is its own component),
and lock files (``package-lock.json`` v1-v3, ``yarn.lock`` v1 and berry, ``pnpm-lock.yaml``) for
what a lock names but no ``node_modules`` holds."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any

import yaml

from moorage.domain.bounded_json import loads
from moorage.scanner.analyzers.common import decode_text, purl
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue
from moorage.scanner.inventory import Ecosystem, Package
from moorage.scanner.limits import DEFAULT_JSON_DEPTH

LOCK_FILES = ("package-lock.json", "yarn.lock", "pnpm-lock.yaml")
MAX_LOCK_ENTRIES = 200_000


def is_installed_manifest(path: str) -> bool:
    """``.../node_modules/<name>/package.json`` or ``.../node_modules/@scope/<name>/package.json``."""
    parts = path.split("/")
    if len(parts) < 4 or parts[-1] != "package.json":
        return False
    if parts[-3] == "node_modules" and not parts[-2].startswith("@"):
        return not parts[-2].startswith(".")
    return len(parts) >= 5 and parts[-4] == "node_modules" and parts[-3].startswith("@")


def _license(doc: dict[str, Any]) -> list[JsonValue]:
    value = doc.get("license")
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return [value["type"]]
    many = doc.get("licenses")
    if isinstance(many, list):
        return [
            m["type"] if isinstance(m, dict) and isinstance(m.get("type"), str) else str(m)
            for m in many[:20]
            if isinstance(m, dict | str)
        ]
    return []


def _json(content: bytes, max_depth: int) -> Any:
    try:
        return loads(content, max_depth=max_depth)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"not JSON: {exc}") from exc


def parse_package_json(content: bytes, *, max_depth: int = DEFAULT_JSON_DEPTH) -> dict[str, JsonValue] | None:
    """Name, version and licenses of an installed package (None without name or version)."""
    doc = _json(content, max_depth)
    if not isinstance(doc, dict):
        raise ParseError("package.json is not an object")
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    return {"name": name, "version": version, "licenses": _license(doc)}


def parse_package_lock(content: bytes, *, max_depth: int = DEFAULT_JSON_DEPTH) -> list[JsonValue]:
    """Entries ``{name, version, location, licenses}`` of a package-lock (v1 nested
    ``dependencies``, v2/v3 flat ``packages``); dev-only, linked and root entries left out."""
    doc = _json(content, max_depth)
    if not isinstance(doc, dict):
        raise ParseError("package-lock is not an object")
    out: list[JsonValue] = []
    packages = doc.get("packages")
    if isinstance(packages, dict):
        for location, item in packages.items():
            if not location or not isinstance(item, dict) or item.get("dev") or item.get("link"):
                continue
            name = item.get("name") or location.rsplit("node_modules/", 1)[-1]
            version = item.get("version")
            if isinstance(name, str) and isinstance(version, str):
                out.append({"name": name, "version": version, "location": location, "licenses": _license(item)})
        return out
    dependencies = doc.get("dependencies")
    stack: list[tuple[str, Any]] = [("", dependencies)]
    while stack:
        prefix, deps = stack.pop()
        if not isinstance(deps, dict):
            continue
        for name, item in deps.items():
            if not isinstance(item, dict) or item.get("dev"):
                continue
            location = f"{prefix}node_modules/{name}"
            version = item.get("version")
            if isinstance(version, str) and not version.startswith(("file:", "link:")):
                out.append({"name": name, "version": version, "location": location, "licenses": []})
            stack.append((location + "/", item.get("dependencies")))
            if len(out) > MAX_LOCK_ENTRIES:
                raise ParseError("lock file too large")
    return out


def _spec_name(spec: str) -> str:
    spec = spec.strip().strip('"').strip("'")
    at = spec.find("@", 1)
    return spec[:at] if at > 0 else spec


def parse_yarn_lock(text: str) -> list[JsonValue]:
    """Entries of a yarn.lock, v1 (``version "x"``) or berry (``version: x``)."""
    out: list[JsonValue] = []
    name = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not line[0].isspace():
            first = line.rstrip(":").split(",")[0]
            name = (
                ""
                if first.startswith("__metadata") or "@workspace:" in first or "@link:" in first
                else _spec_name(first)
            )
            continue
        stripped = line.strip()
        if name and (stripped.startswith("version ") or stripped.startswith("version:")):
            version = stripped[len("version") :].lstrip(" :").strip().strip('"')
            out.append({"name": name, "version": version, "licenses": []})
            name = ""
            if len(out) > MAX_LOCK_ENTRIES:
                raise ParseError("lock file too large")
    return out


_PNPM_V5_KEY = re.compile(r"^/?(?P<name>@?[^@/]+(?:/[^@/]+)?)/(?P<version>\d[^/_()]*)(?:_.*)?$")
_PNPM_KEY = re.compile(r"^/?(?P<name>@?[^@]+)@(?P<version>[^(@_]+)")


def _pnpm_key(key: str) -> tuple[str, str] | None:
    """``/name/1.2.3_peer`` (lockfile 5), ``/name@1.2.3(peer)`` (6) or ``name@1.2.3`` (9)."""
    match = _PNPM_V5_KEY.match(key) or _PNPM_KEY.match(key)
    return (match.group("name"), match.group("version")) if match else None


def parse_pnpm_lock(text: str) -> list[JsonValue]:
    """Entries of a pnpm-lock.yaml (lockfile 5, 6 and 9 key styles); dev-only entries left out."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParseError(f"pnpm lock is not YAML: {exc}") from exc
    packages = doc.get("packages") if isinstance(doc, dict) else None
    out: list[JsonValue] = []
    for key, item in (packages or {}).items() if isinstance(packages, dict) else []:
        if not isinstance(key, str) or (isinstance(item, dict) and item.get("dev") is True):
            continue
        parsed = _pnpm_key(key)
        if parsed is not None:
            out.append({"name": parsed[0], "version": parsed[1], "licenses": []})
    return out


class NpmAnalyzer(Analyzer):
    """Node.js packages."""

    name = "npm"
    version = "1"
    max_content_bytes = 64 << 20

    def wants(self, entry: FileEntry) -> bool:
        """Installed package.json files, and lock files outside node_modules."""
        if entry.kind not in (FileKind.REGULAR, FileKind.HARDLINK):
            return False
        path = entry.path
        if path.endswith("/package.json"):
            return "/node_modules/" in path and is_installed_manifest(path)
        if path.endswith(LOCK_FILES):
            return "/node_modules/" not in path and posixpath.basename(path) in LOCK_FILES
        return False

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """``{"kind": "installed"|"lock", ...}``."""
        base = posixpath.basename(entry.path)
        if base == "package.json":
            found = parse_package_json(content, max_depth=self.limits.max_json_depth)
            return None if found is None else {"kind": "installed", **found}
        if base == "package-lock.json":
            entries = parse_package_lock(content, max_depth=self.limits.max_json_depth)
        elif base == "yarn.lock":
            entries = parse_yarn_lock(decode_text(content))
        else:
            entries = parse_pnpm_lock(decode_text(content))
        return {"kind": "lock", "format": base, "entries": entries}

    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """Installed packages, then lock entries that nothing installed covers."""
        packages: list[Package] = []
        for path, value, flat in view.results(self.name):
            if not isinstance(value, dict):
                continue
            if value.get("kind") == "installed":
                packages.append(_package(value, path, flat.entry.layer_digest))
                continue
            directory = posixpath.dirname(path)
            fmt = value.get("format")
            has_modules = f"{directory}/node_modules" in view.files
            for item in _entries(value):
                location = item.get("location")
                if isinstance(location, str):
                    if f"{directory}/{location}/package.json" in view.files:
                        continue
                elif has_modules and fmt != "package-lock.json":
                    continue
                packages.append(_package(item, path, flat.entry.layer_digest))
        return AnalyzerOutput(packages=tuple(packages))


def _entries(value: dict[str, JsonValue]) -> Iterator[dict[str, JsonValue]]:
    entries = value.get("entries")
    for item in entries if isinstance(entries, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("version"), str):
            yield item


def _package(value: dict[str, JsonValue], path: str, layer: str) -> Package:
    name, version = str(value["name"]), str(value["version"])
    scope, _, short = name.rpartition("/")
    licenses = value.get("licenses")
    return Package(
        ecosystem=Ecosystem.NPM,
        name=name,
        version=version,
        namespace=scope,
        purl=purl("npm", short, version, namespace=scope),
        licenses=tuple(str(x) for x in licenses) if isinstance(licenses, list) else (),
        layer_digest=layer,
        path=path,
    )
