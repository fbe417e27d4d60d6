"""The contract between the layer reader and the checks (secrets, malware, baseline, config).

Three kinds of check, by what they need to see:

* ``FileCheck`` (secrets, malware) looks at one file of one layer at a time, in *every* layer,
  including files that a later layer deletes or replaces. The reader calls ``wants(entry)`` for
  every entry before reading any byte (so it must be cheap and decided from the header alone),
  then, for the wanted ones, ``check(entry, content)`` with the first ``min(entry.size,
  max_bytes)`` bytes. A check sees that it got a prefix when ``len(content) < entry.size``.
  Findings carry ``entry.layer_digest``; the orchestrator then calls
  ``findings.mark_final_visibility`` with the flattened image to flag deleted/replaced files.
* ``FilesystemCheck`` (baseline) looks at the flattened final filesystem, because its rules
  combine several files (passwd with shadow, sshd_config with its includes, sudoers with
  sudoers.d) and file modes. The reader builds a ``FlatView``: every final path maps to its
  ``FileEntry`` and to its bytes when ``wants_content(entry)`` said so (``None`` otherwise).
* ``ConfigCheck`` (image configuration, build history) looks at the image config JSON (the OCI
  or docker config blob, parsed), plus the manifest's layer digests to name layers.

Checks are built once per scan (YARA rules compiled once) and are safe to call from one thread at
a time; they hold no state between calls. Bad image content never raises: what cannot be parsed
is skipped. The factory (``factory.build_check_set``) builds them from scanner names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from moorage.scanner.checks.findings import Finding
from moorage.scanner.files import FileEntry

FlatView = Mapping[str, tuple[FileEntry, bytes | None]]
"""The flattened final filesystem: path -> (entry, bytes if the check asked for them, else None)."""


@runtime_checkable
class FileCheck(Protocol):
    """A check run on every file of every layer (secrets, malicious files)."""

    name: str
    """Short name for logs and timings (``secret``, ``malware``)."""
    max_bytes: int
    """Content cap: the reader passes at most this many leading bytes of a file."""

    def wants(self, entry: FileEntry) -> bool:
        """Whether to read this file's bytes, from its header alone (called for every entry)."""
        ...

    def check(self, entry: FileEntry, content: bytes) -> list[Finding]:
        """Findings in one file; ``content`` is its first ``min(size, max_bytes)`` bytes."""
        ...


@runtime_checkable
class FilesystemCheck(Protocol):
    """A check run once on the flattened final filesystem (baseline settings)."""

    name: str
    """Short name for logs and timings (``baseline``)."""
    max_bytes: int
    """Content cap for the files it asks for."""

    def wants_content(self, entry: FileEntry) -> bool:
        """Whether the flat view should carry this file's bytes (not only its entry)."""
        ...

    def check_filesystem(self, view: FlatView) -> list[Finding]:
        """Findings over the whole final filesystem."""
        ...


@runtime_checkable
class ConfigCheck(Protocol):
    """A check run once on the image configuration (user, env, ports, history)."""

    name: str
    """Short name for logs and timings (``image_config``, ``history``)."""

    def check_config(self, config: Mapping[str, Any], layer_digests: Sequence[str] = ()) -> list[Finding]:
        """Findings in the parsed image config; ``layer_digests`` in manifest order, if known."""
        ...


@dataclass(frozen=True, slots=True)
class CheckSet:
    """The checks one scan runs, grouped by what they need to see."""

    file_checks: tuple[FileCheck, ...] = ()
    """Run on every file of every layer."""
    filesystem_checks: tuple[FilesystemCheck, ...] = ()
    """Run once on the flattened final filesystem."""
    config_checks: tuple[ConfigCheck, ...] = ()
    """Run once on the image config."""
