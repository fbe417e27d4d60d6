"""Registry authentication: ``WWW-Authenticate`` challenges, Basic credentials, Bearer tokens.

Implements the Docker token flow: a 401 with ``Bearer realm=...,service=...,scope=...`` sends us
to ``realm`` for a token for that scope (with Basic credentials if we have them); tokens are kept
per scope until they expire.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

MIN_TOKEN_LIFETIME = 60.0
"""Seconds a token is assumed valid when the server does not say (the spec's default)."""


class ChallengeError(ValueError):
    """A ``WWW-Authenticate`` header we cannot read."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and password (or identity token) for Basic auth and token requests."""

    username: str
    """User name."""
    password: str
    """Password or token."""

    def basic_header(self) -> str:
        """The ``Authorization`` header value for Basic auth."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One authentication challenge: the scheme and its parameters (lower-case keys)."""

    scheme: str
    """``basic`` or ``bearer`` (lower case)."""
    params: dict[str, str]
    """``realm``, ``service``, ``scope``, ..."""


def parse_challenge(header: str) -> Challenge:
    """Parse ``Scheme key="value", key2=token`` (RFC 7235 auth-params; quoted commas allowed)."""
    text = header.strip()
    scheme, _, rest = text.partition(" ")
    if not scheme or not scheme.isascii() or not scheme.replace("-", "").isalnum():
        raise ChallengeError(f"no scheme in {header!r}")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,\t":
            i += 1
        if i >= n:
            break
        eq = rest.find("=", i)
        if eq < 0:
            raise ChallengeError(f"parameter without value in {header!r}")
        key = rest[i:eq].strip().lower()
        if not key or not key.replace("-", "").replace("_", "").isalnum():
            raise ChallengeError(f"bad parameter name in {header!r}")
        i = eq + 1
        if i < n and rest[i] == '"':
            i += 1
            value_chars: list[str] = []
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                value_chars.append(rest[i])
                i += 1
            if i >= n:
                raise ChallengeError(f"unterminated quoted value in {header!r}")
            i += 1
            value = "".join(value_chars)
        else:
            end = rest.find(",", i)
            end = n if end < 0 else end
            value = rest[i:end].strip()
            i = end
        params[key] = value
    return Challenge(scheme.lower(), params)


@dataclass
class TokenCache:
    """Bearer tokens by scope, each with the monotonic time it stops being used."""

    tokens: dict[str, tuple[str, float]]

    def __init__(self) -> None:
        self.tokens = {}

    def get(self, scope: str) -> str | None:
        """A token for ``scope`` that has not expired (10 s of margin)."""
        held = self.tokens.get(scope)
        if held is None or held[1] - 10 < time.monotonic():
            return None
        return held[0]

    def put(self, scope: str, token: str, expires_in: float | None) -> None:
        """Keep a token for ``expires_in`` seconds (at least the spec's 60)."""
        lifetime = max(float(expires_in or 0), MIN_TOKEN_LIFETIME)
        self.tokens[scope] = (token, time.monotonic() + lifetime)
