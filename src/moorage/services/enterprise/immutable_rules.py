"""Immutable tag rules of Enterprise Edition namespaces: create, list, update, delete (SWR's
``CreateImmutableRule`` and its siblings). What a rule does is in ``immutability.py``.

A rule has one tag selector and one repository selector (``scope_selectors["repository"]``), as
SWR documents ("currently the length must be 1"): ``kind`` ``doublestar``; ``decoration``
``matches``/``excludes`` for tags, ``repoMatches``/``repoExcludes`` for repositories; a non-empty
``pattern`` of at most 512 characters (``**`` for all). ``action`` and ``template`` are reserved
fields that take their one documented value. A namespace holds at most ``MAX_RULES_PER_NAMESPACE``
rules (Harbor's limit; SWR's console allows one), and never two with the same selectors. A request
that breaks any of this is refused (``Invalid``, 400) and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from moorage.domain.enterprise import Page, PageRequest, ScopeRule, Selector
from moorage.domain.errors import Conflict, Invalid, NotFound, QuotaExceeded
from moorage.domain.identity import Principal
from moorage.domain.immutable_rules import ACTION, TEMPLATE, ImmutableRule
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_instances as instances_q
from moorage.metadata.queries import immutable_rules as q
from moorage.services.enterprise.namespaces import visible_namespace_ids
from moorage.services.enterprise.selectors import validate_rule

MAX_RULES_PER_NAMESPACE = 15
SCOPE_KINDS = ("repository",)
MAX_PRIORITY = 2**31 - 1


@dataclass(frozen=True, slots=True)
class RuleFields:
    """A create or update request (None: not given; the default on create, unchanged on update)."""

    tag_selectors: Sequence[Selector] | None
    scope_selectors: Mapping[str, Sequence[Selector]] | None
    priority: int | None = None
    disabled: bool | None = None
    action: str | None = None
    template: str | None = None


@dataclass(frozen=True, slots=True)
class _Checked:
    priority: int
    disabled: bool
    action: str
    template: str
    tag_selectors: tuple[Selector, ...]
    repository_selectors: tuple[Selector, ...]


def _check(fields: RuleFields, current: ImmutableRule | None) -> _Checked:
    """The request's fields validated (``Invalid`` names the first problem)."""
    if fields.tag_selectors is None or fields.scope_selectors is None:
        raise Invalid("tag_selectors and scope_selectors are required")
    unknown = sorted(set(fields.scope_selectors) - set(SCOPE_KINDS))
    if unknown:
        raise Invalid(f"scope_selectors supports only 'repository', got {unknown[0]!r}")
    repository = tuple(fields.scope_selectors.get("repository") or ())
    if len(fields.tag_selectors) != 1 or len(repository) != 1:
        raise Invalid(
            "a rule has exactly one tag selector and one scope_selectors.repository selector, "
            f"got {len(fields.tag_selectors)} and {len(repository)}"
        )
    for selector in (*fields.tag_selectors, *repository):
        if not selector.pattern:
            raise Invalid("a selector's pattern must not be empty ('**' selects everything)")
    validate_rule(ScopeRule(tuple(fields.tag_selectors), repository))
    if fields.action is not None and fields.action != ACTION:
        raise Invalid(f"action must be {ACTION!r}, got {fields.action!r}")
    if fields.template is not None and fields.template != TEMPLATE:
        raise Invalid(f"template must be {TEMPLATE!r}, got {fields.template!r}")
    if fields.priority is not None and not 0 <= fields.priority <= MAX_PRIORITY:
        raise Invalid(f"priority must be between 0 and {MAX_PRIORITY}, got {fields.priority}")
    return _Checked(
        priority=fields.priority if fields.priority is not None else (current.priority if current else 0),
        disabled=fields.disabled if fields.disabled is not None else (current.disabled if current else False),
        action=ACTION,
        template=TEMPLATE,
        tag_selectors=tuple(fields.tag_selectors),
        repository_selectors=repository,
    )


def _same_selectors(rule: ImmutableRule, checked: _Checked) -> bool:
    return (rule.tag_selectors, rule.repository_selectors) == (checked.tag_selectors, checked.repository_selectors)


class ImmutableRuleService:
    """The immutable tag rule operations of the instance API."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _namespace_id(conn: Connection, instance_id: str, namespace: str) -> int:
        found = instances_q.get_namespace(conn, instance_id, namespace)
        if found is None:
            raise NotFound(f"namespace {namespace!r} not found", reason="namespace_not_found")
        return found.id

    @staticmethod
    def _rule(conn: Connection, namespace_id: int, namespace: str, rule_id: int) -> ImmutableRule:
        found = q.get(conn, namespace_id, rule_id)
        if found is None:
            raise NotFound(
                f"immutable tag rule {rule_id} not found in namespace {namespace!r}", reason="immutable_rule_not_found"
            )
        return found

    async def create(self, *, instance_id: str, namespace: str, fields: RuleFields) -> ImmutableRule:
        """A new rule of a namespace."""
        checked = _check(fields, None)

        def work(conn: Connection) -> ImmutableRule:
            namespace_id = self._namespace_id(conn, instance_id, namespace)
            existing = q.of_namespace(conn, namespace_id, enabled_only=False)
            if any(_same_selectors(rule, checked) for rule in existing):
                raise Conflict(
                    f"namespace {namespace!r} already has an immutable tag rule with these selectors",
                    reason="immutable_rule_exists",
                )
            if len(existing) >= MAX_RULES_PER_NAMESPACE:
                raise QuotaExceeded(
                    f"namespace {namespace!r} already has {MAX_RULES_PER_NAMESPACE} immutable tag rules",
                    reason="immutable_rule_quota",
                )
            return q.create(
                conn,
                instance_id=instance_id,
                namespace_id=namespace_id,
                priority=checked.priority,
                disabled=checked.disabled,
                action=checked.action,
                template=checked.template,
                tag_selectors=checked.tag_selectors,
                repository_selectors=checked.repository_selectors,
            )

        return await self.db.write(work)

    async def list_rules(
        self, principal: Principal, *, instance_id: str, namespace_id: int | None, page: PageRequest
    ) -> Page[ImmutableRule]:
        """Rules of every namespace of the instance the principal may see, or of one of them."""

        def work(conn: Connection) -> Page[ImmutableRule]:
            wanted = visible_namespace_ids(conn, principal, instance_id)
            if namespace_id is not None:
                wanted = {namespace_id} if wanted is None or namespace_id in wanted else set()
            return q.list_rules(conn, instance_id, namespace_ids=wanted, offset=page.offset, limit=page.limit)

        return await self.db.read(work)

    async def update(self, *, instance_id: str, namespace: str, rule_id: int, fields: RuleFields) -> None:
        """Replace a rule's selectors, and the other fields given."""

        def work(conn: Connection) -> None:
            namespace_id = self._namespace_id(conn, instance_id, namespace)
            current = self._rule(conn, namespace_id, namespace, rule_id)
            checked = _check(fields, current)
            others = [r for r in q.of_namespace(conn, namespace_id, enabled_only=False) if r.id != rule_id]
            if any(_same_selectors(rule, checked) for rule in others):
                raise Conflict(
                    f"namespace {namespace!r} already has an immutable tag rule with these selectors",
                    reason="immutable_rule_exists",
                )
            q.update_rule(
                conn,
                rule_id,
                priority=checked.priority,
                disabled=checked.disabled,
                action=checked.action,
                template=checked.template,
                tag_selectors=checked.tag_selectors,
                repository_selectors=checked.repository_selectors,
            )

        await self.db.write(work)

    async def delete(self, *, instance_id: str, namespace: str, rule_id: int) -> None:
        """Delete a rule (its tags become mutable again)."""

        def work(conn: Connection) -> None:
            namespace_id = self._namespace_id(conn, instance_id, namespace)
            self._rule(conn, namespace_id, namespace, rule_id)
            q.delete_rule(conn, rule_id)

        await self.db.write(work)
