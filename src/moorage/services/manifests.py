"""Manifests: store with reference checks, fetch with content negotiation, delete, tags, referrers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import Connection

from moorage.domain import mediatypes as mt
from moorage.domain.bounded_json import DEFAULT_MAX_DEPTH
from moorage.domain.digests import Digest, is_digest
from moorage.domain.errors import (
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameUnknown,
    TooLarge,
)
from moorage.domain.events import NewEvent, Operation, artifact_event, repository_event
from moorage.domain.manifests import ParsedManifest, parse_manifest
from moorage.domain.names import RepositoryName, is_valid_tag, validate_tag
from moorage.domain.registry import ManifestRecord, ReferrerRecord, Repository, UploadTarget
from moorage.metadata.database import Database
from moorage.metadata.queries import manifest_push
from moorage.metadata.queries import manifests as q
from moorage.metadata.queries import repositories as repo_queries
from moorage.services.events.recorder import event_rows, record_events
from moorage.services.pulls import PullRecorder
from moorage.services.quotas import QuotaLimits, QuotaService
from moorage.services.tag_protection import NO_PROTECTION, TagProtection, retag_refused

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ManifestStored:
    """The event a stored manifest emits (after its transaction committed)."""

    instance_id: str
    repository_id: int
    namespace_id: int
    repository: str
    """Full name, ``namespace/name``."""
    domain_id: str | None
    """The account owning the repository."""
    digest: str
    media_type: str
    tag: str | None
    """The tag it was pushed as; None for a push by digest."""


class ManifestListener(Protocol):
    """Something that reacts to stored manifests (scan on push, webhooks...). It must be quick:
    the push waits for it. Its errors are logged, never returned to the client."""

    async def manifest_stored(self, event: ManifestStored) -> None:
        """A manifest was stored."""
        ...


PullGuard = Callable[[ManifestRecord], Awaitable[None]]
"""Checked before a manifest is served by a GET (it raises to refuse: an organization's policy)."""


@dataclass(frozen=True, slots=True)
class StoredManifest:
    """What a manifest PUT answers with."""

    digest: Digest
    subject: Digest | None
    tags: tuple[str, ...] = ()
    """Every tag now naming it (the reference's and the ``tag`` parameters')."""


class ManifestService:
    """Manifest and tag operations of one repository at a time."""

    def __init__(
        self,
        db: Database,
        *,
        max_bytes: int,
        pulls: PullRecorder,
        listeners: Sequence[ManifestListener] = (),
        max_json_depth: int = DEFAULT_MAX_DEPTH,
        protection: TagProtection = NO_PROTECTION,
        quotas: QuotaService | None = None,
    ) -> None:
        self.db = db
        self.protection = protection
        self.quotas = quotas or QuotaService(db, QuotaLimits())
        self.max_bytes = max_bytes
        self.max_json_depth = max_json_depth
        self.pulls = pulls
        self.listeners = list(listeners)

    async def get(
        self,
        *,
        instance_id: str,
        name: RepositoryName,
        reference: str,
        accept: Iterable[str],
        with_payload: bool = True,
        guard: PullGuard | None = None,
    ) -> ManifestRecord:
        """The manifest a tag or digest names, if the client accepts its media type (one query when
        it exists; ``NameUnknown`` or ``ManifestUnknown`` when not). A reference that is neither a digest
        nor a valid tag names nothing, so it is ``ManifestUnknown`` too (the conformance suite asks 404
        for ``.INVALID_MANIFEST_NAME``; only a PUT answers ``TagInvalid``). A GET passes ``guard``
        before it counts as a pull."""
        digest = str(Digest.parse(reference)) if is_digest(reference) else None
        tag = reference if digest is None and is_valid_tag(reference) else None

        def work(conn: Connection) -> tuple[ManifestRecord, int]:
            if digest is not None or tag is not None:
                found = q.lookup(conn, instance_id, str(name), digest=digest, tag=tag, with_payload=with_payload)
                if found is not None:
                    return found
            if repo_queries.get(conn, instance_id, name) is None:
                raise NameUnknown(f"repository {name} not known to registry", detail={"name": str(name)})
            raise ManifestUnknown(f"manifest {reference} unknown to repository {name}", detail={"reference": reference})

        record, repository_id = await self.db.read(work)
        accepted = {mt.base_type(a) for a in accept}
        if accepted and not accepted & {record.media_type, "*/*", "application/*"} and accepted & mt.MANIFEST_TYPES:
            # The client listed the manifest types it understands and ours is not one of them.
            raise ManifestUnknown(
                f"manifest {reference} is a {record.media_type}, which the Accept header does not allow",
                detail={"reference": reference, "mediaType": record.media_type},
            )
        if with_payload:
            if guard is not None:
                await guard(record)
            self.pulls.record(
                repository_id,
                record.id,
                artifact_event(
                    Operation.PULL,
                    instance_id=instance_id,
                    repository=str(name),
                    namespace=name.namespace,
                    domain_id=None,
                    tag=tag or "",
                    digest=record.digest,
                )
                if self.pulls.pull_events
                else None,
            )
        return record

    async def put(
        self,
        *,
        target: UploadTarget,
        reference: str,
        content_type: str | None,
        payload: bytes,
        extra_tags: Sequence[str] = (),
    ) -> StoredManifest:
        """Validate and store a manifest, tag it when ``reference`` is a tag and with every tag of
        ``extra_tags`` (the spec's ``?tag=`` parameters of a push by digest). The repository is created
        by its first valid manifest; a refused manifest (or tag) leaves nothing behind."""
        if len(payload) > self.max_bytes:
            raise TooLarge(f"manifest of {len(payload)} bytes exceeds the {self.max_bytes}-byte limit")
        tag: str | None = None
        if is_digest(reference):
            expected = Digest.parse(reference)
            digest = Digest.of(payload, expected.algorithm)
            if digest != expected:
                raise DigestInvalid(
                    f"manifest digest {digest} does not match reference {expected}", detail={"digest": str(expected)}
                )
        else:
            tag = validate_tag(reference)
            digest = Digest.of(payload)
        tags = tuple(dict.fromkeys([*([tag] if tag else []), *(validate_tag(t) for t in extra_tags)]))
        parsed = parse_manifest(payload, content_type, max_depth=self.max_json_depth)

        blob_sizes = {str(d.digest): d.size for d in parsed.blob_references()}
        children = sorted({str(d.digest) for d in parsed.manifests})
        repository = None
        if self.db.dialect == "postgresql" and len(tags) <= 1 and not self.protection.may_protect(target.instance_id):
            repository = await self._push_alone(target, str(digest), blob_sizes, children, tags, parsed, payload)
        if repository is None:
            repository = await self._store(target, digest, blob_sizes, children, tags, parsed, payload)
        if self.listeners:
            for pushed_as in tags or (None,):  # one event per tag: policies and scans are per tag
                await self._emit(
                    ManifestStored(
                        instance_id=target.instance_id,
                        repository_id=repository.id,
                        namespace_id=repository.namespace_id,
                        repository=repository.full_name,
                        domain_id=repository.domain_id,
                        digest=str(digest),
                        media_type=parsed.media_type,
                        tag=pushed_as,
                    )
                )
        return StoredManifest(digest, parsed.subject.digest if parsed.subject else None, tags)

    async def _push_alone(
        self,
        target: UploadTarget,
        digest: str,
        blob_sizes: dict[str, int],
        children: Sequence[str],
        tags: Sequence[str],
        parsed: ParsedManifest,
        payload: bytes,
    ) -> Repository | None:
        """PostgreSQL: a push with at most one tag into an existing repository where no immutable rule
        can apply, as one statement (``manifest_push.push_alone``); the repository, or None when the
        general path must take it (the repository's first manifest, or a reference missing: that path
        finds which and refuses)."""
        name = target.name
        event = artifact_event(
            Operation.CREATE,
            instance_id=target.instance_id,
            repository=str(name),
            namespace=name.namespace,
            domain_id="",  # the namespace's, which the statement reads
            tag=tags[0] if tags else "",
            digest=digest,
            detail={"media_type": parsed.media_type, "size": len(payload)},
        )

        def work(conn: Connection) -> Repository | None:
            done = manifest_push.push_alone(
                conn,
                target.instance_id,
                str(name),
                digest,
                payload,
                parsed,
                blob_sizes=blob_sizes,
                children=children,
                tag=tags[0] if tags else None,
                event=event_rows(conn, event)[0],
            )
            return done[0] if done is not None and done[1] is not None else None

        return await self.db.write_statement(work)

    async def _store(
        self,
        target: UploadTarget,
        digest: Digest,
        blob_sizes: dict[str, int],
        children: Sequence[str],
        tags: Sequence[str],
        parsed: ParsedManifest,
        payload: bytes,
    ) -> Repository:
        """Check the references and store the manifest (unless stored), its tags and events, in one
        transaction."""

        def work(conn: Connection) -> Repository:
            # The fence first: the blobs and manifests checked here stay until this commits.
            repository = repo_queries.fenced_get(conn, target.instance_id, target.name)
            if repository is None:  # its first manifest creates it, unless a repository quota refuses
                repository = self.quotas.ensure_repository_in(conn, target)
            immutable = self.protection.protected_tags(conn, repository, tags)
            pushed = _pushed(repository, str(digest), tags, parsed.media_type, len(payload))
            checked, manifest_id = False, None
            if conn.dialect.name == "postgresql" and len(tags) <= 1 and not immutable:
                # One statement checks, tags and records when the manifest is stored already.
                checked, manifest_id = manifest_push.tag_stored(
                    conn,
                    repository.id,
                    str(digest),
                    blob_sizes=blob_sizes,
                    children=children,
                    tag=tags[0] if tags else None,
                    event=event_rows(conn, *pushed)[0],
                )
                if checked and manifest_id is not None:
                    return repository
            if not checked:  # find what is missing (and refuse), or the checks and the id in one query
                manifest_id = self._checked_state(conn, repository, str(digest), blob_sizes, children)
            if manifest_id is None:
                manifest_id = q.store_new(conn, repository.id, str(digest), payload, parsed)
            for name in tags:
                if name not in immutable:
                    q.tag(conn, repository.id, name, manifest_id)
                elif not q.tag_once(conn, repository.id, name, manifest_id):
                    raise retag_refused(repository, name, immutable[name])  # rolls the whole push back
            record_events(conn, *pushed)
            return repository

        return await self.db.write(work, quick=True)

    async def _emit(self, event: ManifestStored) -> None:
        for listener in self.listeners:
            try:
                await listener.manifest_stored(event)
            except Exception:
                log.exception(
                    "manifest listener %s failed on %s@%s", type(listener).__name__, event.repository, event.digest
                )

    @staticmethod
    def _checked_state(
        conn: Connection, repository: Repository, digest: str, wanted: dict[str, int], children: Sequence[str]
    ) -> int | None:
        """Every blob and child manifest must be in the repository (the subject need not be); the
        manifest's id when it is stored already (one query for both)."""
        sizes, held, manifest_id = q.push_state(conn, repository.id, digest, list(wanted), children)
        missing = (set(wanted) - set(sizes)) | (set(children) - held)
        if missing:
            first = sorted(missing)[0]
            raise ManifestBlobUnknown(
                f"manifest references {len(missing)} unknown blob(s) or manifest(s), e.g. {first}",
                detail={"digest": first, "missing": sorted(missing)[:20]},
            )
        for blob, size in sizes.items():
            if size != wanted[blob]:
                raise ManifestInvalid(
                    f"descriptor of {blob} says {wanted[blob]} bytes but the blob has {size}",
                    detail={"digest": blob},
                )
        return manifest_id

    async def delete(self, *, repository: Repository, reference: str) -> None:
        """Delete by digest (the manifest and its tags) or by tag (the tag only); a reference that is
        not a valid tag names nothing, so it is ``ManifestUnknown`` as on GET."""
        if is_digest(reference):
            digest = str(Digest.parse(reference))

            def remove(conn: Connection) -> bool:
                self.protection.check_manifest_removal(conn, repository, digest)
                removed = q.remove(conn, repository.id, digest)
                if removed:
                    record_events(conn, _deleted(repository, digest=digest))
                return removed

            found = await self.db.write(remove, quick=True)
        elif is_valid_tag(reference):

            def untag(conn: Connection) -> bool:
                self.protection.check_untag(conn, repository, reference)
                removed = q.untag(conn, repository.id, reference)
                if removed:
                    record_events(conn, _deleted(repository, tag=reference))
                return removed

            found = await self.db.write(untag, quick=True)
        else:
            found = False
        if not found:
            raise ManifestUnknown(
                f"manifest {reference} unknown to repository {repository.full_name}", detail={"reference": reference}
            )

    async def tags(self, *, repository: Repository, limit: int, last: str | None) -> list[str]:
        """Tags in lexical order after ``last``."""
        return await self.db.read(
            lambda conn: q.tag_names(conn, repository.id, limit=limit, last=last), heavy=limit > 1000
        )

    async def referrers(
        self, *, instance_id: str, name: RepositoryName, subject: Digest, artifact_type: str | None
    ) -> list[ReferrerRecord]:
        """Manifests of the repository whose subject is ``subject``, optionally of one artifact type.
        A repository that does not exist yet has no referrers: the answer is empty, not ``NameUnknown``
        (the spec's newest conformance suite lists referrers before anything is pushed; the caller's
        right to read the name was checked before, so nothing leaks)."""

        def work(conn: Connection) -> list[ReferrerRecord]:
            repository = repo_queries.get(conn, instance_id, name)
            if repository is None:
                return []
            return q.referrers(conn, repository.id, str(subject), artifact_type=artifact_type)

        return await self.db.read(work)


def _pushed(repository: Repository, digest: str, tags: Sequence[str], media_type: str, size: int) -> list[NewEvent]:
    """The events of a push: one per tag it was pushed as, or one for a push by digest."""
    return [
        repository_event(
            Operation.CREATE, repository, tag=tag, digest=digest, detail={"media_type": media_type, "size": size}
        )
        for tag in tags or ("",)
    ]


def _deleted(repository: Repository, *, tag: str = "", digest: str = "") -> NewEvent:
    """The event of a manifest (by digest) or tag deleted from ``repository``."""
    return repository_event(Operation.DELETE, repository, tag=tag, digest=digest)
