"""The scanner's layer cache in the metadata database, so every worker on every node shares one
cache: a base layer is analysed once for the whole fleet.

It implements ``moorage.scanner.cache.LayerCache`` with the scanner's own codec (the same JSON the
directory cache writes), zlib-compressed, one row per (layer digest, part): ``files`` for the file
list and ``<plugin>@<version>`` for each plug-in's results. It lives outside ``scanner/`` because it
needs the registry's database; the scanner stays free of it. Rows are only ever inserted (a layer's
analysis never changes for a given plug-in version), so concurrent writers cannot disagree.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from moorage.domain.bounded_json import load_document
from moorage.metadata.database import Database, now_ms
from moorage.metadata.tables import security_layer_analyses as t
from moorage.metadata.upsert import insert_ignore
from moorage.scanner.cache import DirectoryLayerCache, MemoryLayerCache
from moorage.scanner.cache.codec import decode_files, decode_results, encode_files, encode_results
from moorage.scanner.cache.interface import LayerCache
from moorage.scanner.errors import CacheError
from moorage.scanner.interface import LayerPlugin
from moorage.scanner.layers import LayerScan
from moorage.settings import Settings

log = logging.getLogger(__name__)

FILES_PART = "files"
MAX_PART_BYTES = 512 << 20
"""A cached part larger than this once decompressed is treated as corrupt (a miss)."""


def _pack(doc: Any) -> bytes:
    return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 1)


def _unpack(blob: bytes) -> Any:
    inflater = zlib.decompressobj()
    raw = inflater.decompress(blob, MAX_PART_BYTES)
    if inflater.unconsumed_tail:
        raise CacheError("cached layer analysis too large")
    return load_document(raw)


class DatabaseLayerCache(LayerCache):
    """Layer scans in the ``security_layer_analyses`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def load(self, digest: str, plugins: Sequence[LayerPlugin]) -> tuple[LayerScan | None, list[LayerPlugin]]:
        """See :meth:`LayerCache.load`."""
        wanted = [FILES_PART, *(p.cache_key for p in plugins)]
        try:
            rows = self.db.run_read(
                lambda conn: {
                    str(r[0]): bytes(r[1])
                    for r in conn.execute(
                        select(t.c.part, t.c.payload).where(t.c.layer_digest == digest, t.c.part.in_(wanted))
                    )
                }
            )
        except Exception:  # a cache that cannot be read is a miss, never a failed scan
            log.exception("reading the layer cache failed for %s", digest)
            return None, list(plugins)
        if FILES_PART not in rows:
            return None, list(plugins)
        try:
            files = decode_files(_unpack(rows[FILES_PART]))
        except (CacheError, ValueError, zlib.error):
            return None, list(plugins)
        results: dict[str, Any] = {}
        errors = []
        missing: list[LayerPlugin] = []
        for plugin in plugins:
            blob = rows.get(plugin.cache_key)
            if blob is None:
                missing.append(plugin)
                continue
            try:
                found, found_errors = decode_results(_unpack(blob), plugin.name)
            except (CacheError, ValueError, zlib.error):
                missing.append(plugin)
                continue
            results[plugin.name] = found
            errors.extend(found_errors)
        return replace(files, results=results, errors=(*files.errors, *errors)), missing

    def store(self, scan: LayerScan, plugins: Sequence[LayerPlugin]) -> None:
        """See :meth:`LayerCache.store`."""
        if not scan.digest.startswith(("sha256:", "sha512:")):
            return  # synthetic ids (root filesystems) are never cached
        now = now_ms()
        rows = [
            {"layer_digest": scan.digest, "part": FILES_PART, "payload": _pack(encode_files(scan)), "created_at": now}
        ]
        rows += [
            {
                "layer_digest": scan.digest,
                "part": p.cache_key,
                "payload": _pack(encode_results(scan, p.name)),
                "created_at": now,
            }
            for p in plugins
        ]
        try:
            self.db.run_write(lambda conn: insert_ignore(conn, t, rows, conflict=["layer_digest", "part"]))
        except Exception:  # the analysis is done: losing its cache entry only costs a later re-read
            log.exception("writing the layer cache failed for %s", scan.digest)


def layer_cache_of(settings: Settings, db: Database) -> LayerCache | None:
    """The layer cache the settings name (``database``, ``directory``, ``memory`` or ``none``)."""
    kind = settings.scanner.layer_cache
    if kind == "database":
        return DatabaseLayerCache(db)
    if kind == "directory":
        return DirectoryLayerCache(settings.scanner.layer_cache_dir or settings.data_dir / "layer-cache")
    if kind == "memory":
        return MemoryLayerCache()
    return None
