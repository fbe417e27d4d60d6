"""Namespaces and repositories of Enterprise Edition instances.

An instance's namespaces belong to the instance's domain. Domain administrators see and manage all
of them; other users see the namespaces they hold a grant on (or a grant on one of its
repositories) and the public ones. Grants are given with the SWR organization API sent to the
instance's host name (virtual hosting makes it that instance's registry).
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.engine import Connection

from moorage.domain.enterprise import InstanceNamespace, InstanceRepository, NamespaceOptions, Page, PageRequest
from moorage.domain.errors import Conflict, Invalid, NotFound, QuotaExceeded
from moorage.domain.events import Operation, ResourceType, change_event
from moorage.domain.identity import Principal
from moorage.domain.names import RepositoryName, validate_namespace, validate_repository
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_instances as q
from moorage.metadata.queries import enterprise_repositories as repositories_q
from moorage.metadata.queries import namespaces as core_namespaces
from moorage.metadata.queries import permissions as grants_q
from moorage.metadata.queries import repositories as core_repositories
from moorage.metadata.queries import security_tasks as security_policies_q
from moorage.metadata.tables import namespaces as namespaces_table
from moorage.services.enterprise.instances import NAMESPACE_QUOTA
from moorage.services.events.recorder import record_events
from moorage.services.tag_protection import NO_PROTECTION, TagProtection

SEVERITIES = ("none", "low", "medium", "high", "critical")
NAMESPACE_ORDER = ("name", "created_at", "updated_at")
REPOSITORY_ORDER = ("name", "created_at", "updated_at", "pull_count")


def allowlisted_ids(cve_allowlist: dict[str, object]) -> list[str]:
    """The vulnerability ids of a Harbor-style CVE allowlist (``{"items": [{"cve_id": ...}]}``)."""
    items = cve_allowlist.get("items")
    if not isinstance(items, list):
        return []
    return [str(item["cve_id"]) for item in items if isinstance(item, dict) and item.get("cve_id")]


def apply_security_policy(conn: Connection, namespace_id: int, options: NamespaceOptions) -> None:
    """The namespace metadata is the instance's face of the registry's organization security policy:
    ``auto_scan`` scans pushes (false: the global setting applies), ``prevent_vul`` refuses pulls of
    images with findings of ``severity`` or above (``none``: any vulnerability), and the CVE allowlist
    exempts its ids until its ``expires_at`` (epoch seconds; 0 or absent: never). Nothing is written for
    a namespace that asks for none of it."""
    existing = security_policies_q.namespace_policy(conn, namespace_id)
    if existing is None and not options.auto_scan and not options.prevent_vul:
        return
    block = ("unknown" if options.severity == "none" else options.severity) if options.prevent_vul else ""
    security_policies_q.set_namespace_policy(
        conn,
        namespace_id=namespace_id,
        scan_on_push=True if options.auto_scan else None,
        block_severity=block,
        block_unscanned=existing.block_unscanned if existing else False,
        allowlist=allowlisted_ids(options.cve_allowlist),
        allowlist_expires_at=_expiry(options.cve_allowlist),
    )


def _expiry(cve_allowlist: dict[str, object]) -> int:
    expires_at = cve_allowlist.get("expires_at")
    return expires_at if isinstance(expires_at, int) and expires_at > 0 else 0


def _descending(order_type: str | None) -> bool:
    if order_type in (None, "", "desc"):
        return order_type == "desc"
    if order_type != "asc":
        raise Invalid(f"order_type must be asc or desc, got {order_type!r}")
    return False


def _order_column(order_column: str | None, allowed: tuple[str, ...], default: str) -> str:
    column = order_column or default
    if column not in allowed:
        raise Invalid(f"order_column must be one of {', '.join(allowed)}, got {column!r}")
    return column


def visible_namespace_ids(conn: Connection, principal: Principal, instance_id: str) -> set[int] | None:
    """The namespaces of an instance a principal may see (None: all of them, for administrators)."""
    if principal.is_admin:
        return None
    if principal.user_id is None:
        return set()
    visible = set(grants_q.namespace_ids_with_grants(conn, principal.user_id, instance_id))
    repo_grants = grants_q.repository_ids_with_grants(conn, principal.user_id)
    if repo_grants:
        visible |= core_repositories.namespace_ids_of(conn, list(repo_grants))
    public = conn.execute(
        select(namespaces_table.c.id).where(
            namespaces_table.c.instance_id == instance_id, namespaces_table.c.is_public.is_(True)
        )
    )
    visible |= {int(r[0]) for r in public}
    in_instance = conn.execute(
        select(namespaces_table.c.id).where(
            namespaces_table.c.instance_id == instance_id, namespaces_table.c.id.in_(sorted(visible))
        )
    )
    return {int(r[0]) for r in in_instance}


class InstanceNamespaceService:
    """Namespace and repository operations of the instance APIs."""

    def __init__(self, db: Database, *, protection: TagProtection = NO_PROTECTION) -> None:
        self.db = db
        self.protection = protection

    # Namespaces ---------------------------------------------------------------------------------
    async def create(
        self,
        principal: Principal,
        *,
        instance_id: str,
        domain_id: str,
        name: str,
        public: bool,
        options: NamespaceOptions,
    ) -> InstanceNamespace:
        """A new namespace of the instance (the instance's domain owns it)."""
        validate_namespace(name)
        self._check_options(options)

        def work(conn: Connection) -> InstanceNamespace:
            if core_namespaces.count_for_domain(conn, instance_id, domain_id) >= NAMESPACE_QUOTA:
                raise QuotaExceeded(f"the instance already has {NAMESPACE_QUOTA} namespaces", reason="namespace_quota")
            created = core_namespaces.create(
                conn,
                instance_id=instance_id,
                name=name,
                domain_id=domain_id,
                creator_name=principal.user_name,
                is_public=public,
            )
            if created is None:
                raise Conflict(f"namespace {name!r} already exists", reason="namespace_exists")
            q.save_namespace_options(conn, created.id, options)
            apply_security_policy(conn, created.id, options)
            found = q.get_namespace(conn, instance_id, name)
            assert found is not None
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
            return found

        return await self.db.write(work)

    @staticmethod
    def _check_options(options: NamespaceOptions) -> None:
        if options.severity not in SEVERITIES:
            raise Invalid(f"severity must be one of {', '.join(SEVERITIES)}, got {options.severity!r}")

    async def list_namespaces(
        self,
        principal: Principal,
        *,
        instance_id: str,
        name: str | None,
        public: bool | None,
        order_column: str | None,
        order_type: str | None,
        page: PageRequest,
    ) -> Page[InstanceNamespace]:
        """The instance's namespaces the principal may see."""
        column = _order_column(order_column, NAMESPACE_ORDER, "created_at")
        descending = _descending(order_type)

        def work(conn: Connection) -> Page[InstanceNamespace]:
            visible = visible_namespace_ids(conn, principal, instance_id)
            return q.list_namespaces(
                conn,
                instance_id,
                visible_ids=visible,
                name=name,
                public=public,
                order_column=column,
                descending=descending,
                offset=page.offset,
                limit=page.limit,
            )

        return await self.db.read(work)

    async def is_public(self, *, instance_id: str, name: str) -> bool:
        """Whether a namespace of the instance is public (readable by every user of its domain)."""
        found = await self.db.read(lambda conn: core_namespaces.get(conn, instance_id, name))
        return bool(found and found.is_public)

    async def get(self, *, instance_id: str, name: str) -> InstanceNamespace:
        """A namespace of the instance (the route's rule checked the caller may read it)."""
        found = await self.db.read(lambda conn: q.get_namespace(conn, instance_id, name))
        if found is None:
            raise NotFound(f"namespace {name!r} not found", reason="namespace_not_found")
        return found

    async def update(
        self,
        *,
        instance_id: str,
        name: str,
        public: bool | None,
        options: dict[str, object],
        cve_allowlist: dict[str, object] | None,
    ) -> InstanceNamespace:
        """Change a namespace's public flag and options (only those given)."""

        def work(conn: Connection) -> InstanceNamespace:
            found = q.get_namespace(conn, instance_id, name)
            if found is None:
                raise NotFound(f"namespace {name!r} not found", reason="namespace_not_found")
            changed = replace(found.options, **options)  # type: ignore[arg-type]
            if cve_allowlist is not None:
                changed = replace(changed, cve_allowlist=cve_allowlist)
            self._check_options(changed)
            if public is not None:
                q.set_namespace_public(conn, found.id, public)
            q.save_namespace_options(conn, found.id, changed)
            apply_security_policy(conn, found.id, changed)
            updated = q.get_namespace(conn, instance_id, name)
            assert updated is not None
            record_events(
                conn,
                change_event(
                    Operation.UPDATE, ResourceType.NAMESPACE, instance_id=instance_id, resource=name, namespace=name
                ),
            )
            return updated

        return await self.db.write(work)

    async def delete(self, *, instance_id: str, name: str) -> None:
        """Delete an empty namespace."""

        def work(conn: Connection) -> None:
            found = core_namespaces.get(conn, instance_id, name)
            if found is None:
                raise NotFound(f"namespace {name!r} not found", reason="namespace_not_found")
            count = core_namespaces.repository_count(conn, found.id)
            if count:
                raise Conflict(
                    f"namespace {name!r} still has {count} repositories; delete them first",
                    reason="namespace_not_empty",
                )
            core_namespaces.remove(conn, found.id)
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

    # Repositories -------------------------------------------------------------------------------
    async def repositories(
        self,
        principal: Principal,
        *,
        instance_id: str,
        namespace: str | None,
        namespace_id: int | None,
        order_column: str | None,
        order_type: str | None,
        page: PageRequest,
    ) -> Page[InstanceRepository]:
        """Repositories of one namespace (by name or id) or of every namespace the principal may see."""
        column = _order_column(order_column, REPOSITORY_ORDER, "updated_at")
        descending = _descending(order_type) if order_type else True

        def work(conn: Connection) -> Page[InstanceRepository]:
            visible = visible_namespace_ids(conn, principal, instance_id)
            wanted: set[int] | None = visible
            if namespace is not None:
                found = core_namespaces.get(conn, instance_id, namespace)
                if found is None:
                    raise NotFound(f"namespace {namespace!r} not found", reason="namespace_not_found")
                wanted = {found.id}
            elif namespace_id is not None:
                wanted = {namespace_id} if visible is None or namespace_id in visible else set()
            return repositories_q.list_repositories(
                conn,
                instance_id,
                namespace_ids=wanted,
                offset=page.offset,
                limit=page.limit,
                order_column=column,
                descending=descending,
            )

        return await self.db.read(work)

    async def repositories_everywhere(
        self, principal: Principal, *, name: str | None, marker: int, limit: int
    ) -> tuple[list[tuple[InstanceRepository, str, str]], int | None]:
        """Repositories of all the domain's instances the principal may see, by id after ``marker``:
        ((repository, instance id, instance name) list, next marker)."""
        if not 1 <= limit <= 100 or marker < 0:
            raise Invalid("limit must be 1-100 and marker not negative")
        if principal.domain_id is None:
            return [], None
        domain_id = principal.domain_id

        def work(conn: Connection) -> list[tuple[InstanceRepository, str, str]]:
            visible: set[int] | None = None
            if not principal.is_admin:
                visible = set()
                for instance in q.list_instances(conn, domain_id, status=None, offset=0, limit=1000).items:
                    visible |= visible_namespace_ids(conn, principal, instance.id) or set()
            return repositories_q.repositories_across_instances(
                conn, domain_id, namespace_ids=visible, name=name, after_id=marker, limit=limit + 1
            )

        found = await self.db.read(work, heavy=True)
        return found[:limit], (found[limit - 1][0].id if len(found) > limit else None)

    async def repository(self, *, instance_id: str, namespace: str, name: str) -> InstanceRepository:
        """One repository of a namespace."""
        validate_repository(name)

        def work(conn: Connection) -> InstanceRepository:
            found_ns = core_namespaces.get(conn, instance_id, namespace)
            found = repositories_q.get_repository(conn, found_ns.id, name) if found_ns else None
            if found is None:
                raise NotFound(f"repository {namespace}/{name} not found", reason="repository_not_found")
            return found

        return await self.db.read(work)

    async def update_repository(self, *, instance_id: str, namespace: str, name: str, description: str) -> None:
        """Change a repository's description."""
        repository = await self.repository(instance_id=instance_id, namespace=namespace, name=name)
        if len(description) > 30000:
            raise Invalid("description longer than 30000 characters")
        full_name = f"{namespace}/{repository.name}"

        def work(conn: Connection) -> None:
            repositories_q.update_repository(conn, repository.id, description=description)
            record_events(
                conn,
                change_event(
                    Operation.UPDATE,
                    ResourceType.REPOSITORY,
                    instance_id=instance_id,
                    resource=full_name,
                    namespace=namespace,
                    repository=full_name,
                ),
            )

        await self.db.write(work)

    async def delete_repository(self, *, instance_id: str, namespace: str, name: str) -> None:
        """Delete a repository with all its artifacts."""
        repository = await self.repository(instance_id=instance_id, namespace=namespace, name=name)

        def work(conn: Connection) -> None:
            holder = core_repositories.get(conn, instance_id, RepositoryName(namespace, repository.name))
            if holder is not None:
                self.protection.check_repository_removal(conn, holder)
            repositories_q.delete_repository(conn, repository.id)
            full_name = f"{namespace}/{repository.name}"
            record_events(
                conn,
                change_event(
                    Operation.DELETE,
                    ResourceType.REPOSITORY,
                    instance_id=instance_id,
                    resource=full_name,
                    namespace=namespace,
                    repository=full_name,
                    domain_id=holder.domain_id if holder else None,
                ),
            )

        await self.db.write(work)
