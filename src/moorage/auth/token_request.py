"""The body of ``POST /service/token``: the OAuth2 form of the Docker token specification
(distribution's ``docs/spec/auth/oauth.md``), ``application/x-www-form-urlencoded``.

Parsed here with ``urllib.parse`` rather than Starlette's ``request.form()``: that needs the
python-multipart package (missing, it made every POST answer 500), would accept multipart bodies
this endpoint never needs, and caps neither the body nor the number of fields. An urlencoded body of
at most ``MAX_FORM_BYTES`` needs nothing more than the standard library.

Like every parser facing the network, :func:`parse_token_form` takes any bytes and returns a value or
raises :class:`TokenRequestError`, nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qsl

MAX_FORM_BYTES = 64 * 1024
"""Larger token request bodies are refused (413). 100 scopes of 255-character names fit in ~30 KiB."""
MAX_FORM_FIELDS = 256
MAX_FIELD_LENGTH = 8192
"""The same bound as an ``Authorization`` header's."""
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SINGLE = ("grant_type", "service", "client_id", "access_type", "username", "password", "refresh_token")


class TokenRequestError(ValueError):
    """A token request body that is not a well-formed OAuth2 form; the message is safe to show."""


class GrantType(StrEnum):
    """The grants the endpoint serves (the specification's ``authorization_code`` is not one)."""

    PASSWORD = "password"  # noqa: S105 (a grant type, not a secret)
    REFRESH_TOKEN = "refresh_token"  # noqa: S105


@dataclass(frozen=True, slots=True)
class TokenForm:
    """A parsed ``POST /service/token`` body."""

    grant_type: GrantType
    service: str = ""
    client_id: str = ""
    offline: bool = False
    """``access_type=offline``: the answer carries a refresh token."""
    scopes: tuple[str, ...] = ()
    """Every ``scope`` value, as sent (each may hold several scopes separated by spaces)."""
    username: str = ""
    password: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)


def check_media_type(content_type: str | None) -> None:
    """The body must be a urlencoded form (UTF-8); an absent type is taken to be one."""
    if content_type is None or not content_type.strip():
        return
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    if media_type.lower() != FORM_MEDIA_TYPE:
        raise TokenRequestError(f"the token request must be {FORM_MEDIA_TYPE}")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise TokenRequestError("the token request must be UTF-8")


def parse_token_form(body: bytes, content_type: str | None = FORM_MEDIA_TYPE) -> TokenForm:
    """The token request in ``body``. Each field but ``scope`` appears at most once (RFC 6749
    section 3.2); ``grant_type`` is required, and with it the fields its grant needs."""
    check_media_type(content_type)
    if len(body) > MAX_FORM_BYTES:
        raise TokenRequestError(f"the token request is larger than {MAX_FORM_BYTES} bytes")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError as error:
        raise TokenRequestError("the token request is not UTF-8") from error
    except ValueError as error:
        raise TokenRequestError(f"more than {MAX_FORM_FIELDS} fields in the token request") from error
    single: dict[str, str] = {}
    scopes: list[str] = []
    for name, value in pairs:
        if len(value) > MAX_FIELD_LENGTH:
            raise TokenRequestError(f"field {name[:40]!r} is too long")
        if name == "scope":
            scopes.append(value)
        elif name in _SINGLE:
            if name in single:
                raise TokenRequestError(f"field {name!r} given more than once")
            if _CONTROL.search(value):
                raise TokenRequestError(f"field {name!r} contains control characters")
            single[name] = value
        # Unknown fields are ignored, as OAuth2 servers do.
    grant = single.get("grant_type", "")
    try:
        grant_type = GrantType(grant)
    except ValueError:
        shown = repr(grant[:40]) if grant else "missing"
        raise TokenRequestError(f"unsupported grant_type ({shown}): use password or refresh_token") from None
    access_type = single.get("access_type", "online")
    if access_type not in ("online", "offline"):
        raise TokenRequestError("access_type must be online or offline")
    form = TokenForm(
        grant_type=grant_type,
        service=single.get("service", ""),
        client_id=single.get("client_id", ""),
        offline=access_type == "offline",
        scopes=tuple(scopes),
        username=single.get("username", ""),
        password=single.get("password", ""),
        refresh_token=single.get("refresh_token", ""),
    )
    if grant_type is GrantType.PASSWORD and not form.username:
        raise TokenRequestError("the password grant needs a username")
    if grant_type is GrantType.REFRESH_TOKEN and not form.refresh_token:
        raise TokenRequestError("the refresh_token grant needs a refresh_token")
    return form
