"""The layer plug-in interface: how analyzers and checks take part in the single pass over a layer.

The scanner reads each layer once, as a stream. For every tar entry it builds a
:class:`~moorage.scanner.files.FileEntry` and asks every plug-in :meth:`LayerPlugin.wants`. If at
least one plug-in wants the entry, the reader reads the content into memory (up to the largest
:attr:`LayerPlugin.max_content_bytes` among the plug-ins that want it) and calls
:meth:`LayerPlugin.extract` on each of them. Nothing else is read into memory.

What ``extract`` returns is a *per-path result*: a JSON value (dicts, lists, strings, numbers,
booleans, None). A layer's results (plug-in name -> path -> value) are cached under the layer
digest, so a layer shared by many images is read once and a plug-in must not rely on anything but
the entry and its content. Flattening happens afterwards, on the results:

* analyzers (``moorage.scanner.analyzers``) see the *flattened* image: for each path, the result of
  the topmost layer that has it, with whiteouts and opaque directories applied;
* checks (``moorage.scanner.checks``) see every layer's results, each marked
  ``deleted_later=True`` when an upper layer deleted or replaced that path (see
  :class:`moorage.scanner.flatten.LayerFileResult`; the orchestrator is
  :func:`moorage.scanner.analysis.analyze`, which takes checks as ``AnalysisOptions.extra_plugins``).

Writing a plug-in::

    class AwsKeyCheck(LayerPlugin):
        name = "secret-aws"            # unique among plug-ins, stable: part of the cache key
        version = "1"                  # bump whenever extract() would return something else
        max_content_bytes = 1 << 20    # read at most 1 MiB of a file

        def wants(self, entry: FileEntry) -> bool:
            return entry.kind is FileKind.REGULAR and entry.size > 0 and entry.path.startswith("/etc/")

        def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
            hits = [m.start() for m in AWS_KEY.finditer(content)]
            return {"offsets": hits} if hits else None

Rules:

* ``wants`` is called for every entry of every layer: keep it to cheap tests on the path, kind,
  size and mode. It is never given content.
* ``extract`` receives the whole file when ``entry.size <= max_content_bytes``. A larger file is
  passed truncated to ``max_content_bytes`` only if :attr:`LayerPlugin.accepts_truncated` is true;
  otherwise it is skipped and an error record ("larger than the cap") is kept for the layer.
* Hard links: ``entry.kind`` is :attr:`FileKind.HARDLINK` and the content is the linked file's.
* ``extract`` must treat content as hostile. Raise :class:`moorage.scanner.errors.ParseError` for
  malformed input; the layer pass records the message against (plug-in, path) and goes on. Any
  other exception is a bug in the plug-in and is recorded the same way, with its type name.
* Returning ``None`` records nothing for the path.
* Plug-ins run in worker processes: they must be picklable (plain classes with no open handles)
  and hold no state between calls.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TypeAlias

from moorage.scanner.files import FileEntry

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
"""What a plug-in may return from ``extract``: anything ``json.dumps`` writes losslessly."""


class LayerPlugin(ABC):
    """A participant in the per-layer streaming pass (see the module docstring)."""

    # Plain attributes, not ClassVars: analyzers set them on the class, while a plug-in built
    # from run-time options (the checks' adapters, ``moorage.scanner.check_plugins``) sets them
    # per instance.
    name: str
    """Unique, stable identifier; part of the layer-cache key."""
    version: str
    """Version of the per-path result format; change it to invalidate cached results."""
    max_content_bytes: int = 8 << 20
    """Read at most this many bytes of a wanted file."""
    accepts_truncated: bool = False
    """Whether a file larger than ``max_content_bytes`` is passed truncated (True) or skipped (False)."""

    @abstractmethod
    def wants(self, entry: FileEntry) -> bool:
        """Whether this plug-in needs the content of ``entry`` (decided from the header alone)."""

    @abstractmethod
    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """Parse one wanted file into a JSON-able per-path result (None: nothing to keep)."""

    @property
    def cache_key(self) -> str:
        """``name@version``: the part of the layer-cache key this plug-in contributes."""
        return f"{self.name}@{self.version}"
