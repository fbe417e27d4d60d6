"""Identity value types: domains (tenants), users, projects (one per region), access keys."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import Enum

READ, WRITE, MANAGE = 1, 3, 7
"""Permission levels on a namespace or repository, as SWR numbers them."""
PERMISSION_LEVELS = (READ, WRITE, MANAGE)


@dataclass(frozen=True, slots=True)
class Domain:
    """A tenant (an account, in Huawei Cloud's words)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class User:
    """A user of one domain."""

    id: str
    name: str
    domain_id: str
    domain_name: str
    is_admin: bool
    enabled: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class Project:
    """A domain's project in one region (moorage has one region per deployment)."""

    id: str
    name: str
    domain_id: str


@dataclass(frozen=True, slots=True)
class AccessKey:
    """An AK/SK pair's public half; the secret is only ever shown once, at creation."""

    access: str
    user_id: str
    description: str
    enabled: bool
    created_at: int


def long_term_password(access: str, secret: str) -> str:
    """The password of a long-term registry login (user ``<region>@<AK>``): the hex HMAC-SHA256 of
    the AK keyed with the SK."""
    return hmac.new(secret.encode(), access.encode(), hashlib.sha256).hexdigest()


def actions_for_level(level: int) -> frozenset[str]:
    """Registry actions a permission level allows: read pulls, write also pushes, manage also deletes."""
    if level >= MANAGE:
        return frozenset({"pull", "push", "delete"})
    if level >= WRITE:
        return frozenset({"pull", "push"})
    if level >= READ:
        return frozenset({"pull"})
    return frozenset()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and how they proved it. Anonymous callers have no user."""

    user_id: str | None = None
    user_name: str = ""
    domain_id: str | None = None
    domain_name: str = ""
    project_id: str | None = None
    is_admin: bool = False
    """A domain administrator: manages everything in their domain."""
    via: str = ""
    """``password``, ``token``, ``access-key``, ``long-term``, ``temporary``, ``bearer`` or ``none``."""
    granted: dict[str, frozenset[str]] | None = field(default=None, hash=False, compare=False)
    """With a registry bearer token: ``"<type>:<name>"`` -> the actions it grants (None: not a token)."""

    @property
    def anonymous(self) -> bool:
        """True when no user is authenticated."""
        return self.user_id is None


ANONYMOUS = Principal()


class Operator(Enum):
    """The operator of the server (``moorage admin`` on its own database): no account of its own,
    authority over every account."""

    OPERATOR = "operator"


OPERATOR = Operator.OPERATOR
Caller = Principal | Operator
"""Who asks for an operation on accounts: a principal (within its own domain) or ``OPERATOR``."""
