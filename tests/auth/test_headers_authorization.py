"""``Authorization: Basic`` and ``Bearer``: examples from RFC 7617 / RFC 6750 and the registry's
logins, round trips, and fuzzing (any input gives a value or HeaderError)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.auth.headers import (
    BasicCredentials,
    HeaderError,
    authorization_scheme,
    build_basic,
    build_bearer,
    parse_basic,
    parse_bearer,
)


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", ("Aladdin", "open sesame")),  # RFC 7617 section 2
        (basic(b"local-1@AKMOORAGE0TEST0KEY01:" + b"0f" * 32), ("local-1@AKMOORAGE0TEST0KEY01", "0f" * 32)),
        (basic(b"user:pa:ss:word"), ("user", "pa:ss:word")),
        (basic(b"user:"), ("user", "")),
        (basic("tést:pässwörd✓".encode()), ("tést", "pässwörd✓")),
        ("basic " + base64.b64encode(b"u:p").decode(), ("u", "p")),
        ("BASIC   " + base64.b64encode(b"u:p").decode() + "  ", ("u", "p")),
        ("Basic " + base64.b64encode(b"ab:c").decode().rstrip("="), ("ab", "c")),  # padding left out
    ],
)
def test_parse_basic(value: str, expected: tuple[str, str]) -> None:
    credentials = parse_basic(value)
    assert credentials == expected
    user, password = credentials
    assert (credentials.username, credentials.password) == (user, password)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Basic",
        "Basic ",
        "Bearer dXNlcjpwYXNz",
        "Basic dXNlcjpwYXNz extra",
        "Basic dXNlcjpwYXNz,",
        "Basic d",  # impossible base64 length
        "Basic ?XNlcjpwYXNz",
        "Basic dXNl-cjpwYXNz",  # base64url is not base64
        basic(b"no-colon"),
        basic(b":password-without-user"),
        basic(b"user:\xff\xfe"),  # not UTF-8
        basic(b"user:pass\nword"),  # control character
        basic(b"us\x00er:pass"),
        "Basic " + "A" * 9000,
    ],
)
def test_parse_basic_refuses(value: str) -> None:
    with pytest.raises(HeaderError):
        parse_basic(value)


def test_basic_credentials_hide_the_password() -> None:
    credentials = parse_basic(basic(b"alice:s3cret"))
    assert "s3cret" not in repr(credentials) and "alice" in repr(credentials)


@pytest.mark.parametrize(("username", "password"), [("", "p"), ("a:b", "p"), ("a\nb", "p"), ("a", "p\r")])
def test_build_basic_refuses(username: str, password: str) -> None:
    with pytest.raises(HeaderError):
        build_basic(username, password)


no_controls = st.characters(exclude_categories=("Cs",), exclude_characters="".join(map(chr, [*range(32), 127])))


@settings(max_examples=300)
@given(username=st.text(no_controls.filter(lambda c: c != ":"), min_size=1), password=st.text(no_controls))
def test_basic_round_trip(username: str, password: str) -> None:
    assert parse_basic(build_basic(username, password)) == (username, password)


@settings(max_examples=500)
@given(
    value=st.one_of(
        st.text(),
        st.binary().map(basic),
        st.text(alphabet="Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==:+/ \t", max_size=40),
    )
)
def test_parse_basic_never_crashes(value: str) -> None:
    try:
        credentials = parse_basic(value)
    except HeaderError:
        return
    assert isinstance(credentials, BasicCredentials)
    assert credentials.username and ":" not in credentials.username
    # what was parsed is exactly what was encoded
    encoded = value.strip(" \t").split(" ", 1)[1].strip(" ")
    padded = encoded + "=" * (-len(encoded) % 4)
    assert base64.b64decode(padded) == f"{credentials.username}:{credentials.password}".encode()


# Bearer ---------------------------------------------------------------------------------------------

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLWJ5dGVz_-x"


@pytest.mark.parametrize(
    ("value", "token"),
    [
        (f"Bearer {JWT}", JWT),
        (f"bearer {JWT}", JWT),
        (f"BEARER  {JWT} ", JWT),
        ("Bearer mF_9.B5f-4.1JqM", "mF_9.B5f-4.1JqM"),  # RFC 6750 section 2.1
        ("Bearer abc+/~==", "abc+/~=="),
    ],
)
def test_parse_bearer(value: str, token: str) -> None:
    assert parse_bearer(value) == token


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic abc",
        "Bearer a b",
        "Bearer a,b",
        "Bearer =abc",
        "Bearer a=b",
        'Bearer "abc"',
        "Bearer ab\u00e9",
        "Token abc",
        "Bearer " + "a" * 9000,
    ],
)
def test_parse_bearer_refuses(value: str) -> None:
    with pytest.raises(HeaderError):
        parse_bearer(value)


b64token = st.builds(
    str.__add__,
    st.text(alphabet="abcXYZ0189-._~+/", min_size=1, max_size=60),
    st.text(alphabet="=", max_size=2),
)


@given(token=b64token)
def test_bearer_round_trip(token: str) -> None:
    assert parse_bearer(build_bearer(token)) == token


@settings(max_examples=500)
@given(value=st.one_of(st.text(), st.builds(str.__add__, st.sampled_from(["Bearer ", "bearer  "]), st.text())))
def test_parse_bearer_never_crashes(value: str) -> None:
    try:
        token = parse_bearer(value)
    except HeaderError:
        return
    assert token and token in value and " " not in token


@pytest.mark.parametrize("token", ["", "a b", "a\nb", "=a", "é"])
def test_build_bearer_refuses(token: str) -> None:
    with pytest.raises(HeaderError):
        build_bearer(token)


@pytest.mark.parametrize(
    ("value", "scheme"),
    [
        ("Basic abc", "basic"),
        ("Bearer x", "bearer"),
        ("SDK-HMAC-SHA256 Access=a", "sdk-hmac-sha256"),
        ("Negotiate", "negotiate"),
    ],
)
def test_authorization_scheme(value: str, scheme: str) -> None:
    assert authorization_scheme(value) == scheme


@pytest.mark.parametrize("value", ["", " ", '"x" y', "@ abc"])
def test_authorization_scheme_refuses(value: str) -> None:
    with pytest.raises(HeaderError):
        authorization_scheme(value)


@given(value=st.text())
def test_authorization_scheme_never_crashes(value: str) -> None:
    try:
        scheme = authorization_scheme(value)
    except HeaderError:
        return
    assert scheme == scheme.lower() and value.strip(" \t").lower().startswith(scheme)
