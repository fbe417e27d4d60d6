"""Where a scan reads an image from: moorage's own repositories (manifests from the metadata
database, blobs from the blob store, read in place when the driver keeps local files) or an
external registry (through the OCI client, with that registry's credentials, under the egress
policy and read limits).

An ``ImageOrigin`` answers two questions about a digest: what document it is (an image manifest
or an index of platform images) and, for an image manifest, a scanner ``ImageSource`` reading it.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from moorage.clients.reference import ImageReference
from moorage.domain.bounded_json import DEFAULT_MAX_DEPTH, DOCUMENT_MAX_DEPTH
from moorage.domain.digests import Digest
from moorage.domain.errors import ManifestInvalid
from moorage.domain.manifests import MAX_MANIFEST_BYTES, SCHEMA1, ImageManifest, ParsedManifest, parse_manifest
from moorage.domain.oci_config import parse_config
from moorage.domain.oci_platform import Platform
from moorage.metadata.database import Database
from moorage.metadata.tables import manifests
from moorage.scanner.sources.interface import ImageSource, LayerRef, LocalBlob, ResolvedImage
from moorage.services.security.catalogs.interface import RemoteRegistry
from moorage.services.security.failures import ScanFailure
from moorage.storage.blobstore import BlobStore


class ImageOrigin(ABC):
    """A place images are read from, for scanning."""

    @abstractmethod
    def document(self, digest: str) -> ParsedManifest:
        """The manifest or index named by ``digest`` (``ScanFailure`` when missing or unusable)."""

    @abstractmethod
    def image_source(self, digest: str) -> ImageSource:
        """A scanner source for the image manifest ``digest``."""

    def describe(self) -> str:
        """Where the images come from, for reports."""
        return type(self).__name__


def _parse(raw: bytes, media_type: str, digest: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> ParsedManifest:
    try:
        return parse_manifest(raw, media_type, max_depth=max_depth, max_bytes=MAX_MANIFEST_BYTES)
    except ManifestInvalid as exc:
        if exc.reason == SCHEMA1:
            raise ScanFailure("schema_v1_not_support", f"{digest} is a Docker schema 1 manifest") from exc
        raise ScanFailure("failed_to_query_basic_image_information", f"{digest}: {exc}") from exc


class LocalOrigin(ImageOrigin):
    """Images of one of moorage's repositories."""

    def __init__(self, db: Database, store: BlobStore, *, repository_id: int, name: str) -> None:
        self.db = db
        self.store = store
        self.repository_id = repository_id
        self.name = name

    def _manifest(self, digest: str) -> tuple[bytes, str]:
        row = self.db.run_read(
            lambda conn: conn.execute(
                select(manifests.c.payload, manifests.c.media_type).where(
                    manifests.c.repository_id == self.repository_id, manifests.c.digest == digest
                )
            ).first()
        )
        if row is None:
            raise ScanFailure("get_detail_info_not_found", f"{self.name}@{digest} is no longer in the registry")
        return bytes(row[0]), str(row[1])

    def document(self, digest: str) -> ParsedManifest:
        """See :meth:`ImageOrigin.document`."""
        raw, media_type = self._manifest(digest)
        return _parse(raw, media_type, digest)

    def image_source(self, digest: str) -> ImageSource:
        """See :meth:`ImageOrigin.image_source`."""
        document = self.document(digest)
        if not isinstance(document, ImageManifest):
            raise ScanFailure("failed_to_query_basic_image_information", f"{digest} is an index, not an image")
        return StoredImageSource(self.store, name=f"{self.name}@{digest}", digest=digest, manifest=document)

    def describe(self) -> str:
        """See :meth:`ImageOrigin.describe`."""
        return f"moorage:{self.name}"


class StoredImageSource(ImageSource):
    """One image manifest of moorage's store as a scanner source."""

    def __init__(self, store: BlobStore, *, name: str, digest: str, manifest: ImageManifest) -> None:
        self.store = store
        self.name = name
        self.digest = digest
        self.manifest = manifest
        self._workdir: Path | None = None

    def _blob_bytes(self, parsed: Digest, limit: int) -> bytes:
        local = self.store.local_path(parsed)
        if local is not None:
            return LocalBlob(str(local)).read_all(limit)

        async def read() -> bytes:
            chunks, total = [], 0
            async for chunk in self.store.read(parsed):
                total += len(chunk)
                if total > limit:
                    raise ValueError(f"blob {parsed} is larger than {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)

        return asyncio.run(read())

    def resolve(self, platform: Platform | None) -> list[ResolvedImage]:
        """See :meth:`ImageSource.resolve`: the one image, whatever the platform asked."""
        config_digest = self.manifest.config.digest
        try:
            # Stored by the registry: read back with the bound of documents moorage stored.
            config = parse_config(self._blob_bytes(config_digest, MAX_MANIFEST_BYTES), max_depth=DOCUMENT_MAX_DEPTH)
        except (OSError, ValueError, ManifestInvalid) as exc:
            raise ScanFailure(
                "failed_to_query_basic_image_information", f"config {config_digest} of {self.name}: {exc}"
            ) from exc
        layers = []
        for descriptor in self.manifest.layers:
            local = self.store.local_path(descriptor.digest)
            blob = LocalBlob(str(local)) if local is not None and local.exists() else None
            layers.append(LayerRef(str(descriptor.digest), descriptor.media_type, descriptor.size, blob))
        return [ResolvedImage(self.name, self.digest, config.platform, tuple(layers), config.raw)]

    def fetch(self, image: ResolvedImage, layers: Sequence[LayerRef]) -> ResolvedImage:
        """Copy layers the driver keeps no local file of into a temporary directory."""
        missing = [layer for layer in layers if layer.blob is None]
        if not missing:
            return image
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="moorage-scan-"))
        workdir = self._workdir

        async def copy(digest: str) -> Path:
            target = workdir / digest.replace(":", "-")
            with target.open("wb") as handle:
                async for chunk in self.store.read(Digest.parse(digest)):
                    handle.write(chunk)
            return target

        fetched = {layer.digest: asyncio.run(copy(layer.digest)) for layer in missing}
        return replace(
            image,
            layers=tuple(
                replace(layer, blob=LocalBlob(str(fetched[layer.digest]))) if layer.digest in fetched else layer
                for layer in image.layers
            ),
        )

    def close(self) -> None:
        """Remove copied layers."""
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


class RemoteOrigin(ImageOrigin):
    """Images of one repository of an external registry, read under the registry's egress policy
    and limits; each image may download at most ``max_image_bytes`` (counted on actual bytes)."""

    def __init__(self, remote: RemoteRegistry, *, repository: str, max_image_bytes: int) -> None:
        self.remote = remote
        self.address = remote.address
        self.repository = repository
        self.max_image_bytes = max_image_bytes

    def document(self, digest: str) -> ParsedManifest:
        """See :meth:`ImageOrigin.document`."""
        from moorage.clients.registry import RegistryClient

        remote = self.remote

        async def fetch() -> tuple[bytes, str]:
            async with RegistryClient(
                remote.address,
                egress=remote.egress,
                credentials=remote.credentials,
                plain_http=remote.plain_http,
                timeout=remote.timeout,
                limits=remote.limits,
            ) as client:
                answer = await client.get_manifest(self.repository, digest)
                return answer.raw, answer.media_type

        raw, media_type = asyncio.run(fetch())
        return _parse(raw, media_type, digest, max_depth=remote.limits.json_depth)

    def image_source(self, digest: str) -> ImageSource:
        """See :meth:`ImageOrigin.image_source`."""
        from moorage.scanner.sources.registry import RegistrySource

        remote = self.remote
        reference = ImageReference(remote.address, self.repository, digest=digest)
        return RegistrySource(
            reference,
            egress=remote.egress,
            credentials=remote.credentials,
            plain_http=remote.plain_http,
            timeout=remote.timeout,
            max_image_bytes=self.max_image_bytes,
            limits=remote.limits,
        )

    def describe(self) -> str:
        """See :meth:`ImageOrigin.describe`."""
        return f"{self.address}/{self.repository}"
