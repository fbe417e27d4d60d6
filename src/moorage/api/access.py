"""Access decisions: each route and method requires some actions on some resource, computed here in
one place, and checked by one ``Authorizer`` call per request. The identity layer implements the
authorizer; until it is configured, ``AllowAll`` lets everything through (and says so at startup)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from starlette.requests import HTTPConnection

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


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. ``anonymous`` callers have no user."""

    user_id: str | None = None
    user_name: str = ""
    domain_id: str | None = None
    domain_name: str = ""
    project_id: str | None = None
    is_admin: bool = False
    granted: dict[str, frozenset[str]] = field(default_factory=dict, hash=False, compare=False)
    """Scopes granted by a bearer token: "repository:<name>" -> actions."""

    @property
    def anonymous(self) -> bool:
        """True when no user is authenticated."""
        return self.user_id is None


ANONYMOUS = Principal()


class Authorizer(Protocol):
    """Checks that the caller of a request may do everything in ``required``."""

    async def authorize(self, connection: HTTPConnection, required: list[Access]) -> Principal:
        """The principal, or raise ``Unauthenticated`` / ``Denied``."""
        ...

    async def permits(self, connection: HTTPConnection, principal: Principal, access: Access) -> bool:
        """Whether ``principal`` holds ``access`` (a soft check: no error either way)."""
        ...

    def challenge_headers(self, connection: HTTPConnection, required: list[Access]) -> dict[str, str]:
        """Headers that tell an unauthenticated client how to authenticate (``WWW-Authenticate``)."""
        ...


class AllowAll:
    """Lets every request through as an anonymous administrator: no authentication configured."""

    async def authorize(self, connection: HTTPConnection, required: list[Access]) -> Principal:
        """Always allowed."""
        return Principal(is_admin=True)

    async def permits(self, connection: HTTPConnection, principal: Principal, access: Access) -> bool:
        """Always."""
        return True

    def challenge_headers(self, connection: HTTPConnection, required: list[Access]) -> dict[str, str]:
        """Never asked: nothing is refused."""
        return {}
