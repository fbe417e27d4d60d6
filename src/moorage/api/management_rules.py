"""Who may call each management route: one rule per (method, path template), checked by the one
dependency in ``deps.py``.

Each router module declares the rules of its routes next to them, as an immutable
``ACCESS_RULES`` mapping (built with :func:`access_rules`); ``create_app`` merges them with
:func:`merge_access_rules` and refuses to start when two modules claim one route or a management
route has no rule, so adding a route means deciding who may call it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from moorage.domain.identity import MANAGE, READ, WRITE

if TYPE_CHECKING:
    from fastapi import APIRouter


class RuleKind(StrEnum):
    """Who a rule lets through (``deps`` dispatches on it with an exhaustive ``match``).

    ``PUBLIC``: no credentials; ``AUTHENTICATED``: any valid principal; ``ACCOUNT``: any user of
    the account whose project the path names (the HSS services show each user the images the
    registry lets them pull; a domain administrator sees all); ``ADMIN``: a domain administrator;
    ``NAMESPACE`` / ``REPOSITORY``: at least the rule's level on the namespace (and repository)
    named by the path parameters ``namespace`` and ``repository``.

    Enterprise Edition routes name an instance (path parameter ``instance_id``) that must belong to
    the caller's domain: ``INSTANCE``: any user of that domain; ``INSTANCE_ADMIN``: a domain
    administrator; ``INSTANCE_NAMESPACE`` / ``INSTANCE_REPOSITORY``: at least the rule's level on
    the instance's namespace ``namespace_name`` (and repository ``repository_name``).
    """

    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    ACCOUNT = "account"
    ADMIN = "admin"
    NAMESPACE = "namespace"
    REPOSITORY = "repository"
    INSTANCE = "instance"
    INSTANCE_ADMIN = "instance_admin"
    INSTANCE_NAMESPACE = "instance_namespace"
    INSTANCE_REPOSITORY = "instance_repository"


@dataclass(frozen=True, slots=True)
class Rule:
    """What a management route requires (see :class:`RuleKind`)."""

    kind: RuleKind
    level: int = 0
    """The permission level the ``*NAMESPACE`` / ``*REPOSITORY`` kinds need; 0 for the others."""


PUBLIC = Rule(RuleKind.PUBLIC)
AUTHENTICATED = Rule(RuleKind.AUTHENTICATED)
ACCOUNT = Rule(RuleKind.ACCOUNT)
ADMIN = Rule(RuleKind.ADMIN)


def on_namespace(level: int) -> Rule:
    """At least ``level`` on the path's namespace."""
    return Rule(RuleKind.NAMESPACE, level)


def on_repository(level: int) -> Rule:
    """At least ``level`` on the path's repository (a namespace grant counts)."""
    return Rule(RuleKind.REPOSITORY, level)


INSTANCE_MEMBER = Rule(RuleKind.INSTANCE)
INSTANCE_ADMIN = Rule(RuleKind.INSTANCE_ADMIN)


def on_instance_namespace(level: int) -> Rule:
    """At least ``level`` on the namespace ``namespace_name`` of the path's instance."""
    return Rule(RuleKind.INSTANCE_NAMESPACE, level)


def on_instance_repository(level: int) -> Rule:
    """At least ``level`` on the repository ``repository_name`` of the path's instance and namespace."""
    return Rule(RuleKind.INSTANCE_REPOSITORY, level)


R, W, M = READ, WRITE, MANAGE

RouteKey = tuple[str, str]
"""(HTTP method, path template) of a route."""

AccessRules = Mapping[RouteKey, Rule]
"""Rules by route; the ones this module builds are read-only."""


class RouterModule(Protocol):
    """A router module: its routes, and the rules of exactly those routes."""

    router: APIRouter
    ACCESS_RULES: AccessRules


class AccessRuleError(Exception):
    """The rules do not fit the routes: a route with two rules or a management route without one.
    Raised while the application is built, so a server with a hole in its rules never starts."""


def access_rules(rules: Mapping[RouteKey, Rule]) -> AccessRules:
    """A read-only copy of ``rules``: what a router module exports as its ``ACCESS_RULES``."""
    return MappingProxyType(dict(rules))


def merge_access_rules(rule_sets: Iterable[AccessRules]) -> AccessRules:
    """One read-only mapping of every rule; ``AccessRuleError`` when two sets both rule a route
    (even alike: each route's rule is decided in one place)."""
    merged: dict[RouteKey, Rule] = {}
    for rule_set in rule_sets:
        duplicated = sorted(key for key in rule_set if key in merged)
        if duplicated:
            raise AccessRuleError(f"routes with more than one access rule: {duplicated}")
        merged.update(rule_set)
    return MappingProxyType(merged)
