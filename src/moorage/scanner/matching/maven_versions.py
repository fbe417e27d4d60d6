"""Maven version ordering (Maven 3.9's ``ComparableVersion`` rules), as a total order.

univers' Maven comparator is not transitive for some inputs, so sorting and range checks could
disagree with themselves; this module reads versions the way Maven 3.9 does and turns each into a
sort key, so ``<`` and ``==`` are plain tuple comparisons.

Reading (Maven's "Version Order Specification" and ``ComparableVersion``):

- Lower-cased, then split into numbers and words at ``.``, at ``-`` and where digits and letters
  meet; an empty part is ``0``; numbers have no size limit (leading zeros do not count).
- ``-`` opens a sub-part (a "level"); so does a word followed by digits (``rc1`` is ``rc-1``, and
  after other parts ``1.0.rc1`` reads as ``1.0-rc-1``), digits followed by letters (``1rc`` is
  ``1-rc``), and a trailing word after other parts (``1.0.final`` reads as ``1.0-final``).
- Words: ``a``, ``b``, ``m`` directly followed by a digit mean ``alpha``, ``beta``,
  ``milestone``; ``cr`` is ``rc``; ``ga``, ``final`` and ``release`` are the empty word.
  ``alpha < beta < milestone < rc < snapshot < "" < sp < any other word`` (other words in
  lexical order, compared by UTF-16 code units as Java does).
- "Null" values (``0``, the empty word, an empty level) are dropped from the end of every level,
  innermost first: ``1 = 1.0 = 1.0.0 = 1-0 = 1.ga = 1-final``.
- Versions compare part by part, the shorter padded with "null": a word is below a number, a
  number after ``-`` is below one after ``.`` (``1-1 < 1.1``), "null" is the empty word against
  words and below every number other than ``0`` (``1-rc < 1 < 1-sp < 1-1 < 1.1``).

Where Maven is not a total order, and what this module does instead (checked against Maven
3.9.16's own comparator: equal on every generated pair without these shapes):

- Maven ranks a word that follows another part of its level (``1.foo-1``, ``1.0.rc.1``) below
  any ``-`` part, yet against "null" by its qualifier rank: ``1-rc < 1 < 1.foo-1 < 1-rc``; the
  same for a sub-part opening right after another (``1-0.alpha < 1 < 1-sp < 1-0.alpha``). Here
  a word compares by its rank wherever it sits, as the specification says (``.qualifier =
  -qualifier``): ``1.foo-1 = 1-foo-1``.
- Maven treats a ``0`` as "null" against a missing part but as a number against a word:
  ``1.0.rc.1 < 1 < 1.sp.1 < 1.0.rc.1``. Here zeros directly before a word are dropped
  (``1.0.rc.1 = 1.rc.1``, still below ``1``), as Maven already drops them before a ``-`` part;
  every other ``0`` is followed by a non-zero number in its level, so it decides nothing
  against "null".

Every ordering in Maven's own tests and documentation holds (tests/scanner/matching).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
"""Known qualifiers, lowest first; any other word ranks after them."""

_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_SHORT_BEFORE_DIGIT = {"a": "alpha", "b": "beta", "m": "milestone"}

_WORD = 0
"""First element of a word's key; numbers use ``_NUMBER`` and so rank above every word."""
_NUMBER = 1

_RELEASE_RANK = (_QUALIFIERS.index(""), "")
_NULL = (_WORD, _RELEASE_RANK)
"""The key of "null" (a missing part): the empty word."""

_ZERO = (_NUMBER, 0, 0)
_END = (0,)
"""Closes every key: below a part that is above "null", above one that is below it."""

Part = tuple[Any, ...]
"""``(_WORD, rank)`` or ``(_NUMBER, -separator depth, value)``; tuples order them."""


@dataclass(frozen=True, slots=True, order=True)
class MavenVersion:
    """A parsed Maven version; ``key`` alone decides ``<`` and ``==``."""

    key: tuple[Any, ...]
    """Sort key: grouped parts (see ``_group``), then ``_END``."""
    text: str = field(compare=False)
    """The version as written."""


def parse_maven_version(text: str) -> MavenVersion:
    """Read any string as a Maven version (Maven reads every string; the caller checks length)."""
    levels = _levels(text.lower())
    _normalise(levels)
    return MavenVersion(key=_group(_flatten(levels)), text=text)


def _is_digit(char: str) -> bool:
    """Java's ``Character.isDigit`` on one UTF-16 unit: a decimal digit of the BMP."""
    return char.isdecimal() and ord(char) <= 0xFFFF


def _word(text: str, followed_by_digit: bool) -> Part:
    if followed_by_digit:
        text = _SHORT_BEFORE_DIGIT.get(text, text)
    text = _ALIASES.get(text, text)
    if text in _QUALIFIERS:
        return (_WORD, (_QUALIFIERS.index(text), ""))
    return (_WORD, (len(_QUALIFIERS), _utf16_order(text)))


def _utf16_order(text: str) -> str:
    """``text`` rewritten so Python's code-point order is Java's UTF-16 code-unit order."""
    if all(ord(char) <= 0xFFFF for char in text):
        return text
    units = text.encode("utf-16-be")
    return "".join(chr(int.from_bytes(units[i : i + 2], "big")) for i in range(0, len(units), 2))


def _part(text: str, digits: bool) -> Part:
    if digits:
        return (_NUMBER, 0, int(text))
    return _word(text, followed_by_digit=False)


def _levels(text: str) -> list[list[Part]]:
    """Split as Maven does; level ``i + 1`` is the sub-part that ends level ``i``."""
    levels: list[list[Part]] = [[]]
    start = 0
    digits = False
    for index, char in enumerate(text):
        if char in ".-":
            levels[-1].append(_ZERO if index == start else _part(text[start:index], digits))
            start = index + 1
            if char == "-":
                levels.append([])
        elif _is_digit(char):
            if not digits and index > start:  # a word then digits: rc1 is rc-1, and 1.0.rc1 is 1.0-rc-1
                if levels[-1]:
                    levels.append([])
                levels[-1].append(_word(text[start:index], followed_by_digit=True))
                levels.append([])
                start = index
            digits = True
        else:
            if digits and index > start:  # digits then a word: 1rc is 1-rc
                levels[-1].append(_part(text[start:index], digits=True))
                levels.append([])
                start = index
            digits = False
    if start < len(text):
        if not digits and levels[-1]:  # a trailing word after other parts: 1.0.final is 1.0-final
            levels.append([])
        levels[-1].append(_part(text[start:], digits))
    return levels


def _is_null(part: Part) -> bool:
    return part in (_NULL, _ZERO)


def _normalise(levels: list[list[Part]]) -> None:
    """Drop trailing "null" parts of every level, empty trailing levels, and zeros before a word."""
    for level in levels:
        while level and _is_null(level[-1]):
            level.pop()
        kept: list[Part] = []
        for part in reversed(level):
            if part == _ZERO and kept and kept[-1][0] == _WORD:
                continue  # zeros directly before a word (see the module docstring)
            kept.append(part)
        level[:] = reversed(kept)
    while len(levels) > 1 and not levels[-1]:
        levels.pop()


def _flatten(levels: list[list[Part]]) -> list[Part]:
    """One sequence of parts; a number opening a level records how many levels open before it.

    Maven ranks a level below a number beside it, so ``1-1 < 1.1`` and ``1--1 < 1-1``.
    """
    parts: list[Part] = []
    depth = 0
    for position, level in enumerate(levels):
        depth += 1 if position else 0
        for index, part in enumerate(level):
            if part[0] == _NUMBER and index == 0 and depth:
                part = (_NUMBER, -depth, part[2])
            parts.append(part)
        if level:
            depth = 0
    return parts


def _group(parts: list[Part]) -> tuple[Any, ...]:
    """A key whose tuple order is the order of ``parts`` padded with "null" without end.

    Each run of "null"-equal parts (the empty word) joins the part after it as
    ``(side, -side * run, part)``: ``side`` is 1 for a part above "null" and -1 below, ``run``
    counts the "null" parts before it. Against a longer run the part meets a "null" of the other
    version, so it wins when above "null" and loses when below; equal runs compare the parts.
    ``_END`` (``(0,)``, between the sides) stands for "null" from there on.
    """
    groups: list[tuple[Any, ...]] = []
    run = 0
    for part in parts:
        if part == _NULL:
            run += 1
            continue
        side = 1 if part > _NULL else -1
        groups.append((side, -side * run, part))
        run = 0
    groups.append(_END)
    return tuple(groups)
