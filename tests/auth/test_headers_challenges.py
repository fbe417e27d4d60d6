"""``WWW-Authenticate``: what moorage sends, what real registries send (RFC 9110 section 11 grammar:
several challenges, quoted strings with escapes, token68, bad whitespace), round trips and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.auth.headers import (
    BearerChallenge,
    Challenge,
    HeaderError,
    build_bearer_challenge,
    build_challenge,
    parse_bearer_challenge,
    parse_challenges,
    quote_string,
)


def test_build_bearer_challenge_as_distribution_writes_it() -> None:
    value = build_bearer_challenge(
        realm="https://registry.example:8443/service/token",
        service="registry.example:8443",
        scope="repository:group/app:pull,push repository:base:pull",
        error="insufficient_scope",
    )
    assert value == (
        'Bearer realm="https://registry.example:8443/service/token",service="registry.example:8443",'
        'scope="repository:group/app:pull,push repository:base:pull",error="insufficient_scope"'
    )


def test_build_bearer_challenge_leaves_out_absent_parameters() -> None:
    assert build_bearer_challenge(realm="http://h/t") == 'Bearer realm="http://h/t"'
    assert build_bearer_challenge(realm="r", scope=None, service="s") == 'Bearer realm="r",service="s"'
    assert build_bearer_challenge(realm="r", scope="") == 'Bearer realm="r"'
    two_scopes = build_bearer_challenge(realm="r", scope=["a:b:pull", "c:d:push"])
    assert two_scopes == 'Bearer realm="r",scope="a:b:pull c:d:push"'


def test_quoting_escapes_quotes_and_backslashes() -> None:
    assert quote_string('say "hi" \\o/') == r'"say \"hi\" \\o/"'
    value = build_bearer_challenge(realm='a"b\\c', error_description='it said "no"')
    assert parse_bearer_challenge(value) == BearerChallenge(realm='a"b\\c', error_description='it said "no"')


@pytest.mark.parametrize("realm", ["line\r\nSet-Cookie: x=1", "tab\there", "nul\x00", "é", "bell\x07"])
def test_builder_refuses_what_could_break_the_header(realm: str) -> None:
    with pytest.raises(HeaderError):
        build_bearer_challenge(realm=realm)


@pytest.mark.parametrize("scope", [["a b"], [""], ["ok", "tab\tinside"]])
def test_builder_refuses_scopes_that_would_not_split_back(scope: list[str]) -> None:
    with pytest.raises(HeaderError):
        build_bearer_challenge(realm="r", scope=scope)


def test_build_challenge_validates_names() -> None:
    assert build_challenge("Basic", [("realm", "moorage")]) == 'Basic realm="moorage"'
    assert build_challenge("Negotiate", []) == "Negotiate"
    for scheme, parameters in [("Ba sic", []), ("Basic", [("re alm", "x")]), ("Basic", [("a", "1"), ("A", "2")])]:
        with pytest.raises(HeaderError):
            build_challenge(scheme, parameters)


REAL_WORLD = {
    "Docker Hub": (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/ubuntu:pull"',
        BearerChallenge("https://auth.docker.io/token", "registry.docker.io", ("repository:library/ubuntu:pull",)),
    ),
    "with error": (
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/i:pull",error="insufficient_scope"',
        BearerChallenge("https://ghcr.io/token", "ghcr.io", ("repository:o/i:pull",), "insufficient_scope"),
    ),
    "unquoted tokens, spaces everywhere": (
        "Bearer  realm = hello ,  service=h.example , error=invalid_token",
        BearerChallenge("hello", "h.example", (), "invalid_token"),
    ),
    "several scopes and a mount": (
        'Bearer realm="r",scope="repository:a:pull,push  repository:b/c:pull"',
        BearerChallenge("r", None, ("repository:a:pull,push", "repository:b/c:pull")),
    ),
    "parameter names in any case": ('BEARER Realm="r", SERVICE="s"', BearerChallenge("r", "s")),
    "after a Basic challenge": (
        'Basic realm="simple", Bearer realm="https://h/t",service="h"',
        BearerChallenge("https://h/t", "h"),
    ),
    "escapes": (r'Bearer realm="a\"b\\c\d"', BearerChallenge('a"b\\cd')),
    "empty list elements": (', Bearer realm="r",,, ', BearerChallenge("r")),
    "obs-text (latin-1 decoded bytes)": ('Bearer realm="r\u00e9\u00ff"', BearerChallenge("r\u00e9\u00ff")),
}


@pytest.mark.parametrize("case", list(REAL_WORLD), ids=list(REAL_WORLD))
def test_parse_bearer_challenge(case: str) -> None:
    value, expected = REAL_WORLD[case]
    assert parse_bearer_challenge(value) == expected


def test_parse_several_challenges_rfc_example() -> None:
    """The example of RFC 9110 section 11.6.1."""
    value = 'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"'
    assert parse_challenges(value) == (
        Challenge("Newauth", (("realm", "apps"), ("type", "1"), ("title", 'Login to "apps"'))),
        Challenge("Basic", (("realm", "simple"),)),
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Negotiate abc==", (Challenge("Negotiate", token68="abc=="),)),
        (
            "Negotiate abc==, Basic realm=x",
            (Challenge("Negotiate", token68="abc=="), Challenge("Basic", (("realm", "x"),))),
        ),
        ("Basic", (Challenge("Basic"),)),
        ("Basic, Bearer realm=r", (Challenge("Basic"), Challenge("Bearer", (("realm", "r"),)))),
        ('Basic realm=""', (Challenge("Basic", (("realm", ""),)),)),
    ],
)
def test_parse_challenges_token68_and_bare_schemes(value: str, expected: tuple[Challenge, ...]) -> None:
    assert parse_challenges(value) == expected


def test_challenge_parameter_lookup_is_case_insensitive() -> None:
    (challenge,) = parse_challenges('Bearer Realm="r"')
    assert challenge.parameter("REALM") == "r" and challenge.parameter("service") is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        " , ",
        'Bearer realm="unterminated',
        'Bearer realm="r", realm="again"',
        'Bearer realm="bad\\\x00escape"',
        'Bearer realm="control\x01char"',
        'Bearer realm="beyond latin-1 \u20ac"',
        "Bearer realm=",  # a token68, so no realm
        'Bearer service="s"',
        'Basic realm="x"',
        "Bearer realm",
        '"quoted" realm=x',
        "Bearer realm=a b",
        'Bearer realm="a"b',
        "Bearer\trealm=x",
        "Bearer " + "a=b," * 3000,
    ],
)
def test_parse_bearer_challenge_refuses(value: str) -> None:
    with pytest.raises(HeaderError):
        parse_bearer_challenge(value)


printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
scope_item = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)


@st.composite
def bearer_challenges(draw: st.DrawFn) -> BearerChallenge:
    optional = st.one_of(st.none(), printable)
    return BearerChallenge(
        realm=draw(printable),
        service=draw(optional),
        scopes=tuple(draw(st.lists(scope_item, max_size=4))),
        error=draw(optional),
        error_description=draw(optional),
    )


def _build(challenge: BearerChallenge) -> str:
    return build_bearer_challenge(
        realm=challenge.realm,
        service=challenge.service,
        scope=challenge.scopes,
        error=challenge.error,
        error_description=challenge.error_description,
    )


@settings(max_examples=300)
@given(challenge=bearer_challenges())
def test_bearer_challenge_round_trip(challenge: BearerChallenge) -> None:
    assert parse_bearer_challenge(_build(challenge)) == challenge


@settings(max_examples=200)
@given(
    first=bearer_challenges(),
    second=bearer_challenges(),
    basic_realm=printable,
    separator=st.sampled_from([",", ", ", " ,  "]),
)
def test_several_challenges_round_trip(
    first: BearerChallenge, second: BearerChallenge, basic_realm: str, separator: str
) -> None:
    value = separator.join([build_challenge("Basic", [("realm", basic_realm)]), _build(first), _build(second)])
    challenges = parse_challenges(value)
    assert [c.scheme for c in challenges] == ["Basic", "Bearer", "Bearer"]
    assert challenges[0].parameter("realm") == basic_realm
    assert parse_bearer_challenge(value) == first


@settings(max_examples=500)
@given(
    value=st.one_of(
        st.text(),
        st.text(alphabet='Bearer realm="\\,= \t\x00\u00e9a', max_size=40),
        st.lists(
            st.sampled_from(["Bearer", "Basic", " ", ",", "realm", "=", '"', "\\", "x", "==", "\t"]), max_size=20
        ).map("".join),
    )
)
def test_parse_challenges_never_crashes(value: str) -> None:
    try:
        challenges = parse_challenges(value)
    except HeaderError:
        return
    assert challenges
    for challenge in challenges:
        assert challenge.scheme in value
        assert challenge.token68 is None or not challenge.parameters
        names = [name for name, _ in challenge.parameters]
        assert len(names) == len(set(names))
