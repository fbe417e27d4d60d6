"""Flattening: layer scans (bottom to top) -> the image's final file system view.

Works on per-path results, never on bytes: upper-layer files replace lower ones, whiteouts delete
a path and everything below it, an opaque directory hides everything the lower layers had under it,
and a non-directory replacing a directory hides the directory's lower contents. Layers are walked
top-down with the set of hidden prefixes, so the cost is one set lookup per path component.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.interface import JsonValue
from moorage.scanner.layers import LayerScan, resolve_link_target

MAX_SYMLINK_HOPS = 40


@dataclass(frozen=True, slots=True)
class LayerFileResult:
    """One plug-in's result for one path of one layer, as checks see it."""

    plugin: str
    """Plug-in name."""
    path: str
    """Image path."""
    layer_index: int
    """Position of the layer in the image, 0 = base layer."""
    layer_digest: str
    """Digest of that layer."""
    value: JsonValue
    """What the plug-in's ``extract`` returned."""
    deleted_later: bool
    """True when an upper layer deleted or replaced this path: it is not in the final image."""


def _ancestors(path: str) -> Iterator[str]:
    """Strict ancestors of ``/a/b/c``: ``/a/b``, ``/a``, ``/`` (nearest first)."""
    while path != "/":
        path = path.rsplit("/", 1)[0] or "/"
        yield path


class _Hider:
    """Paths the layers above the current one delete or replace."""

    def __init__(self) -> None:
        self.present: set[str] = set()
        self.subtree_hidden: set[str] = set()
        self.children_hidden: set[str] = set()

    def hides(self, path: str) -> bool:
        if path in self.present or path in self.subtree_hidden:
            return True
        return any(parent in self.subtree_hidden or parent in self.children_hidden for parent in _ancestors(path))

    def add_layer(self, scan: LayerScan) -> None:
        for entry in scan.entries:
            self.present.add(entry.path)
            if entry.kind is not FileKind.DIRECTORY:
                self.subtree_hidden.add(entry.path)
        self.subtree_hidden.update(scan.whiteouts)
        self.children_hidden.update(scan.opaque_dirs)


@dataclass(frozen=True, slots=True)
class FlatFile:
    """A path of the final image and the layer whose copy it is."""

    entry: FileEntry
    """The entry as the winning layer wrote it."""
    layer_index: int
    """Position of that layer, 0 = base."""


class FlatView:
    """The final image: every visible path, and each plug-in's results for visible paths."""

    def __init__(self, layers: Sequence[LayerScan]) -> None:
        self.layers: tuple[LayerScan, ...] = tuple(layers)
        self.files: dict[str, FlatFile] = {}
        self._visible: list[set[str]] = [set() for _ in self.layers]
        self._layer_paths: dict[int, set[str]] = {}
        self._histories: dict[tuple[str, str], list[tuple[int, JsonValue]]] = {}
        hider = _Hider()
        for index in range(len(self.layers) - 1, -1, -1):
            scan = self.layers[index]
            visible = self._visible[index]
            for entry in reversed(scan.entries):  # the last duplicate in a layer wins
                if entry.path in visible or hider.hides(entry.path):
                    continue
                visible.add(entry.path)
                self.files[entry.path] = FlatFile(entry, index)
            hider.add_layer(scan)

    def is_visible(self, layer_index: int, path: str) -> bool:
        """Whether layer ``layer_index``'s copy of ``path`` is the one in the final image."""
        return path in self._visible[layer_index]

    def result(self, plugin: str, path: str) -> tuple[JsonValue, FlatFile] | None:
        """The plug-in's result for the final image's ``path`` and where it came from."""
        flat = self.files.get(path)
        if flat is None:
            return None
        results = self.layers[flat.layer_index].results.get(plugin, {})
        if path not in results:
            return None
        return results[path], flat

    def results(self, plugin: str) -> Iterator[tuple[str, JsonValue, FlatFile]]:
        """Every visible path the plug-in has a result for: (path, value, where)."""
        for index, scan in enumerate(self.layers):
            for path, value in scan.results.get(plugin, {}).items():
                if path in self._visible[index]:
                    yield path, value, self.files[path]

    def history(self, plugin: str, path: str) -> list[tuple[int, JsonValue]]:
        """Every layer's result for ``path``, top layer first, stopping where it was deleted.

        Lets a package-database analyzer tell in which layer a package first appeared with the
        version the image has.
        """
        key = (plugin, path)
        if key in self._histories:
            return self._histories[key]
        flat = self.files.get(path)
        if flat is None:
            return []
        out: list[tuple[int, JsonValue]] = []
        self._histories[key] = out
        for index in range(flat.layer_index, -1, -1):
            scan = self.layers[index]
            if index < flat.layer_index and _deletes(self.layers[index + 1], path):
                break
            if path in scan.results.get(plugin, {}):
                out.append((index, scan.results[plugin][path]))
            elif path in self._paths_of(index):
                break
        return out

    def _paths_of(self, index: int) -> set[str]:
        if index not in self._layer_paths:
            self._layer_paths[index] = {e.path for e in self.layers[index].entries}
        return self._layer_paths[index]

    def resolve(self, path: str) -> str | None:
        """Follow symbolic links (in the final image, clamped to its root); None if dangling."""
        current = path
        for _ in range(MAX_SYMLINK_HOPS):
            current = self._resolve_parents(current)
            flat = self.files.get(current)
            if flat is None:
                return None
            if flat.entry.kind is not FileKind.SYMLINK:
                return current
            current = resolve_link_target(current, flat.entry.link_target)
        return None

    def _resolve_parents(self, path: str) -> str:
        parts = [p for p in path.split("/") if p]
        resolved = ""
        for i, part in enumerate(parts):
            candidate = f"{resolved}/{part}"
            flat = self.files.get(candidate)
            hops = 0
            while i < len(parts) - 1 and flat is not None and flat.entry.kind is FileKind.SYMLINK:
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    break
                candidate = resolve_link_target(candidate, flat.entry.link_target)
                flat = self.files.get(candidate)
            resolved = candidate if candidate != "/" else ""
        return resolved or "/"

    def layer_results(self) -> Iterator[LayerFileResult]:
        """Every plug-in result of every layer, with ``deleted_later`` set (what checks read)."""
        for index, scan in enumerate(self.layers):
            for plugin, by_path in scan.results.items():
                for path, value in by_path.items():
                    yield LayerFileResult(
                        plugin,
                        path,
                        index,
                        scan.digest,
                        value,
                        deleted_later=path not in self._visible[index],
                    )


def _deletes(scan: LayerScan, path: str) -> bool:
    if path in scan.whiteouts:
        return True
    for parent in [path, *_ancestors(path)]:
        if parent in scan.whiteouts:
            return True
    return any(parent in scan.opaque_dirs for parent in _ancestors(path))
