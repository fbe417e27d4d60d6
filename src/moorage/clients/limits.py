"""Bounds on what another registry may make moorage read: answer sizes, JSON nesting depth, and
the bytes one image may download in all.

Nothing read from a remote is trusted to be small: every answer is read with a cap (see
``transport.read_capped``), every JSON document is parsed with a nesting bound, and a blob stops
at the size its descriptor declares.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from moorage.clients.errors import ImageTooLargeError

DEFAULT_JSON_DEPTH = 64
"""Nesting depth of JSON documents read from a remote (manifests and configs need fewer than 10)."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


class JsonTooDeep(ValueError):
    """A JSON document nested deeper than allowed."""


@dataclass(frozen=True, slots=True)
class TransferLimits:
    """How much of an answer is read, per kind of answer."""

    json_bytes: int = 16 << 20
    """Listings: tag lists, catalogs, Harbor and Artifactory API pages."""
    json_depth: int = DEFAULT_JSON_DEPTH
    """Nesting depth of any JSON answer."""
    token_bytes: int = 1 << 20
    """A token service's answer."""
    error_bytes: int = 64 << 10
    """The body of an error answer (only its error codes are read)."""


def nesting_depth(raw: bytes, limit: int) -> int:
    """The nesting depth of a *valid* JSON document, or ``limit + 1`` when deeper than ``limit``.

    Strings are removed, the brackets kept; each pass removes the innermost ``[]`` pairs, so the
    passes needed to empty it are the depth (each pass runs in C; at most ``limit + 1`` of them).
    The string pattern is linear only on valid JSON: parse first."""
    skeleton = _STRING.sub(b"", raw).translate(_SQUARE, _NOT_BRACKETS)
    for depth in range(limit + 1):
        if not skeleton:
            return depth
        skeleton = skeleton.replace(b"[]", b"")
    return limit + 1


def load_json(raw: bytes, *, max_depth: int = DEFAULT_JSON_DEPTH) -> Any:
    """Parse JSON nested at most ``max_depth`` deep (``JsonTooDeep``; ``ValueError`` when not JSON)."""
    try:
        document = json.loads(raw)
    except RecursionError as exc:
        raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels") from exc
    if isinstance(document, dict | list) and nesting_depth(raw, max_depth) > max_depth:
        raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels")
    return document


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
