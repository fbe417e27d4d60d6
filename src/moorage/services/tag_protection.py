"""What the registry's core asks before it moves or removes tags: whether rules protect them.

The Enterprise Edition's immutable tag rules (``services/enterprise/immutability.py``) implement
``TagProtection``; the core services (manifests, tag management, repository management) call it
inside their own write transactions, so a check and the change it allows are one atomic step.
``NO_PROTECTION`` is what a service without rules uses. Every method runs on the caller's
connection and raises ``Denied`` (reason ``immutable_tag``) to refuse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from sqlalchemy.engine import Connection

from moorage.domain.errors import Denied
from moorage.domain.registry import Repository

IMMUTABLE_TAG = "immutable_tag"
"""The ``reason`` of every refusal for an immutable tag (the management dialect's code keys on it)."""


class TagProtection(Protocol):
    """Rules that make some tags immutable."""

    def may_protect(self, instance_id: str) -> bool:
        """Whether any rule could cover a tag of the instance (False: pushes there need not ask)."""
        ...

    def protected_tags(self, conn: Connection, repository: Repository, tags: Sequence[str]) -> Mapping[str, str]:
        """Which of ``tags`` may be pushed only once (tag -> the rule that says so, as an error
        message names it). The caller then tags them with ``manifests.tag_once`` and refuses with
        ``retag_refused`` a tag that already names another manifest."""
        ...

    def check_untag(self, conn: Connection, repository: Repository, tag: str) -> None:
        """Refuse to delete a protected tag."""
        ...

    def check_manifest_removal(self, conn: Connection, repository: Repository, digest: str) -> None:
        """Refuse to delete a manifest a protected tag needs."""
        ...

    def check_repository_removal(self, conn: Connection, repository: Repository) -> None:
        """Refuse to delete a repository holding a protected tag."""
        ...


class NoProtection:
    """No rules: every tag may move and go."""

    def may_protect(self, instance_id: str) -> bool:
        """Never."""
        return False

    def protected_tags(self, conn: Connection, repository: Repository, tags: Sequence[str]) -> Mapping[str, str]:
        """None of them."""
        return {}

    def check_untag(self, conn: Connection, repository: Repository, tag: str) -> None:
        """Allowed."""

    def check_manifest_removal(self, conn: Connection, repository: Repository, digest: str) -> None:
        """Allowed."""

    def check_repository_removal(self, conn: Connection, repository: Repository) -> None:
        """Allowed."""


NO_PROTECTION: TagProtection = NoProtection()


def retag_refused(repository: Repository, tag: str, rule: str) -> Denied:
    """The refusal of a push (or copy) that would move a protected tag to another manifest."""
    return Denied(
        f"tag {tag!r} of {repository.full_name} is immutable ({rule}): it already names another "
        "manifest and cannot be pushed again with different content (the same content is accepted); "
        "push it under a new tag",
        detail={"tag": tag, "rule": rule},
        reason=IMMUTABLE_TAG,
    )
