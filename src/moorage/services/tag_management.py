"""Tags through the management API: listings (offset and keyset pages), one tag with its manifest,
tagging an existing image again, deleting a tag, and a tag's accessories and references.

Every change goes through the registry's own tag queries, so the OCI view (``/v2/<name>/tags/list``)
and the repository's counters agree with what this API shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from moorage.domain.errors import Conflict, NotFound
from moorage.domain.events import Operation, ResourceType, repository_event
from moorage.domain.management import ArtifactRecord, TagDetail, TagKey
from moorage.domain.names import RepositoryName, validate_tag
from moorage.domain.registry import Repository
from moorage.metadata.database import Database
from moorage.metadata.queries import gc as gc_queries
from moorage.metadata.queries import manifests as manifest_q
from moorage.metadata.queries import repositories as repo_q
from moorage.metadata.queries import tag_details as q
from moorage.services.events.recorder import record_events
from moorage.services.tag_protection import NO_PROTECTION, TagProtection, retag_refused

_TAG_SCHEME = re.compile(r"^(sha256|sha512)-([0-9a-f]{64}|[0-9a-f]{128})\.(sig|att|sbom)$")
"""cosign's tag-based accessories: ``sha256-<hex>.sig`` signs the image ``sha256:<hex>``."""

SIGNATURE_TYPES = {
    "application/vnd.dev.cosign.artifact.sig.v1+json": "signature.cosign",
    "application/vnd.dev.cosign.simplesigning.v1+json": "signature.cosign",
    "application/vnd.cncf.notary.signature": "signature.notation",
}
SBOM_TYPES = frozenset(
    {
        "application/spdx+json",
        "application/vnd.cyclonedx+json",
        "application/vnd.syft+json",
        "application/vnd.dev.cosign.artifact.sbom.v1+json",
        "text/spdx",
    }
)
ATTESTATION_TYPES = frozenset(
    {
        "application/vnd.in-toto+json",
        "application/vnd.dsse.envelope.v1+json",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    }
)


@dataclass(frozen=True, slots=True)
class TagPage:
    """Tags of one repository and how many match in all."""

    repository: Repository
    items: list[TagDetail]
    total: int


@dataclass(frozen=True, slots=True)
class Accessory:
    """A signature, SBOM, attestation or other artifact attached to an image."""

    id: int
    digest: str
    target_digest: str
    size: int
    kind: str
    """``signature.cosign``, ``signature.notation``, ``sbom``, ``attestation`` or ``other``."""
    tag: str
    """A tag of the accessory itself (cosign's ``sha256-<hex>.sig``), or empty."""
    created_at: int


def accessory_kind(artifact_type: str, tag: str = "") -> str:
    """What an accessory is, from its artifact type (or, failing that, its cosign tag suffix)."""
    if artifact_type in SIGNATURE_TYPES:
        return SIGNATURE_TYPES[artifact_type]
    if artifact_type in SBOM_TYPES or "spdx" in artifact_type or "cyclonedx" in artifact_type:
        return "sbom"
    if artifact_type in ATTESTATION_TYPES or "in-toto" in artifact_type:
        return "attestation"
    scheme = _TAG_SCHEME.match(tag)
    if scheme:
        return {"sig": "signature.cosign", "att": "attestation", "sbom": "sbom"}[scheme.group(3)]
    return "other"


def tag_scheme_target(tag: str) -> str | None:
    """The digest a cosign-style accessory tag (``sha256-<hex>.sig``) points to, else None."""
    scheme = _TAG_SCHEME.match(tag)
    return f"{scheme.group(1)}:{scheme.group(2)}" if scheme else None


def _repository(conn: Connection, instance_id: str, name: RepositoryName) -> Repository:
    found = repo_q.get(conn, instance_id, name)
    if found is None:
        raise NotFound(f"repository {name} not found", reason="repository_not_found")
    return found


def _tag(conn: Connection, repository: Repository, tag: str, *, with_payload: bool) -> TagDetail:
    found = q.get(conn, repository.id, tag, with_payload=with_payload)
    if found is None:
        raise NotFound(f"tag {tag!r} not found in {repository.full_name}", reason="tag_not_found")
    return found


class TagManagement:
    """Tag listings and changes of one repository at a time."""

    def __init__(self, db: Database, *, protection: TagProtection = NO_PROTECTION) -> None:
        self.db = db
        self.protection = protection

    async def list_page(
        self,
        *,
        instance_id: str,
        name: RepositoryName,
        order: str,
        descending: bool,
        offset: int,
        limit: int,
        name_contains: str | None,
    ) -> TagPage:
        """One offset page of tags with their manifests, and the number of matching tags."""

        def work(conn: Connection) -> TagPage:
            repository = _repository(conn, instance_id, name)
            items = q.page(
                conn,
                repository.id,
                order=order,
                descending=descending,
                offset=offset,
                limit=limit,
                name_contains=name_contains,
                with_payload=True,
            )
            return TagPage(repository, items, q.count(conn, repository.id, name_contains=name_contains))

        return await self.db.read(work, heavy=limit > 100)

    async def list_after(
        self,
        *,
        instance_id: str,
        name: RepositoryName,
        order: str,
        descending: bool,
        start: TagKey | None,
        limit: int,
        name_contains: str | None,
        with_payload: bool,
    ) -> tuple[Repository, list[TagDetail], TagKey | None]:
        """One keyset page after ``start`` and the key the next page starts after (None at the end)."""

        def work(conn: Connection) -> tuple[Repository, list[TagDetail]]:
            repository = _repository(conn, instance_id, name)
            return repository, q.after(
                conn,
                repository.id,
                order=order,
                descending=descending,
                start=start,
                limit=limit + 1,
                name_contains=name_contains,
                with_payload=with_payload,
            )

        repository, found = await self.db.read(work, heavy=limit > 100)
        if len(found) <= limit:
            return repository, found, None
        last = found[limit - 1]
        value: int | str = (
            last.name if order == "tag" else (last.created_at if order == "created_at" else last.updated_at)
        )
        return repository, found[:limit], TagKey(value, last.id)

    async def show(self, *, instance_id: str, name: RepositoryName, tag: str) -> tuple[Repository, TagDetail]:
        """One tag with its raw manifest."""

        def work(conn: Connection) -> tuple[Repository, TagDetail]:
            repository = _repository(conn, instance_id, name)
            return repository, _tag(conn, repository, tag, with_payload=True)

        return await self.db.read(work)

    async def copy(
        self, *, instance_id: str, name: RepositoryName, source: str, destination: str, override: bool
    ) -> None:
        """Point ``destination`` at the image ``source`` points at (refused if it exists, unless ``override``)."""
        validate_tag(source)
        validate_tag(destination)

        def work(conn: Connection) -> None:
            # Inside the garbage collector's fence: the manifest the new tag keeps cannot be deleted as
            # untagged between this read and the commit (its source tag may be deleted meanwhile).
            gc_queries.writer_fence(conn)
            repository = _repository(conn, instance_id, name)
            found = _tag(conn, repository, source, with_payload=False)
            if not override and q.get(conn, repository.id, destination, with_payload=False) is not None:
                raise Conflict(f"tag {destination!r} already exists in {repository.full_name}", reason="tag_exists")
            immutable = self.protection.protected_tags(conn, repository, [destination])
            if destination not in immutable:
                manifest_q.tag(conn, repository.id, destination, found.manifest_id)
            elif not manifest_q.tag_once(conn, repository.id, destination, found.manifest_id):
                raise retag_refused(repository, destination, immutable[destination])
            record_events(
                conn,
                repository_event(
                    Operation.CREATE,
                    repository,
                    resource_type=ResourceType.TAG,
                    tag=destination,
                    digest=found.digest,
                    detail={"source_tag": source},
                ),
            )

        await self.db.write(work)

    async def delete(self, *, instance_id: str, name: RepositoryName, tag: str) -> None:
        """Delete a tag (the manifest stays, reachable by digest), as ``DELETE /v2/<name>/manifests/<tag>`` does."""

        def work(conn: Connection) -> None:
            repository = _repository(conn, instance_id, name)
            self.protection.check_untag(conn, repository, tag)
            if not manifest_q.untag(conn, repository.id, tag):
                raise NotFound(f"tag {tag!r} not found in {repository.full_name}", reason="tag_not_found")
            record_events(conn, repository_event(Operation.DELETE, repository, tag=tag))

        await self.db.write(work)

    async def accessories(
        self, *, instance_id: str, name: RepositoryName, tag: str, offset: int, limit: int
    ) -> tuple[Repository, list[Accessory], int]:
        """The artifacts attached to the image a tag names: those whose OCI ``subject`` it is (the
        referrers index) and cosign's tag-based ones; oldest first, one page, and the total."""

        def work(conn: Connection) -> tuple[Repository, list[Accessory]]:
            repository = _repository(conn, instance_id, name)
            target = _tag(conn, repository, tag, with_payload=False).digest
            algorithm, _, hex_digest = target.partition(":")
            scheme_tags = [f"{algorithm}-{hex_digest}.{suffix}" for suffix in ("sig", "att", "sbom")]
            seen: dict[int, ArtifactRecord] = {}
            for record in q.referrers(conn, repository.id, target) + q.by_tag_names(conn, repository.id, scheme_tags):
                seen.setdefault(record.id, record)
            found = sorted(seen.values(), key=lambda r: (r.created_at, r.id))
            return repository, [
                Accessory(
                    r.id,
                    r.digest,
                    target,
                    r.size,
                    accessory_kind(r.artifact_type, r.tags[0] if r.tags else ""),
                    r.tags[0] if r.tags else "",
                    r.created_at,
                )
                for r in found
            ]

        repository, found = await self.db.read(work)
        return repository, found[offset : offset + limit], len(found)

    async def references(
        self, *, instance_id: str, name: RepositoryName, tag: str, after: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        """The tags of the image an accessory (named by its tag) is attached to, by name, one keyset
        page, and the marker of the next page (None at the end)."""

        def work(conn: Connection) -> list[str]:
            repository = _repository(conn, instance_id, name)
            accessory = _tag(conn, repository, tag, with_payload=False)
            record = manifest_q.by_digest(conn, repository.id, accessory.digest, with_payload=False)
            target = (record.subject_digest if record is not None else None) or tag_scheme_target(tag)
            if target is None:
                return []
            return q.names_of_digest(conn, repository.id, target, after_name=after, limit=limit + 1)

        found = await self.db.read(work)
        if len(found) > limit:
            return found[:limit], found[limit - 1]
        return found, None
