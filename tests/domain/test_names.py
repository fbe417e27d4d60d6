"""Names and tags against an independent oracle written from the rules' prose (ShowRepoTag's documentation and the
OCI grammar), so the regular expressions are checked by something that is not a regular expression."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.domain.errors import NameInvalid, TagInvalid
from moorage.domain.names import RepositoryName, validate_namespace, validate_repository, validate_tag

SEPARATORS = "._-"
LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def _separator_runs_ok(text: str, separators: str) -> bool:
    """Separators never adjacent, except exactly two underscores."""
    i = 0
    while i < len(text):
        if text[i] in separators:
            j = i
            while j < len(text) and text[j] in separators:
                j += 1
            run = text[i:j]
            if len(run) > 1 and run != "__":
                return False
            i = j
        else:
            i += 1
    return True


def namespace_oracle(name: str) -> bool:
    return (
        1 <= len(name) <= 64
        and all(c in LOWER_ALNUM + SEPARATORS for c in name)
        and name[0] in "abcdefghijklmnopqrstuvwxyz"
        and name[-1] in LOWER_ALNUM
        and _separator_runs_ok(name, SEPARATORS)
    )


def repository_oracle(name: str) -> bool:
    return (
        1 <= len(name) <= 128
        and all(c in LOWER_ALNUM + SEPARATORS + "/" for c in name)
        and name[0] in LOWER_ALNUM
        and name[-1] in LOWER_ALNUM
        and _separator_runs_ok(name, SEPARATORS + "/")
    )


def tag_oracle(tag: str) -> bool:
    allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
    return 1 <= len(tag) <= 128 and all(c in allowed for c in tag) and tag[0] not in ".-"


name_chars = st.text(alphabet=LOWER_ALNUM[:6] + "0" + SEPARATORS + "/A ", max_size=70)


@given(name_chars)
def test_namespace_rules_match_oracle(name: str) -> None:
    try:
        validate_namespace(name)
        ok = True
    except NameInvalid:
        ok = False
    assert ok == namespace_oracle(name), name


@given(name_chars)
def test_repository_rules_match_oracle(name: str) -> None:
    try:
        validate_repository(name)
        ok = True
    except NameInvalid:
        ok = False
    assert ok == repository_oracle(name), name


@given(st.text(alphabet="aZ9._-/:@ ", max_size=140))
def test_tag_grammar_matches_oracle(tag: str) -> None:
    try:
        validate_tag(tag)
        ok = True
    except TagInvalid:
        ok = False
    assert ok == tag_oracle(tag), tag


@pytest.mark.parametrize(
    ("full", "namespace", "repository"),
    [("library/busybox", "library", "busybox"), ("a/b/c/d", "a", "b/c/d"), ("my__org/x.y-z", "my__org", "x.y-z")],
)
def test_full_names_split_into_namespace_and_repository(full: str, namespace: str, repository: str) -> None:
    name = RepositoryName.parse(full)
    assert (name.namespace, name.repository, str(name)) == (namespace, repository, full)


@pytest.mark.parametrize(
    "full",
    [
        "busybox",
        "1abc/repo",
        "ns/Repo",
        "ns-/repo",
        "ns/repo/",
        "ns//repo",
        "ns/re..po",
        "n___s/repo",
        "a" * 65 + "/repo",
        "ns/" + "r" * 129,
        "ns/_repo",
        "ns/repo--x",
    ],
)
def test_invalid_full_names(full: str) -> None:
    with pytest.raises(NameInvalid):
        RepositoryName.parse(full)


def test_api_path_dollar_stands_for_slash() -> None:
    assert str(RepositoryName.from_api_path("group", "a$b$c")) == "group/a/b/c"
