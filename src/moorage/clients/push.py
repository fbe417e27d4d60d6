"""Writing to an OCI Distribution registry: the push side of ``clients.registry.RegistryClient``.

What a copy needs and nothing more: HEAD a blob (send nothing the registry holds), a
cross-repository mount (``POST /v2/<dest>/blobs/uploads/?mount=<digest>&from=<source>``), a blob
upload either monolithic (one ``PUT`` streaming the whole blob) or in chunks (``PATCH`` with
``Content-Range``, then the closing ``PUT``), a manifest ``PUT`` with its exact bytes and media type,
a manifest ``DELETE``, and the referrers API (``GET /v2/<name>/referrers/<digest>``) for reading.

Every connection goes through the egress policy, as the reading side's do. A streamed body cannot
be sent twice, so an upload authenticates with its ``POST`` (no body) before any byte is streamed.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

import httpx

from moorage.clients.errors import NotFoundError, RegistryError
from moorage.clients.registry import BLOB_CHUNK, RegistryClient
from moorage.clients.transport import read_capped
from moorage.domain import mediatypes as mt
from moorage.domain.digests import Digest
from moorage.domain.errors import ManifestInvalid
from moorage.domain.manifests import MAX_MANIFEST_BYTES, Descriptor, ImageIndex, parse_manifest


@dataclass(frozen=True, slots=True)
class PushedManifest:
    """What a manifest PUT answered."""

    digest: str
    """``Docker-Content-Digest`` (or the digest of the bytes sent when the registry names none)."""
    subject_indexed: bool
    """The registry answered ``OCI-Subject``: it serves the referrers API for this manifest's subject
    (else a client keeps the tag-schema fallback index itself)."""


def _push_scope(repository: str) -> str:
    return f"repository:{repository}:pull,push"


class RegistryPushClient(RegistryClient):
    """A ``RegistryClient`` that can also write (see the module docstring)."""

    async def blob_size(self, repository: str, digest: Digest) -> int | None:
        """``HEAD`` a blob: its size when the repository serves it, else None."""
        try:
            response = await self._send("HEAD", f"/v2/{repository}/blobs/{digest}", scope=_push_scope(repository))
        except NotFoundError:
            return None
        await response.aclose()
        length = response.headers.get("Content-Length", "")
        return int(length) if length.isdigit() and len(length) < 20 else 0

    async def start_upload(self, repository: str, *, mount: Digest | None = None, source: str = "") -> str | None:
        """Open an upload session (``POST``): its location; with ``mount``, try a cross-repository mount
        from ``source`` first: None when the registry mounted the blob (``201``), else the session it
        opened instead (``202``)."""
        url = f"/v2/{repository}/blobs/uploads/"
        if mount is not None:
            url += "?" + str(httpx.QueryParams({"mount": str(mount), "from": source}))
        response = await self._send("POST", url, scope=_push_scope(repository), headers={"Content-Length": "0"})
        await response.aclose()
        if response.status_code == 201 and mount is not None:
            return None
        location = response.headers.get("Location", "")
        if response.status_code != 202 or not location:
            raise RegistryError(
                f"POST {url}: HTTP {response.status_code} without an upload location",
                public="the registry did not open an upload",
            )
        return str(self._session.url(location))

    async def upload_blob(
        self,
        repository: str,
        location: str,
        digest: Digest,
        size: int,
        chunks: AsyncIterable[bytes],
        *,
        chunk_size: int | None = None,
    ) -> None:
        """Send a blob to the session at ``location``: one streamed ``PUT``, or with ``chunk_size`` a
        ``PATCH`` per ``chunk_size`` bytes and an empty closing ``PUT``. The registry checks the
        digest; ``chunks`` must yield exactly ``size`` bytes."""
        scope = _push_scope(repository)
        if chunk_size is None:
            url = self._session.url(location).copy_merge_params({"digest": str(digest)})
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
            response = await self._send("PUT", str(url), scope=scope, headers=headers, content=chunks)
            await response.aclose()
            return
        offset = 0
        async for piece in _pieces(chunks, chunk_size):
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(len(piece)),
                "Content-Range": f"{offset}-{offset + len(piece) - 1}",
            }
            response = await self._send("PATCH", location, scope=scope, headers=headers, content=piece)
            await response.aclose()
            offset += len(piece)
            location = str(self._session.url(response.headers.get("Location", "") or location))
        url = self._session.url(location).copy_merge_params({"digest": str(digest)})
        response = await self._send("PUT", str(url), scope=scope, headers={"Content-Length": "0"}, content=b"")
        await response.aclose()

    async def put_manifest(self, repository: str, reference: str, media_type: str, raw: bytes) -> PushedManifest:
        """``PUT`` a manifest's exact bytes under a tag or its digest."""
        response = await self._send(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            scope=_push_scope(repository),
            headers={"Content-Type": media_type},
            content=raw,
        )
        await response.aclose()
        digest = response.headers.get("Docker-Content-Digest", "")[:200] or str(Digest.of(raw))
        return PushedManifest(digest, bool(response.headers.get("OCI-Subject")))

    async def delete_manifest(self, repository: str, reference: str) -> bool:
        """``DELETE`` a manifest (by digest) or a tag; False when there was none."""
        try:
            response = await self._send(
                "DELETE", f"/v2/{repository}/manifests/{reference}", scope=f"repository:{repository}:delete,pull,push"
            )
        except NotFoundError:
            return False
        await response.aclose()
        return True

    async def referrers(self, repository: str, digest: Digest) -> list[Descriptor] | None:
        """The referrers API's list for ``digest``; None when the registry does not serve the API
        (the caller then reads the tag-schema fallback)."""
        try:
            response = await self._send(
                "GET",
                f"/v2/{repository}/referrers/{digest}",
                scope=f"repository:{repository}:pull",
                headers={"Accept": mt.OCI_INDEX},
            )
        except NotFoundError:
            return None
        try:
            raw = await read_capped(response, MAX_MANIFEST_BYTES, what="referrers")
        finally:
            await response.aclose()
        if response.headers.get("Content-Type", "").split(";")[0].strip() != mt.OCI_INDEX:
            return None
        try:
            index = parse_manifest(raw, mt.OCI_INDEX, max_depth=self.limits.json_depth)
        except ManifestInvalid as exc:
            raise RegistryError(f"referrers of {repository}@{digest}: {exc}") from exc
        return list(index.manifests) if isinstance(index, ImageIndex) else None

    async def blob_chunks(self, repository: str, digest: Digest, size: int) -> AsyncIterator[bytes]:
        """A blob's bytes as they arrive; reading stops with an error past ``size`` (the caller
        checks the digest)."""
        response = await self._send("GET", f"/v2/{repository}/blobs/{digest}", scope=f"repository:{repository}:pull")
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > size:
                raise RegistryError(f"blob {digest}: Content-Length {declared[:20]}, the manifest declares {size}")
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise RegistryError(f"blob {digest} sent with Content-Encoding {encoding[:32]!r}")
            received = 0
            try:
                async for chunk in response.aiter_bytes(BLOB_CHUNK):
                    received += len(chunk)
                    if received > size:
                        raise RegistryError(f"blob {digest}: more than the {size} bytes its descriptor declares")
                    yield chunk
            except httpx.HTTPError as exc:
                raise RegistryError(f"blob {digest}: reading: {type(exc).__name__}: {exc}") from exc
        finally:
            await response.aclose()


async def _pieces(chunks: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    """``chunks`` regrouped into pieces of ``size`` bytes (the last one shorter)."""
    held = bytearray()
    async for chunk in chunks:
        held += chunk
        while len(held) >= size:
            yield bytes(held[:size])
            del held[:size]
    if held:
        yield bytes(held)
