"""The layer-result cache contract: layer digest + plug-in versions -> a stored :class:`LayerScan`.

A layer's scan depends only on its bytes (named by its digest) and on each plug-in's
``name@version``, so results are stored per (digest, plug-in) plus one file list per digest. A scan
that needs plug-ins the cache lacks reads the layer again for those plug-ins only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from moorage.scanner.interface import LayerPlugin
from moorage.scanner.layers import READER, LayerScan


class LayerCache(ABC):
    """Where layer scans are kept between runs (and shared between images)."""

    @abstractmethod
    def load(self, digest: str, plugins: Sequence[LayerPlugin]) -> tuple[LayerScan | None, list[LayerPlugin]]:
        """The cached scan restricted to the plug-ins found, and the plug-ins that were missing.

        Returns ``(None, plugins)`` when nothing is cached for ``digest``.
        """

    @abstractmethod
    def store(self, scan: LayerScan, plugins: Sequence[LayerPlugin]) -> None:
        """Keep the file list of ``scan`` and the results of ``plugins`` under ``scan.digest``."""


def merge_scans(base: LayerScan, extra: LayerScan) -> LayerScan:
    """One scan with the results of both (same layer; ``extra`` wins on a clash)."""
    results = {**base.results, **extra.results}
    names = {*extra.results, READER}  # both passes read the same layer: the reader's notes once
    errors = tuple(e for e in base.errors if e.plugin not in names) + extra.errors
    return LayerScan(
        digest=base.digest,
        entries=base.entries,
        whiteouts=base.whiteouts,
        opaque_dirs=base.opaque_dirs,
        results=results,
        errors=errors,
        uncompressed_bytes=extra.uncompressed_bytes or base.uncompressed_bytes,
        members=extra.members or base.members,
    )
