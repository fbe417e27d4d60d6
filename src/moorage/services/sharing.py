"""Sharing repositories with other accounts (SWR's access domains): read permission for every user of
the other account until a deadline (or forever). The registry honours it in ``PermissionService``;
the shared-repository listings show both sides (what I shared, what others shared with me)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.engine import Connection

from moorage.domain.errors import Conflict, Denied, Invalid, NotFound
from moorage.domain.identity import Principal
from moorage.domain.management import RepositoryDetail, RepositoryFilter, RepositoryQuery, ShareRecord
from moorage.domain.names import RepositoryName
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import identity as identity_q
from moorage.metadata.queries import repository_details as repo_q
from moorage.metadata.queries import shares as q
from moorage.services.repository_management import check_description, visible_filter

PERMITS = ("read",)
"""What a share may grant (SWR supports read only)."""
CENTERS = ("self", "thirdparty")
"""``self``: repositories I shared; ``thirdparty``: repositories others shared with me."""


@dataclass(frozen=True, slots=True)
class SharedPage:
    """Shared repositories, their tags, whether each share is still valid, and the total."""

    items: list[RepositoryDetail]
    tags: dict[int, list[str]]
    valid: dict[int, bool]
    total: int


def _check(permit: str | None, deadline: int | None, description: str | None) -> None:
    if permit is not None and permit not in PERMITS:
        raise Invalid(f"permit must be one of {', '.join(PERMITS)}, got {permit[:32]!r}", reason="invalid_permit")
    if deadline is not None and deadline <= now_ms():
        raise Invalid("the deadline must be in the future (or 'forever')", reason="invalid_deadline")
    check_description(description)


def _repository(conn: Connection, instance_id: str, name: RepositoryName) -> RepositoryDetail:
    found = repo_q.get(conn, instance_id, str(name))
    if found is None:
        raise NotFound(f"repository {name} not found", reason="repository_not_found")
    return found


def _domain_id(conn: Connection, access_domain: str) -> str | None:
    found = identity_q.domain_by_name(conn, access_domain)
    return found.id if found else None


class SharingService:
    """Shares of repositories with other accounts, and the listings of shared repositories."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        principal: Principal,
        *,
        instance_id: str,
        name: RepositoryName,
        access_domain: str,
        permit: str,
        deadline: int | None,
        description: str,
    ) -> None:
        """Share a repository with the account called ``access_domain``."""
        _check(permit, deadline, description)

        def work(conn: Connection) -> None:
            repository = _repository(conn, instance_id, name)
            target = _domain_id(conn, access_domain)
            if target is None:
                raise Invalid(f"account {access_domain[:64]!r} does not exist", reason="invalid_domain")
            if target == repository.domain_id:
                raise Invalid("a repository cannot be shared with its own account", reason="invalid_domain")
            if not q.create(
                conn,
                repository_id=repository.id,
                domain_id=target,
                permit=permit,
                deadline=deadline,
                description=description,
                creator_id=principal.user_id or "",
                creator_name=principal.user_name,
            ):
                raise Conflict(f"repository {name} is already shared with {access_domain!r}", reason="share_exists")

        await self.db.write(work)

    async def of_repository(self, *, instance_id: str, name: RepositoryName) -> list[ShareRecord]:
        """Every account the repository is shared with."""
        return await self.db.read(lambda conn: q.of_repository(conn, _repository(conn, instance_id, name).id))

    async def show(self, *, instance_id: str, name: RepositoryName, access_domain: str) -> ShareRecord | None:
        """The share with one account, or None when there is none."""

        def work(conn: Connection) -> ShareRecord | None:
            repository = _repository(conn, instance_id, name)
            target = _domain_id(conn, access_domain)
            return q.get(conn, repository.id, target) if target else None

        return await self.db.read(work)

    async def update(
        self,
        *,
        instance_id: str,
        name: RepositoryName,
        access_domain: str,
        permit: str | None,
        deadline: int | None,
        set_deadline: bool,
        description: str | None,
    ) -> None:
        """Change a share (the fields given; ``set_deadline`` with ``deadline`` None means forever)."""
        _check(permit, deadline, description)

        def work(conn: Connection) -> None:
            repository = _repository(conn, instance_id, name)
            target = _domain_id(conn, access_domain)
            if target is None or not q.change(
                conn,
                repository.id,
                target,
                permit=permit,
                deadline=deadline,
                set_deadline=set_deadline,
                description=description,
            ):
                raise NotFound(f"repository {name} is not shared with {access_domain[:64]!r}", reason="share_not_found")

        await self.db.write(work)

    async def delete(self, *, instance_id: str, name: RepositoryName, access_domain: str) -> None:
        """Stop sharing a repository with an account."""

        def work(conn: Connection) -> None:
            repository = _repository(conn, instance_id, name)
            target = _domain_id(conn, access_domain)
            if target is None or not q.remove(conn, repository.id, target):
                raise NotFound(f"repository {name} is not shared with {access_domain[:64]!r}", reason="share_not_found")

        await self.db.write(work)

    @staticmethod
    def _filter(
        conn: Connection,
        principal: Principal,
        instance_id: str,
        center: str,
        query: RepositoryQuery,
        valid: bool | None,
    ) -> tuple[RepositoryFilter, dict[int, bool]]:
        if center not in CENTERS:
            raise Invalid(f"center must be one of {', '.join(CENTERS)}", reason="invalid_filter")
        if principal.domain_id is None:
            raise Denied("a user is required")
        if center == "self":
            mine = visible_filter(conn, principal, instance_id, query)
            shared = q.shared_by(conn, instance_id, principal.domain_id)
            return replace(mine, only_ids=frozenset(shared)), dict.fromkeys(shared, False)
        status = q.shared_with(conn, instance_id, principal.domain_id, valid=valid, now=now_ms())
        return RepositoryFilter(
            principal.domain_id,
            namespace_contains=query.namespace or None,
            name_contains=query.name or None,
            category=query.category,
            is_public=query.is_public,
            only_ids=frozenset(status),
            any_domain=True,
        ), status

    async def shared_page(
        self,
        principal: Principal,
        *,
        instance_id: str,
        center: str,
        query: RepositoryQuery,
        order: str,
        descending: bool,
        offset: int,
        limit: int | None,
    ) -> SharedPage:
        """One offset page of shared repositories (``limit`` None: all of them)."""

        def work(conn: Connection) -> SharedPage:
            flt, status = self._filter(conn, principal, instance_id, center, query, None)
            total = repo_q.count(conn, instance_id, flt)
            items = repo_q.page(
                conn,
                instance_id,
                flt,
                order=order,
                descending=descending,
                offset=offset,
                limit=total if limit is None else limit,
            )
            return SharedPage(items, repo_q.tag_names(conn, [r.id for r in items]), status, total)

        return await self.db.read(work, heavy=True)

    async def shared_after(
        self,
        principal: Principal,
        *,
        instance_id: str,
        center: str,
        query: RepositoryQuery,
        valid: bool | None,
        marker: int,
        limit: int,
    ) -> tuple[list[RepositoryDetail], dict[int, bool], int | None]:
        """One keyset page of shared repositories (by id, after ``marker``) and the next marker."""

        def work(conn: Connection) -> tuple[list[RepositoryDetail], dict[int, bool]]:
            flt, status = self._filter(conn, principal, instance_id, center, query, valid)
            return repo_q.after(conn, instance_id, flt, marker=marker, limit=limit + 1), status

        found, status = await self.db.read(work, heavy=True)
        if len(found) > limit:
            return found[:limit], status, found[limit - 1].id
        return found, status, None
