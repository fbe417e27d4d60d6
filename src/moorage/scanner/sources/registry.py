"""A registry reference as an image source: manifests through the async client, layers fetched
only when the layer cache lacks them, into a temporary directory removed on close.

Each layer download stops at the size its descriptor declares, and all of them together at
``max_image_bytes`` (counted on the bytes received); manifests and the config are read up to their
declared size and parsed with the transfer limits' nesting bound."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from moorage.clients.auth import Credentials
from moorage.clients.egress import EgressPolicy
from moorage.clients.limits import ByteBudget, TransferLimits
from moorage.clients.reference import ImageReference
from moorage.clients.registry import RegistryClient, RegistryError, TransferLimitError
from moorage.domain.errors import ManifestInvalid
from moorage.domain.manifests import MAX_MANIFEST_BYTES
from moorage.domain.oci_config import parse_config
from moorage.domain.oci_platform import Platform
from moorage.scanner.errors import ImageSourceError
from moorage.scanner.sources.interface import ImageSource, LayerRef, LocalBlob, ResolvedImage

PARALLEL_DOWNLOADS = 4


class RegistrySource(ImageSource):
    """``host/repository:tag`` or ``@digest`` on any OCI registry."""

    def __init__(
        self,
        reference: ImageReference,
        *,
        egress: EgressPolicy,
        credentials: Credentials | None = None,
        plain_http: bool | None = None,
        timeout: float = 60.0,
        max_image_bytes: int | None = None,
        limits: TransferLimits | None = None,
    ) -> None:
        self.reference = reference
        self.egress = egress
        self.credentials = credentials
        self.plain_http = plain_http
        self.timeout = timeout
        self.limits = limits
        self.budget = ByteBudget(max_image_bytes) if max_image_bytes is not None else None
        """Bytes the layers of this source may download in all (None: no limit but their sizes)."""
        self._workdir: Path | None = None

    def _client(self) -> RegistryClient:
        return RegistryClient(
            self.reference.registry,
            egress=self.egress,
            credentials=self.credentials,
            plain_http=self.plain_http,
            timeout=self.timeout,
            limits=self.limits,
        )

    def resolve(self, platform: Platform | None) -> list[ResolvedImage]:
        """See :meth:`ImageSource.resolve`."""
        try:
            return asyncio.run(self._resolve(platform))
        except RegistryError as exc:
            raise ImageSourceError(f"{self.reference}: {exc}") from exc

    async def _resolve(self, platform: Platform | None) -> list[ResolvedImage]:
        async with self._client() as client:
            images = []
            repo = self.reference.repository
            for descriptor, manifest in await client.resolve_image(repo, self.reference.reference, platform):
                declared = manifest.config.size
                if declared > MAX_MANIFEST_BYTES:
                    raise TransferLimitError(f"config of {declared} bytes, more than {MAX_MANIFEST_BYTES}")
                raw = await client.get_blob_bytes(repo, manifest.config.digest, limit=declared)
                try:
                    config = parse_config(raw, max_depth=client.limits.json_depth)
                except ManifestInvalid as exc:
                    raise RegistryError(f"config {manifest.config.digest}: {exc}") from exc
                layers = tuple(LayerRef(str(d.digest), d.media_type, d.size) for d in manifest.layers)
                images.append(
                    ResolvedImage(
                        str(self.reference),
                        str(descriptor.digest),
                        descriptor.platform or config.platform,
                        layers,
                        config.raw,
                        config_digest=str(manifest.config.digest),
                    )
                )
            return images

    def fetch(self, image: ResolvedImage, layers: Sequence[LayerRef]) -> ResolvedImage:
        """Download ``layers`` (digest-checked) and return the image with their blobs set."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="moorage-pull-"))
        try:
            fetched = asyncio.run(self._download([layer for layer in layers if layer.blob is None]))
        except RegistryError as exc:
            raise ImageSourceError(f"{self.reference}: {exc}") from exc
        return replace(
            image,
            layers=tuple(
                replace(layer, blob=LocalBlob(str(fetched[layer.digest]))) if layer.digest in fetched else layer
                for layer in image.layers
            ),
        )

    async def _download(self, layers: Sequence[LayerRef]) -> dict[str, Path]:
        assert self._workdir is not None
        workdir = self._workdir
        limit = asyncio.Semaphore(PARALLEL_DOWNLOADS)
        async with self._client() as client:

            async def one(layer: LayerRef) -> tuple[str, Path]:
                target = workdir / layer.digest.replace(":", "-")
                async with limit:
                    if not target.exists():
                        await client.download_blob(
                            self.reference.repository, layer.digest, target, size=layer.size, budget=self.budget
                        )
                return layer.digest, target

            unique = {layer.digest: layer for layer in layers}
            return dict(await asyncio.gather(*(one(layer) for layer in unique.values())))

    def close(self) -> None:
        """Remove downloaded layers."""
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
