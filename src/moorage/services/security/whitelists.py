"""Image vulnerability whitelists: a vulnerability id set aside in every image of the account, in
images of some types, or in chosen images. Adding, changing or removing one recounts the
account's image rows and bumps its handling version (the pull gate follows), like handling does.

The SDK's rule types map onto part one's storage: ``all_images`` is ``all_image`` with no type,
``specific_image_types`` is ``all_image`` with the types, ``specific_images`` is ``specific_image``
with image row ids."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence

from sqlalchemy.engine import Connection

from moorage.domain.errors import Invalid, NotFound
from moorage.domain.events import NewEvent, Operation, ResourceType, account_event
from moorage.domain.identity import Principal
from moorage.domain.security import IMAGE_TYPES, ImageRow, ImageVisibility
from moorage.domain.security_findings import VulnerabilityFilter
from moorage.domain.security_handling import ALL_IMAGES, SPECIFIC_IMAGES, Whitelist, WhitelistScope, WhitelistView
from moorage.metadata.queries import security_details as details_q
from moorage.metadata.queries import security_handling as handling_q
from moorage.metadata.queries import security_images as images_q
from moorage.services.events.recorder import record_events
from moorage.services.security.advisory_lookup import Known
from moorage.services.security.detail_base import DetailBase, row_ids_by_digest
from moorage.services.security.detail_vocabulary import VUL_TYPES
from moorage.services.security.images import account_of, image_visibility
from moorage.services.security.results import recount_domain
from moorage.services.security.vulnerability_views import VulnerabilityViews

RULE_TYPES = ("all_images", "specific_image_types", "specific_images")
MAX_IMAGES = 1000


def sdk_rule_type(whitelist: Whitelist) -> str:
    """The SDK's rule type of a stored whitelist."""
    if whitelist.rule_type == SPECIFIC_IMAGES:
        return "specific_images"
    return "specific_image_types" if whitelist.image_types else "all_images"


class WhitelistService:
    """See the module docstring."""

    def __init__(self, views: VulnerabilityViews) -> None:
        self.views = views
        self.db = views.db

    def _check_scope(self, seen: ImageVisibility, scope: WhitelistScope) -> None:
        if scope.rule_type not in RULE_TYPES:
            raise Invalid(f"rule_type must be one of {', '.join(RULE_TYPES)}")
        if scope.rule_type == "specific_image_types" and (
            not scope.image_types or any(t not in IMAGE_TYPES for t in scope.image_types)
        ):
            raise Invalid(f"query_info.image_type must be one of {', '.join(IMAGE_TYPES)}")
        if scope.rule_type == "specific_images":
            if not scope.row_ids or len(scope.row_ids) > MAX_IMAGES:
                raise Invalid(f"image_info must name 1 to {MAX_IMAGES} images")
            found = self.db.run_read(lambda conn: images_q.by_ids(conn, seen, list(scope.row_ids)))
            if len(found) != len(set(scope.row_ids)):
                raise NotFound("an image of image_info is not one of the account's", reason="image_not_found")

    def _recount(self, conn: Connection, domain_id: str) -> None:
        digests = details_q.account_digests(conn, domain_id)
        recount_domain(conn, domain_id, digests)
        handling_q.bump_handling_version(conn, domain_id)

    @staticmethod
    def _stored(scope: WhitelistScope) -> tuple[str, tuple[str, ...], tuple[int, ...]]:
        if scope.rule_type == "specific_images":
            return SPECIFIC_IMAGES, (), tuple(sorted(set(scope.row_ids)))
        types = scope.image_types if scope.rule_type == "specific_image_types" else ()
        return ALL_IMAGES, types, ()

    async def add(
        self, principal: Principal, *, vul_type: str, vul_ids: Sequence[str], scope: WhitelistScope, description: str
    ) -> list[str]:
        """Add one whitelist per vulnerability id; their ids."""
        domain_id = account_of(principal)
        if vul_type and vul_type not in VUL_TYPES:
            raise Invalid(f"vul_type must be one of {', '.join(VUL_TYPES)}")
        ids = list(dict.fromkeys(v.strip() for v in vul_ids if v.strip()))
        if not ids or len(ids) > 100:
            raise Invalid("vul_ids must hold 1 to 100 vulnerability ids")

        def work() -> list[str]:
            self._check_scope(image_visibility(principal), scope)
            rule_type, types, rows = self._stored(scope)
            made = [secrets.token_hex(16) for _ in ids]

            def write(conn: Connection) -> None:
                for whitelist_id, vul_id in zip(made, ids, strict=True):
                    handling_q.create_whitelist(
                        conn,
                        whitelist_id=whitelist_id,
                        domain_id=domain_id,
                        vul_type=vul_type,
                        vul_id=vul_id,
                        rule_type=rule_type,
                        image_types=types,
                        row_ids=rows,
                        description=description,
                    )
                self._recount(conn, domain_id)
                record_events(
                    conn,
                    *(
                        _event(Operation.CREATE, whitelist_id, {"vul_id": vul_id, "scope": rule_type})
                        for whitelist_id, vul_id in zip(made, ids, strict=True)
                    ),
                )

            self.db.run_write(write)
            return made

        return await DetailBase.run(work)

    async def change(self, principal: Principal, whitelist_id: str, *, scope: WhitelistScope, description: str) -> None:
        """Change where a whitelist applies and its description."""
        domain_id = account_of(principal)

        def work() -> None:
            self._check_scope(image_visibility(principal), scope)
            rule_type, types, rows = self._stored(scope)

            def write(conn: Connection) -> bool:
                changed = handling_q.change_whitelist(
                    conn,
                    domain_id,
                    whitelist_id,
                    rule_type=rule_type,
                    image_types=types,
                    row_ids=rows,
                    description=description,
                )
                if changed:
                    self._recount(conn, domain_id)
                    record_events(conn, _event(Operation.UPDATE, whitelist_id, {"scope": rule_type}))
                return changed

            if not self.db.run_write(write):
                raise NotFound(f"whitelist {whitelist_id[:64]!r} not found", reason="whitelist_not_found")

        await DetailBase.run(work)

    async def delete(self, principal: Principal, ids: Sequence[str]) -> int:
        """Remove whitelists; how many existed."""
        domain_id = account_of(principal)

        def write(conn: Connection) -> int:
            removed = handling_q.delete_whitelists(conn, domain_id, list(ids))
            if removed:
                self._recount(conn, domain_id)
                record_events(conn, *(_event(Operation.DELETE, whitelist.id) for whitelist in removed))
            return len(removed)

        return await DetailBase.run(lambda: self.db.run_write(write))

    async def covering(
        self, principal: Principal, row: ImageRow, vul_ids: Collection[str]
    ) -> dict[str, tuple[Whitelist, ...]]:
        """The account's whitelists of ``vul_ids`` (by id, not alias) that apply to an image, by
        vulnerability id: what the web console offers to remove (``DeleteImageWhiteLists``)."""
        domain_id = account_of(principal)
        wanted = set(vul_ids)
        row_ids = tuple(dict.fromkeys(i for ids in row_ids_by_digest(row).values() for i in ids))

        def work() -> dict[str, tuple[Whitelist, ...]]:
            found: dict[str, tuple[Whitelist, ...]] = {}
            if not wanted:
                return found
            for w in self.db.run_read(lambda conn: handling_q.whitelists_of(conn, domain_id)):
                if w.vul_id in wanted and w.covers(row.image_type, row_ids):
                    found[w.vul_id] = (*found.get(w.vul_id, ()), w)
            return found

        return await DetailBase.run(work)

    def _view(self, seen: ImageVisibility, whitelists: Sequence[Whitelist]) -> list[WhitelistView]:
        """Whitelists with their advisories and the images they name (of those the caller sees)."""
        known = {w.vul_id: Known() for w in whitelists}
        summaries = {e.vul_id: e for e in self.views.summaries(seen, VulnerabilityFilter())}
        for vul_id in known:
            entry = summaries.get(vul_id)
            if entry is not None:
                known[vul_id] = Known(entry.title, tuple(sorted(entry.aliases)), entry.score)
        facts = self.views.advisories.describe(known)
        rows = {
            r.id: r
            for r in self.db.run_read(
                lambda conn: images_q.by_ids(conn, seen, sorted({i for w in whitelists for i in w.row_ids}))
            )
        }
        return [
            WhitelistView(w, sdk_rule_type(w), facts[w.vul_id], tuple(rows[i] for i in w.row_ids if i in rows))
            for w in whitelists
        ]

    async def list(self, principal: Principal, *, vul_name: str | None, vul_type: str | None) -> list[WhitelistView]:
        """The account's whitelists, oldest first (``vul_name``: a part of the id or the name)."""
        domain_id = account_of(principal)

        def work() -> list[WhitelistView]:
            found = self.db.run_read(lambda conn: handling_q.whitelists_of(conn, domain_id))
            if vul_type:
                found = [w for w in found if w.vul_type == vul_type]
            views = self._view(image_visibility(principal), found)
            if vul_name:
                wanted = vul_name.lower()
                views = [v for v in views if wanted in v.whitelist.vul_id.lower() or wanted in v.facts.title.lower()]
            return views

        return await DetailBase.run(work)

    async def show(self, principal: Principal, whitelist_id: str) -> WhitelistView:
        """One whitelist."""
        domain_id = account_of(principal)

        def work() -> WhitelistView:
            found = self.db.run_read(lambda conn: handling_q.whitelist(conn, domain_id, whitelist_id))
            if found is None:
                raise NotFound(f"whitelist {whitelist_id[:64]!r} not found", reason="whitelist_not_found")
            return self._view(image_visibility(principal), [found])[0]

        return await DetailBase.run(work)


def _event(operation: Operation, whitelist_id: str, detail: Mapping[str, str] | None = None) -> NewEvent:
    """The event of a vulnerability whitelist added, changed or removed."""
    return account_event(operation, ResourceType.VULNERABILITY_WHITELIST, whitelist_id, detail=detail)
