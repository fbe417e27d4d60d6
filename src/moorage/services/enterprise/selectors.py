"""The scope rules of signature, retention, immutability and webhook policies: which repositories and
which tags a policy covers. Pure functions, no I/O; the patterns are doublestar (``domain/doublestar.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from moorage.domain.bounded_json import load_document
from moorage.domain.doublestar import compile_pattern, matches
from moorage.domain.enterprise import ScopeRule, Selector
from moorage.domain.errors import Invalid

TAG_DECORATIONS = ("matches", "excludes")
REPOSITORY_DECORATIONS = ("repoMatches", "repoExcludes")


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
