"""Debian and RPM versions as precomputed sort keys (compared as plain tuples).

OS packages carry the most advisories, so their comparisons dominate matching time; univers'
Debian and RPM comparisons cost ~30 us each (pure-Python string walks per comparison), which made
them most of the benchmark. Here univers still decides what is a valid version, and each parsed
version gets a tuple key, built once, whose ordering is exactly the tool's:

- Debian (``dpkg --compare-versions``): epoch, then upstream and revision, each split into
  alternating non-digit / digit parts; non-digit parts compare by character weight with ``~``
  below the end of the part, letters below other symbols; digit parts compare as numbers.
- RPM (``rpmvercmp``): epoch (missing is 0), then version and release (split at the last ``-``,
  as rpm does; univers splits at the first), each split into digit and letter segments, other
  characters only separating; ``~`` sorts before the end, ``^`` after the end but before any
  segment, a number after letters.

The property tests check both against the real ``dpkg`` and ``rpm`` on generated versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from univers import debian as univers_debian

from moorage.scanner.advisories.errors import VersionSyntaxError
from moorage.scanner.matching.version_text import checked_version_text

_DIGITS_OR_NOT = re.compile(r"(\D*)(\d*)")
_EMPTY_PART: tuple[tuple[int, ...], int] = ((0,), 0)


def _dpkg_weight(character: str) -> int:
    if character == "~":
        return -1
    if character.isalpha():
        return ord(character)
    return ord(character) + 256


def _dpkg_string_key(text: str) -> tuple[tuple[tuple[int, ...], int], ...]:
    parts: list[tuple[tuple[int, ...], int]] = []
    for non_digits, digits in _DIGITS_OR_NOT.findall(text):
        if not non_digits and not digits:
            continue
        weights = (*(_dpkg_weight(c) for c in non_digits), 0)
        parts.append((weights, int(digits) if digits else 0))
    while parts and parts[-1] == _EMPTY_PART:
        parts.pop()
    # One terminating empty part: against a longer key it compares as dpkg compares "nothing".
    parts.append(_EMPTY_PART)
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class DebianScheme:
    """Debian versions ``[epoch:]upstream[-revision]``, validated by univers, ordered as dpkg does."""

    name: str = "deb"

    def parse(self, text: str) -> Any:
        """A tuple key for ``text``; ``VersionSyntaxError`` if univers does not accept it."""
        checked_version_text(text, self.name)
        try:
            parsed = univers_debian.Version.from_string(text)  # type: ignore[no-untyped-call]
        except Exception as error:
            raise VersionSyntaxError(f"{text!r} is not a deb version: {error}") from error
        return (int(parsed.epoch), _dpkg_string_key(parsed.upstream), _dpkg_string_key(parsed.revision))


_RPM_TOKEN = re.compile(r"~|\^|[0-9]+|[A-Za-z]+")
_RPM_END = (1,)


def _rpm_string_key(text: str) -> tuple[tuple[Any, ...], ...]:
    tokens: list[tuple[Any, ...]] = []
    for segment in _RPM_TOKEN.findall(text):
        if segment == "~":
            tokens.append((0,))
        elif segment == "^":
            tokens.append((2,))
        elif segment.isdigit():
            tokens.append((4, int(segment)))
        else:
            tokens.append((3, segment))
    tokens.append(_RPM_END)
    return tuple(tokens)


@dataclass(frozen=True, slots=True)
class RpmScheme:
    """RPM ``[epoch:]version[-release]`` versions, parsed and ordered as rpm does."""

    name: str = "rpm"

    def parse(self, text: str) -> Any:
        """A tuple key for ``text``; ``VersionSyntaxError`` for a bad epoch or empty version."""
        epoch_text, colon, rest = checked_version_text(text, self.name).partition(":")
        if not colon:
            epoch_text, rest = "0", text
        version, _, release = rest.rpartition("-") if "-" in rest else (rest, "", "")
        if not epoch_text.isdigit() or not version or ":" in rest:
            raise VersionSyntaxError(f"{text!r} is not an rpm version ([epoch:]version[-release])")
        return (int(epoch_text), _rpm_string_key(version), _rpm_string_key(release))
