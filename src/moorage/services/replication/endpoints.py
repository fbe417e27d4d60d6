"""The two ends of a copy: something to read an artifact from (``ArtifactSource``) and something
to write it to (``ArtifactSink``), each implemented for a local moorage instance (``LocalEndpoint``)
and for a remote OCI registry over HTTP (``RemoteEndpoint``). See ``services/replication/transfer.py``
for the engine that uses them and the interface in full.

A local endpoint reads manifests and blobs from the metadata and the blob store directly, and
writes through the registry's own services (uploads, blobs, manifests), so quotas, immutable tags,
the garbage collector's fence, events and digest checks apply exactly as to a client's push.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from sqlalchemy.engine import Connection

from moorage.clients.errors import NotFoundError
from moorage.clients.push import RegistryPushClient
from moorage.domain.digests import Digest, is_digest
from moorage.domain.errors import BlobUnknown, ManifestUnknown, NameInvalid, TagInvalid
from moorage.domain.manifests import Descriptor
from moorage.domain.names import RepositoryName, is_valid_tag
from moorage.domain.registry import Repository, UploadTarget
from moorage.metadata.database import Database
from moorage.metadata.queries import blobs as blob_queries
from moorage.metadata.queries import manifests as manifest_queries
from moorage.metadata.queries import repositories as repo_queries
from moorage.services.blobs import BlobService
from moorage.services.manifests import ManifestService
from moorage.services.uploads import UploadService
from moorage.storage.blobstore import BlobStore

PAGE = 1000


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest or index as stored: its digest, media type and exact bytes."""

    digest: str
    media_type: str
    raw: bytes


class ArtifactSource(Protocol):
    """A registry to read artifacts from."""

    @property
    def registry_key(self) -> str:
        """Names the registry: two endpoints with the same key are the same registry (a blob may
        be mounted from one repository into another instead of copied)."""
        ...

    async def get_manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest a tag or digest names, None when there is none."""
        ...

    def blob_chunks(self, repository: str, digest: Digest, size: int) -> AsyncIterator[bytes]:
        """A blob's bytes as they come (the engine checks size and digest)."""
        ...

    async def referrers(self, repository: str, digest: Digest) -> list[Descriptor] | None:
        """The manifests whose subject is ``digest`` (the OCI referrers API); None when the registry
        does not serve that API (the engine then reads the tag-schema fallback)."""
        ...

    async def list_tags(self, repository: str) -> list[str]:
        """Every tag of a repository (empty when it does not exist)."""
        ...

    async def list_repositories(self) -> list[str]:
        """Every repository (``namespace/name``)."""
        ...


class ArtifactSink(Protocol):
    """A registry to write artifacts to."""

    @property
    def registry_key(self) -> str:
        """See ``ArtifactSource.registry_key``."""
        ...

    async def get_manifest(self, repository: str, reference: str) -> Manifest | None:
        """As ``ArtifactSource.get_manifest`` (the engine merges the tag-schema referrers index)."""
        ...

    async def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest a tag or digest names at the sink, None when nothing."""
        ...

    async def blob_present(self, repository: str, digest: Digest) -> bool:
        """Whether the repository serves the blob already."""
        ...

    async def mount_blob(self, repository: str, digest: Digest, from_repository: str) -> bool:
        """Link a blob of ``from_repository`` (same registry) into ``repository``; False when the
        registry would not (the engine then sends the bytes)."""
        ...

    async def put_blob(
        self, repository: str, digest: Digest, size: int, chunks: AsyncIterable[bytes], *, chunk_size: int | None
    ) -> None:
        """Store a blob of ``size`` bytes (``chunk_size``: in chunks where the protocol has them)."""
        ...

    async def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> bool:
        """Store a manifest's exact bytes under a tag or its digest; whether the sink indexes its
        subject itself (else the engine keeps the tag-schema fallback index)."""
        ...

    async def delete_manifest(self, repository: str, reference: str) -> bool:
        """Delete a manifest (by digest, with its tags) or a tag; False when there was none."""
        ...


# -- a local moorage instance ------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalRegistry:
    """The parts of this moorage a local endpoint uses: the application's own services (so a copy
    obeys every rule a push does)."""

    db: Database
    store: BlobStore
    uploads: UploadService
    blobs: BlobService
    manifests: ManifestService


class LocalEndpoint:
    """One instance of this moorage (``default`` for the shared edition) as a source and a sink.

    ``domain_id`` is the account that owns a namespace a write creates (as a pushing client's
    account would); it is not a permission check: the caller (a replication policy, an image sync
    rule) decided the copy is allowed."""

    def __init__(self, registry: LocalRegistry, instance_id: str, *, domain_id: str | None = None) -> None:
        self.local = registry
        self.instance_id = instance_id
        self.domain_id = domain_id

    @property
    def registry_key(self) -> str:
        return f"local:{self.instance_id}"

    def _target(self, repository: str) -> UploadTarget:
        return UploadTarget(self.instance_id, RepositoryName.parse(repository), self.domain_id)

    async def _repository(self, repository: str) -> Repository | None:
        try:
            name = RepositoryName.parse(repository)
        except NameInvalid:
            return None
        return await self.local.db.read(lambda conn: repo_queries.get(conn, self.instance_id, name))

    async def get_manifest(self, repository: str, reference: str) -> Manifest | None:
        found = await self._lookup(repository, reference, with_payload=True)
        return Manifest(found[0], found[1], found[2]) if found else None

    async def manifest_digest(self, repository: str, reference: str) -> str | None:
        found = await self._lookup(repository, reference, with_payload=False)
        return found[0] if found else None

    async def _lookup(self, repository: str, reference: str, *, with_payload: bool) -> tuple[str, str, bytes] | None:
        digest = str(Digest.parse(reference)) if is_digest(reference) else None
        if digest is None and not is_valid_tag(reference):
            return None

        def work(conn: Connection) -> tuple[str, str, bytes] | None:
            found = manifest_queries.lookup(
                conn,
                self.instance_id,
                repository,
                digest=digest,
                tag=None if digest else reference,
                with_payload=with_payload,
            )
            return (found[0].digest, found[0].media_type, found[0].payload) if found else None

        return await self.local.db.read(work)

    async def blob_chunks(self, repository: str, digest: Digest, size: int) -> AsyncIterator[bytes]:
        found = await self._repository(repository)
        linked = (
            await self.local.db.read(lambda conn: blob_queries.linked_size(conn, found.id, str(digest)))
            if found is not None
            else None
        )
        if linked is None:
            raise BlobUnknown(f"blob {digest} unknown to repository {repository}", detail={"digest": str(digest)})
        async for chunk in self.local.store.read(digest):
            yield chunk

    async def referrers(self, repository: str, digest: Digest) -> list[Descriptor] | None:
        found = await self._repository(repository)
        if found is None:
            return []
        records = await self.local.db.read(
            lambda conn: manifest_queries.referrers(conn, found.id, str(digest), artifact_type=None)
        )
        return [
            Descriptor(
                r.media_type, Digest.parse(r.digest), r.size, artifact_type=r.artifact_type, annotations=r.annotations
            )
            for r in records
        ]

    async def list_tags(self, repository: str) -> list[str]:
        found = await self._repository(repository)
        if found is None:
            return []
        repository_id = found.id
        tags: list[str] = []
        while True:
            page = await self.local.db.read(
                partial(_tag_page, repository_id=repository_id, last=tags[-1] if tags else None)
            )
            tags += page
            if len(page) < PAGE:
                return tags

    async def list_repositories(self) -> list[str]:
        names: list[str] = []
        while True:
            page = await self.local.db.read(
                partial(
                    repo_queries.catalog, instance_id=self.instance_id, limit=PAGE, last=names[-1] if names else None
                )
            )
            names += page
            if len(page) < PAGE:
                return names

    async def blob_present(self, repository: str, digest: Digest) -> bool:
        found = await self._repository(repository)
        if found is None:
            return False
        try:
            await self.local.blobs.size(repository=found, digest=digest)
        except BlobUnknown:
            return False
        return True

    async def mount_blob(self, repository: str, digest: Digest, from_repository: str) -> bool:
        source = await self._repository(from_repository)
        if source is None:
            return False
        size = await self.local.blobs.mount(target=self._target(repository), digest=digest, source=source)
        return size is not None

    async def put_blob(
        self, repository: str, digest: Digest, size: int, chunks: AsyncIterable[bytes], *, chunk_size: int | None
    ) -> None:
        await self.local.uploads.monolithic(target=self._target(repository), digest=digest, chunks=chunks, length=size)

    async def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> bool:
        await self.local.manifests.put(
            target=self._target(repository), reference=reference, content_type=manifest.media_type, payload=manifest.raw
        )
        return True

    async def delete_manifest(self, repository: str, reference: str) -> bool:
        found = await self._repository(repository)
        if found is None:
            return False
        try:
            await self.local.manifests.delete(repository=found, reference=reference)
        except (ManifestUnknown, TagInvalid):
            return False
        return True


def _tag_page(conn: Connection, *, repository_id: int, last: str | None) -> list[str]:
    return manifest_queries.tag_names(conn, repository_id, limit=PAGE, last=last)


# -- a remote registry -------------------------------------------------------------------------------


class RemoteEndpoint:
    """A registry over HTTP (another moorage, Debian's docker-registry, Harbor...) as a source and a
    sink, through one ``RegistryPushClient`` (which obeys the egress policy it was given)."""

    def __init__(self, client: RegistryPushClient) -> None:
        self.client = client
        self._sessions: dict[tuple[str, str], str] = {}
        """Upload sessions a refused mount opened, used by the upload that follows it."""

    @property
    def registry_key(self) -> str:
        return self.client.base_url

    async def get_manifest(self, repository: str, reference: str) -> Manifest | None:
        try:
            found = await self.client.get_manifest(repository, reference)
        except NotFoundError:
            return None
        return Manifest(found.digest, found.media_type, found.raw)

    async def manifest_digest(self, repository: str, reference: str) -> str | None:
        head = await self.client.head_manifest(repository, reference)
        if head is None:
            return None
        if head.digest:
            return head.digest
        found = await self.get_manifest(repository, reference)  # a registry that names no digest on HEAD
        return found.digest if found else None

    def blob_chunks(self, repository: str, digest: Digest, size: int) -> AsyncIterator[bytes]:
        return self.client.blob_chunks(repository, digest, size)

    async def referrers(self, repository: str, digest: Digest) -> list[Descriptor] | None:
        return await self.client.referrers(repository, digest)

    async def list_tags(self, repository: str) -> list[str]:
        try:
            return await self.client.list_tags(repository)
        except NotFoundError:
            return []

    async def list_repositories(self) -> list[str]:
        return await self.client.catalog()

    async def blob_present(self, repository: str, digest: Digest) -> bool:
        return await self.client.blob_size(repository, digest) is not None

    async def mount_blob(self, repository: str, digest: Digest, from_repository: str) -> bool:
        location = await self.client.start_upload(repository, mount=digest, source=from_repository)
        if location is not None:
            self._sessions[(repository, str(digest))] = location
        return location is None

    async def put_blob(
        self, repository: str, digest: Digest, size: int, chunks: AsyncIterable[bytes], *, chunk_size: int | None
    ) -> None:
        location = self._sessions.pop((repository, str(digest)), None) or await self.client.start_upload(repository)
        assert location is not None
        await self.client.upload_blob(repository, location, digest, size, chunks, chunk_size=chunk_size)

    async def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> bool:
        pushed = await self.client.put_manifest(repository, reference, manifest.media_type, manifest.raw)
        return pushed.subject_indexed

    async def delete_manifest(self, repository: str, reference: str) -> bool:
        return await self.client.delete_manifest(repository, reference)


__all__ = [
    "ArtifactSink",
    "ArtifactSource",
    "LocalEndpoint",
    "LocalRegistry",
    "Manifest",
    "RemoteEndpoint",
]
