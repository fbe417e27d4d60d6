"""Who may do what on which repository: the one place registry actions are decided.

A domain administrator may do everything in their domain. Other users hold levels on namespaces
or repositories (1 read = pull, 3 write = pull and push, 7 manage = also delete). A public
repository (or any repository of a public namespace) may be pulled by any authenticated user, and
anonymously when that is allowed (server-wide for the shared registry, per instance for Enterprise
Edition instances); a repository shared with another account (until its deadline) by that
account's users. Namespaces of other domains look exactly like namespaces that do not exist. In

an Enterprise Edition instance, namespaces are made through its management API, never by a push.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.engine import Connection

from moorage.domain.identity import MANAGE, Principal, actions_for_level
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, NOTHING, RepositoryAccess, Visibility
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import permissions as q
from moorage.metadata.queries import shares as shares_q
from moorage.metadata.tables import namespaces, repositories

PULL_ONLY = frozenset({"pull"})


class PermissionService:
    """Registry actions and listing visibility for a principal."""

    def __init__(
        self,
        db: Database,
        *,
        allow_anonymous_pull: bool,
        instance_anonymous_pull: Callable[[Connection, str], bool] | None = None,
    ) -> None:
        self.db = db
        self.allow_anonymous_pull = allow_anonymous_pull
        self.instance_anonymous_pull = instance_anonymous_pull
        """Whether an Enterprise Edition instance lets anonymous callers pull its public repositories."""

    def _anonymous_pull(self, conn: Connection, instance_id: str) -> bool:
        if instance_id == DEFAULT_INSTANCE or self.instance_anonymous_pull is None:
            return self.allow_anonymous_pull
        return self.instance_anonymous_pull(conn, instance_id)

    async def anonymous_pull_allowed(self, instance_id: str) -> bool:
        """Whether anonymous callers may pull public repositories of this registry instance."""
        if instance_id == DEFAULT_INSTANCE or self.instance_anonymous_pull is None:
            return self.allow_anonymous_pull
        return await self.db.read(lambda conn: self._anonymous_pull(conn, instance_id))

    async def repository_actions(
        self, principal: Principal, *, instance_id: str, name: RepositoryName
    ) -> frozenset[str]:
        """The actions (pull, push, delete) the principal holds on a repository, existing or not."""
        return (await self.repository_access(principal, instance_id=instance_id, name=name)).actions

    async def repository_access(
        self, principal: Principal, *, instance_id: str, name: RepositoryName
    ) -> RepositoryAccess:
        """The actions the principal holds on a repository, existing or not, and whether the name is
        another account's that the principal may not see."""
        return await self.db.read(lambda conn: self._access(conn, principal, instance_id, name))

    def _free_name_actions(self, principal: Principal, instance_id: str) -> frozenset[str]:
        """What the principal holds on a name nobody has: pushing to a namespace that does not exist
        creates it, in the administrator's own domain (in the shared registry only: instance
        namespaces come from the instance API)."""
        if principal.is_admin and instance_id == DEFAULT_INSTANCE and not principal.anonymous:
            return actions_for_level(MANAGE)
        return NOTHING

    def _access(
        self, conn: Connection, principal: Principal, instance_id: str, name: RepositoryName
    ) -> RepositoryAccess:
        ns = conn.execute(
            select(namespaces.c.id, namespaces.c.domain_id, namespaces.c.is_public).where(
                namespaces.c.instance_id == instance_id, namespaces.c.name == name.namespace
            )
        ).first()
        repo = None
        if ns is not None:
            repo = conn.execute(
                select(repositories.c.id, repositories.c.is_public).where(
                    repositories.c.namespace_id == ns[0], repositories.c.name == name.repository
                )
            ).first()
        public = bool(ns is not None and repo is not None and (repo[1] or ns[2]))
        if principal.anonymous:
            return RepositoryAccess(PULL_ONLY if public and self._anonymous_pull(conn, instance_id) else NOTHING)
        if ns is None:
            return RepositoryAccess(self._free_name_actions(principal, instance_id))
        if ns[1] != principal.domain_id:
            # Another account's repository: pullable when public or shared with the caller's account;
            # otherwise it must look like a name that does not exist.
            if public or (
                repo is not None
                and principal.domain_id is not None
                and shares_q.grants_read(conn, repo[0], principal.domain_id, now_ms())
            ):
                return RepositoryAccess(PULL_ONLY)
            return RepositoryAccess(NOTHING, self._free_name_actions(principal, instance_id))
        if principal.is_admin:
            return RepositoryAccess(actions_for_level(MANAGE))
        assert principal.user_id is not None
        actions = actions_for_level(q.level_on(conn, principal.user_id, ns[0], repo[0] if repo else None))
        return RepositoryAccess(actions | PULL_ONLY if public else actions)

    async def visibility(self, principal: Principal, *, instance_id: str) -> Visibility:
        """What the principal may list."""
        if principal.anonymous:
            return Visibility(None, frozenset(), frozenset(), self.allow_anonymous_pull)
        if principal.is_admin:
            return Visibility(principal.domain_id, frozenset(), frozenset(), True)
        user_id = principal.user_id
        assert user_id is not None

        def work(conn: Connection) -> Visibility:
            ns = q.namespace_ids_with_grants(conn, user_id, instance_id)
            repos = q.repository_ids_with_grants(conn, user_id)
            return Visibility(None, frozenset(ns), frozenset(repos), True)

        return await self.db.read(work)

    async def management_level(
        self, principal: Principal, *, instance_id: str, namespace: str, repository: str | None
    ) -> tuple[bool, int]:
        """(whether the namespace exists in the principal's domain, the principal's level on it or on
        the repository). A namespace of another domain is reported as not existing."""

        def work(conn: Connection) -> tuple[bool, int]:
            ns = conn.execute(
                select(namespaces.c.id, namespaces.c.domain_id).where(
                    namespaces.c.instance_id == instance_id, namespaces.c.name == namespace
                )
            ).first()
            if ns is None or ns[1] != principal.domain_id:
                return False, 0
            if principal.is_admin:
                return True, MANAGE
            repo_id = None
            if repository is not None:
                repo_id = conn.execute(
                    select(repositories.c.id).where(
                        repositories.c.namespace_id == ns[0], repositories.c.name == repository
                    )
                ).scalar()
            assert principal.user_id is not None
            return True, q.level_on(conn, principal.user_id, ns[0], repo_id)

        return await self.db.read(work)
