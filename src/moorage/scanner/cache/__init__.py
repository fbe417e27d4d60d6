"""Layer-result caches (interface, directory, memory) and a factory from a configuration name."""

from __future__ import annotations

from pathlib import Path

from moorage.scanner.cache.directory import DirectoryLayerCache
from moorage.scanner.cache.interface import LayerCache, merge_scans
from moorage.scanner.cache.memory import MemoryLayerCache

__all__ = [
    "DirectoryLayerCache",
    "LayerCache",
    "MemoryLayerCache",
    "default_cache_dir",
    "make_cache",
    "merge_scans",
]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/moorage/layers`` (``~/.cache/moorage/layers``)."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "moorage" / "layers"


def make_cache(kind: str, directory: Path | None = None) -> LayerCache | None:
    """``"directory"`` (default location unless given), ``"memory"`` or ``"none"``."""
    if kind == "directory":
        return DirectoryLayerCache(directory or default_cache_dir())
    if kind == "memory":
        return MemoryLayerCache()
    if kind == "none":
        return None
    raise ValueError(f"unknown layer cache {kind!r}: use directory, memory or none")
