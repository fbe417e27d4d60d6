"""What the scanner's single pass over a layer hands to analyzers and checks.

Every plug-in that reads files (package analyzers, secret, malware and baseline checks) sees the
same ``FileEntry`` and declares, before any byte is read, whether it wants the content. The layer
reader reads a file into memory only when some plug-in asked for it, so one streaming pass serves
them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FileKind(StrEnum):
    """Type of a tar entry, after whiteouts have been recognised and taken out."""

    REGULAR = "file"
    DIRECTORY = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHAR_DEVICE = "char"
    BLOCK_DEVICE = "block"
    FIFO = "fifo"


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of one layer, as its tar header describes it."""

    path: str
    """Absolute, normalised path inside the image (``/etc/passwd``), never with ``..``."""
    kind: FileKind
    """Entry type."""
    size: int
    """Size in bytes (0 for anything but a regular file)."""
    mode: int
    """Permission bits, including setuid (0o4000), setgid (0o2000) and sticky (0o1000)."""
    uid: int = 0
    """Owner user id."""
    gid: int = 0
    """Owner group id."""
    link_target: str = ""
    """Target of a symbolic or hard link, as written in the archive."""
    layer_digest: str = ""
    """Digest of the layer (as the manifest lists it) this entry belongs to."""
