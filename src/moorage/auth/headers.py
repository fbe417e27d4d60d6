"""Parse and build the headers of the registry's login flow: ``Authorization: Basic`` (RFC 7617) and
``Bearer`` (RFC 6750), ``WWW-Authenticate`` challenges (RFC 9110 section 11, formerly RFC 7235) and
Docker token ``scope`` strings (distribution's token specification).

Every parser takes any string and returns a value or raises :class:`HeaderError`, nothing else:
these headers come straight from the network. Builders refuse what cannot be written into a header
(control characters, line breaks), so a value can never split or inject a header.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

MAX_HEADER_LENGTH = 8192
"""Longer Authorization / WWW-Authenticate values are refused outright."""
MAX_SCOPES = 100
"""At most this many scopes in one token request."""
MAX_SCOPE_NAME_LENGTH = 255
"""distribution's limit on a repository name (host part included)."""

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What a builder may put inside a quoted-string: visible ASCII and space (a quote and a backslash
# are escaped). Parsers also accept HTAB and obs-text (U+0080-U+00FF, i.e. latin-1 decoded bytes).
_BUILDABLE = re.compile(r"[\x20-\x7e]*")
_QDTEXT = re.compile(r"[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]+")
_QUOTED_PAIR_CHAR = re.compile(r"[\t\x20-\x7e\x80-\xff]")
_OWS = " \t"

_SCOPE_TYPE = re.compile(r"([a-z0-9]+)(?:\(([a-z0-9]+)\))?")
_SCOPE_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*")
_SCOPE_ACTION = re.compile(r"[a-z]+|\*")


class HeaderError(ValueError):
    """A header value that does not follow its grammar (or cannot be built); the message is safe to
    show the client and never contains a secret."""


class BasicCredentials(NamedTuple):
    """A user name and password from ``Authorization: Basic`` (unpacks as ``user, password``)."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"BasicCredentials(username={self.username!r}, password=<hidden>)"


def authorization_scheme(value: str) -> str:
    """The lower-cased scheme of an Authorization value (``basic``, ``bearer``, ``sdk-hmac-sha256``...)."""
    _check_length(value)
    scheme = value.strip(_OWS).split(" ", 1)[0]
    if not _TOKEN.fullmatch(scheme):
        raise HeaderError("Authorization header has no scheme")
    return scheme.lower()


def _credentials_after_scheme(value: str, scheme: str) -> str:
    """The single token68 after ``scheme`` (case-insensitive), or HeaderError."""
    _check_length(value)
    found, _, rest = value.strip(_OWS).partition(" ")
    if found.lower() != scheme:
        raise HeaderError(f"expected the {scheme.capitalize()} authorization scheme")
    credentials = rest.strip(" ")
    if not _TOKEN68.fullmatch(credentials):
        raise HeaderError(f"malformed {scheme.capitalize()} credentials")
    return credentials


def parse_basic(value: str) -> BasicCredentials:
    """``Basic base64(user:password)`` -> (user, password). The password may contain ``:`` and the
    user name ``@`` (``local-1@AK``); both are UTF-8 and free of control characters (RFC 7617)."""
    encoded = _credentials_after_scheme(value, "basic")
    if not _BASE64.fullmatch(encoded) or len(encoded) % 4 == 1:
        raise HeaderError("Basic credentials are not base64")
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise HeaderError("Basic credentials are not base64 of UTF-8 text") from error
    username, colon, password = decoded.partition(":")
    if not colon:
        raise HeaderError("Basic credentials lack the ':' between user and password")
    if not username:
        raise HeaderError("Basic credentials have an empty user name")
    if _CONTROL.search(decoded):
        raise HeaderError("Basic credentials contain control characters")
    return BasicCredentials(username, password)


def build_basic(username: str, password: str) -> str:
    """The ``Authorization`` value for Basic credentials (for clients and tests)."""
    if not username or ":" in username:
        raise HeaderError("a Basic user name must be non-empty and free of ':'")
    if _CONTROL.search(username) or _CONTROL.search(password):
        raise HeaderError("Basic credentials cannot contain control characters")
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def parse_bearer(value: str) -> str:
    """``Bearer <token>`` -> the token (RFC 6750 b64token: JWTs and opaque tokens alike)."""
    return _credentials_after_scheme(value, "bearer")


def build_bearer(token: str) -> str:
    """The ``Authorization`` value for a bearer token."""
    if not _TOKEN68.fullmatch(token):
        raise HeaderError("a bearer token must be a b64token (RFC 6750)")
    return f"Bearer {token}"


# WWW-Authenticate ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a WWW-Authenticate header."""

    scheme: str
    """As sent (compare lower-cased)."""
    parameters: tuple[tuple[str, str], ...] = ()
    """Auth-params, names lower-cased, values unquoted, in the order sent."""
    token68: str | None = None
    """The token68 form (``Negotiate abc==``) instead of parameters."""

    def parameter(self, name: str) -> str | None:
        """The value of parameter ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.parameters if key == wanted), None)


@dataclass(frozen=True, slots=True)
class BearerChallenge:
    """The parameters of a ``Bearer`` challenge as registries send them."""

    realm: str
    """The token endpoint's URL."""
    service: str | None = None
    scopes: tuple[str, ...] = ()
    """The scope parameter split on spaces (raw strings; :func:`parse_scopes` parses them)."""
    error: str | None = None
    """``invalid_token``, ``insufficient_scope``..."""
    error_description: str | None = None


def quote_string(value: str) -> str:
    """``value`` as an RFC 9110 quoted-string (``"`` and ``\\`` escaped); printable ASCII only."""
    if not _BUILDABLE.fullmatch(value):
        raise HeaderError("header parameter values must be printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_challenge(scheme: str, parameters: Iterable[tuple[str, str]]) -> str:
    """``scheme name="value",name="value"`` with every value quoted (as distribution writes it)."""
    if not _TOKEN.fullmatch(scheme):
        raise HeaderError(f"invalid authentication scheme {scheme!r}")
    rendered = []
    seen: set[str] = set()
    for name, value in parameters:
        if not _TOKEN.fullmatch(name) or name.lower() in seen:
            raise HeaderError(f"invalid or repeated parameter name {name!r}")
        seen.add(name.lower())
        rendered.append(f"{name}={quote_string(value)}")
    return f"{scheme} {','.join(rendered)}" if rendered else scheme


def build_bearer_challenge(
    *,
    realm: str,
    service: str | None = None,
    scope: str | Iterable[str] | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> str:
    """``Bearer realm="...",service="...",scope="a b",error="..."``; ``scope`` is one string of
    space-separated scopes or several scopes. Parameters that are None are left out."""
    scopes = _scope_list(scope)
    parameters = [("realm", realm)]
    if service is not None:
        parameters.append(("service", service))
    if scopes:
        parameters.append(("scope", " ".join(scopes)))
    if error is not None:
        parameters.append(("error", error))
    if error_description is not None:
        parameters.append(("error_description", error_description))
    return build_challenge("Bearer", parameters)


def _scope_list(scope: str | Iterable[str] | None) -> tuple[str, ...]:
    """Scopes as a tuple; each is non-empty and space-free (space separates them)."""
    if scope is None:
        return ()
    if isinstance(scope, str):
        return tuple(scope.split())
    scopes = tuple(scope)
    if any(not item or " " in item for item in scopes):
        raise HeaderError("each scope must be non-empty and contain no space")
    return scopes


def parse_challenges(value: str) -> tuple[Challenge, ...]:
    """Every challenge of a WWW-Authenticate value (``1#challenge``; RFC 9110 section 11.6.1)."""
    _check_length(value)
    return _ChallengeReader(value).read_all()


def parse_bearer_challenge(value: str) -> BearerChallenge:
    """The first ``Bearer`` challenge of a WWW-Authenticate value; it must carry a realm."""
    for challenge in parse_challenges(value):
        if challenge.scheme.lower() != "bearer":
            continue
        realm = challenge.parameter("realm")
        if realm is None:
            raise HeaderError("Bearer challenge without a realm")
        scope = challenge.parameter("scope")
        return BearerChallenge(
            realm=realm,
            service=challenge.parameter("service"),
            scopes=tuple(scope.split()) if scope else (),
            error=challenge.parameter("error"),
            error_description=challenge.parameter("error_description"),
        )
    raise HeaderError("no Bearer challenge")


class _ChallengeReader:
    """A cursor over one WWW-Authenticate value."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def read_all(self) -> tuple[Challenge, ...]:
        """``#challenge``: challenges separated by commas (empty list elements allowed)."""
        challenges: list[Challenge] = []
        while True:
            self._skip_list_separators()
            if self._at_end():
                break
            challenges.append(self._read_challenge())
        if not challenges:
            raise HeaderError("no challenge in WWW-Authenticate")
        return tuple(challenges)

    def _read_challenge(self) -> Challenge:
        scheme = self._read_token("authentication scheme")
        if self._at_end() or self.text[self.position] == ",":
            return Challenge(scheme)
        if self.text[self.position] != " ":
            raise HeaderError("expected a space after the authentication scheme")
        self._skip(" ")
        token68 = _TOKEN68.match(self.text, self.position)
        if token68 is not None:
            after = token68.end()
            while after < len(self.text) and self.text[after] in _OWS:
                after += 1
            if after == len(self.text) or self.text[after] == ",":
                # ``Negotiate abc==`` (or a bare ``Scheme token``): token68, not parameters.
                self.position = token68.end()
                return Challenge(scheme, token68=token68.group())
        parameters: list[tuple[str, str]] = []
        names: set[str] = set()
        while True:
            name, value = self._read_parameter()
            if name in names:
                raise HeaderError(f"parameter {name} given twice in one challenge")
            names.add(name)
            parameters.append((name, value))
            if not self._another_parameter_follows():
                return Challenge(scheme, tuple(parameters))

    def _read_parameter(self) -> tuple[str, str]:
        """``token BWS "=" BWS ( token / quoted-string )``."""
        name = self._read_token("parameter name").lower()
        self._skip(_OWS)
        if self._at_end() or self.text[self.position] != "=":
            raise HeaderError(f"expected '=' after parameter {name}")
        self.position += 1
        self._skip(_OWS)
        if not self._at_end() and self.text[self.position] == '"':
            return name, self._read_quoted_string()
        return name, self._read_token(f"value of parameter {name}")

    def _another_parameter_follows(self) -> bool:
        """After a parameter: a comma then ``token BWS =`` continues this challenge; anything else
        (end, or a comma then a new scheme) ends it. Consumes nothing but whitespace."""
        self._skip(_OWS)
        if self._at_end():
            return False
        if self.text[self.position] != ",":
            raise HeaderError("expected ',' between parameters")
        lookahead = self.position
        while lookahead < len(self.text) and self.text[lookahead] in _OWS + ",":
            lookahead += 1
        token = _TOKEN.match(self.text, lookahead)
        if token is None:
            return False
        after = token.end()
        while after < len(self.text) and self.text[after] in _OWS:
            after += 1
        if after < len(self.text) and self.text[after] == "=":
            self.position = lookahead
            return True
        return False

    def _read_quoted_string(self) -> str:
        self.position += 1  # the opening quote
        parts: list[str] = []
        while not self._at_end():
            character = self.text[self.position]
            if character == '"':
                self.position += 1
                return "".join(parts)
            if character == "\\":
                escaped = self.text[self.position + 1 : self.position + 2]
                if not escaped or not _QUOTED_PAIR_CHAR.fullmatch(escaped):
                    raise HeaderError("invalid escape in a quoted string")
                parts.append(escaped)
                self.position += 2
                continue
            run = _QDTEXT.match(self.text, self.position)
            if run is None:
                raise HeaderError("invalid character in a quoted string")
            parts.append(run.group())
            self.position = run.end()
        raise HeaderError("unterminated quoted string")

    def _read_token(self, what: str) -> str:
        token = _TOKEN.match(self.text, self.position)
        if token is None:
            raise HeaderError(f"expected a token ({what})")
        self.position = token.end()
        return token.group()

    def _skip_list_separators(self) -> None:
        self._skip(_OWS + ",")

    def _skip(self, characters: str) -> None:
        while not self._at_end() and self.text[self.position] in characters:
            self.position += 1

    def _at_end(self) -> bool:
        return self.position >= len(self.text)


# Docker token scopes ------------------------------------------------------------------------------


class TokenScope(NamedTuple):
    """``type:name:action[,action]`` (unpacks as ``type, name, actions``).

    ``resource_type`` is written as sent, class included (``repository(plugin)``), so a caller that
    only knows ``repository`` and ``registry`` never mistakes a plugin scope for a repository one.
    """

    resource_type: str
    name: str
    actions: tuple[str, ...]

    @property
    def base_type(self) -> str:
        """The type without its class (``repository`` for ``repository(plugin)``)."""
        return self.resource_type.split("(", 1)[0]

    @property
    def resource_class(self) -> str | None:
        """The class in parentheses (``plugin``), or None."""
        _, _, rest = self.resource_type.partition("(")
        return rest[:-1] if rest else None

    def __str__(self) -> str:
        return f"{self.resource_type}:{self.name}:{','.join(self.actions)}"


def parse_scope(text: str) -> TokenScope:
    """One scope, ``repository:library/ubuntu:pull,push`` or ``registry:catalog:*``. Names are
    distribution path components joined by ``/``, without a host (so ``:``-free)."""
    if len(text) > MAX_SCOPE_NAME_LENGTH + 64:
        raise HeaderError("scope too long")
    parts = text.split(":")
    if len(parts) != 3:
        raise HeaderError(f"scope {text[:80]!r} is not type:name:actions")
    resource_type, name, actions_text = parts
    if not _SCOPE_TYPE.fullmatch(resource_type):
        raise HeaderError(f"invalid resource type in scope {text[:80]!r}")
    if (
        not name
        or len(name) > MAX_SCOPE_NAME_LENGTH
        or not all(_SCOPE_COMPONENT.fullmatch(component) for component in name.split("/"))
    ):
        raise HeaderError(f"invalid resource name in scope {text[:80]!r}")
    actions = actions_text.split(",")
    if not all(_SCOPE_ACTION.fullmatch(action) for action in actions):
        raise HeaderError(f"invalid actions in scope {text[:80]!r}")
    return TokenScope(resource_type, name, tuple(dict.fromkeys(actions)))


def parse_scopes(values: Iterable[str]) -> tuple[TokenScope, ...]:
    """Every scope of a token request: each ``scope`` query or form value may hold several,
    separated by spaces. Scopes on the same resource are merged (actions in first-seen order)."""
    merged: dict[tuple[str, str], list[str]] = {}
    count = 0
    for value in values:
        _check_length(value)
        for text in value.split():
            count += 1
            if count > MAX_SCOPES:
                raise HeaderError(f"more than {MAX_SCOPES} scopes")
            scope = parse_scope(text)
            actions = merged.setdefault((scope.resource_type, scope.name), [])
            actions.extend(action for action in scope.actions if action not in actions)
    return tuple(TokenScope(resource_type, name, tuple(actions)) for (resource_type, name), actions in merged.items())


def _check_length(value: str) -> None:
    if len(value) > MAX_HEADER_LENGTH:
        raise HeaderError("header value too long")
