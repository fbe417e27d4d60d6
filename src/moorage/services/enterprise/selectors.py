"""Doublestar patterns and the scope rules of signature policies: which repositories and which tags
a policy signs. Pure functions, no I/O.

Patterns (as SWR and Harbor write them): ``*`` matches any run of characters except ``/``, ``**``
any run including ``/``, ``?`` one character except ``/``, ``[abc]``/``[a-z]``/``[!a]`` one
character of a class (never ``/``), ``{one,two}`` either alternative (alternatives nest), and
``\\x`` the character ``x`` itself. Anything else matches itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import ScopeRule, Selector
from moorage.domain.errors import Invalid

MAX_PATTERN = 512
TAG_DECORATIONS = ("matches", "excludes")
REPOSITORY_DECORATIONS = ("repoMatches", "repoExcludes")


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
                    while self.pattern.startswith("*", self.pos):
                        self.pos += 1
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


def wants_untagged(selector: Selector) -> bool:
    """Whether a tag selector's ``extras`` ask for untagged artifacts too (``{"untagged":true}``)."""
    if not selector.extras:
        return False
    try:
        extras = load_document(selector.extras)
    except ValueError:
        return False
    return isinstance(extras, dict) and extras.get("untagged") is True


def validate_rule(rule: ScopeRule) -> None:
    """``Invalid`` unless every selector of the rule is a well-formed doublestar selector."""
    if not rule.tag_selectors or not rule.repository_selectors:
        raise Invalid("each scope rule needs tag_selectors and scope_selectors.repository")
    for selector, allowed in [(s, TAG_DECORATIONS) for s in rule.tag_selectors] + [
        (s, REPOSITORY_DECORATIONS) for s in rule.repository_selectors
    ]:
        if selector.kind != "doublestar":
            raise Invalid(f"selector kind must be 'doublestar', got {selector.kind!r}")
        if selector.decoration not in allowed:
            raise Invalid(f"selector decoration must be one of {', '.join(allowed)}, got {selector.decoration!r}")
        compile_pattern(selector.pattern)
        if selector.extras:
            try:
                load_document(selector.extras)
            except ValueError as exc:
                raise Invalid(f"selector extras must be JSON, got {selector.extras!r}") from exc


def _accepts(selectors: Iterable[Selector], text: str) -> bool:
    """Every selector agrees: a ``*matches`` one matches ``text``, an ``*excludes`` one does not."""
    for selector in selectors:
        hit = matches(selector.pattern, text)
        if hit != selector.decoration.lower().endswith("matches"):
            return False
    return True


def repository_selected(rule: ScopeRule, repository: str) -> bool:
    """Whether the rule covers a repository (its name inside the namespace)."""
    return _accepts(rule.repository_selectors, repository)


def tag_selected(rule: ScopeRule, tag: str) -> bool:
    """Whether the rule covers a tag; the empty tag stands for an untagged artifact."""
    if tag == "":
        return any(wants_untagged(s) for s in rule.tag_selectors)
    return _accepts(rule.tag_selectors, tag)


def selected(rules: Iterable[ScopeRule], repository: str, tag: str) -> bool:
    """Whether any rule covers (repository, tag)."""
    return any(repository_selected(r, repository) and tag_selected(r, tag) for r in rules)
