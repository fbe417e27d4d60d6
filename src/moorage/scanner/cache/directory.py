"""Layer cache in a directory: ``<root>/<algorithm>/<hex>/files.json`` and ``<plugin>@<version>.json``.

Files are written to a temporary name and renamed, so concurrent scans never read half a file; a
corrupt or unreadable entry counts as a miss.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from moorage.scanner.cache.codec import decode_files, decode_results, encode_files, encode_results
from moorage.scanner.cache.interface import LayerCache
from moorage.scanner.errors import CacheError
from moorage.scanner.interface import LayerPlugin
from moorage.scanner.layers import LayerScan

_DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]{64}|[0-9a-f]{128})$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.@+-]")


class DirectoryLayerCache(LayerCache):
    """Keeps layer scans as JSON files under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, digest: str) -> Path | None:
        match = _DIGEST.match(digest)
        if match is None:
            return None  # synthetic ids (directories) are never cached
        return self.root / match.group(1) / match.group(2)

    def load(self, digest: str, plugins: Sequence[LayerPlugin]) -> tuple[LayerScan | None, list[LayerPlugin]]:
        """See :meth:`LayerCache.load`."""
        directory = self._dir(digest)
        if directory is None:
            return None, list(plugins)
        try:
            files = decode_files(_read_json(directory / "files.json"))
        except (OSError, CacheError, ValueError):
            return None, list(plugins)
        results: dict[str, Any] = {}
        errors = []
        missing: list[LayerPlugin] = []
        for plugin in plugins:
            try:
                found, found_errors = decode_results(
                    _read_json(directory / f"{_SAFE_NAME.sub('_', plugin.cache_key)}.json"), plugin.name
                )
            except (OSError, CacheError, ValueError):
                missing.append(plugin)
                continue
            results[plugin.name] = found
            errors.extend(found_errors)
        return replace(files, results=results, errors=(*files.errors, *errors)), missing

    def store(self, scan: LayerScan, plugins: Sequence[LayerPlugin]) -> None:
        """See :meth:`LayerCache.store`."""
        directory = self._dir(scan.digest)
        if directory is None:
            return
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not (directory / "files.json").exists():
                _write_json(directory / "files.json", encode_files(scan))
            for plugin in plugins:
                _write_json(
                    directory / f"{_SAFE_NAME.sub('_', plugin.cache_key)}.json",
                    encode_results(scan, plugin.name),
                )
        except OSError as exc:
            raise CacheError(f"cannot write the layer cache in {directory}: {exc}") from exc


def _read_json(path: Path) -> Any:
    with path.open("rb") as handle:
        return json.load(handle)


def _write_json(path: Path, doc: Any) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(doc, handle, separators=(",", ":"))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
