"""Repositories through the management API: create before the first push, show, change attributes,
delete with everything in them, and list what the caller may see (offset pages and keyset pages)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from moorage.domain.errors import Conflict, Denied, Invalid, NotFound
from moorage.domain.events import NewEvent, Operation, ResourceType, change_event
from moorage.domain.identity import Principal
from moorage.domain.management import RepositoryDetail, RepositoryFilter, RepositoryQuery
from moorage.domain.names import RepositoryName
from moorage.domain.registry import UploadTarget
from moorage.metadata.database import Database
from moorage.metadata.queries import namespaces as namespace_q
from moorage.metadata.queries import permissions as grants_q
from moorage.metadata.queries import repositories as repo_q
from moorage.metadata.queries import repository_details as q
from moorage.services.events.recorder import record_events
from moorage.services.quotas import QuotaLimits, QuotaService
from moorage.services.tag_protection import NO_PROTECTION, TagProtection

CATEGORIES = ("app_server", "linux", "framework_app", "database", "lang", "other", "windows", "arm")
"""Repository categories SWR knows."""
DESCRIPTION_MAX = 4096


@dataclass(frozen=True, slots=True)
class RepositoryPage:
    """One page of repositories with their tag names, and how many match in all."""

    items: list[RepositoryDetail]
    tags: dict[int, list[str]]
    total: int


def check_category(category: str | None) -> str | None:
    """``category`` if SWR knows it (None passes), else ``Invalid``."""
    if category is not None and category not in CATEGORIES:
        raise Invalid(
            f"category must be one of {', '.join(CATEGORIES)}, got {category[:64]!r}", reason="invalid_category"
        )
    return category


def check_description(description: str | None) -> str | None:
    """``description`` if it is not too long."""
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise Invalid(f"description longer than {DESCRIPTION_MAX} characters", reason="description_too_long")
    return description


def visible_filter(
    conn: Connection, principal: Principal, instance_id: str, query: RepositoryQuery
) -> RepositoryFilter:
    """The repositories of the caller's account they may see: all of them for an administrator, else
    those in organizations or repositories they hold a permission on."""
    if principal.domain_id is None:
        raise Denied("a user is required")
    namespace_ids: frozenset[int] | None = None
    repository_ids: frozenset[int] | None = None
    if not principal.is_admin:
        assert principal.user_id is not None
        namespace_ids = frozenset(grants_q.namespace_ids_with_grants(conn, principal.user_id, instance_id))
        repository_ids = frozenset(grants_q.repository_ids_with_grants(conn, principal.user_id))
    return RepositoryFilter(
        principal.domain_id,
        namespace_ids,
        repository_ids,
        namespace_contains=query.namespace or None,
        namespace_is=query.namespace_is,
        name_contains=query.name or None,
        category=query.category,
        is_public=query.is_public,
    )


class RepositoryManagement:
    """Repository lifecycle and listings."""

    def __init__(
        self, db: Database, *, protection: TagProtection = NO_PROTECTION, quotas: QuotaService | None = None
    ) -> None:
        self.db = db
        self.protection = protection
        self.quotas = quotas or QuotaService(db, QuotaLimits())

    async def create(
        self,
        principal: Principal,
        *,
        instance_id: str,
        name: RepositoryName,
        is_public: bool,
        category: str,
        description: str,
    ) -> RepositoryDetail:
        """A new, empty repository in an existing organization of the caller's account."""
        check_category(category)
        check_description(description)

        def work(conn: Connection) -> RepositoryDetail:
            namespace = namespace_q.get(conn, instance_id, name.namespace)
            if namespace is None or namespace.domain_id != principal.domain_id:
                raise NotFound(f"organization {name.namespace!r} not found", reason="namespace_not_found")
            self.quotas.admit_repository_in(conn, UploadTarget(instance_id, name, principal.domain_id))
            if not q.create(
                conn,
                instance_id=instance_id,
                namespace_id=namespace.id,
                namespace=name.namespace,
                name=name.repository,
                is_public=is_public,
                category=category,
                description=description,
                creator_id=principal.user_id or "",
                creator_name=principal.user_name,
            ):
                raise Conflict(f"repository {name} already exists", reason="repository_exists")
            created = q.get(conn, instance_id, str(name))
            assert created is not None
            record_events(conn, _changed(Operation.CREATE, instance_id, name, namespace.domain_id))
            return created

        return await self.db.write(work)

    async def show(self, *, instance_id: str, name: RepositoryName) -> RepositoryDetail:
        """One repository, or ``NotFound``."""
        found = await self.db.read(lambda conn: q.get(conn, instance_id, str(name)))
        if found is None:
            raise NotFound(f"repository {name} not found", reason="repository_not_found")
        return found

    async def update(
        self,
        *,
        instance_id: str,
        name: RepositoryName,
        is_public: bool | None,
        category: str | None,
        description: str | None,
    ) -> None:
        """Change the repository's visibility, category or description (those given)."""
        check_category(category)
        check_description(description)

        def work(conn: Connection) -> None:
            found = q.get(conn, instance_id, str(name))
            if found is None:
                raise NotFound(f"repository {name} not found", reason="repository_not_found")
            q.update_attributes(conn, found.id, is_public=is_public, category=category, description=description)
            record_events(conn, _changed(Operation.UPDATE, instance_id, name, None))

        await self.db.write(work)

    async def delete(self, *, instance_id: str, name: RepositoryName) -> None:
        """Delete a repository with its tags and manifests (blob bytes stay for garbage collection)."""

        def work(conn: Connection) -> None:
            found = q.get(conn, instance_id, str(name))
            holder = repo_q.get(conn, instance_id, name) if found is not None else None
            if holder is not None:
                self.protection.check_repository_removal(conn, holder)
            if found is None or not q.remove(conn, found.id):
                raise NotFound(f"repository {name} not found", reason="repository_not_found")
            record_events(conn, _changed(Operation.DELETE, instance_id, name, holder.domain_id if holder else None))

        await self.db.write(work)

    async def list_page(
        self,
        principal: Principal,
        *,
        instance_id: str,
        query: RepositoryQuery,
        order: str,
        descending: bool,
        offset: int,
        limit: int,
        with_tag_names: bool = True,
    ) -> RepositoryPage:
        """One offset page of the repositories the caller may see, with their tag names (every tag of
        each: ``with_tag_names=False`` leaves them out, for a page that shows only the counts)."""

        def work(conn: Connection) -> RepositoryPage:
            flt = visible_filter(conn, principal, instance_id, query)
            items = q.page(conn, instance_id, flt, order=order, descending=descending, offset=offset, limit=limit)
            names = q.tag_names(conn, [r.id for r in items]) if with_tag_names else {}
            return RepositoryPage(items, names, q.count(conn, instance_id, flt))

        return await self.db.read(work, heavy=True)

    async def list_after(
        self, principal: Principal, *, instance_id: str, query: RepositoryQuery, marker: int, limit: int
    ) -> tuple[list[RepositoryDetail], int | None]:
        """One keyset page (by id, after ``marker``) and the marker of the next page, None at the end."""

        def work(conn: Connection) -> list[RepositoryDetail]:
            flt = visible_filter(conn, principal, instance_id, query)
            return q.after(conn, instance_id, flt, marker=marker, limit=limit + 1)

        found = await self.db.read(work, heavy=True)
        if len(found) > limit:
            return found[:limit], found[limit - 1].id
        return found, None


def _changed(operation: Operation, instance_id: str, name: RepositoryName, domain_id: str | None) -> NewEvent:
    """The event of a repository created, changed or deleted through the management API."""
    return change_event(
        operation,
        ResourceType.REPOSITORY,
        instance_id=instance_id,
        resource=str(name),
        namespace=name.namespace,
        repository=str(name),
        domain_id=domain_id,
    )
