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

from moorage.clients.oci_types import ImageIndex, ImageManifest, ManifestError, Platform, parse_manifest_or_index
from moorage.clients.reference import ImageReference
from moorage.domain import mediatypes as mt
from moorage.domain.bounded_json import load_document
from moorage.domain.digests import Digest
from moorage.metadata.database import Database
from moorage.metadata.tables import manifests
from moorage.scanner.sources.interface import ImageSource, LayerRef, LocalBlob, ResolvedImage
from moorage.services.security.catalogs.interface import RemoteRegistry
from moorage.services.security.failures import ScanFailure
from moorage.storage.blobstore import BlobStore

MAX_CONFIG_BYTES = 4 << 20


class ImageOrigin(ABC):
    """A place images are read from, for scanning."""

    @abstractmethod
    def document(self, digest: str) -> ImageManifest | ImageIndex:
        """The manifest or index named by ``digest`` (``ScanFailure`` when missing or unusable)."""

    @abstractmethod
    def image_source(self, digest: str) -> ImageSource:
        """A scanner source for the image manifest ``digest``."""

    def describe(self) -> str:
        """Where the images come from, for reports."""
        return type(self).__name__


def _parse(raw: bytes, media_type: str, digest: str) -> ImageManifest | ImageIndex:
    if media_type in mt.SCHEMA1_TYPES:
        raise ScanFailure("schema_v1_not_support", f"{digest} is a Docker schema 1 manifest")
    try:
        return parse_manifest_or_index(raw, media_type)
    except ManifestError as exc:
        if "schema 1" in str(exc):
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
        row = self.db.run_read(lambda conn: conn.execute(select(manifests.c.payload, manifests.c.media_type).where(
            manifests.c.repository_id == self.repository_id, manifests.c.digest == digest)).first())
        if row is None:
            raise ScanFailure("get_detail_info_not_found", f"{self.name}@{digest} is no longer in the registry")
        return bytes(row[0]), str(row[1])

    def document(self, digest: str) -> ImageManifest | ImageIndex:
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

    def _blob_bytes(self, digest: str, limit: int) -> bytes:
        parsed = Digest.parse(digest)
        local = self.store.local_path(parsed)
        if local is not None:
            return LocalBlob(str(local)).read_all(limit)

        async def read() -> bytes:
            chunks, total = [], 0
            async for chunk in self.store.read(parsed):
                total += len(chunk)
                if total > limit:
                    raise ValueError(f"blob {digest} is larger than {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)

        return asyncio.run(read())

    def resolve(self, platform: Platform | None) -> list[ResolvedImage]:
        """See :meth:`ImageSource.resolve`: the one image, whatever the platform asked."""
        try:
            config = load_document(self._blob_bytes(self.manifest.config.digest, MAX_CONFIG_BYTES))
        except (OSError, ValueError) as exc:
            raise ScanFailure("failed_to_query_basic_image_information",
                              f"config {self.manifest.config.digest} of {self.name}: {exc}") from exc
        config = config if isinstance(config, dict) else {}
        found = None
        if isinstance(config.get("os"), str) and isinstance(config.get("architecture"), str):
            found = Platform(config["os"], config["architecture"], str(config.get("variant") or ""))
        layers = []
        for descriptor in self.manifest.layers:
            local = self.store.local_path(Digest.parse(descriptor.digest))
            blob = LocalBlob(str(local)) if local is not None and local.exists() else None
            layers.append(LayerRef(descriptor.digest, descriptor.media_type, descriptor.size, blob))
        return [ResolvedImage(self.name, self.digest, found, tuple(layers), config)]

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
        return replace(image, layers=tuple(
            replace(layer, blob=LocalBlob(str(fetched[layer.digest]))) if layer.digest in fetched else layer
            for layer in image.layers))

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

    def document(self, digest: str) -> ImageManifest | ImageIndex:
        """See :meth:`ImageOrigin.document`."""
        from moorage.clients.registry import RegistryClient

        remote = self.remote

        async def fetch() -> tuple[bytes, str]:
            async with RegistryClient(remote.address, egress=remote.egress, credentials=remote.credentials,
                                      plain_http=remote.plain_http, timeout=remote.timeout,
                                      limits=remote.limits) as client:
                answer = await client.get_manifest(self.repository, digest)
                return answer.raw, answer.media_type

        raw, media_type = asyncio.run(fetch())
        return _parse(raw, media_type, digest)

    def image_source(self, digest: str) -> ImageSource:
        """See :meth:`ImageOrigin.image_source`."""
        from moorage.scanner.sources.registry import RegistrySource

        remote = self.remote
        reference = ImageReference(remote.address, self.repository, digest=digest)
        return RegistrySource(reference, egress=remote.egress, credentials=remote.credentials,
                              plain_http=remote.plain_http, timeout=remote.timeout,
                              max_image_bytes=self.max_image_bytes, limits=remote.limits)

    def describe(self) -> str:
        """See :meth:`ImageOrigin.describe`."""
        return f"{self.address}/{self.repository}"
