"""The checks every version string passes before a scheme reads it (feeds are not trusted)."""

from __future__ import annotations

from moorage.scanner.advisories.errors import VersionSyntaxError

MAX_VERSION_LENGTH = 256
"""Longer version strings are refused: no ecosystem needs them."""


def checked_version_text(text: str, scheme: str) -> str:
    """``text`` itself if it is non-empty, printable, unpadded and not too long; else raise."""
    if not text or len(text) > MAX_VERSION_LENGTH or not text.isprintable() or text != text.strip():
        raise VersionSyntaxError(f"{text[:80]!r} is not a {scheme} version")
    return text
