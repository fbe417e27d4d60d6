"""Namespaces (SWR organizations) and the user grants on them and on their repositories."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from moorage.domain.errors import Conflict, Denied, Invalid, NotFound, QuotaExceeded
from moorage.domain.events import NewEvent, Operation, ResourceType, change_event
from moorage.domain.identity import MANAGE, PERMISSION_LEVELS, Principal
from moorage.domain.names import RepositoryName, validate_namespace
from moorage.domain.registry import Grant, GrantChange, NamespaceRecord
from moorage.metadata.database import Database
from moorage.metadata.queries import identity as identity_q
from moorage.metadata.queries import namespaces as q
from moorage.metadata.queries import permissions as grants_q
from moorage.metadata.queries import repositories as repo_q
from moorage.services.events.recorder import record_events


@dataclass(frozen=True, slots=True)
class NamespaceView:
    """A namespace as a principal sees it: with their own level on it."""

    namespace: NamespaceRecord
    level: int


class NamespaceService:
    """Organization lifecycle and permissions."""

    def __init__(self, db: Database, *, quota: int) -> None:
        self.db = db
        self.quota = quota

    async def create(self, principal: Principal, *, instance_id: str, name: str) -> NamespaceRecord:
        """A new namespace of the principal's domain; a non-administrator creator gets manage on it."""
        validate_namespace(name)
        if principal.domain_id is None or principal.user_id is None:
            raise Denied("a user is required")
        domain_id, user_id = principal.domain_id, principal.user_id

        def work(conn: Connection) -> NamespaceRecord:
            if q.count_for_domain(conn, instance_id, domain_id) >= self.quota:
                raise QuotaExceeded(f"the account already has {self.quota} organizations", reason="namespace_quota")
            created = q.create(
                conn, instance_id=instance_id, name=name, domain_id=domain_id, creator_name=principal.user_name
            )
            if created is None:
                # Names are unique across accounts (as in SWR); the answer is the same whichever account
                # holds the name, so it says no more than that the name is taken.
                raise Conflict(
                    f"organization {name!r} already exists: organization names are unique across accounts",
                    reason="namespace_exists",
                )
            if not principal.is_admin:
                grants_q.set_namespace_grant(conn, user_id, created.id, MANAGE)
            record_events(
                conn,
                change_event(
                    Operation.CREATE,
                    ResourceType.NAMESPACE,
                    instance_id=instance_id,
                    resource=name,
                    namespace=name,
                    domain_id=domain_id,
                ),
            )
            return created

        return await self.db.write(work)

    async def visible(self, principal: Principal, *, instance_id: str, name: str | None = None) -> list[NamespaceView]:
        """Namespaces of the principal's domain that they administer or hold a grant on."""
        if principal.domain_id is None:
            return []
        domain_id = principal.domain_id

        def work(conn: Connection) -> list[NamespaceView]:
            found = q.list_for_domain(conn, instance_id, domain_id, name=name)
            if principal.is_admin:
                return [NamespaceView(n, MANAGE) for n in found]
            assert principal.user_id is not None
            granted = grants_q.namespace_ids_with_grants(conn, principal.user_id, instance_id)
            repo_grants = grants_q.repository_ids_with_grants(conn, principal.user_id)
            with_repo_grant = repo_q.namespace_ids_of(conn, list(repo_grants)) if repo_grants else set()
            return [NamespaceView(n, granted.get(n.id, 0)) for n in found if n.id in granted or n.id in with_repo_grant]

        return await self.db.read(work)

    async def get(self, principal: Principal, *, instance_id: str, name: str) -> NamespaceView:
        """One namespace the principal can see (its existence elsewhere is not revealed)."""
        views = await self.visible(principal, instance_id=instance_id, name=validate_namespace(name))
        if not views:
            raise NotFound(f"organization {name!r} not found", reason="namespace_not_found")
        return views[0]

    async def delete(self, *, instance_id: str, name: str) -> None:
        """Delete an empty namespace (refused while it holds repositories)."""

        def work(conn: Connection) -> None:
            found = _namespace_or_404(conn, instance_id, name)
            count = q.repository_count(conn, found.id)
            if count:
                raise Conflict(
                    f"organization {name!r} still has {count} repositories; delete them first",
                    reason="namespace_not_empty",
                )
            q.remove(conn, found.id)
            record_events(
                conn,
                change_event(
                    Operation.DELETE,
                    ResourceType.NAMESPACE,
                    instance_id=instance_id,
                    resource=name,
                    namespace=name,
                    domain_id=found.domain_id,
                ),
            )

        await self.db.write(work)

    # Grants ---------------------------------------------------------------------------------------
    async def namespace_grants(self, *, instance_id: str, name: str) -> tuple[NamespaceRecord, list[Grant]]:
        """The namespace and every user grant on it."""

        def work(conn: Connection) -> tuple[NamespaceRecord, list[Grant]]:
            found = _namespace_or_404(conn, instance_id, name)
            return found, grants_q.grants_on_namespace(conn, found.id)

        return await self.db.read(work)

    async def repository_grants(self, *, instance_id: str, name: RepositoryName) -> tuple[int, list[Grant]]:
        """(repository id, every user grant on the repository)."""
        target = _RepositoryGrants(instance_id, name)

        def work(conn: Connection) -> tuple[int, list[Grant]]:
            repository_id, _domain = target.resolve(conn)
            return repository_id, target.grants(conn, repository_id)

        return await self.db.read(work)

    async def set_namespace_grants(
        self, *, instance_id: str, name: str, changes: list[GrantChange], create: bool
    ) -> None:
        """Create (``create``) or change grants on a namespace."""
        await self.db.write(lambda conn: _set_grants(conn, _NamespaceGrants(instance_id, name), changes, create))

    async def grant_to_user_named(
        self, principal: Principal, *, instance_id: str, name: str, user_name: str, level: int
    ) -> None:
        """Grant ``level`` on a namespace to a user of the caller's account named ``user_name`` (the
        console's form names users; ``CreateNamespaceAuth`` takes their ids). A user of another
        account is one that does not exist."""
        if level not in PERMISSION_LEVELS:
            raise Invalid("level must be read (1), write (3) or manage (7)")

        def work(conn: Connection) -> None:
            found = identity_q.user_by_name(conn, user_name)
            if found is None or found[0].domain_id != principal.domain_id:
                raise NotFound(f"no user {user_name!r}")
            user = found[0]
            _set_grants(conn, _NamespaceGrants(instance_id, name), [GrantChange(user.id, user.name, level)], True)

        await self.db.write(work)

    async def delete_namespace_grants(self, *, instance_id: str, name: str, user_ids: list[str]) -> None:
        """Remove users' grants on a namespace."""
        await self.db.write(lambda conn: _delete_grants(conn, _NamespaceGrants(instance_id, name), user_ids))

    async def set_repository_grants(
        self, *, instance_id: str, name: RepositoryName, changes: list[GrantChange], create: bool
    ) -> None:
        """Create or change grants on a repository."""
        await self.db.write(lambda conn: _set_grants(conn, _RepositoryGrants(instance_id, name), changes, create))

    async def delete_repository_grants(self, *, instance_id: str, name: RepositoryName, user_ids: list[str]) -> None:
        """Remove users' grants on a repository."""
        await self.db.write(lambda conn: _delete_grants(conn, _RepositoryGrants(instance_id, name), user_ids))


def _namespace_or_404(conn: Connection, instance_id: str, name: str) -> NamespaceRecord:
    found = q.get(conn, instance_id, name)
    if found is None:
        raise NotFound(f"organization {name!r} not found", reason="namespace_not_found")
    return found


@dataclass(frozen=True, slots=True)
class _NamespaceGrants:
    """Grants on one namespace: how to find it and read or change them."""

    instance_id: str
    name: str

    def resolve(self, conn: Connection) -> tuple[int, str | None]:
        found = _namespace_or_404(conn, self.instance_id, self.name)
        return found.id, found.domain_id

    grants = staticmethod(grants_q.grants_on_namespace)
    put = staticmethod(grants_q.set_namespace_grant)
    remove = staticmethod(grants_q.delete_namespace_grant)

    def event(self, operation: Operation, domain_id: str | None, user_id: str, detail: dict[str, object]) -> NewEvent:
        """The event of a grant on the namespace created, changed or removed."""
        return change_event(
            operation,
            ResourceType.PERMISSION,
            instance_id=self.instance_id,
            resource=f"{self.name}:{user_id}",
            namespace=self.name,
            domain_id=domain_id or "",
            detail={"user_id": user_id, **detail},
        )


@dataclass(frozen=True, slots=True)
class _RepositoryGrants:
    """Grants on one repository."""

    instance_id: str
    name: RepositoryName

    def resolve(self, conn: Connection) -> tuple[int, str | None]:
        repository = repo_q.get(conn, self.instance_id, self.name)
        if repository is None:
            raise NotFound(f"repository {self.name} not found", reason="repository_not_found")
        return repository.id, repository.domain_id

    grants = staticmethod(grants_q.grants_on_repository)
    put = staticmethod(grants_q.set_repository_grant)
    remove = staticmethod(grants_q.delete_repository_grant)

    def event(self, operation: Operation, domain_id: str | None, user_id: str, detail: dict[str, object]) -> NewEvent:
        """The event of a grant on the repository created, changed or removed."""
        return change_event(
            operation,
            ResourceType.PERMISSION,
            instance_id=self.instance_id,
            resource=f"{self.name}:{user_id}",
            namespace=self.name.namespace,
            repository=str(self.name),
            domain_id=domain_id or "",
            detail={"user_id": user_id, **detail},
        )


def _set_grants(
    conn: Connection, target: _NamespaceGrants | _RepositoryGrants, changes: list[GrantChange], create: bool
) -> None:
    """Check every change (a level SWR knows, a user of the owning account) and apply them."""
    resource_id, domain_id = target.resolve(conn)
    if not changes:
        raise Invalid("at least one user authorization is required")
    existing = {g.user_id for g in target.grants(conn, resource_id)}
    for change in changes:
        if change.auth not in PERMISSION_LEVELS:
            raise Invalid(f"auth must be one of {PERMISSION_LEVELS} (read, write, manage), got {change.auth}")
        user = identity_q.user_by_id(conn, change.user_id)
        if user is None or user.domain_id != domain_id:
            raise NotFound(f"user {change.user_id!r} not found in this account", reason="user_not_found")
        if change.user_name and change.user_name != user.name:
            raise Invalid(f"user {change.user_id!r} is called {user.name!r}, not {change.user_name!r}")
        if not create and change.user_id not in existing:
            raise NotFound(f"user {change.user_id!r} has no authorization to update", reason="grant_not_found")
        target.put(conn, change.user_id, resource_id, change.auth)
    operation = Operation.CREATE if create else Operation.UPDATE
    record_events(conn, *(target.event(operation, domain_id, c.user_id, {"auth": c.auth}) for c in changes))


def _delete_grants(conn: Connection, target: _NamespaceGrants | _RepositoryGrants, user_ids: list[str]) -> None:
    resource_id, domain_id = target.resolve(conn)
    for user_id in user_ids:
        target.remove(conn, user_id, resource_id)
    record_events(conn, *(target.event(Operation.DELETE, domain_id, user_id, {}) for user_id in user_ids))
