"""Authorization header parsing (interim: replaced by the fuzzed parsers of the auth-parsers branch)."""

from __future__ import annotations

import base64
import binascii


class HeaderError(ValueError):
    """A malformed authentication header or scope."""


def parse_basic(value: str) -> tuple[str, str]:
    """``Basic <base64(user:password)>`` -> (user, password)."""
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise HeaderError("not Basic credentials")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise HeaderError("malformed Basic credentials") from exc
    user, sep, password = decoded.partition(":")
    if not sep:
        raise HeaderError("malformed Basic credentials")
    return user, password


def parse_bearer(value: str) -> str:
    """``Bearer <token>`` -> token."""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HeaderError("not a Bearer token")
    return token.strip()


def parse_scopes(values: list[str]) -> list[tuple[str, str, tuple[str, ...]]]:
    """Docker token scopes (``repository:<name>:pull,push``), several per value space-separated."""
    scopes = []
    for value in values:
        for item in value.split():
            kind, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            if not kind or not name or not actions:
                raise HeaderError(f"malformed scope {item!r}")
            scopes.append((kind.split("(")[0], name, tuple(a for a in actions.split(",") if a)))
    return scopes


def build_bearer_challenge(*, realm: str, service: str, scope: str | None = None, error: str | None = None) -> str:
    """``Bearer realm="...",service="..."[,scope="..."][,error="..."]``."""
    params = [("realm", realm), ("service", service)]
    if scope:
        params.append(("scope", scope))
    if error:
        params.append(("error", error))
    return "Bearer " + ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                                for k, v in params)
