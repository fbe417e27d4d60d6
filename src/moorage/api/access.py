"""Access decisions: each route and method requires some actions on some resource, computed here in
one place, and checked by one ``Authorizer`` call per request (``api/registry_auth.RegistryAuthorizer``
implements it; there is no allow-all authorizer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.requests import HTTPConnection

from moorage.domain.identity import ANONYMOUS, Principal

PULL = "pull"
PUSH = "push"
DELETE = "delete"
ALL = "*"


@dataclass(frozen=True, slots=True)
class Access:
    """Actions required on one resource, in the Docker token scope vocabulary
    (``repository:<name>:pull,push`` / ``registry:catalog:*``)."""

    resource_type: str
    """``repository`` or ``registry``; empty for "any authenticated caller"."""
    name: str
    """Repository full name, ``catalog``, or empty."""
    actions: tuple[str, ...]
    """Actions needed."""

    def scope(self) -> str:
        """The Docker token scope string for this access."""
        return f"{self.resource_type}:{self.name}:{','.join(self.actions)}"


AUTHENTICATED = Access("", "", ())
"""Any authenticated caller (``GET /v2/``)."""


class Authorizer(Protocol):
    """Checks that the caller of a request may do everything in ``required``."""

    async def authorize(self, connection: HTTPConnection, required: list[Access]) -> Principal:
        """The principal, or raise ``Unauthenticated`` / ``Denied``."""
        ...

    async def permits(self, connection: HTTPConnection, principal: Principal, access: Access) -> bool:
        """Whether ``principal`` holds ``access`` (a soft check: no error either way)."""
        ...

    def challenge_headers(
        self, connection: HTTPConnection, required: list[Access], error: str | None = None
    ) -> dict[str, str]:
        """Headers that tell an unauthenticated client how to authenticate (``WWW-Authenticate``);
        ``error`` is the challenge's error (``insufficient_scope``, ``invalid_token``)."""
        ...


__all__ = ["ALL", "ANONYMOUS", "AUTHENTICATED", "DELETE", "PULL", "PUSH", "Access", "Authorizer", "Principal"]
