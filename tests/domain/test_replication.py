"""Replication's pure rules: Harbor's flattening of destination paths, doublestar filters (the one
matcher of domain/doublestar.py) and label filters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.domain import doublestar
from moorage.domain.errors import Invalid
from moorage.domain.replication import (
    FilterType,
    ReplicationFilter,
    destination_repository,
    labels_selected,
    pattern_matches,
    repository_selected,
    tag_selected,
)
from tests.fuzz.budget import FUZZ


@pytest.mark.parametrize(
    ("repository", "namespace", "count", "expected"),
    [
        ("a/b/c", "", -1, "a/b/c"),  # no destination namespace: the same path
        ("a/b/c", "", 2, "a/b/c"),
        ("a/b/c", "ns", -1, "ns/c"),  # flatten all levels
        ("a/b/c", "ns", 0, "ns/a/b/c"),  # no flattening
        ("a/b/c", "ns", 1, "ns/b/c"),
        ("a/b/c", "ns", 2, "ns/c"),
        ("a/b/c", "ns", 3, "ns"),
        ("library/hello", "mirror", 1, "mirror/hello"),
    ],
)
def test_flattening_as_harbor_does(repository: str, namespace: str, count: int, expected: str) -> None:
    assert destination_repository(repository, namespace, count) == expected


def test_flattening_more_levels_than_the_path_has_is_refused() -> None:
    with pytest.raises(Invalid, match="2 components"):
        destination_repository("a/b", "ns", 3)


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("library/**", "library/a/b", True),
        ("library/*", "library/a/b", False),
        ("library/*", "library/a", True),
        ("**", "a/b/c", True),
        ("library/{test,test*,*test}", "library/testing", True),
        ("library/{test,test*,*test}", "library/other", False),
        ("v1.?", "v1.2", True),
        ("v1.?", "v1.23", False),
        ("[a-c]*", "beta", True),
        ("*", ".hidden", True),
        ("", "anything/at/all", True),
    ],
)
def test_doublestar_patterns(pattern: str, text: str, matches: bool) -> None:
    assert pattern_matches(pattern, text) is matches


def test_filters_combine() -> None:
    filters = (ReplicationFilter.parse("name", "team/**"), ReplicationFilter.parse("tag", "v*"))
    assert repository_selected(filters, "team/app") and not repository_selected(filters, "other/app")
    assert tag_selected(filters, "v1") and not tag_selected(filters, "latest")
    labels = (ReplicationFilter.parse("label", "env=prod, team"),)
    assert labels[0].type is FilterType.LABEL
    assert labels_selected(labels, {"env": "prod", "team": "x"})
    assert not labels_selected(labels, {"env": "dev", "team": "x"})
    assert not labels_selected(labels, {"env": "prod"})


def test_bad_filters() -> None:
    with pytest.raises(Invalid, match="name, tag or label"):
        ReplicationFilter.parse("colour", "red")
    with pytest.raises(Invalid, match="at most 512"):
        ReplicationFilter.parse("name", "a" * 513)


@FUZZ
@given(st.text(alphabet="ab/.-_0123", min_size=1, max_size=40))
def test_a_literal_pattern_matches_itself(text: str) -> None:
    assert pattern_matches(text.replace("[", "").replace("{", ""), text.replace("[", "").replace("{", ""))


@FUZZ
@given(st.text(max_size=300))
def test_any_pattern_parses_or_is_refused_cleanly(pattern: str) -> None:
    try:
        parsed = ReplicationFilter.parse("name", pattern)
    except Invalid:
        return
    pattern_matches(parsed.value, "team/app")  # never raises


@pytest.mark.parametrize("pattern", ["{a,b", "[abc", "a}", "x\\", "[z-a]"])
def test_a_malformed_filter_pattern_is_refused(pattern: str) -> None:
    # Replication filters and scope selectors share one matcher, so they refuse the same patterns.
    with pytest.raises(Invalid, match="invalid pattern"):
        ReplicationFilter.parse("name", pattern)


def test_a_stored_malformed_pattern_matches_only_itself() -> None:
    # A policy saved while filters were checked by another matcher keeps working.
    assert pattern_matches("lib/{a,b", "lib/{a,b")
    assert not pattern_matches("lib/{a,b", "lib/a")


@FUZZ
@given(st.text(alphabet="ab/*?{},", max_size=12), st.text(alphabet="ab/", max_size=8))
def test_filters_and_selectors_answer_alike(pattern: str, text: str) -> None:
    try:
        expected = doublestar.matches(pattern, text)
    except Invalid:
        return
    assert pattern_matches(pattern, text) is (expected or not pattern)
