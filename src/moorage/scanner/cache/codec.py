"""JSON encoding of layer scans for the cache: compact, versioned, and checked when read back."""

from __future__ import annotations

from typing import Any

from moorage.scanner.errors import MALFORMED_JSON, CacheError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.interface import JsonValue
from moorage.scanner.layers import LayerScan, PluginError

CODEC_VERSION = 1


def encode_files(scan: LayerScan) -> dict[str, Any]:
    """The file list, whiteouts and opaque directories of a scan, as JSON."""
    return {
        "codec": CODEC_VERSION,
        "digest": scan.digest,
        "entries": [
            [e.path, e.kind.value, e.size, e.mode, e.uid, e.gid, e.link_target] for e in scan.entries
        ],
        "whiteouts": list(scan.whiteouts),
        "opaque_dirs": list(scan.opaque_dirs),
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
        )
    except MALFORMED_JSON as exc:
        raise CacheError(f"malformed cached file list: {exc!r}") from exc


def encode_results(scan: LayerScan, plugin: str) -> dict[str, Any]:
    """One plug-in's results and errors for a scan, as JSON."""
    return {
        "codec": CODEC_VERSION,
        "results": scan.results.get(plugin, {}),
        "errors": [[e.path, e.message] for e in scan.errors if e.plugin == plugin],
    }


def decode_results(doc: Any, plugin: str) -> tuple[dict[str, JsonValue], list[PluginError]]:
    """Inverse of :func:`encode_results`."""
    try:
        if doc["codec"] != CODEC_VERSION:
            raise CacheError(f"cache codec {doc['codec']} is not {CODEC_VERSION}")
        results = dict(doc["results"])
        errors = [PluginError(plugin, str(p), str(m)) for p, m in doc["errors"]]
        return results, errors
    except MALFORMED_JSON as exc:
        raise CacheError(f"malformed cached results: {exc!r}") from exc
