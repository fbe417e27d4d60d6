"""The OAuth2 form of ``POST /service/token``: what it accepts, what it refuses, and that any bytes
give a ``TokenForm`` or ``TokenRequestError`` and nothing else (the parser faces the network)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.auth.token_request import (
    MAX_FORM_BYTES,
    MAX_FORM_FIELDS,
    GrantType,
    TokenForm,
    TokenRequestError,
    check_media_type,
    parse_token_form,
)


def test_password_grant_as_containerd_sends_it() -> None:
    body = urlencode(
        [
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "p+a ss&=:%"),
            ("service", "moorage"),
            ("client_id", "containerd-client"),
            ("access_type", "offline"),
            ("scope", "repository:team/app:pull"),
            ("scope", "repository:team/base:pull registry:catalog:*"),
        ]
    )
    form = parse_token_form(body.encode(), "application/x-www-form-urlencoded; charset=utf-8")
    assert form == TokenForm(
        GrantType.PASSWORD,
        "moorage",
        "containerd-client",
        True,
        ("repository:team/app:pull", "repository:team/base:pull registry:catalog:*"),
        "alice",
        "p+a ss&=:%",
    )
    assert "p+a" not in repr(form)  # the password never shows in logs


def test_refresh_grant_and_defaults() -> None:
    form = parse_token_form(b"grant_type=refresh_token&refresh_token=abc.def.ghi&unknown=ignored")
    assert form.grant_type is GrantType.REFRESH_TOKEN and form.refresh_token == "abc.def.ghi"
    assert (form.offline, form.scopes, form.service, form.client_id) == (False, (), "", "")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "grant_type"),
        (b"grant_type=authorization_code&code=x", "unsupported grant_type"),
        (b"grant_type=client_credentials", "unsupported grant_type"),
        (b"grant_type=password", "needs a username"),
        (b"grant_type=refresh_token", "needs a refresh_token"),
        (b"grant_type=password&username=a&password=b&password=c", "more than once"),
        (b"grant_type=password&grant_type=refresh_token&username=a", "more than once"),
        (b"grant_type=password&username=a%00b&password=x", "control characters"),
        (b"grant_type=password&username=a&password=x%0d%0aInjected: 1", "control characters"),
        (b"grant_type=password&username=a&access_type=forever", "access_type"),
        (b"grant_type=password&username=%ff%fe", "UTF-8"),
        (b"grant_type=password&username=\xff", "UTF-8"),
        (b"grant_type=password&username=a&password=" + b"x" * 9000, "too long"),
        (b"&".join([b"scope=a"] * (MAX_FORM_FIELDS + 1)) + b"&grant_type=password&username=a", "fields"),
        (b"grant_type=password&username=a&password=" + b"x" * MAX_FORM_BYTES, "larger than"),
    ],
)
def test_refused(body: bytes, message: str) -> None:
    with pytest.raises(TokenRequestError, match=message):
        parse_token_form(body)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/x-www-form-urlencoded; charset=latin-1",
    ],
)
def test_other_media_types_are_refused(content_type: str) -> None:
    with pytest.raises(TokenRequestError):
        check_media_type(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/x-www-form-urlencoded",
        'Application/X-WWW-Form-Urlencoded ; Charset="UTF-8"',
    ],
)
def test_form_media_types_are_accepted(content_type: str | None) -> None:
    check_media_type(content_type)


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    username=_text.filter(bool),
    password=_text,
    client_id=_text,
    scopes=st.lists(_text, max_size=5),
    offline=st.booleans(),
)
def test_round_trip_of_any_encoded_form(
    username: str, password: str, client_id: str, scopes: list[str], offline: bool
) -> None:
    fields = [
        ("grant_type", "password"),
        ("username", username),
        ("password", password),
        ("client_id", client_id),
        *(("scope", s) for s in scopes),
    ]
    if offline:
        fields.append(("access_type", "offline"))
    form = parse_token_form(urlencode(fields).encode())
    assert (form.username, form.password, form.client_id, form.scopes, form.offline) == (
        username,
        password,
        client_id,
        tuple(scopes),
        offline,
    )


@settings(max_examples=500, deadline=None)
@given(
    st.binary(max_size=300) | st.text(max_size=200).map(str.encode),
    st.none() | st.sampled_from(["application/x-www-form-urlencoded", "text/plain", ";;", "a/b; charset"]),
)
def test_any_bytes_give_a_form_or_a_token_request_error(body: bytes, content_type: str | None) -> None:
    try:
        form = parse_token_form(body, content_type)
    except TokenRequestError:
        return
    assert isinstance(form, TokenForm)
