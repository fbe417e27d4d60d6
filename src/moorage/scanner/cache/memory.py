"""Layer cache in memory: for one process (tests, a worker that scans many images in a row)."""

from __future__ import annotations

from collections.abc import Sequence

from moorage.scanner.cache.interface import LayerCache, merge_scans
from moorage.scanner.interface import LayerPlugin
from moorage.scanner.layers import LayerScan


class MemoryLayerCache(LayerCache):
    """Keeps layer scans in a dict keyed by digest; plug-in versions are checked on load."""

    def __init__(self) -> None:
        self._scans: dict[str, tuple[LayerScan, dict[str, str]]] = {}

    def load(self, digest: str, plugins: Sequence[LayerPlugin]) -> tuple[LayerScan | None, list[LayerPlugin]]:
        """See :meth:`LayerCache.load`."""
        held = self._scans.get(digest)
        if held is None:
            return None, list(plugins)
        scan, keys = held
        found = [p for p in plugins if keys.get(p.name) == p.cache_key]
        missing = [p for p in plugins if p not in found]
        return scan.restricted_to(p.name for p in found), missing

    def store(self, scan: LayerScan, plugins: Sequence[LayerPlugin]) -> None:
        """See :meth:`LayerCache.store`."""
        held = self._scans.get(scan.digest)
        keys = {p.name: p.cache_key for p in plugins}
        if held is not None:
            scan = merge_scans(held[0], scan.restricted_to(keys))
            keys = {**held[1], **keys}
        self._scans[scan.digest] = (scan, keys)
