"""Alpine apk version ordering.

univers reads apk versions with Gentoo's rules, which reject the VCS suffixes Alpine uses
(``_git20240101``, ``_svn``, ``_hg``, ``_cvs``) and order ``<=`` by the raw string; so apk gets its
own small parser, written from apk-tools' documented ordering (the property tests check it against
univers on every version both accept).

A version is ``digits{.digits}[letter]{_suffix[digits]}[~hash][-rN]``. Versions compare by their
numeric parts (as a list: ``1.2 < 1.2.0 < 1.2.1``), then the letter (none < ``a`` < ``z``), then
the suffixes (``alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p``), then the
revision ``-rN`` (absent is ``r0``). The ``~hash`` part is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from moorage.scanner.advisories.errors import VersionSyntaxError

SUFFIX_RANKS: dict[str, int] = {
    "alpha": 0,
    "beta": 1,
    "pre": 2,
    "rc": 3,
    "cvs": 5,
    "svn": 6,
    "git": 7,
    "hg": 8,
    "p": 9,
}
"""Rank of each suffix; 4 is "no more suffixes", between pre-releases and post-releases."""

NO_SUFFIX_RANK = 4

_APK_VERSION = re.compile(
    r"^(?P<numbers>\d+(?:\.\d+)*)"
    r"(?P<letter>[a-z]?)"
    r"(?P<suffixes>(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)"
    r"(?:~[0-9a-f]+)?"
    r"(?:-r(?P<revision>\d+))?$"
)
_SUFFIX = re.compile(r"_([a-z]+)(\d*)")


@dataclass(frozen=True, slots=True, order=True)
class ApkVersion:
    """A parsed apk version; dataclass ordering compares the fields in apk's order."""

    numbers: tuple[int, ...]
    """Dot-separated numeric parts."""
    letter: str
    """Optional single letter after the numbers (``1.1.1k``)."""
    suffixes: tuple[tuple[int, int], ...]
    """``(rank, number)`` per suffix, terminated by ``(NO_SUFFIX_RANK, 0)``."""
    revision: int
    """Package revision (``-rN``)."""


def parse_apk_version(text: str) -> ApkVersion:
    """Parse an apk version string, or raise ``VersionSyntaxError``."""
    found = _APK_VERSION.match(text.strip())
    if not found:
        raise VersionSyntaxError(f"{text!r} is not an apk version")
    numbers = tuple(int(part) for part in found.group("numbers").split("."))
    suffixes = tuple(
        (SUFFIX_RANKS[name], int(number or 0)) for name, number in _SUFFIX.findall(found.group("suffixes"))
    )
    return ApkVersion(
        numbers=numbers,
        letter=found.group("letter"),
        suffixes=(*suffixes, (NO_SUFFIX_RANK, 0)),
        revision=int(found.group("revision") or 0),
    )
