"""Doublestar patterns, the one matcher of the registry: signature, retention, immutability and webhook
scope selectors, and replication's name and tag filters. Pure functions, no I/O.

Patterns (as SWR and Harbor write them): ``*`` matches any run of characters except ``/``, ``**``
any run including ``/`` (and ``**/`` standing for whole components, at the start or after a ``/``,
zero or more of them: ``a/**/b`` matches ``a/b``, ``**/tmp`` matches ``tmp``, as Harbor's
doublestar does), ``?`` one character except ``/``, ``[abc]``/``[a-z]``/``[!a]`` one
character of a class (never ``/``), ``{one,two}`` either alternative (alternatives nest), and
``\\x`` the character ``x`` itself. Anything else matches itself. A malformed pattern (an unclosed
``{`` or ``[``, a stray ``}``, a trailing ``\\``, a backwards range) is ``Invalid``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from moorage.domain.errors import Invalid

MAX_PATTERN = 512


class _Parser:
    """Recursive-descent translation of one pattern into a regular expression."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0

    def fail(self, message: str) -> Invalid:
        return Invalid(f"invalid pattern {self.pattern!r}: {message}")

    def sequence(self, *, in_braces: bool) -> str:
        out: list[str] = []
        while self.pos < len(self.pattern):
            char = self.pattern[self.pos]
            if in_braces and char in ",}":
                return "".join(out)
            self.pos += 1
            if char == "*":
                if self.pattern.startswith("*", self.pos):
                    whole_component = self.pos == 1 or self.pattern[self.pos - 2] == "/"
                    while self.pattern.startswith("*", self.pos):
                        self.pos += 1
                    if whole_component and self.pattern.startswith("/", self.pos):
                        self.pos += 1  # ``**/`` is zero or more whole components, as in doublestar
                        out.append("(?:.*/)?")
                    else:
                        out.append(".*")
                else:
                    out.append("[^/]*")
            elif char == "?":
                out.append("[^/]")
            elif char == "[":
                out.append(self.char_class())
            elif char == "{":
                out.append(self.alternatives())
            elif char == "\\":
                if self.pos >= len(self.pattern):
                    raise self.fail("a trailing backslash escapes nothing")
                out.append(re.escape(self.pattern[self.pos]))
                self.pos += 1
            elif char == "}" or (char == "," and in_braces):
                raise self.fail(f"unexpected {char!r}")
            else:
                out.append(re.escape(char))
        if in_braces:
            raise self.fail("'{' is never closed")
        return "".join(out)

    def alternatives(self) -> str:
        options = [self.sequence(in_braces=True)]
        while self.pos < len(self.pattern) and self.pattern[self.pos] == ",":
            self.pos += 1
            options.append(self.sequence(in_braces=True))
        if self.pos >= len(self.pattern) or self.pattern[self.pos] != "}":
            raise self.fail("'{' is never closed")
        self.pos += 1
        return "(?:" + "|".join(options) + ")"

    def char_class(self) -> str:
        negate = self.pos < len(self.pattern) and self.pattern[self.pos] in "!^"
        if negate:
            self.pos += 1
        members: list[str] = []
        first = True
        while self.pos < len(self.pattern):
            char = self.pattern[self.pos]
            if char == "]" and not first:
                self.pos += 1
                body = "".join(members)
                return f"[^/{body}]" if negate else f"(?!/)[{body}]"
            if char == "\\" and self.pos + 1 < len(self.pattern):
                self.pos += 1
                char = self.pattern[self.pos]
            self.pos += 1
            first = False
            if self.pos + 1 < len(self.pattern) and self.pattern[self.pos] == "-" and self.pattern[self.pos + 1] != "]":
                end = self.pattern[self.pos + 1]
                if end < char:
                    raise self.fail(f"range {char}-{end} is backwards")
                members.append(f"{re.escape(char)}-{re.escape(end)}")
                self.pos += 2
            else:
                members.append(re.escape(char))
        raise self.fail("'[' is never closed")


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled form of a doublestar pattern; ``Invalid`` when it is malformed or too long."""
    if len(pattern) > MAX_PATTERN:
        raise Invalid(f"pattern longer than {MAX_PATTERN} characters")
    parser = _Parser(pattern)
    return re.compile(parser.sequence(in_braces=False), re.DOTALL)


def matches(pattern: str, text: str) -> bool:
    """Whether ``text`` matches the doublestar ``pattern`` as a whole."""
    return compile_pattern(pattern).fullmatch(text) is not None
