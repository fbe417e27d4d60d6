"""An async client for any OCI Distribution registry (httpx).

Anonymous, Basic and Bearer (Docker token spec) authentication; manifests (GET/HEAD, every OCI and
Docker schema 2 type); platform resolution through indexes; blobs streamed to a file with their
digest checked; tag lists and the catalog followed through ``Link`` pagination. Serves the scanner
(remote images), replication and external-registry scans.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from moorage.clients.auth import Challenge, ChallengeError, Credentials, TokenCache, parse_challenge
from moorage.clients.oci_types import (
    ACCEPT_MANIFESTS,
    DIGEST_PATTERN,
    MAX_MANIFEST_BYTES,
    Descriptor,
    ImageIndex,
    ImageManifest,
    ManifestError,
    Platform,
    parse_manifest_or_index,
    select_platforms,
)

_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
MAX_PAGES = 10_000


class RegistryError(Exception):
    """A registry answered with an error, or not in a way we can use."""

    def __init__(self, message: str, *, status: int = 0, codes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.codes = codes


class AuthenticationError(RegistryError):
    """The registry refused our credentials (or we have none and it wants some)."""


class NotFoundError(RegistryError):
    """The repository, manifest or blob does not exist."""


class BlobDigestError(RegistryError):
    """A downloaded blob does not hash to its digest."""


@dataclass(frozen=True, slots=True)
class ManifestResponse:
    """A manifest or index as the registry served it."""

    media_type: str
    """``Content-Type`` of the answer (or the document's own mediaType)."""
    digest: str
    """``Docker-Content-Digest``, checked against the bytes (computed if absent)."""
    raw: bytes
    """The exact bytes (digests are over these)."""

    def parsed(self) -> ImageManifest | ImageIndex:
        """The manifest or index, parsed."""
        return parse_manifest_or_index(self.raw, self.media_type)


@dataclass(frozen=True, slots=True)
class ManifestHead:
    """What a HEAD on a manifest tells."""

    media_type: str
    """Content type."""
    digest: str
    """``Docker-Content-Digest`` header value."""
    size: int
    """``Content-Length``."""


def _scheme_for(host: str) -> str:
    bare = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return "http" if bare in ("localhost", "[::1]") or bare.startswith("127.") else "https"


class RegistryClient:
    """One registry, one set of credentials; use as ``async with RegistryClient(...) as client``."""

    def __init__(
        self,
        registry: str,
        *,
        credentials: Credentials | None = None,
        plain_http: bool | None = None,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        verify_tls: bool = True,
    ) -> None:
        scheme = ("http" if plain_http else "https") if plain_http is not None else _scheme_for(registry)
        self.base_url = f"{scheme}://{registry}"
        self.credentials = credentials
        self._tokens = TokenCache()
        self._basic = False
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            follow_redirects=True,
            transport=transport,
            verify=verify_tls,
            headers={"User-Agent": "moorage"},
        )

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- authentication -------------------------------------------------------------------------

    def _auth_header(self, scope: str) -> dict[str, str]:
        token = self._tokens.get(scope)
        if token is not None:
            return {"Authorization": f"Bearer {token}"}
        if self._basic and self.credentials is not None:
            return {"Authorization": self.credentials.basic_header()}
        return {}

    async def _answer_challenge(self, response: httpx.Response, scope: str, *, sent_basic: bool = False) -> None:
        header = response.headers.get("WWW-Authenticate", "")
        try:
            challenge = parse_challenge(header)
        except ChallengeError as exc:
            raise AuthenticationError(
                f"unreadable challenge from {self.base_url}: {exc}", status=401
            ) from exc
        if challenge.scheme == "basic":
            # Refused with our credentials (or none to give): fail. A request sent before a concurrent one
            # switched to Basic carried none, so it is simply sent again.
            if self.credentials is None or sent_basic:
                raise AuthenticationError(f"{self.base_url} wants credentials", status=401)
            self._basic = True
            return
        if challenge.scheme != "bearer":
            raise AuthenticationError(f"unsupported auth scheme {challenge.scheme!r}", status=401)
        await self._fetch_token(challenge, scope)

    async def _fetch_token(self, challenge: Challenge, scope: str) -> None:
        realm = challenge.params.get("realm")
        if not realm:
            raise AuthenticationError("Bearer challenge without a realm", status=401)
        params = {
            k: v
            for k, v in (
                ("service", challenge.params.get("service", "")),
                ("scope", challenge.params.get("scope", scope)),
            )
            if v
        }
        headers = {"Authorization": self.credentials.basic_header()} if self.credentials else {}
        try:
            answer = await self._http.get(realm, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise AuthenticationError(f"token service {realm} unreachable: {exc}") from exc
        if answer.status_code != 200:
            raise AuthenticationError(
                f"token service refused: HTTP {answer.status_code}", status=answer.status_code
            )
        try:
            body = answer.json()
            token = body.get("token") or body.get("access_token")
            expires_in = body.get("expires_in")
        except (ValueError, AttributeError) as exc:
            raise AuthenticationError("token service answered no JSON") from exc
        if not isinstance(token, str) or not token:
            raise AuthenticationError("token service answered no token")
        self._tokens.put(scope, token, expires_in if isinstance(expires_in, int | float) else None)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        scope: str,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send once, answer an auth challenge, send again; raise on errors."""
        for attempt in range(2):
            request = self._http.build_request(
                method, url, headers={**(headers or {}), **self._auth_header(scope)}
            )
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.HTTPError as exc:
                raise RegistryError(f"{method} {url}: {exc}") from exc
            if response.status_code == 401 and attempt == 0:
                await response.aclose()
                sent_basic = request.headers.get("Authorization", "").startswith("Basic ")
                await self._answer_challenge(response, scope, sent_basic=sent_basic)
                continue
            if response.status_code >= 400:
                await self._raise_for(response, method, url)
            return response
        raise AuthenticationError(f"{method} {url}: still unauthorized after authenticating", status=401)

    async def _raise_for(self, response: httpx.Response, method: str, url: str) -> None:
        body = await response.aread()
        await response.aclose()
        codes: tuple[str, ...] = ()
        try:
            errors = httpx.Response(200, content=body).json().get("errors") or []
            codes = tuple(str(e.get("code")) for e in errors if isinstance(e, dict))
        except (ValueError, AttributeError):
            pass
        message = f"{method} {url}: HTTP {response.status_code} {' '.join(codes)}".strip()
        if response.status_code in (401, 403):
            raise AuthenticationError(message, status=response.status_code, codes=codes)
        if response.status_code == 404:
            raise NotFoundError(message, status=404, codes=codes)
        raise RegistryError(message, status=response.status_code, codes=codes)

    async def ping(self) -> None:
        """``GET /v2/`` with the credentials: raises ``AuthenticationError`` when they are refused
        and ``RegistryError`` when the registry cannot be reached or is not one."""
        response = await self._send("GET", "/v2/", scope="")
        await response.aclose()

    # -- manifests ------------------------------------------------------------------------------

    async def get_manifest(self, repository: str, reference: str) -> ManifestResponse:
        """GET a manifest or index by tag or digest; the digest is checked against the bytes."""
        response = await self._send(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            scope=f"repository:{repository}:pull",
            headers={"Accept": ACCEPT_MANIFESTS},
            stream=True,
        )
        try:
            raw = await _read_capped(response, MAX_MANIFEST_BYTES)
        finally:
            await response.aclose()
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        header_digest = response.headers.get("Docker-Content-Digest", "")
        pinned = reference if DIGEST_PATTERN.match(reference) else header_digest
        algorithm = pinned.split(":", 1)[0] if DIGEST_PATTERN.match(pinned) else "sha256"
        digest = f"{algorithm}:{hashlib.new(algorithm, raw).hexdigest()}"
        if pinned and DIGEST_PATTERN.match(pinned) and pinned != digest:
            raise BlobDigestError(f"manifest {repository}@{reference} hashes to {digest}")
        return ManifestResponse(media_type, digest, raw)

    async def head_manifest(self, repository: str, reference: str) -> ManifestHead | None:
        """HEAD a manifest; None if it does not exist."""
        try:
            response = await self._send(
                "HEAD",
                f"/v2/{repository}/manifests/{reference}",
                scope=f"repository:{repository}:pull",
                headers={"Accept": ACCEPT_MANIFESTS},
            )
        except NotFoundError:
            return None
        return ManifestHead(
            response.headers.get("Content-Type", "").split(";")[0].strip(),
            response.headers.get("Docker-Content-Digest", ""),
            int(response.headers.get("Content-Length", "0") or 0),
        )

    async def resolve_image(
        self, repository: str, reference: str, platform: Platform | None
    ) -> list[tuple[Descriptor, ImageManifest]]:
        """The image manifest(s) a reference names: through an index, the one for ``platform``
        (or every platform with None); a plain manifest is returned as it is."""
        top = await self.get_manifest(repository, reference)
        try:
            document = top.parsed()
        except ManifestError as exc:
            raise RegistryError(f"{repository}:{reference}: {exc}") from exc
        if isinstance(document, ImageManifest):
            return [(Descriptor(document.media_type, top.digest, len(top.raw)), document)]
        chosen = select_platforms(document, platform)
        if platform is not None:
            chosen = chosen[:1]
        if not chosen:
            raise NotFoundError(f"{repository}:{reference} has no image for {platform}")
        out = []
        for descriptor in chosen:
            child = await self.get_manifest(repository, descriptor.digest)
            try:
                manifest = child.parsed()
            except ManifestError as exc:
                raise RegistryError(f"{repository}@{descriptor.digest}: {exc}") from exc
            if not isinstance(manifest, ImageManifest):
                raise RegistryError(f"{repository}@{descriptor.digest} is an index inside an index")
            out.append((descriptor, manifest))
        return out

    # -- blobs ----------------------------------------------------------------------------------

    async def get_blob_bytes(self, repository: str, digest: str, *, limit: int = MAX_MANIFEST_BYTES) -> bytes:
        """A small blob (an image config) in memory, digest checked, at most ``limit`` bytes."""
        _check_digest(digest)
        response = await self._send(
            "GET", f"/v2/{repository}/blobs/{digest}", scope=f"repository:{repository}:pull", stream=True
        )
        try:
            data = await _read_capped(response, limit)
        finally:
            await response.aclose()
        algorithm, _, expected = digest.partition(":")
        if hashlib.new(algorithm, data).hexdigest() != expected:
            raise BlobDigestError(f"blob {digest} does not match its content")
        return data

    async def download_blob(self, repository: str, digest: str, destination: Path) -> int:
        """Stream a blob into ``destination`` (written under a temporary name, renamed when the
        digest checks out); returns the number of bytes."""
        _check_digest(digest)
        algorithm, _, expected = digest.partition(":")
        hasher = hashlib.new(algorithm)
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=destination.parent, prefix=".part-")
        size = 0
        try:
            response = await self._send(
                "GET", f"/v2/{repository}/blobs/{digest}", scope=f"repository:{repository}:pull", stream=True
            )
            try:
                with os.fdopen(fd, "wb") as handle:
                    async for chunk in response.aiter_bytes(1 << 20):
                        hasher.update(chunk)
                        handle.write(chunk)
                        size += len(chunk)
            finally:
                await response.aclose()
            if hasher.hexdigest() != expected:
                raise BlobDigestError(f"blob {digest} downloaded from {repository} does not match its digest")
            os.replace(temp, destination)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return size

    # -- listings -------------------------------------------------------------------------------

    async def _pages(self, first_url: str, key: str, scope: str) -> AsyncIterator[list[str]]:
        url: str | None = first_url
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = await self._send("GET", url, scope=scope)
            try:
                body: Any = response.json()
            except ValueError as exc:
                raise RegistryError(f"GET {url}: answer is not JSON") from exc
            items = body.get(key) if isinstance(body, dict) else None
            yield [str(i) for i in items] if isinstance(items, list) else []
            match = _LINK_NEXT.search(response.headers.get("Link", ""))
            url = urljoin(str(response.request.url), match.group(1)) if match else None
        raise RegistryError(f"more than {MAX_PAGES} pages at {first_url}")

    async def list_tags(self, repository: str, *, page_size: int | None = None) -> list[str]:
        """Every tag of a repository, following ``Link`` pagination."""
        url = f"/v2/{repository}/tags/list" + (f"?n={page_size}" if page_size else "")
        return [
            tag async for page in self._pages(url, "tags", f"repository:{repository}:pull") for tag in page
        ]

    async def catalog(self, *, page_size: int | None = None) -> list[str]:
        """Every repository the registry lists, following ``Link`` pagination."""
        url = "/v2/_catalog" + (f"?n={page_size}" if page_size else "")
        return [
            name async for page in self._pages(url, "repositories", "registry:catalog:*") for name in page
        ]


def _check_digest(digest: str) -> None:
    if not DIGEST_PATTERN.match(digest):
        raise RegistryError(f"{digest!r} is not a sha256 or sha512 digest")


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise RegistryError(f"{response.request.url}: answer larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
