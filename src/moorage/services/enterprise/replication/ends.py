"""The two ends of a replication execution: the source it reads (its reads watching the job's stop
flag) and the sink it writes, with the remote registry and how tasks name the destination."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from moorage.domain.digests import Digest
from moorage.domain.manifests import Descriptor
from moorage.domain.replication import ReplicationRegistry
from moorage.services.replication import ArtifactSink, ArtifactSource, Manifest, RemoteEndpoint


class StoppableSource:
    """A source whose reads look at the job's stop flag (each manifest, each blob chunk), so a stop
    lands in the middle of a large artifact even between the watcher's looks."""

    def __init__(self, inner: ArtifactSource, check: Callable[[], None]) -> None:
        self.inner = inner
        self.check = check

    @property
    def registry_key(self) -> str:
        return self.inner.registry_key

    async def get_manifest(self, repository: str, reference: str) -> Manifest | None:
        self.check()
        return await self.inner.get_manifest(repository, reference)

    async def blob_chunks(self, repository: str, digest: Digest, size: int) -> AsyncIterator[bytes]:
        async for chunk in self.inner.blob_chunks(repository, digest, size):
            self.check()
            yield chunk

    async def referrers(self, repository: str, digest: Digest) -> list[Descriptor] | None:
        return await self.inner.referrers(repository, digest)

    async def list_tags(self, repository: str) -> list[str]:
        return await self.inner.list_tags(repository)

    async def list_repositories(self) -> list[str]:
        return await self.inner.list_repositories()


@dataclass(frozen=True, slots=True)
class Ends:
    """The two ends of an execution and how to name the destination in its tasks."""

    source: ArtifactSource
    sink: ArtifactSink
    remote: RemoteEndpoint
    registry: ReplicationRegistry
    dest_prefix: str
    """``host/`` of the destination (empty for this instance)."""
