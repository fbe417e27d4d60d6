"""Doublestar patterns against a simple backtracking oracle (property tests), and the scope rules of
signature policies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.domain.doublestar import compile_pattern, matches
from moorage.domain.enterprise import ScopeRule, Selector
from moorage.domain.errors import Invalid
from moorage.services.enterprise.selectors import selected, tag_selected, validate_rule


def _alternatives(pattern: str, start: int) -> tuple[list[str], int]:
    """The options of the brace group opening at ``start`` and the index after its ``}``."""
    options, depth, current, i = [], 0, "", start + 1
    while i < len(pattern):
        char = pattern[i]
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                options.append(current)
                return options, i + 1
            depth -= 1
        elif char == "," and depth == 0:
            options.append(current)
            current = ""
            i += 1
            continue
        current += char
        i += 1
    raise ValueError("unclosed")


def oracle(pattern: str, text: str, previous: str = "/") -> bool:
    """Backtracking reference matcher for ``*``, ``**``, ``?`` and ``{a,b}`` (no classes, no escapes).
    An alternative is spliced in between NULs, which match nothing and keep stars on both sides of a
    brace from running together into ``**``. ``previous`` is the pattern character before this point
    (``/`` at the start): ``**/`` after a ``/`` may also stand for no component at all."""
    if not pattern:
        return not text
    if pattern[0] == "\0":
        return oracle(pattern[1:], text, "{")
    if pattern.startswith("**"):
        rest = pattern.lstrip("*")
        if previous == "/" and rest.startswith("/") and oracle(rest[1:], text, "/"):
            return True
        return any(oracle(rest, text[i:], "*") for i in range(len(text) + 1))
    if pattern[0] == "*":
        limit = text.find("/") if "/" in text else len(text)
        return any(oracle(pattern[1:], text[i:], "*") for i in range(limit + 1))
    if pattern[0] == "?":
        return bool(text) and text[0] != "/" and oracle(pattern[1:], text[1:], "?")
    if pattern[0] == "{":
        options, after = _alternatives(pattern, 0)
        return any(oracle("\0" + option + "\0" + pattern[after:], text, "{") for option in options)
    return bool(text) and text[0] == pattern[0] and oracle(pattern[1:], text[1:], pattern[0])


_atoms = st.sampled_from(["a", "b", "/", ".", "-", "*", "**", "?"])
_plain = st.lists(_atoms, max_size=6).map("".join)
_patterns = st.recursive(
    _plain,
    lambda inner: st.tuples(inner, st.lists(inner, min_size=1, max_size=3), inner).map(
        lambda t: t[0] + "{" + ",".join(t[1]) + "}" + t[2]
    ),
    max_leaves=4,
)
_texts = st.lists(st.sampled_from(["a", "b", "/", ".", "-"]), max_size=8).map("".join)


@settings(max_examples=400, deadline=None)
@given(_patterns, _texts)
def test_matches_agrees_with_the_oracle(pattern: str, text: str) -> None:
    assert matches(pattern, text) == oracle(pattern, text)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("**", "a/b/c", True),
        ("*", "a/b", False),
        ("nginx-*", "nginx-web", True),
        ("{repo1,repo2}", "repo2", True),
        ("{repo1,repo2}", "repo3", False),
        ("v[0-9]*", "v1.2", True),
        ("v[0-9]*", "va", False),
        ("[!a]", "b", True),
        ("[!a]", "a", False),
        ("[!a]", "/", False),
        ("a\\*", "a*", True),
        ("a\\*", "ab", False),
        ("team/**", "team/x/y", True),
        ("a/**/b", "a/b", True),  # ``**/``: zero or more whole components
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/xb", False),
        ("**/tmp", "tmp", True),
        ("**/tmp", "app/tmp", True),
        ("x**/b", "xb", False),  # not a whole component: any run, then ``/b``
        ("v{1,2}.{0,1}", "v2.1", True),
        ("*.sig", "sha256-ab.sig", True),
    ],
)
def test_examples(pattern: str, text: str, expected: bool) -> None:
    assert matches(pattern, text) is expected


@pytest.mark.parametrize("pattern", ["{a,b", "[abc", "a}", "x\\", "[z-a]", "a" * 513])
def test_malformed_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(Invalid):
        compile_pattern(pattern)


def _rule(tags: list[tuple[str, str]], repos: list[tuple[str, str]], extras: str = "") -> ScopeRule:
    return ScopeRule(
        tuple(Selector("doublestar", d, p, extras) for d, p in tags),
        tuple(Selector("doublestar", d, p) for d, p in repos),
    )


def test_scope_rules() -> None:
    rule = _rule([("matches", "v*"), ("excludes", "v*-rc")], [("repoMatches", "app/**"), ("repoExcludes", "**/tmp")])
    assert selected([rule], "app/web", "v1")
    assert not selected([rule], "app/web", "v1-rc")
    assert not selected([rule], "app/tmp", "v1")
    assert not selected([rule], "lib", "v1")
    other = _rule([("matches", "latest")], [("repoMatches", "lib")])
    assert selected([rule, other], "lib", "latest")  # rules are alternatives
    assert not tag_selected(rule, "")  # untagged artifacts only when asked for
    assert tag_selected(_rule([("matches", "**")], [("repoMatches", "**")], '{"untagged":true}'), "")


@pytest.mark.parametrize(
    "rule",
    [
        _rule([("contains", "x")], [("repoMatches", "**")]),
        _rule([("matches", "x")], [("matches", "**")]),
        _rule([], [("repoMatches", "**")]),
        _rule([("matches", "{x")], [("repoMatches", "**")]),
        _rule([("matches", "x")], [("repoMatches", "**")], extras="{not json"),
    ],
)
def test_invalid_rules(rule: ScopeRule) -> None:
    with pytest.raises(Invalid):
        validate_rule(rule)
