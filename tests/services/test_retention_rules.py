"""The retention rules of both editions as pure functions: what a request may say (numbers, templates,
selectors, regular expressions, and refusals with a clear message), and what a run decides, checked
on examples and by property tests (ordering, OR of rules, exceptions never counted, monotony)."""

from __future__ import annotations

import dataclasses
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.domain.enterprise import Selector
from moorage.domain.errors import Invalid
from moorage.domain.retention import Candidate, PolicyRule, PolicyTemplate, SharedRule, SharedTemplate, TagState
from moorage.services.retention.rules import (
    DAY_MS,
    RuleFields,
    compile_regexp,
    parse_count,
    policy_decision,
    policy_rule,
    rules_for,
    shared_deletions,
    shared_keeps,
    shared_rule,
)

NOW = 1_900_000_000_000


def tag(name: str, pushed_days_ago: float, tag_id: int = 0, manifest_id: int = 0) -> TagState:
    return TagState(name, tag_id, manifest_id, NOW - int(pushed_days_ago * DAY_MS))


def names(states: list[TagState]) -> list[str]:
    return [s.name for s in states]


# Shared edition: what a request may say -----------------------------------------------------------
def test_the_documented_example_is_accepted() -> None:
    rule = shared_rule("date_rule", {"days": "30"}, [("label", "v5"), ("label", "1.0.1"), ("regexp", "^123$")])
    assert (rule.template, rule.count, len(rule.tag_selectors)) == (SharedTemplate.DATE_RULE, 30, 3)
    assert shared_rule("tag_rule", {"num": 10}, []).count == 10


@pytest.mark.parametrize(
    ("template", "params", "selectors", "words"),
    [
        ("size_rule", {"num": "1"}, [], "date_rule or tag_rule"),
        ("tag_rule", {"num": "-1"}, [], "negative"),
        ("date_rule", {"days": -30}, [], "negative"),
        ("tag_rule", {"num": "0"}, [], "from 1 to 1000"),
        ("tag_rule", {"num": "1001"}, [], "from 1 to 1000"),
        ("date_rule", {"days": "366"}, [], "from 1 to 365"),
        ("tag_rule", {"num": "ten"}, [], "whole number"),
        ("tag_rule", {"num": True}, [], "whole number"),
        ("tag_rule", {"num": 2.5}, [], "whole number"),
        ("tag_rule", {"days": "3"}, [], "only 'num'"),
        ("tag_rule", {}, [], "needs 'num'"),
        ("date_rule", ["days"], [], "object"),
        ("tag_rule", {"num": "3"}, [("glob", "v*")], "label or regexp"),
        ("tag_rule", {"num": "3"}, [("regexp", "(unclosed")], "does not compile"),
        ("tag_rule", {"num": "3"}, [("regexp", r"(a)\1")], "does not compile"),  # RE2: no backreferences
        ("tag_rule", {"num": "3"}, [("regexp", "(?=a)")], "does not compile"),  # nor lookaround
        ("tag_rule", {"num": "3"}, [("regexp", "a" * 513)], "longer than 512"),
        ("tag_rule", {"num": "3"}, [("regexp", "")], "needs a pattern"),
        ("tag_rule", {"num": "3"}, [("label", "")], "one tag"),
        ("tag_rule", {"num": "3"}, [("label", "x" * 129)], "one tag"),
    ],
)
def test_bad_shared_rules_are_refused(
    template: str, params: object, selectors: list[tuple[str, str]], words: str
) -> None:
    with pytest.raises(Invalid) as caught:
        shared_rule(template, params, selectors)
    assert words in caught.value.message


def test_a_regexp_that_would_backtrack_forever_matches_in_linear_time() -> None:
    started = time.monotonic()
    assert compile_regexp("(a+)+$").finds("a" * 100_000) is True
    assert compile_regexp("(a+)+b").finds("a" * 100_000) is False
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(("value", "number"), [(7, 7), ("7", 7), (" 12 ", 12), (3.0, 3)])
def test_counts_come_as_numbers_or_strings(value: object, number: int) -> None:
    assert parse_count(value, "num", 1, 100) == number


# Shared edition: what a run deletes ---------------------------------------------------------------
def test_tag_rule_keeps_the_newest_and_exceptions_are_not_counted() -> None:
    tags = [
        tag("v1", 9, 1),
        tag("v2", 8, 2),
        tag("v3", 7, 3),
        tag("latest", 10, 4),
        tag("v4", 6, 5),
        tag("rc-1", 20, 6),
    ]
    rule = shared_rule("tag_rule", {"num": "2"}, [("label", "latest"), ("regexp", "^rc-")])
    assert names(shared_deletions([rule], tags, NOW)) == ["v1", "v2"]  # oldest first


def test_date_rule_keeps_what_was_pushed_within_the_days() -> None:
    tags = [tag("old", 31), tag("edge", 30), tag("new", 1), tag("keep-me", 400)]
    rule = shared_rule("date_rule", {"days": 30}, [("regexp", "keep")])
    assert names(shared_deletions([rule], tags, NOW)) == ["old"]


def test_several_rules_keep_what_any_of_them_keeps() -> None:
    tags = [tag("a", 100, 1), tag("b", 50, 2), tag("c", 2, 3), tag("d", 1, 4)]
    newest = shared_rule("tag_rule", {"num": "1"}, [])
    recent = shared_rule("date_rule", {"days": "3"}, [])
    assert names(shared_deletions([newest, recent], tags, NOW)) == ["a", "b"]
    assert names(shared_deletions([newest], tags, NOW)) == ["a", "b", "c"]


def test_equal_push_times_keep_the_later_tag() -> None:
    tags = [tag("first", 1, 1), tag("second", 1, 2)]
    assert names(shared_deletions([shared_rule("tag_rule", {"num": "1"}, [])], tags, NOW)) == ["first"]


_names = st.text(alphabet="abcv0123456789.-", min_size=1, max_size=6)
_tags = st.lists(st.tuples(_names, st.integers(0, 400)), max_size=25, unique_by=lambda t: t[0]).map(
    lambda pairs: [TagState(n, i, i, NOW - d * DAY_MS) for i, (n, d) in enumerate(pairs)]
)
_selectors = st.lists(
    st.one_of(
        st.tuples(st.just("label"), _names),
        st.tuples(st.just("regexp"), st.sampled_from(["^v", "1$", "[0-9]{2}", "a|b", "."])),
    ),
    max_size=3,
)
_shared_rules = st.builds(
    lambda kind, count, selectors: shared_rule(kind, {"days" if kind == "date_rule" else "num": count}, selectors),
    st.sampled_from(["date_rule", "tag_rule"]),
    st.integers(1, 30),
    _selectors,
)


@settings(max_examples=200)
@given(tags=_tags, rule=_shared_rules)
def test_one_rule_deletes_exactly_what_it_does_not_keep(tags: list[TagState], rule: SharedRule) -> None:
    deleted = {s.name for s in shared_deletions([rule], tags, NOW)}
    kept = shared_keeps(rule, tags, NOW)
    assert deleted == {s.name for s in tags} - kept
    counted = [
        s
        for s in tags
        if not any(
            (sel.kind == "label" and sel.pattern == s.name)
            or (sel.kind == "regexp" and compile_regexp(sel.pattern).finds(s.name))
            for sel in rule.tag_selectors
        )
    ]
    assert deleted <= {s.name for s in counted}  # an exception is never deleted
    if rule.template is SharedTemplate.TAG_RULE:
        assert len(counted) - len(deleted) == min(rule.count, len(counted))
        survivors = [s for s in counted if s.name not in deleted]
        assert all(
            (d.pushed_at, d.tag_id) < (k.pushed_at, k.tag_id) for d in counted if d.name in deleted for k in survivors
        )
    else:
        assert deleted == {s.name for s in counted if s.pushed_at < NOW - rule.count * DAY_MS}


@settings(max_examples=150)
@given(tags=_tags, rules=st.lists(_shared_rules, min_size=1, max_size=3), seed=st.randoms())
def test_rules_combine_with_or_and_order_does_not_matter(
    tags: list[TagState], rules: list[SharedRule], seed: object
) -> None:
    together = {s.name for s in shared_deletions(rules, tags, NOW)}
    each = [{s.name for s in shared_deletions([r], tags, NOW)} for r in rules]
    assert together == set.intersection(*each)
    shuffled = list(tags)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    assert names(shared_deletions(rules, shuffled, NOW)) == names(shared_deletions(rules, tags, NOW))


# Enterprise Edition: what a request may say -------------------------------------------------------
def doublestar(decoration: str, pattern: str, extras: str = "") -> Selector:
    return Selector("doublestar", decoration, pattern, extras)


def fields(
    template: str = "latestPushedK",
    params: dict[str, object] | None = None,
    *,
    tags: str = "**",
    repositories: str = "**",
    extras: str = "",
    **change: object,
) -> RuleFields:
    base = RuleFields(
        template=template,
        params={"latestPushedK": 3} if params is None else params,
        tag_selectors=[doublestar("matches", tags, extras)],
        scope_selectors={"repository": [doublestar("repoMatches", repositories)]},
    )
    return dataclasses.replace(base, **change)  # type: ignore[arg-type]


def test_harbor_templates_are_accepted() -> None:
    for template, params in (
        ("latestPushedK", {"latestPushedK": 5}),
        ("latestPulledN", {"latestPulledN": "5"}),
        ("nDaysSinceLastPush", {"nDaysSinceLastPush": 7}),
        ("nDaysSinceLastPull", {"nDaysSinceLastPull": 7}),
        ("always", {}),
    ):
        rule = policy_rule(fields(template, params), 1)
        assert (rule.template.value, rule.count, rule.id) == (
            template,
            0 if template == "always" else params[template] if isinstance(params[template], int) else 5,
            1,
        )


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (fields("keepEverything", {}), "template must be one of"),
        (fields("latestPushedK", {"latestPushedK": -2}), "negative"),
        (fields("latestPushedK", {"latestPushedK": 0}), "from 1 to 100000"),
        (fields("nDaysSinceLastPush", {"nDaysSinceLastPush": 40_000}), "from 1 to 36500"),
        (fields("latestPushedK", {}), "needs"),
        (fields("latestPushedK", {"latestPulledN": 3}), "only 'latestPushedK'"),
        (fields("always", {"always": 1}), "no params"),
        (fields(action="delete"), "action must be 'retain'"),
        (fields(priority=-1), "priority must not be negative"),
        (fields(repo_scope_mode="everything"), "repo_scope_mode"),
        (fields(tags="v[1"), "never closed"),
        (fields(repositories="{a,b"), "never closed"),
        (fields(tags="a" * 513), "longer than 512"),
        (fields(tags=""), "must not be empty"),
        (fields(extras="{"), "JSON object"),
        (fields(extras='{"untagged": "yes"}'), "JSON object"),
        (fields(scope_selectors={"namespace": [doublestar("repoMatches", "**")]}), "only 'repository'"),
        (fields(scope_selectors={"repository": []}), "exactly one"),
        (fields(tag_selectors=[doublestar("matches", "a"), doublestar("excludes", "b")]), "exactly one"),
        (fields(tag_selectors=[Selector("regexp", "matches", "a")]), "doublestar"),
        (fields(tag_selectors=[doublestar("repoMatches", "a")]), "decoration"),
    ],
)
def test_bad_policy_rules_are_refused(rule: RuleFields, words: str) -> None:
    with pytest.raises(Invalid) as caught:
        policy_rule(rule, 1)
    assert words in caught.value.message, caught.value.message


# Enterprise Edition: what a run deletes -----------------------------------------------------------
def artifact(
    manifest_id: int, *tags: tuple[str, float], pulled_days_ago: float | None = None, created_days_ago: float = 400
) -> Candidate:
    return Candidate(
        manifest_id,
        f"sha256:{manifest_id:064x}",
        tuple(
            TagState(name, manifest_id * 100 + i, manifest_id, NOW - int(age * DAY_MS))
            for i, (name, age) in enumerate(tags)
        ),
        NOW - int(created_days_ago * DAY_MS),
        None if pulled_days_ago is None else NOW - int(pulled_days_ago * DAY_MS),
    )


def rule(
    template: str,
    count: int = 0,
    *,
    tags: str = "**",
    decoration: str = "matches",
    repositories: str = "**",
    untagged: bool = False,
    disabled: bool = False,
) -> PolicyRule:
    return PolicyRule(
        PolicyTemplate(template),
        count,
        (doublestar(decoration, tags, '{"untagged": true}' if untagged else ""),),
        (doublestar("repoMatches", repositories),),
        disabled=disabled,
    )


def deleted(rules: list[PolicyRule], tagged: list[Candidate], untagged: list[Candidate] = ()) -> list[int]:
    return [c.manifest_id for c in policy_decision(rules, tagged, list(untagged), NOW).deletions]


def test_latest_pushed_counts_artifacts_and_any_tag_keeps_one() -> None:
    tagged = [
        artifact(1, ("v1", 9)),
        artifact(2, ("v2", 8), ("stable", 30)),
        artifact(3, ("v3", 1)),
        artifact(4, ("v4", 2)),
    ]
    assert deleted([rule("latestPushedK", 2)], tagged) == [1, 2]  # oldest first
    # A tag of artifact 2 pushed yesterday makes it one of the two newest.
    tagged[1] = artifact(2, ("v2", 8), ("stable", 0.5))
    assert deleted([rule("latestPushedK", 2)], tagged) == [1, 4]


def test_tags_no_rule_selects_go_and_untagged_ones_only_when_selected() -> None:
    tagged = [artifact(1, ("latest", 5)), artifact(2, ("v1", 5)), artifact(3, ("v2", 1))]
    untagged = [artifact(4), artifact(5, created_days_ago=0.1)]
    assert deleted([rule("always", tags="v*")], tagged, untagged) == [1]  # Harbor: retention names what to keep
    assert deleted([rule("always", tags="latest", decoration="excludes")], tagged, untagged) == [1]
    # Selected untagged artifacts compete with the tagged ones (5, a day old, is the newest of all).
    assert deleted([rule("latestPushedK", 1, untagged=True)], tagged, untagged) == [4, 1, 2, 3]
    assert deleted([rule("nDaysSinceLastPush", 1, untagged=True)], tagged, untagged) == [4, 1, 2]


def test_pulled_rules_rank_never_pulled_artifacts_last() -> None:
    tagged = [
        artifact(1, ("a", 1), pulled_days_ago=2),
        artifact(2, ("b", 1)),
        artifact(3, ("c", 9), pulled_days_ago=30),
    ]
    assert deleted([rule("latestPulledN", 2)], tagged) == [2]
    assert deleted([rule("nDaysSinceLastPull", 7)], tagged) == [3, 2]


def test_rules_combine_with_or_and_disabled_or_unselecting_rules_do_not_count() -> None:
    tagged = [artifact(1, ("v1", 30)), artifact(2, ("v2", 20)), artifact(3, ("v3", 1))]
    assert deleted([rule("latestPushedK", 1), rule("nDaysSinceLastPush", 25)], tagged) == [1]
    assert deleted([rule("latestPushedK", 1), rule("always", disabled=True)], tagged) == [1, 2]
    covering = rules_for(
        [rule("always", repositories="apps/**"), rule("latestPushedK", 1, repositories="tools")], "apps/web"
    )
    assert [r.template.value for r in covering] == ["always"]
    assert rules_for([rule("always", disabled=True)], "x") == []


_artifacts = st.lists(
    st.tuples(
        st.lists(
            st.tuples(st.sampled_from(["v1", "v2", "latest", "rc", "x/y", "1.0"]), st.integers(0, 60)),
            min_size=0,
            max_size=3,
            unique_by=lambda t: t[0],
        ),
        st.one_of(st.none(), st.integers(0, 60)),
        st.integers(0, 60),
    ),
    max_size=12,
)
_policy_rules = st.builds(
    lambda template, count, tags, decoration, untagged: rule(
        template, count, tags=tags, decoration=decoration, untagged=untagged
    ),
    st.sampled_from([t.value for t in PolicyTemplate]),
    st.integers(1, 20),
    st.sampled_from(["**", "v*", "latest", "*.*"]),
    st.sampled_from(["matches", "excludes"]),
    st.booleans(),
)


def _candidates(raw: list[tuple[list[tuple[str, int]], int | None, int]]) -> tuple[list[Candidate], list[Candidate]]:
    seen: set[str] = set()
    tagged, untagged = [], []
    for i, (tags, pulled, created) in enumerate(raw, start=1):
        own = [(n, a) for n, a in tags if n not in seen]
        seen |= {n for n, _ in own}
        made = artifact(i, *own, pulled_days_ago=pulled, created_days_ago=created)
        (tagged if own else untagged).append(made)
    return tagged, untagged


@settings(max_examples=200)
@given(raw=_artifacts, rules=st.lists(_policy_rules, min_size=1, max_size=3))
def test_a_decision_is_consistent(
    raw: list[tuple[list[tuple[str, int]], int | None, int]], rules: list[PolicyRule]
) -> None:
    tagged, untagged = _candidates(raw)
    decision = policy_decision(rules, tagged, untagged, NOW)
    gone = {c.manifest_id for c in decision.deletions}
    assert len(gone) == len(decision.deletions)
    assert gone <= {c.manifest_id for c in (*tagged, *untagged)}
    assert decision.total - decision.retained == len(gone)
    # An untagged artifact goes only when a rule that selects untagged artifacts looked at it.
    if not any('"untagged": true' in s.extras for r in rules for s in r.tag_selectors):
        assert not gone & {c.manifest_id for c in untagged}
    # Any "always" rule that selects everything keeps everything it selects.
    if any(
        r.template is PolicyTemplate.ALWAYS
        and r.tag_selectors[0].pattern == "**"
        and r.tag_selectors[0].decoration == "matches"
        for r in rules
    ):
        assert not gone & {c.manifest_id for c in tagged}
    # Deletions come oldest first.
    pushed = [c.pushed_at for c in decision.deletions]
    assert pushed == sorted(pushed)


@settings(max_examples=150)
@given(raw=_artifacts, k=st.integers(1, 10))
def test_keeping_more_never_deletes_more(raw: list[tuple[list[tuple[str, int]], int | None, int]], k: int) -> None:
    tagged, untagged = _candidates(raw)
    for template in ("latestPushedK", "latestPulledN", "nDaysSinceLastPush", "nDaysSinceLastPull"):
        fewer = set(deleted([rule(template, k + 1, untagged=True)], tagged, untagged))
        more = set(deleted([rule(template, k, untagged=True)], tagged, untagged))
        assert fewer <= more, template
