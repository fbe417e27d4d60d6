"""A registry reference as an image source: manifests through the async client, layers fetched
only when the layer cache lacks them, into a temporary directory removed on close."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from moorage.clients.auth import Credentials
from moorage.clients.oci_types import Platform
from moorage.clients.reference import ImageReference
from moorage.clients.registry import RegistryClient, RegistryError
from moorage.scanner.errors import ImageSourceError
from moorage.scanner.sources.interface import ImageSource, LayerRef, LocalBlob, ResolvedImage

PARALLEL_DOWNLOADS = 4


class RegistrySource(ImageSource):
    """``host/repository:tag`` or ``@digest`` on any OCI registry."""

    def __init__(
        self,
        reference: ImageReference,
        *,
        credentials: Credentials | None = None,
        plain_http: bool | None = None,
    ) -> None:
        self.reference = reference
        self.credentials = credentials
        self.plain_http = plain_http
        self._workdir: Path | None = None

    def _client(self) -> RegistryClient:
        return RegistryClient(
            self.reference.registry, credentials=self.credentials, plain_http=self.plain_http
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
                config = json.loads(await client.get_blob_bytes(repo, manifest.config.digest))
                layers = tuple(LayerRef(d.digest, d.media_type, d.size) for d in manifest.layers)
                found = descriptor.platform
                if found is None and isinstance(config, dict) and isinstance(config.get("os"), str):
                    found = Platform(
                        str(config["os"]),
                        str(config.get("architecture", "")),
                        str(config.get("variant", "") or ""),
                    )
                images.append(
                    ResolvedImage(
                        str(self.reference),
                        descriptor.digest,
                        found,
                        layers,
                        config if isinstance(config, dict) else {},
                        config_digest=manifest.config.digest,
                    )
                )
            return images

    def fetch(self, image: ResolvedImage, layers: Sequence[LayerRef]) -> ResolvedImage:
        """Download ``layers`` (digest-checked) and return the image with their blobs set."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="moorage-pull-"))
        try:
            fetched = asyncio.run(self._download([layer.digest for layer in layers if layer.blob is None]))
        except RegistryError as exc:
            raise ImageSourceError(f"{self.reference}: {exc}") from exc
        return replace(
            image,
            layers=tuple(
                replace(layer, blob=LocalBlob(str(fetched[layer.digest])))
                if layer.digest in fetched
                else layer
                for layer in image.layers
            ),
        )

    async def _download(self, digests: Sequence[str]) -> dict[str, Path]:
        assert self._workdir is not None
        workdir = self._workdir
        limit = asyncio.Semaphore(PARALLEL_DOWNLOADS)
        async with self._client() as client:

            async def one(digest: str) -> tuple[str, Path]:
                target = workdir / digest.replace(":", "-")
                async with limit:
                    if not target.exists():
                        await client.download_blob(self.reference.repository, digest, target)
                return digest, target

            return dict(await asyncio.gather(*(one(d) for d in dict.fromkeys(digests))))

    def close(self) -> None:
        """Remove downloaded layers."""
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
