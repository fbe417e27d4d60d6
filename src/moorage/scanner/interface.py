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
  passed truncated to ``max_content_bytes`` only if :attr:`LayerPlugin.accepts_truncated` is true
  (and reported as ``file_truncated`` unless :attr:`LayerPlugin.prefix_is_enough`); otherwise it
  is skipped and an error record (``file_too_large``) is kept for the layer.
* Hard links: ``entry.kind`` is :attr:`FileKind.HARDLINK` and the content is the linked file's.
* ``extract`` must treat content as hostile. Raise :class:`moorage.scanner.errors.ParseError` for
  malformed input; the layer pass records the message against (plug-in, path) and goes on. Any
  other exception is a bug in the plug-in and is recorded the same way, with its type name.
* Returning ``None`` records nothing for the path. Returning a :class:`PartialResult` records its
  value and reports what the plug-in had to leave out (a nested archive too deep, a member too
  large): nothing is skipped silently, every skip ends in the scan's errors with a :class:`SkipCode`.
* The scan's :class:`~moorage.scanner.limits.ScanLimits` are in ``self.limits`` (the analysis gives
  each plug-in a copy bound to them, :meth:`LayerPlugin.bound_to`); a plug-in that opens archives
  honours the archive bounds there.
* Plug-ins run in worker processes: they must be picklable (plain classes with no open handles)
  and hold no state between calls.
"""

from __future__ import annotations

import copy
import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Self, TypeAlias

from moorage.scanner.files import FileEntry
from moorage.scanner.limits import ScanLimits

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
"""What a plug-in may return from ``extract``: anything ``json.dumps`` writes losslessly."""


class SkipCode(StrEnum):
    """Why an input was left out (the ``code`` of an inventory error or a report issue)."""

    FILE_TOO_LARGE = "file_too_large"
    """The file is larger than the plug-in's cap or ``max_file_bytes``: not read."""
    FILE_TRUNCATED = "file_truncated"
    """Only the file's first bytes (the cap) were used."""
    UNREADABLE = "unreadable"
    """The file could not be listed, opened or read."""
    MALFORMED = "malformed"
    """The file is not in the format its plug-in reads."""
    PLUGIN_FAILED = "plugin_failed"
    """The plug-in failed on this file (a bug; the message names the exception)."""
    ARCHIVE_TOO_DEEP = "archive_too_deep"
    """A nested archive deeper than ``max_archive_depth``: not opened."""
    ARCHIVE_TOO_LARGE = "archive_too_large"
    """An archive past ``max_archive_members`` or ``max_archive_bytes``, or a member that inflates
    too far (a zip bomb): what is past the bound is not read."""
    UNSUPPORTED = "unsupported"
    """A tar member type or zip compression method the scanner does not read."""
    PATH_TOO_LONG = "path_too_long"
    """A tar member name longer than the longest path a file system takes (4,096 bytes)."""
    LINK_TARGET_MISSING = "link_target_missing"
    """A hard link whose target is not in its layer."""
    CHECK_INCOMPLETE = "check_incomplete"
    """A check ran only in part on the file (its YARA rules timed out or failed)."""
    UNKNOWN = "unknown"
    """Recorded without a code."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A part of a file that a plug-in left out (reported with the file's path)."""

    code: SkipCode
    """Why."""
    message: str
    """What was left out, for people (names the member inside an archive)."""


@dataclass(frozen=True, slots=True)
class PartialResult:
    """What ``extract`` returns when it kept a result but had to leave parts of the file out."""

    value: JsonValue
    """The per-path result (as a plain ``extract`` return value)."""
    skipped: tuple[Skipped, ...]
    """What was left out."""


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
    prefix_is_enough: bool = False
    """Whether a prefix is all the plug-in ever needs (a metadata header, a search window): then a
    truncated file is not reported, unless ``max_file_bytes`` cut it below the plug-in's cap."""
    limits: ScanLimits = ScanLimits()
    """The scan's bounds (see :meth:`bound_to`); the defaults until then."""

    def bound_to(self, limits: ScanLimits) -> Self:
        """A copy of this plug-in that works within ``limits`` (and says so in its cache key)."""
        bound = copy.copy(self)
        bound.limits = limits
        return bound

    @abstractmethod
    def wants(self, entry: FileEntry) -> bool:
        """Whether this plug-in needs the content of ``entry`` (decided from the header alone)."""

    @abstractmethod
    def extract(self, entry: FileEntry, content: bytes) -> JsonValue | PartialResult:
        """Parse one wanted file into a JSON-able per-path result (None: nothing to keep)."""

    @property
    def cache_key(self) -> str:
        """``name@version``, plus a tag of the per-file limits when they are not the defaults: the
        part of the layer-cache key this plug-in contributes."""
        tag = self.limits.file_results_tag()
        if not tag:
            return f"{self.name}@{self.version}"
        return f"{self.name}@{self.version}+{hashlib.sha256(tag.encode()).hexdigest()[:12]}"
