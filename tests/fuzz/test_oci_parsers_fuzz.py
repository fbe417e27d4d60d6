"""Fuzzing the registry's parsers that read what a client sends before anything else: names, tags,
digests, ``Content-Length``, ``Content-Range``, ``Range``, token scopes and the token request form.
Arbitrary input gives a value or the parser's own error, nothing else; accepted input agrees with a
simple oracle written from the specification."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from hypothesis import example, given
from hypothesis import strategies as st

from moorage.auth.headers import HeaderError, parse_scopes
from moorage.auth.token_request import TokenRequestError, parse_token_form
from moorage.domain.digests import Digest
from moorage.domain.errors import (
    DigestInvalid,
    NameInvalid,
    RangeNotSatisfiable,
    SizeInvalid,
    TagInvalid,
    UnsupportedDigest,
    UploadInvalid,
)
from moorage.domain.http_ranges import MAX_INT64, OPEN_END, parse_content_length, parse_content_range, parse_range
from moorage.domain.names import RepositoryName, validate_tag
from tests.fuzz.budget import FUZZ

# The distribution spec's grammars (opencontainers/distribution-spec, "Pulling manifests").
OCI_NAME = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*")
OCI_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
ASCII_DIGITS = re.compile(r"[0-9]+")

near_names = st.text(alphabet="abz09._-/_A:@ \n\u0661", max_size=80)
numbers = st.integers(0, 10**19 - 1)


@FUZZ
@given(near_names | st.text(max_size=300))
@example("a/b\n")
@example("ns/" + "a" * 300)
def test_repository_names_are_a_subset_of_the_oci_grammar(text: str) -> None:
    try:
        name = RepositoryName.parse(text)
    except NameInvalid:
        return
    assert str(name) == text and OCI_NAME.fullmatch(text), text


@FUZZ
@given(near_names | st.text(max_size=200))
@example("latest\n")
@example("\u0661")
def test_tags_follow_the_oci_grammar_exactly(text: str) -> None:
    try:
        validate_tag(text)
    except TagInvalid:
        assert not OCI_TAG.fullmatch(text) or not text.isascii()
        return
    assert OCI_TAG.fullmatch(text) and text.isascii()


@FUZZ
@given(st.text(alphabet="sha256512:0123456789abcdefABCDEF+._-=", max_size=140) | st.text(max_size=300))
def test_digests_parse_to_their_canonical_form_or_are_refused(text: str) -> None:
    try:
        digest = Digest.parse(text)
    except (DigestInvalid, UnsupportedDigest):
        return
    assert str(digest) == text
    assert len(digest.hex) == {"sha256": 64, "sha512": 128}[digest.algorithm]


@FUZZ
@given(st.text(alphabet="0123456789 +-\u0661\u00b2x", max_size=25) | st.text(max_size=40))
@example("\u00b2")  # str.isdigit() says yes, int() says no
@example("9" * 19)
@example("1" * 20)
def test_content_length_is_ascii_digits_or_size_invalid(text: str) -> None:
    try:
        value = parse_content_length(text)
    except SizeInvalid:
        assert not (ASCII_DIGITS.fullmatch(text) and len(text) <= 19 and int(text) <= MAX_INT64)
        return
    assert ASCII_DIGITS.fullmatch(text) and value == int(text) and 0 <= value <= MAX_INT64


@FUZZ
@given(
    st.one_of(
        st.builds(
            lambda a, b, p, s: f"{p}{a}-{b}{s}",
            numbers,
            numbers,
            st.sampled_from(["", "bytes ", "bytes="]),
            st.sampled_from(["", "/*", "/100", "/x"]),
        ),
        st.text(alphabet="0123456789-/ bytes=*\u0661", max_size=30),
        st.text(max_size=60),
    )
)
def test_content_range_is_an_ordered_pair_or_upload_invalid(text: str) -> None:
    try:
        start, end = parse_content_range(text)
    except UploadInvalid:
        return
    assert 0 <= start <= end <= MAX_INT64
    assert f"{start}-{end}" in text.strip()


def _oracle_range(text: str, size: int | None) -> tuple[int, int] | str | None:
    """RFC 9110's single byte range, written out plainly: (start, end), "unsatisfiable" or None."""
    text = text.strip()
    if not text.startswith("bytes=") or text.count("-") != 1:
        return None
    first, last = text[len("bytes=") :].split("-")
    if not all(part == "" or (part.isascii() and part.isdigit() and len(part) <= 19) for part in (first, last)):
        return None
    if any(part and int(part) > MAX_INT64 for part in (first, last)):
        return None
    if not first and not last:
        return None
    if not first:
        if size is None:
            return None
        n = int(last)
        return (max(size - n, 0), size - 1) if n else (size, size)
    end = int(last) if last else OPEN_END
    return "unsatisfiable" if end < int(first) else (int(first), end)


@FUZZ
@given(
    st.one_of(
        st.builds(
            lambda a, b: f"bytes={a}-{b}",
            st.one_of(st.just(""), numbers.map(str)),
            st.one_of(st.just(""), numbers.map(str)),
        ),
        st.text(alphabet="bytes=0123456789-, \u0661", max_size=30),
        st.text(max_size=60),
    ),
    st.none() | st.integers(0, 2**40),
)
@example("bytes=500-0", 1000)
@example("bytes=-0", 10)
@example("bytes=0-1,3-4", 10)
def test_range_agrees_with_the_rfc_oracle(text: str, size: int | None) -> None:
    expected = _oracle_range(text, size)
    try:
        found = parse_range(text, size)
    except RangeNotSatisfiable:
        assert expected == "unsatisfiable", text
        return
    assert (None if found is None else (found.start, found.end)) == expected, text


scope_texts = st.builds(
    lambda t, n, a: f"{t}:{n}:{a}",
    st.sampled_from(["repository", "registry", "repository(plugin)", "x", ""]),
    near_names,
    st.text(alphabet="pulsh,*de", max_size=20),
)


@FUZZ
@given(st.lists(st.lists(scope_texts, max_size=4).map(" ".join) | st.text(max_size=80), max_size=4))
def test_scopes_parse_or_raise_header_error(values: list[str]) -> None:
    try:
        scopes = parse_scopes(values)
    except HeaderError:
        return
    assert len({(s.resource_type, s.name) for s in scopes}) == len(scopes)  # one scope per resource
    for scope in scopes:
        assert scope.actions and all(action for action in scope.actions)
        assert len(set(scope.actions)) == len(scope.actions)


form_fields = st.lists(
    st.tuples(
        st.sampled_from(
            ["grant_type", "username", "password", "refresh_token", "scope", "service", "client_id", "access_type", "x"]
        ),
        st.sampled_from(["password", "refresh_token", "offline", "online", "alice", "repository:a/b:pull"])
        | st.text(max_size=30),
    ),
    max_size=10,
)


@FUZZ
@given(
    form_fields,
    st.sampled_from(
        [
            None,
            "application/x-www-form-urlencoded",
            "application/json",
            "application/x-www-form-urlencoded; charset=latin-1",
            "text/plain",
        ]
    ),
)
def test_token_forms_parse_or_raise_token_request_error(
    fields: list[tuple[str, str]], content_type: str | None
) -> None:
    try:
        form = parse_token_form(urlencode(fields).encode(), content_type)
    except TokenRequestError:
        return
    given_types = [value for name, value in fields if name == "grant_type"]
    assert given_types == [form.grant_type.value]
    assert form.scopes == tuple(value for name, value in fields if name == "scope")
