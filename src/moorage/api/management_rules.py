"""Who may call each management route: one rule per (method, path template), checked by the one
dependency in ``deps.py``. A route without a rule is refused (and a test fails), so adding a
route means deciding who may call it."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.identity import MANAGE, READ, WRITE


@dataclass(frozen=True, slots=True)
class Rule:
    """What a management route requires.

    ``public``: no credentials; ``authenticated``: any valid principal; ``account``: any user of
    the account whose project the path names (the HSS services show each user the images the
    registry lets them pull; a domain administrator sees all); ``admin``: a domain administrator;
    ``namespace`` / ``repository``: at least ``level`` on the namespace (and repository) named by
    the path parameters ``namespace`` and ``repository``.

    Enterprise Edition routes name an instance (path parameter ``instance_id``) that must belong to
    the caller's domain: ``instance``: any user of that domain; ``instance_admin``: a domain
    administrator; ``instance_namespace`` / ``instance_repository``: at least ``level`` on the
    instance's namespace ``namespace_name`` (and repository ``repository_name``).
    """

    kind: str
    level: int = 0


PUBLIC = Rule("public")
AUTHENTICATED = Rule("authenticated")
ACCOUNT = Rule("account")
ADMIN = Rule("admin")


def on_namespace(level: int) -> Rule:
    """At least ``level`` on the path's namespace."""
    return Rule("namespace", level)


def on_repository(level: int) -> Rule:
    """At least ``level`` on the path's repository (a namespace grant counts)."""
    return Rule("repository", level)


INSTANCE_MEMBER = Rule("instance")
INSTANCE_ADMIN = Rule("instance_admin")


def on_instance_namespace(level: int) -> Rule:
    """At least ``level`` on the namespace ``namespace_name`` of the path's instance."""
    return Rule("instance_namespace", level)


def on_instance_repository(level: int) -> Rule:
    """At least ``level`` on the repository ``repository_name`` of the path's instance and namespace."""
    return Rule("instance_repository", level)


R, W, M = READ, WRITE, MANAGE

# (method, path template) -> rule. Filled in by each router module next to its routes.
RULES: dict[tuple[str, str], Rule] = {
    ("POST", "/v3/auth/tokens"): PUBLIC,
    ("GET", "/v3/auth/tokens"): AUTHENTICATED,
    ("DELETE", "/v3/auth/tokens"): AUTHENTICATED,
    ("HEAD", "/v3/auth/tokens"): AUTHENTICATED,
    ("GET", "/v3/projects"): AUTHENTICATED,
    ("GET", "/v3/auth/projects"): AUTHENTICATED,
    ("POST", "/v2/manage/utils/secret"): AUTHENTICATED,
    ("POST", "/v2/manage/utils/authorizationtoken"): AUTHENTICATED,
}
