"""The retention rules of both editions: validating a request's rules, and deciding what a run
deletes. Pure functions, no I/O: a run reads the candidates, calls these, and deletes per decision.

Shared edition (SWR's ``date_rule`` / ``tag_rule``): the tags of one repository, less cosign's
accessory tags and tags of accessories. Each rule leaves alone the tags its ``tag_selectors`` name
(``label``: that tag; ``regexp``: every tag the expression finds a match in, RE2 syntax as SWR's Go
service reads it, so matching time is linear and a pattern cannot hang a run) and keeps, of the
others, those pushed within ``days`` days or the ``num`` most recently pushed. A tag goes when no rule
keeps it (``algorithm`` ``or``).

Enterprise Edition (Harbor's templates): per repository its repository selectors accept, each
enabled rule selects the artifacts one of whose tags its tag selector accepts (untagged artifacts
when the selector's ``extras`` say ``{"untagged": true}``) and keeps, of those, the K most recently
pushed or N most recently pulled (never pulled ones last), those pushed or pulled within N days, or
all of them (``always``). In a repository some rule covers, a tagged artifact no rule keeps goes
(Harbor's rule: retention names what to keep); an untagged artifact goes only when a rule selected it
and kept it not (Harbor deletes every untagged artifact no rule keeps, which also takes an index's
platform manifests pushed ahead of their index: moorage leaves those to garbage collection).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import ScopeRule, Selector
from moorage.domain.errors import Invalid
from moorage.domain.retention import (
    ACTION,
    ALGORITHM,
    Candidate,
    PolicyRule,
    PolicyTemplate,
    SelectorKind,
    SharedRule,
    SharedTemplate,
    TagSelector,
    TagState,
)
from moorage.services.enterprise.selectors import repository_selected, tag_selected, validate_rule, wants_untagged

DAY_MS = 86_400_000
MAX_SHARED_RULES = 10
MAX_TAG_SELECTORS = 64
MAX_REGEXP = 512
"""Longest regular expression a shared-edition tag selector may hold (the selector patterns' bound)."""
MAX_TAG = 128
SHARED_RANGES: Mapping[SharedTemplate, tuple[int, int]] = {
    SharedTemplate.DATE_RULE: (1, 365),
    SharedTemplate.TAG_RULE: (1, 1000),
}
"""The numbers the SWR console accepts: 1-365 days, 1-1,000 tags."""
MAX_POLICY_RULES = 15
"""Rules of one Enterprise Edition policy (Harbor's limit)."""
POLICY_RANGES: Mapping[bool, tuple[int, int]] = {True: (1, 36_500), False: (1, 100_000)}
"""Days (True) and artifacts (False) an Enterprise Edition rule may name."""
REPO_SCOPE_MODES = ("regular", "selection")
_RE2_MAX_MEMORY = 8 << 20
_NUMBER = re.compile(r"-?[0-9]{1,12}")


# Numbers -------------------------------------------------------------------------------------------
def parse_count(value: object, name: str, low: int, high: int) -> int:
    """A rule's number, given as a JSON number or a string of digits (SWR's examples write ``"30"``);
    ``Invalid`` unless it is a whole number from ``low`` to ``high``."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = int(value.strip())
    if number is None:
        raise Invalid(f"{name} must be a whole number from {low} to {high}, got {str(value)[:32]!r}")
    if number < 0:
        raise Invalid(f"{name} must not be negative, got {number}")
    if not low <= number <= high:
        raise Invalid(f"{name} must be from {low} to {high}, got {number}")
    return number


# Shared edition ------------------------------------------------------------------------------------
class _Regexp:
    """A compiled RE2 expression (``search`` semantics, as Go's ``MatchString``)."""

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled

    def finds(self, text: str) -> bool:
        """Whether the expression matches somewhere in ``text``."""
        return self._compiled.search(text) is not None


@lru_cache(maxsize=512)
def compile_regexp(pattern: str) -> _Regexp:
    """A tag selector's regular expression compiled (RE2); ``Invalid`` when it is empty, too long or
    does not compile (RE2 refuses what it cannot match in linear time: backreferences, lookaround)."""
    if not pattern:
        raise Invalid("a regexp tag selector needs a pattern")
    if len(pattern) > MAX_REGEXP:
        raise Invalid(f"regular expression longer than {MAX_REGEXP} characters")
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _RE2_MAX_MEMORY
    try:
        return _Regexp(re2.compile(pattern, options))
    except Exception as exc:
        detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise Invalid(f"regular expression {pattern[:80]!r} does not compile: {detail}") from None


def shared_selector(kind: str, pattern: str) -> TagSelector:
    """A checked tag selector (``label`` or ``regexp``)."""
    try:
        selector_kind = SelectorKind(kind)
    except ValueError:
        raise Invalid(f"tag selector kind must be label or regexp, got {kind[:32]!r}") from None
    if selector_kind is SelectorKind.LABEL:
        if not pattern or len(pattern) > MAX_TAG:
            raise Invalid(f"a label tag selector names one tag of 1-{MAX_TAG} characters, got {pattern[:80]!r}")
    else:
        compile_regexp(pattern)
    return TagSelector(selector_kind, pattern)


def shared_rule(template: str, params: object, selectors: Sequence[tuple[str, str]]) -> SharedRule:
    """A checked shared-edition rule: ``template`` ``date_rule`` with ``params`` ``{"days": n}`` or
    ``tag_rule`` with ``{"num": n}``, and its exceptions."""
    try:
        kind = SharedTemplate(template)
    except ValueError:
        raise Invalid(f"template must be date_rule or tag_rule, got {template[:32]!r}") from None
    if not isinstance(params, Mapping):
        raise Invalid(f'params of a {kind.value} must be an object like {{"{kind.parameter}": "30"}}')
    unknown = sorted(set(params) - {kind.parameter})
    if unknown:
        raise Invalid(f"params of a {kind.value} takes only {kind.parameter!r}, got {unknown[0][:32]!r}")
    if kind.parameter not in params:
        raise Invalid(f"params of a {kind.value} needs {kind.parameter!r}")
    low, high = SHARED_RANGES[kind]
    count = parse_count(params[kind.parameter], kind.parameter, low, high)
    if len(selectors) > MAX_TAG_SELECTORS:
        raise Invalid(f"a rule has at most {MAX_TAG_SELECTORS} tag selectors")
    return SharedRule(kind, count, tuple(shared_selector(k, p) for k, p in selectors))


def check_shared_rules(algorithm: str, rules: Sequence[SharedRule]) -> None:
    """``Invalid`` unless the algorithm is ``or`` and there are 1-``MAX_SHARED_RULES`` rules."""
    if algorithm != ALGORITHM:
        raise Invalid(f"algorithm must be {ALGORITHM!r}, got {algorithm[:32]!r}")
    if not 1 <= len(rules) <= MAX_SHARED_RULES:
        raise Invalid(f"a retention has 1-{MAX_SHARED_RULES} rules, got {len(rules)}")


def _excepted(rule: SharedRule, tag: str) -> bool:
    for selector in rule.tag_selectors:
        if selector.kind is SelectorKind.LABEL and selector.pattern == tag:
            return True
        if selector.kind is SelectorKind.REGEXP and compile_regexp(selector.pattern).finds(tag):
            return True
    return False


def newest_first(states: Iterable[TagState]) -> list[TagState]:
    """Tags by push time, newest first (the later tag row first among equal times)."""
    return sorted(states, key=lambda s: (s.pushed_at, s.tag_id), reverse=True)


def shared_keeps(rule: SharedRule, tags: Sequence[TagState], now_ms: int) -> set[str]:
    """The tags one rule keeps: its exceptions, and of the others those its template keeps."""
    kept = {t.name for t in tags if _excepted(rule, t.name)}
    counted = [t for t in tags if t.name not in kept]
    if rule.template is SharedTemplate.DATE_RULE:
        oldest = now_ms - rule.count * DAY_MS
        kept |= {t.name for t in counted if t.pushed_at >= oldest}
    else:
        kept |= {t.name for t in newest_first(counted)[: rule.count]}
    return kept


def shared_deletions(rules: Sequence[SharedRule], tags: Sequence[TagState], now_ms: int) -> list[TagState]:
    """The tags no rule keeps, oldest first."""
    kept: set[str] = set()
    for rule in rules:
        kept |= shared_keeps(rule, tags, now_ms)
    return list(reversed(newest_first(t for t in tags if t.name not in kept)))


# Enterprise Edition --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RuleFields:
    """A rule of a create or update request as it came (checked by ``policy_rule``)."""

    template: str
    params: Mapping[str, object]
    tag_selectors: Sequence[Selector]
    scope_selectors: Mapping[str, Sequence[Selector]]
    priority: int = 0
    disabled: bool = False
    action: str | None = None
    repo_scope_mode: str | None = None


def _check_extras(selector: Selector) -> None:
    if not selector.extras:
        return
    try:
        extras = load_document(selector.extras)
    except ValueError:
        raise Invalid(f"selector extras must be a JSON object, got {selector.extras[:64]!r}") from None
    if not isinstance(extras, dict) or not isinstance(extras.get("untagged", False), bool):
        raise Invalid(f'selector extras must be a JSON object like {{"untagged": true}}, got {selector.extras[:64]!r}')


def policy_rule(fields: RuleFields, position: int) -> PolicyRule:
    """A checked Enterprise Edition rule (its id is its position in the policy, from 1)."""
    try:
        template = PolicyTemplate(fields.template)
    except ValueError:
        known = ", ".join(t.value for t in PolicyTemplate)
        raise Invalid(f"template must be one of {known}, got {fields.template[:32]!r}") from None
    if fields.action is not None and fields.action != ACTION:
        raise Invalid(f"action must be {ACTION!r}, got {fields.action[:32]!r}")
    if fields.priority < 0:
        raise Invalid(f"priority must not be negative, got {fields.priority}")
    mode = fields.repo_scope_mode or REPO_SCOPE_MODES[0]
    if mode not in REPO_SCOPE_MODES:
        raise Invalid(f"repo_scope_mode must be regular or selection, got {mode[:32]!r}")
    expected = {template.value} if template.takes_number else set()
    unknown = sorted(set(fields.params) - expected)
    if unknown:
        wanted = f"only {template.value!r}" if template.takes_number else "no params"
        raise Invalid(f"params of {template.value} takes {wanted}, got {unknown[0][:32]!r}")
    count = 0
    if template.takes_number:
        if template.value not in fields.params:
            raise Invalid(f'params of {template.value} needs {{"{template.value}": <number>}}')
        low, high = POLICY_RANGES[template.counts_days]
        count = parse_count(fields.params[template.value], template.value, low, high)
    unknown_scopes = sorted(set(fields.scope_selectors) - {"repository"})
    if unknown_scopes:
        raise Invalid(f"scope_selectors supports only 'repository', got {unknown_scopes[0][:32]!r}")
    repositories = tuple(fields.scope_selectors.get("repository") or ())
    if len(fields.tag_selectors) != 1 or len(repositories) != 1:
        raise Invalid(
            "a rule has exactly one tag selector and one scope_selectors.repository selector, "
            f"got {len(fields.tag_selectors)} and {len(repositories)}"
        )
    for selector in (*fields.tag_selectors, *repositories):
        if not selector.pattern:
            raise Invalid("a selector's pattern must not be empty ('**' selects everything)")
        _check_extras(selector)
    validate_rule(ScopeRule(tuple(fields.tag_selectors), repositories))
    return PolicyRule(
        template,
        count,
        tuple(fields.tag_selectors),
        repositories,
        fields.priority,
        fields.disabled,
        ACTION,
        mode,
        position,
    )


def check_policy_rules(algorithm: str, rules: Sequence[PolicyRule]) -> None:
    """``Invalid`` unless the algorithm is ``or`` and there are 1-``MAX_POLICY_RULES`` rules."""
    if algorithm != ALGORITHM:
        raise Invalid(f"algorithm must be {ALGORITHM!r}, got {algorithm[:32]!r}")
    if not 1 <= len(rules) <= MAX_POLICY_RULES:
        raise Invalid(f"a retention policy has 1-{MAX_POLICY_RULES} rules, got {len(rules)}")


def _scope(rule: PolicyRule) -> ScopeRule:
    return ScopeRule(rule.tag_selectors, rule.repository_selectors)


def rules_for(rules: Sequence[PolicyRule], repository: str) -> list[PolicyRule]:
    """The enabled rules whose repository selector accepts ``repository`` (its name in the namespace)."""
    return [r for r in rules if not r.disabled and repository_selected(_scope(r), repository)]


def wants_untagged_artifacts(rules: Sequence[PolicyRule]) -> bool:
    """Whether some rule selects untagged artifacts."""
    return any(wants_untagged(s) for r in rules for s in r.tag_selectors)


def selects(rule: PolicyRule, candidate: Candidate) -> bool:
    """Whether a rule's tag selector takes an artifact: one of its tags, or untagged as asked."""
    if not candidate.tags:
        return tag_selected(_scope(rule), "")
    return any(tag_selected(_scope(rule), t.name) for t in candidate.tags)


def _pushed_order(candidates: Iterable[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (c.pushed_at, c.manifest_id), reverse=True)


def _pulled_order(candidates: Iterable[Candidate]) -> list[Candidate]:
    return sorted(
        candidates,
        key=lambda c: (c.pulled_at if c.pulled_at is not None else -1, c.pushed_at, c.manifest_id),
        reverse=True,
    )


def rule_keeps(rule: PolicyRule, selected: Sequence[Candidate], now_ms: int) -> set[int]:
    """The manifest ids one rule keeps of the artifacts it selected."""
    match rule.template:
        case PolicyTemplate.ALWAYS:
            return {c.manifest_id for c in selected}
        case PolicyTemplate.LATEST_PUSHED_K:
            return {c.manifest_id for c in _pushed_order(selected)[: rule.count]}
        case PolicyTemplate.LATEST_PULLED_N:
            return {c.manifest_id for c in _pulled_order(selected)[: rule.count]}
        case PolicyTemplate.DAYS_SINCE_LAST_PUSH:
            oldest = now_ms - rule.count * DAY_MS
            return {c.manifest_id for c in selected if c.pushed_at >= oldest}
        case PolicyTemplate.DAYS_SINCE_LAST_PULL:
            oldest = now_ms - rule.count * DAY_MS
            return {c.manifest_id for c in selected if c.pulled_at is not None and c.pulled_at >= oldest}


@dataclass(frozen=True, slots=True)
class RepositoryDecision:
    """What a run decided for one repository: how many artifacts it looked at, and which go."""

    total: int
    retained: int
    deletions: tuple[Candidate, ...]


def policy_decision(
    rules: Sequence[PolicyRule], tagged: Sequence[Candidate], untagged: Sequence[Candidate], now_ms: int
) -> RepositoryDecision:
    """The decision of a repository's rules (``rules_for`` it) over its artifacts; deletions oldest first."""
    kept: set[int] = set()
    selected_untagged: set[int] = set()
    for rule in (r for r in rules if not r.disabled):
        chosen = [c for c in (*tagged, *untagged) if selects(rule, c)]
        selected_untagged |= {c.manifest_id for c in chosen if not c.tags}
        kept |= rule_keeps(rule, chosen, now_ms)
    looked_at = [*tagged, *(c for c in untagged if c.manifest_id in selected_untagged)]
    deletions = [c for c in looked_at if c.manifest_id not in kept]
    return RepositoryDecision(
        len(looked_at), len(looked_at) - len(deletions), tuple(reversed(_pushed_order(deletions)))
    )
