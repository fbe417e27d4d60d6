"""JSON encoding of layer scans for the cache: compact, versioned, and checked when read back."""

from __future__ import annotations

from typing import Any

from moorage.scanner.errors import MALFORMED_JSON, CacheError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.interface import JsonValue, SkipCode
from moorage.scanner.layers import READER, LayerScan, PluginError

CODEC_VERSION = 2
"""2: errors carry their code; the file list carries the reader's notes, the layer's uncompressed
size and member count (version 1 entries are misses: they lack what the reader left out)."""


def _errors_to_json(scan: LayerScan, plugin: str) -> list[list[str]]:
    return [[e.path, e.message, e.code.value] for e in scan.errors if e.plugin == plugin]


def _errors_from_json(items: Any, plugin: str) -> list[PluginError]:
    return [PluginError(plugin, str(p), str(m), SkipCode(c)) for p, m, c in items]


def encode_files(scan: LayerScan) -> dict[str, Any]:
    """The file list, whiteouts and opaque directories of a scan, as JSON."""
    return {
        "codec": CODEC_VERSION,
        "digest": scan.digest,
        "entries": [[e.path, e.kind.value, e.size, e.mode, e.uid, e.gid, e.link_target] for e in scan.entries],
        "whiteouts": list(scan.whiteouts),
        "opaque_dirs": list(scan.opaque_dirs),
        "reader_errors": _errors_to_json(scan, READER),
        "uncompressed_bytes": scan.uncompressed_bytes,
        "members": scan.members,
    }


def decode_files(doc: Any) -> LayerScan:
    """Inverse of :func:`encode_files`; raises CacheError on anything unexpected."""
    try:
        if doc["codec"] != CODEC_VERSION:
            raise CacheError(f"cache codec {doc['codec']} is not {CODEC_VERSION}")
        digest = str(doc["digest"])
        entries = tuple(
            FileEntry(
                path=str(p),
                kind=FileKind(k),
                size=int(s),
                mode=int(m),
                uid=int(u),
                gid=int(g),
                link_target=str(t),
                layer_digest=digest,
            )
            for p, k, s, m, u, g, t in doc["entries"]
        )
        return LayerScan(
            digest=digest,
            entries=entries,
            whiteouts=tuple(map(str, doc["whiteouts"])),
            opaque_dirs=tuple(map(str, doc["opaque_dirs"])),
            errors=tuple(_errors_from_json(doc["reader_errors"], READER)),
            uncompressed_bytes=int(doc["uncompressed_bytes"]),
            members=int(doc["members"]),
        )
    except MALFORMED_JSON as exc:
        raise CacheError(f"malformed cached file list: {exc!r}") from exc


def encode_results(scan: LayerScan, plugin: str) -> dict[str, Any]:
    """One plug-in's results and errors for a scan, as JSON."""
    return {
        "codec": CODEC_VERSION,
        "results": scan.results.get(plugin, {}),
        "errors": _errors_to_json(scan, plugin),
    }


def decode_results(doc: Any, plugin: str) -> tuple[dict[str, JsonValue], list[PluginError]]:
    """Inverse of :func:`encode_results`."""
    try:
        if doc["codec"] != CODEC_VERSION:
            raise CacheError(f"cache codec {doc['codec']} is not {CODEC_VERSION}")
        results = dict(doc["results"])
        errors = _errors_from_json(doc["errors"], plugin)
        return results, errors
    except MALFORMED_JSON as exc:
        raise CacheError(f"malformed cached results: {exc!r}") from exc
