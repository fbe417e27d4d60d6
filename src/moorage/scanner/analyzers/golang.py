"""Go binaries: the build info the Go linker embeds (main module, dependencies with versions and
replacements, and the Go version, reported as the ``stdlib`` module)."""

from __future__ import annotations

import re
import struct

from moorage.scanner.analyzers.binfmt import (
    elf_sections,
    is_executable_format,
    read_at_address,
    section_bytes,
)
from moorage.scanner.analyzers.common import purl
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer, AnalyzerOutput
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue
from moorage.scanner.inventory import Ecosystem, Package

BUILDINFO_MAGIC = b"\xff Go buildinf:"
MIN_BINARY_SIZE = 1024
MAX_MODULES = 20_000


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ParseError("bad varint in Go build info")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def find_buildinfo(content: bytes) -> tuple[str, str]:
    """(Go version, module info text) of a Go binary; ParseError if it has none."""
    blob = section_bytes(content, ".go.buildinfo") if content[:4] == b"\x7fELF" else None
    if blob is None or not blob.startswith(BUILDINFO_MAGIC):
        position = content.find(BUILDINFO_MAGIC)
        while position >= 0 and position % 16:
            position = content.find(BUILDINFO_MAGIC, position + 1)
        if position < 0:
            raise ParseError("no Go build info")
        blob = content[position : position + (64 << 10)]
    if len(blob) < 32:
        raise ParseError("Go build info header truncated")
    pointer_size, flags = blob[14], blob[15]
    if flags & 2:  # Go 1.18+: inline, varint-length-prefixed strings
        length, pos = _varint(blob, 32)
        version = blob[pos : pos + length].decode("utf-8", errors="replace")
        pos += length
        length, pos = _varint(blob, pos)
        modinfo = blob[pos : pos + length]
    else:  # older: pointers to string headers
        if pointer_size not in (4, 8):
            raise ParseError("bad pointer size in Go build info")
        big = bool(flags & 1)
        version, modinfo = _pointer_strings(content, blob, pointer_size, big)
    text = modinfo.decode("utf-8", errors="replace")
    if len(text) >= 33 and text[-17] == "\n":
        text = text[16:-16]
    return version, text


def _pointer_strings(content: bytes, blob: bytes, pointer_size: int, big: bool) -> tuple[str, bytes]:
    sections = elf_sections(content)
    order = ">" if big else "<"
    word = "Q" if pointer_size == 8 else "I"

    def read_string(header_address: int) -> bytes:
        header = read_at_address(content, sections, header_address, 2 * pointer_size)
        address, length = struct.unpack(f"{order}{word}{word}", header)
        if length > 1 << 20:
            raise ParseError("Go build info string too long")
        return read_at_address(content, sections, address, length) if length else b""

    version_ptr, modinfo_ptr = struct.unpack_from(f"{order}{word}{word}", blob, 16)
    return read_string(version_ptr).decode("utf-8", errors="replace"), read_string(modinfo_ptr)


def parse_modinfo(version: str, modinfo: str) -> dict[str, JsonValue]:
    """Main module, dependencies (replacements applied) and settings from ``go version -m`` text."""
    main: dict[str, JsonValue] = {}
    command = ""
    deps: list[JsonValue] = []
    settings: dict[str, JsonValue] = {}
    for line in modinfo.splitlines():
        fields = line.split("\t")
        if fields[0] == "path" and len(fields) >= 2:
            command = fields[1]
        elif fields[0] == "mod" and len(fields) >= 3:
            main = {"path": fields[1], "version": fields[2]}
        elif fields[0] == "dep" and len(fields) >= 3:
            deps.append({"path": fields[1], "version": fields[2]})
        elif fields[0] == "=>" and len(fields) >= 3 and deps:
            last = deps[-1]
            if isinstance(last, dict):
                last["replaced_by"] = fields[1]
                last["version"] = fields[2]
        elif fields[0] == "build" and len(fields) >= 2 and "=" in fields[1]:
            key, _, value = fields[1].partition("=")
            settings[key] = value
        if len(deps) > MAX_MODULES:
            raise ParseError("too many modules in Go build info")
    return {"go": version, "path": command, "main": main, "deps": deps, "settings": settings}


_LDFLAG_VERSION = re.compile(
    r"-X[ =]['\"]?(?P<package>[\w./-]*)\.(?:version|Version|VERSION)=['\"]?v?(?P<version>\d+\.\d+[\w.+~-]*)"
)


def main_version(main: dict[str, JsonValue], settings: JsonValue) -> str:
    """The main module's version: from the build info, or, for a ``(devel)`` build, the version
    the build stamped with ``-ldflags -X ...version=`` (as release builds of most tools do)."""
    version = str(main.get("version") or "")
    if version and version != "(devel)":
        return version
    flags = settings.get("-ldflags") if isinstance(settings, dict) else None
    match = _LDFLAG_VERSION.search(flags) if isinstance(flags, str) else None
    return f"v{match.group('version')}" if match else ""


def gopath_main_module(command_path: str, settings: JsonValue) -> str:
    """For a binary built outside module mode (no ``mod`` line, as Debian builds them): the
    module the ``-X <package>.Version=`` stamp and the command path both sit in, their common
    path prefix of at least ``host/owner/repo``; empty when they share less."""
    flags = settings.get("-ldflags") if isinstance(settings, dict) else None
    match = _LDFLAG_VERSION.search(flags) if isinstance(flags, str) else None
    if match is None or not command_path:
        return ""
    common: list[str] = []
    for left, right in zip(command_path.split("/"), match.group("package").split("/"), strict=False):
        if left != right:
            break
        common.append(left)
    return "/".join(common) if len(common) >= 3 and "." in common[0] else ""


def _module_package(path: str, version: str, where: str, layer: str, kind: str) -> Package:
    prefix, _, _ = path.rpartition("/")
    short = path.rsplit("/", 1)[-1]
    return Package(
        ecosystem=Ecosystem.GOLANG,
        name=path,
        version=version,
        namespace=prefix,
        purl=purl("golang", short, version, namespace=prefix),
        layer_digest=layer,
        path=where,
        metadata={"kind": kind},
    )


class GoBinaryAnalyzer(Analyzer):
    """Modules compiled into Go binaries."""

    name = "go-binary"
    version = "2"
    max_content_bytes = 512 << 20

    def wants(self, entry: FileEntry) -> bool:
        """Executable regular files."""
        return (
            entry.kind in (FileKind.REGULAR, FileKind.HARDLINK)
            and entry.mode & 0o111 != 0
            and entry.size >= MIN_BINARY_SIZE
        )

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """Build info, or None for a file that is not a Go binary."""
        if not is_executable_format(content) or BUILDINFO_MAGIC not in content:
            return None
        version, modinfo = find_buildinfo(content)
        return parse_modinfo(version, modinfo)

    def collect(self, view: FlatView, context: AnalysisContext) -> AnalyzerOutput:
        """Main module (when versioned), dependencies, and ``stdlib`` at the Go version."""
        packages: list[Package] = []
        for path, value, flat in view.results(self.name):
            if not isinstance(value, dict):
                continue
            layer = flat.entry.layer_digest
            main = value.get("main")
            if isinstance(main, dict) and not main.get("path"):
                module = gopath_main_module(str(value.get("path") or ""), value.get("settings"))
                main = {"path": module, "version": "(devel)"} if module else main
            version = main_version(main, value.get("settings")) if isinstance(main, dict) else ""
            if isinstance(main, dict) and main.get("path") and version:
                packages.append(_module_package(str(main["path"]), version, path, layer, "main"))
            deps = value.get("deps")
            for dep in deps if isinstance(deps, list) else []:
                if isinstance(dep, dict) and dep.get("path") and dep.get("version"):
                    packages.append(_module_package(str(dep["path"]), str(dep["version"]), path, layer, "dep"))
            go = str(value.get("go") or "")
            if go.startswith("go"):
                stdlib_version = "v" + go[2:].split(" ")[0].split("-")[0].split("+")[0]
                packages.append(
                    Package(
                        ecosystem=Ecosystem.GOLANG,
                        name="stdlib",
                        version=stdlib_version,
                        purl=purl("golang", "stdlib", stdlib_version),
                        layer_digest=layer,
                        path=path,
                        metadata={"kind": "stdlib", "go": go},
                    )
                )
        return AnalyzerOutput(packages=tuple(packages))
