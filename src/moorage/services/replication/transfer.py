"""The artifact copy engine: one artifact (a tag or a digest, with everything it references) from a
source registry to a sink registry. Enterprise replication and shared-edition image sync both copy
through it.

Interface (kept stable; the replication policies build on it)::

    from moorage.services.replication import (
        ArtifactSource, ArtifactSink,           # protocols (endpoints.py)
        LocalEndpoint, LocalRegistry,           # this moorage, one instance ("default": shared edition)
        RemoteEndpoint, remote_endpoint,        # another registry over HTTP (egress policy applies)
        CopyOptions, CopyReport, BlobCopy, BlobOutcome, TokenBucket,
        copy_artifact, delete_artifact, list_repositories, list_tags,
    )

    report = await copy_artifact(source, sink, "team/app", "1.0", "mirror/app", CopyOptions(override=True))
    report.digest, report.skipped, report.blobs, report.bytes_sent, report.manifests, report.referrers
    await delete_artifact(sink, "mirror/app", "1.0")      # a tag, or a digest (the manifest and its tags)

``copy_artifact(source, sink, source_repository, reference, destination_repository, options,
bucket=None) -> CopyReport``:

- The reference is read at the source (``ManifestUnknown`` when it names nothing). When it is a tag
  that the sink already holds with **another** digest and ``options.override`` is false, nothing is
  copied: the report says ``skipped`` (and the digest the sink's tag names).
- An index: every child manifest (every platform, nested indexes too), each with its blobs, then
  the index itself, all byte for byte, so digests are equal at the sink. Docker schema 2 and OCI
  alike: a manifest is sent with its own media type and exact bytes.
- A blob: ``HEAD`` at the sink first (present: nothing sent); when source and sink are the same
  registry (``registry_key``), a cross-repository mount; else its bytes are streamed (never whole
  in memory) through a check of its declared size and digest: a blob whose bytes do not hash to its
  digest fails the copy (``DigestInvalid``) before the sink could accept the last byte. With
  ``options.copy_by_chunk`` a remote sink gets ``PATCH`` chunks of ``options.chunk_size`` bytes.
- A manifest the sink holds already (by digest) is not sent again, nor are its blobs.
- ``options.bandwidth_limit`` (bytes per second): the blob bytes of the copy pass one token bucket
  (``bucket``, or one of the copy's own), so a copy of N bytes takes at least N / limit seconds.
- ``options.include_referrers``: for the artifact and each of its child manifests, the referrers
  (signatures, SBOMs, attestations): from the OCI referrers API, or where the source does not serve
  it from the tag-schema fallback index (tag ``sha256-<hex>``); and cosign's tags
  (``sha256-<hex>.sig``, ``.att``, ``.sbom``), copied as tags (always overwritten: they belong to
  the artifact). Referrers of referrers too (3 levels at most).
- The blobs of one manifest are copied 4 at a time (``BLOB_CONCURRENCY``); the first failure
  cancels the others. A sink that does not index subjects
  itself (its manifest PUT answers no ``OCI-Subject``) gets the fallback index tag written.

Errors: the domain's (``ManifestUnknown``, ``DigestInvalid``, ``ManifestInvalid``, ``QuotaExceeded``,
``Conflict`` for an immutable tag... from a local sink) and ``clients.errors.RegistryError`` (and
its subclasses) from a remote end, whose ``public`` text is what a tenant may be shown.

``delete_artifact(sink, repository, reference) -> bool``: delete a tag, or a manifest by digest with
its tags; False when there was none. ``list_repositories(source)``, ``list_tags(source,
repository)``: for filters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from moorage.domain import mediatypes as mt
from moorage.domain.digests import Digest, is_digest
from moorage.domain.errors import DigestInvalid, ManifestInvalid, ManifestUnknown
from moorage.domain.manifests import Descriptor, ImageIndex, ParsedManifest, parse_manifest
from moorage.services.replication.endpoints import ArtifactSink, ArtifactSource, Manifest

MAX_REFERRER_DEPTH = 3
"""Referrers of referrers followed (a signature of an SBOM of an image is depth 2)."""
MAX_INDEX_DEPTH = 4
"""Indexes nested in indexes followed."""
COSIGN_SUFFIXES = (".sig", ".att", ".sbom")
BLOB_CONCURRENCY = 4
"""Blobs of one manifest copied at once (HEAD, mount or upload): a copy of many small layers waits
on round trips, not on bandwidth."""
"""cosign's tags beside an artifact: ``sha256-<hex>.sig`` and the like."""


@dataclass(frozen=True, slots=True)
class CopyOptions:
    """How one copy behaves."""

    override: bool = False
    """Overwrite a destination tag that names another digest (else the copy is skipped)."""
    copy_by_chunk: bool = False
    """Send blobs to a remote sink in ``PATCH`` chunks instead of one streamed ``PUT``."""
    chunk_size: int = 8 << 20
    """Bytes per chunk with ``copy_by_chunk``."""
    bandwidth_limit: int | None = None
    """Blob bytes per second, at most (None: no limit)."""
    include_referrers: bool = True
    """Copy signatures, SBOMs and other referrers with the artifact."""


class BlobOutcome(StrEnum):
    """What happened to one blob."""

    SENT = "sent"
    PRESENT = "already_present"
    MOUNTED = "mounted"
    FOREIGN = "foreign"
    """A non-distributable layer: the manifest points elsewhere for it, nothing is copied."""


@dataclass(frozen=True, slots=True)
class BlobCopy:
    """One blob of the copy."""

    digest: str
    size: int
    outcome: BlobOutcome
    bytes_sent: int


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What a copy did."""

    source_repository: str
    reference: str
    destination_repository: str
    digest: str
    """The artifact's digest (at the source, and so at the sink)."""
    skipped: bool = False
    """The destination tag names another digest and ``override`` is false: nothing was copied."""
    destination_digest: str | None = None
    """With ``skipped``: what the destination tag names."""
    manifests: tuple[str, ...] = ()
    """Manifests sent (children before their index, referrers after their subject)."""
    manifests_present: tuple[str, ...] = ()
    """Manifests the sink held already."""
    blobs: tuple[BlobCopy, ...] = ()
    referrers: tuple[str, ...] = ()
    """Digests of the referrers copied or found present (signatures, SBOMs...)."""
    tags: tuple[str, ...] = ()
    """Tags written at the sink."""
    seconds: float = 0.0

    @property
    def bytes_sent(self) -> int:
        """Blob bytes sent to the sink."""
        return sum(b.bytes_sent for b in self.blobs)

    def to_json(self) -> dict[str, Any]:
        """A small JSON-able summary (a job's result)."""
        counts = {o.value: sum(1 for b in self.blobs if b.outcome is o) for o in BlobOutcome}
        return {
            "source": f"{self.source_repository}:{self.reference}",
            "destination": self.destination_repository,
            "digest": self.digest,
            "skipped": self.skipped,
            "manifests": len(self.manifests),
            "manifests_present": len(self.manifests_present),
            "referrers": len(self.referrers),
            "blobs": counts,
            "bytes_sent": self.bytes_sent,
            "seconds": round(self.seconds, 3),
        }


class TokenBucket:
    """A bandwidth limit: ``take(n)`` waits until ``n`` more bytes fit ``rate`` bytes per second.
    It starts empty (no initial burst), so a copy of N bytes takes at least N / rate seconds; one
    bucket may be shared by several copies on one event loop (an execution's limit)."""

    def __init__(self, rate: int) -> None:
        if rate <= 0:
            raise ValueError("a bandwidth limit is a positive number of bytes per second")
        self.rate = rate
        self._level = 0.0
        self._updated = time.monotonic()

    async def take(self, count: int) -> None:
        """Count ``count`` bytes, sleeping as long as the limit asks."""
        now = time.monotonic()
        self._level = min(self._level + (now - self._updated) * self.rate, float(self.rate)) - count
        self._updated = now
        if self._level < 0:
            await asyncio.sleep(-self._level / self.rate)


@dataclass
class _Copy:
    """The state of one copy."""

    source: ArtifactSource
    sink: ArtifactSink
    source_repository: str
    destination_repository: str
    options: CopyOptions
    bucket: TokenBucket | None
    sent: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    blobs: dict[str, BlobCopy] = field(default_factory=dict)
    referrers: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    """Manifests dealt with (sent or present)."""
    subjects: list[str] = field(default_factory=list)
    """Manifests whose referrers are to be copied."""
    fallback: dict[str, list[Descriptor]] = field(default_factory=dict)
    """Referrers the sink did not index itself, by subject: its fallback index tags to write."""
    parallel: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(BLOB_CONCURRENCY))
    """Blobs of one manifest in flight at once."""
    sink_tags: dict[str, str | None] = field(default_factory=dict)
    """Tags whose digest at the sink is known (read once)."""

    async def read(self, reference: str) -> tuple[Manifest, ParsedManifest]:
        found = await self.source.get_manifest(self.source_repository, reference)
        if found is None:
            raise ManifestUnknown(
                f"manifest {reference} unknown to {self.source_repository} at the source",
                detail={"reference": reference},
            )
        actual = Digest.of(found.raw, Digest.parse(found.digest).algorithm)
        if str(actual) != found.digest or (is_digest(reference) and str(Digest.parse(reference)) != found.digest):
            raise DigestInvalid(
                f"manifest {self.source_repository}@{reference} does not match its digest {found.digest}"
            )
        return found, parse_manifest(found.raw, found.media_type or None)

    async def manifest(self, manifest: Manifest, parsed: ParsedManifest, *, depth: int = 0) -> bool:
        """Copy a manifest (by digest) with what it references; whether the sink indexed its subject
        (True when nothing was sent)."""
        if manifest.digest in self.seen:
            return True
        self.seen.add(manifest.digest)
        self.subjects.append(manifest.digest)
        if await self.sink.manifest_digest(self.destination_repository, manifest.digest) == manifest.digest:
            self.present.append(manifest.digest)
            return True
        if isinstance(parsed, ImageIndex):
            if depth >= MAX_INDEX_DEPTH:
                raise ManifestInvalid(f"indexes nested more than {MAX_INDEX_DEPTH} deep")
            for child in parsed.manifests:
                found, child_parsed = await self.read(str(child.digest))
                await self.manifest(found, child_parsed, depth=depth + 1)
        else:
            unique = {str(d.digest): d for d in parsed.blob_references()}
            try:
                async with asyncio.TaskGroup() as group:  # the first failure cancels the others
                    for descriptor in unique.values():
                        group.create_task(self.blob(descriptor))
            except BaseExceptionGroup as failed:
                raise failed.exceptions[0] from None  # the copy's callers handle one error, as sequentially
        indexed = await self.sink.put_manifest(self.destination_repository, manifest.digest, manifest)
        self.sent.append(manifest.digest)
        return indexed

    async def tag(self, tag: str, manifest: Manifest) -> None:
        """Point ``tag`` at the sink to a manifest already copied (unless it does already)."""
        if tag not in self.sink_tags:
            self.sink_tags[tag] = await self.sink.manifest_digest(self.destination_repository, tag)
        if self.sink_tags[tag] != manifest.digest:
            await self.sink.put_manifest(self.destination_repository, tag, manifest)
            self.tags.append(tag)

    async def blob(self, descriptor: Descriptor) -> None:
        async with self.parallel:
            await self._blob(descriptor)

    async def _blob(self, descriptor: Descriptor) -> None:
        digest = descriptor.digest
        key = str(digest)
        if key in self.blobs:
            return
        if descriptor.media_type in mt.NON_DISTRIBUTABLE_LAYERS and descriptor.urls:
            self.blobs[key] = BlobCopy(key, descriptor.size, BlobOutcome.FOREIGN, 0)
            return
        sink, repository = self.sink, self.destination_repository
        if await sink.blob_present(repository, digest):
            self.blobs[key] = BlobCopy(key, descriptor.size, BlobOutcome.PRESENT, 0)
            return
        if (
            self.source.registry_key == sink.registry_key
            and self.source_repository != repository
            and await sink.mount_blob(repository, digest, self.source_repository)
        ):
            self.blobs[key] = BlobCopy(key, descriptor.size, BlobOutcome.MOUNTED, 0)
            return
        counted = [0]
        chunks = _verified(
            self.source.blob_chunks(self.source_repository, digest, descriptor.size),
            digest,
            descriptor.size,
            self.bucket,
            counted,
        )
        chunk_size = self.options.chunk_size if self.options.copy_by_chunk else None
        await sink.put_blob(repository, digest, descriptor.size, chunks, chunk_size=chunk_size)
        self.blobs[key] = BlobCopy(key, descriptor.size, BlobOutcome.SENT, counted[0])

    async def copy_referrers(self) -> None:
        """Copy the referrers and cosign tags of every manifest copied so far (and theirs)."""
        tags = await self.source.list_tags(self.source_repository)
        done: set[str] = set()
        for _level in range(MAX_REFERRER_DEPTH):  # each round: the referrers of what the last one copied
            subjects = [s for s in self.subjects if s not in done]
            if not subjects:
                break
            for subject in subjects:
                done.add(subject)
                await self._referrers_of(Digest.parse(subject), tags)
        await self.write_fallback()

    async def _referrers_of(self, subject: Digest, tags: list[str]) -> None:
        listed = await self.source.referrers(self.source_repository, subject)
        fallback_tag = f"{subject.algorithm}-{subject.hex}"
        if listed is None and fallback_tag in tags:
            index = await self.source.get_manifest(self.source_repository, fallback_tag)
            if index is not None:
                parsed = parse_manifest(index.raw, index.media_type or None)
                listed = list(parsed.manifests) if isinstance(parsed, ImageIndex) else []
        for descriptor in listed or []:
            found, parsed = await self.read(str(descriptor.digest))
            indexed = await self.manifest(found, parsed)
            self.referrers.append(found.digest)
            if not indexed:
                self.fallback.setdefault(str(subject), []).append(descriptor)
        for tag in tags:
            if tag.startswith(fallback_tag) and tag[len(fallback_tag) :] in COSIGN_SUFFIXES:
                found, parsed = await self.read(tag)
                await self.manifest(found, parsed)
                await self.tag(tag, found)
                self.referrers.append(found.digest)

    async def write_fallback(self) -> None:
        """Write (merge) the tag-schema index of referrers the sink did not index itself."""
        for subject, descriptors in self.fallback.items():
            parsed_subject = Digest.parse(subject)
            tag = f"{parsed_subject.algorithm}-{parsed_subject.hex}"
            entries: dict[str, dict[str, Any]] = {}
            existing = await self.sink.get_manifest(self.destination_repository, tag)
            if existing is not None:
                with contextlib.suppress(ManifestInvalid):
                    parsed = parse_manifest(existing.raw, existing.media_type or None)
                    if isinstance(parsed, ImageIndex):
                        entries = {str(d.digest): d.to_json() for d in parsed.manifests}
            before = len(entries)
            for descriptor in descriptors:
                entries.setdefault(str(descriptor.digest), descriptor.to_json())
            if len(entries) == before and existing is not None:
                continue
            raw = json.dumps(
                {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": list(entries.values())},
                separators=(",", ":"),
            ).encode()
            index = Manifest(str(Digest.of(raw)), mt.OCI_INDEX, raw)
            await self.sink.put_manifest(self.destination_repository, tag, index)
            self.tags.append(tag)


async def _verified(
    chunks: AsyncIterator[bytes], digest: Digest, size: int, bucket: TokenBucket | None, counted: list[int]
) -> AsyncIterator[bytes]:
    """``chunks`` passed through while they stay within ``size`` bytes; the last one is held back
    until the whole blob hashes to ``digest`` (so a sink never completes a wrong blob)."""
    hasher = digest.hasher()
    received = 0
    try:
        async for chunk in chunks:
            if not chunk:
                continue
            received += len(chunk)
            if received > size:
                raise DigestInvalid(f"blob {digest}: more than the {size} bytes its descriptor declares")
            hasher.update(chunk)
            if received == size and hasher.hexdigest() != digest.hex:
                raise DigestInvalid(f"blob {digest}: the source's bytes do not match the digest")
            if bucket is not None:
                await bucket.take(len(chunk))
            counted[0] = received
            yield chunk
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    if received != size:
        raise DigestInvalid(f"blob {digest}: the source sent {received} of its {size} bytes")
    if size == 0 and hasher.hexdigest() != digest.hex:
        raise DigestInvalid(f"blob {digest}: the source's bytes do not match the digest")


async def copy_artifact(
    source: ArtifactSource,
    sink: ArtifactSink,
    source_repository: str,
    reference: str,
    destination_repository: str,
    options: CopyOptions | None = None,
    *,
    bucket: TokenBucket | None = None,
) -> CopyReport:
    """Copy one artifact (see the module docstring)."""
    options = options or CopyOptions()
    started = time.monotonic()
    if bucket is None and options.bandwidth_limit:
        bucket = TokenBucket(options.bandwidth_limit)
    copy = _Copy(source, sink, source_repository, destination_repository, options, bucket)
    top, parsed = await copy.read(reference)
    tag = None if is_digest(reference) else reference
    if tag is not None and not options.override:
        existing = copy.sink_tags[tag] = await sink.manifest_digest(destination_repository, tag)
        if existing is not None and existing != top.digest:
            return CopyReport(
                source_repository,
                reference,
                destination_repository,
                top.digest,
                skipped=True,
                destination_digest=existing,
                seconds=time.monotonic() - started,
            )
    await copy.manifest(top, parsed)
    if tag is not None:
        await copy.tag(tag, top)
    if options.include_referrers:
        await copy.copy_referrers()
    return CopyReport(
        source_repository,
        reference,
        destination_repository,
        top.digest,
        manifests=tuple(copy.sent),
        manifests_present=tuple(copy.present),
        blobs=tuple(copy.blobs.values()),
        referrers=tuple(dict.fromkeys(copy.referrers)),
        tags=tuple(copy.tags),
        seconds=time.monotonic() - started,
    )


async def delete_artifact(sink: ArtifactSink, repository: str, reference: str) -> bool:
    """Delete a tag, or a manifest by digest with its tags, at the sink; False when there was none
    (a replicated delete of something already gone is no error)."""
    return await sink.delete_manifest(repository, reference)


async def list_repositories(source: ArtifactSource) -> list[str]:
    """Every repository of the source (for a policy's filters)."""
    return await source.list_repositories()


async def list_tags(source: ArtifactSource, repository: str) -> list[str]:
    """Every tag of a repository of the source (for a policy's filters)."""
    return await source.list_tags(repository)
