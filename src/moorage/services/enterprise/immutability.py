"""Immutable tag rules enforced: the Enterprise Edition's ``TagProtection``.

A tag that an enabled rule of its namespace covers (a repository selector accepts the repository's
name inside the namespace, a tag selector accepts the tag) can be pushed once:

- pushing it again to the manifest it names is accepted (a retried push changes nothing); pushing
  it to another manifest is refused, and so is a tag copy (``override``) onto it;
- deleting it is refused, and so is deleting the manifest it names, an index it names that lists
  that manifest (one level: an image's platforms), and the repository that holds it, whether
  through the registry API or the management APIs;
- cosign accessory tags (``sha256-<hex>.sig``/``.att``/``.sbom``) are never covered: they are a
  signature's storage, which the signing policies rewrite as signatures are added (Harbor treats
  them as accessories, not tags, for the same reason);
- a rule applies to tags pushed before it was created too; disabling or deleting it lifts it;
- deleting a whole instance is not refused: the tenant's own teardown of the registry.

Repositories of the default (shared edition) registry have no rules and cost one comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.engine import Connection

from moorage.domain.errors import Denied
from moorage.domain.immutable_rules import ImmutableRule
from moorage.domain.registry import DEFAULT_INSTANCE, Repository
from moorage.metadata.queries import immutable_rules as q
from moorage.metadata.queries.enterprise_artifacts import COSIGN_TAG
from moorage.services.enterprise.selectors import repository_selected, tag_selected
from moorage.services.tag_protection import IMMUTABLE_TAG


def covering_rule(rules: Sequence[ImmutableRule], repository: str, tag: str) -> ImmutableRule | None:
    """The first enabled rule (oldest first) that makes ``tag`` of ``repository`` (a name inside the
    namespace) immutable, or None."""
    if COSIGN_TAG.fullmatch(tag):
        return None
    for rule in rules:
        if not rule.disabled and repository_selected(rule.scope, repository) and tag_selected(rule.scope, tag):
            return rule
    return None


class ImmutableTagGuard:
    """``TagProtection`` from the namespace's immutable tag rules (see the module docstring)."""

    @staticmethod
    def may_protect(instance_id: str) -> bool:
        """Enterprise instances have rules; the default registry has none."""
        return instance_id != DEFAULT_INSTANCE

    @staticmethod
    def _rules(conn: Connection, repository: Repository) -> list[ImmutableRule]:
        if repository.instance_id == DEFAULT_INSTANCE:
            return []
        return q.of_namespace(conn, repository.namespace_id, enabled_only=True)

    def protected_tags(self, conn: Connection, repository: Repository, tags: Sequence[str]) -> Mapping[str, str]:
        """The tags of ``tags`` a rule covers, with that rule's description."""
        rules = self._rules(conn, repository) if tags else []
        if not rules:
            return {}  # the default registry, or no rule in the namespace: nothing to match per tag
        found = {}
        for tag in tags:
            rule = covering_rule(rules, repository.name, tag)
            if rule is not None:
                found[tag] = rule.describe()
        return found

    def check_untag(self, conn: Connection, repository: Repository, tag: str) -> None:
        """Refuse the deletion of a covered tag."""
        rule = covering_rule(self._rules(conn, repository), repository.name, tag)
        if rule is not None:
            raise _refusal(
                f"tag {tag!r} of {repository.full_name} is immutable ({rule.describe()}): it cannot be deleted",
                tag,
                rule,
            )

    def check_manifest_removal(self, conn: Connection, repository: Repository, digest: str) -> None:
        """Refuse the deletion of a manifest a covered tag needs."""
        rules = self._rules(conn, repository)
        if not rules:
            return
        for tag in q.tags_holding(conn, repository.id, digest):
            rule = covering_rule(rules, repository.name, tag)
            if rule is not None:
                raise _refusal(
                    f"manifest {digest} of {repository.full_name} is held by the immutable tag {tag!r} "
                    f"({rule.describe()}): it cannot be deleted",
                    tag,
                    rule,
                )

    def check_repository_removal(self, conn: Connection, repository: Repository) -> None:
        """Refuse the deletion of a repository holding a covered tag."""
        rules = self._rules(conn, repository)
        if not rules:
            return
        for tag in sorted(q.tag_names(conn, repository.id)):
            rule = covering_rule(rules, repository.name, tag)
            if rule is not None:
                raise _refusal(
                    f"repository {repository.full_name} holds the immutable tag {tag!r} "
                    f"({rule.describe()}): it cannot be deleted",
                    tag,
                    rule,
                )


def _refusal(message: str, tag: str, rule: ImmutableRule) -> Denied:
    return Denied(message, detail={"tag": tag, "rule": rule.describe(), "rule_id": rule.id}, reason=IMMUTABLE_TAG)
