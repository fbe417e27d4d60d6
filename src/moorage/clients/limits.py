"""Bounds on what another registry may make moorage read: answer sizes, JSON nesting depth, and
the bytes one image may download in all.

Nothing read from a remote is trusted to be small: every answer is read with a cap (see
``transport.read_capped``), every JSON document is parsed by the one bounded loader
(:func:`moorage.domain.bounded_json.loads`) with the depth given here, and a blob stops at the
size its descriptor declares.
"""

from __future__ import annotations

from dataclasses import dataclass

from moorage.clients.errors import ImageTooLargeError
from moorage.domain.bounded_json import DEFAULT_MAX_DEPTH


@dataclass(frozen=True, slots=True)
class TransferLimits:
    """How much of an answer is read, per kind of answer."""

    json_bytes: int = 16 << 20
    """Listings: tag lists, catalogs, Harbor and Artifactory API pages."""
    json_depth: int = DEFAULT_MAX_DEPTH
    """Nesting depth of any JSON answer (manifests and configs need fewer than 10 levels)."""
    token_bytes: int = 1 << 20
    """A token service's answer."""
    error_bytes: int = 64 << 10
    """The body of an error answer (only its error codes are read)."""


class ByteBudget:
    """Bytes one image may still download (its layers, whatever their descriptors declared); shared
    by the parallel downloads of one scan, all on one event loop."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, count: int) -> None:
        """Count ``count`` more bytes; ``ImageTooLargeError`` past the limit."""
        self.used += count
        if self.used > self.limit:
            raise ImageTooLargeError(f"the image's layers passed {self.limit} bytes")
