"""An async client for any OCI Distribution registry (httpx, through ``clients.transport``).

Anonymous, Basic and Bearer (Docker token spec) authentication; manifests (GET/HEAD, every OCI and
Docker schema 2 type); platform resolution through indexes; blobs streamed to a file, stopped at
their declared size and digest-checked; tag lists and the catalog followed through ``Link``
pagination. Serves the scanner (remote images) and external-registry synchronisation and scans.

Every connection obeys the egress policy given (``clients.egress``); credentials go to the
registry's own origin only, and to a token realm only where the policy allows (the registry's own
host, or hosts the operator listed). Every answer is read with a cap (``clients.limits``).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from moorage.clients.auth import Challenge, ChallengeError, Credentials, TokenCache, parse_challenge
from moorage.clients.egress import EgressPolicy
from moorage.clients.errors import (
    AuthenticationError,
    BlobDigestError,
    EgressDenied,
    ImageTooLargeError,
    NotFoundError,
    RegistryError,
    TransferLimitError,
    UnreachableError,
)
from moorage.clients.limits import ByteBudget, TransferLimits
from moorage.clients.transport import EgressSession, read_capped
from moorage.domain import mediatypes as mt
from moorage.domain.bounded_json import DEFAULT_MAX_DEPTH, JsonTooDeep, loads
from moorage.domain.digests import Digest
from moorage.domain.errors import DigestInvalid, ManifestInvalid, UnsupportedDigest
from moorage.domain.manifests import (
    MAX_MANIFEST_BYTES,
    Descriptor,
    ImageManifest,
    ParsedManifest,
    parse_manifest,
    select_platforms,
)
from moorage.domain.oci_platform import Platform

__all__ = [
    "AuthenticationError",
    "BlobDigestError",
    "EgressDenied",
    "ImageTooLargeError",
    "ManifestHead",
    "ManifestResponse",
    "NotFoundError",
    "RegistryClient",
    "RegistryError",
    "TransferLimitError",
    "UnreachableError",
]

_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
MAX_PAGES = 10_000
BLOB_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ManifestResponse:
    """A manifest or index as the registry served it."""

    media_type: str
    """``Content-Type`` of the answer (or the document's own mediaType)."""
    digest: str
    """``Docker-Content-Digest``, checked against the bytes (computed if absent)."""
    raw: bytes
    """The exact bytes (digests are over these)."""

    def parsed(self, *, max_depth: int = DEFAULT_MAX_DEPTH) -> ParsedManifest:
        """The manifest or index, parsed (``ManifestInvalid`` when it is not one)."""
        return parse_manifest(self.raw, self.media_type, max_depth=max_depth, max_bytes=MAX_MANIFEST_BYTES)


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
    """One registry, one set of credentials; use as ``async with RegistryClient(...) as client``.

    ``egress`` is required: the server passes its tenants' policy, ``moorage scan`` passes
    ``EgressPolicy.unrestricted()``. ``transport`` replaces the policed transport (tests only)."""

    def __init__(
        self,
        registry: str,
        *,
        egress: EgressPolicy,
        credentials: Credentials | None = None,
        plain_http: bool | None = None,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        verify_tls: bool = True,
        limits: TransferLimits | None = None,
    ) -> None:
        scheme = ("http" if plain_http else "https") if plain_http is not None else _scheme_for(registry)
        self.base_url = f"{scheme}://{registry}"
        self.credentials = credentials
        self.egress = egress
        self.limits = limits or TransferLimits()
        self._tokens = TokenCache()
        self._basic = False
        self._session = EgressSession(
            self.base_url, policy=egress, timeout=timeout, verify=verify_tls, transport=transport
        )

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._session.aclose()

    # -- authentication -------------------------------------------------------------------------

    def _authorization(self, scope: str) -> str | None:
        token = self._tokens.get(scope)
        if token is not None:
            return f"Bearer {token}"
        if self._basic and self.credentials is not None:
            return self.credentials.basic_header()
        return None

    async def _answer_challenge(self, response: httpx.Response, scope: str, *, sent_basic: bool = False) -> None:
        header = response.headers.get("WWW-Authenticate", "")
        try:
            challenge = parse_challenge(header[:8192])
        except ChallengeError as exc:
            raise AuthenticationError(f"unreadable challenge from {self.base_url}: {exc}", status=401) from exc
        if challenge.scheme == "basic":
            # Refused with our credentials (or none to give): fail. A request sent before a concurrent one
            # switched to Basic carried none, so it is simply sent again.
            if self.credentials is None or sent_basic:
                raise AuthenticationError(f"{self.base_url} wants credentials", status=401)
            self._basic = True
            return
        if challenge.scheme != "bearer":
            raise AuthenticationError(f"unsupported auth scheme {challenge.scheme[:32]!r}", status=401)
        await self._fetch_token(challenge, scope)

    async def _fetch_token(self, challenge: Challenge, scope: str) -> None:
        realm = challenge.params.get("realm")
        if not realm:
            raise AuthenticationError("Bearer challenge without a realm", status=401)
        realm_url = self._session.url(realm)
        # The scope this request needs and the one the challenge names, both: a challenge names what
        # the refused request needed (a HEAD: pull), while the token is cached for what the caller
        # will do with it (an upload: push too); a mount's challenge adds the source repository.
        wanted = " ".join(dict.fromkeys(s for part in (scope, challenge.params.get("scope", "")) for s in part.split()))
        params = {k: v for k, v in (("service", challenge.params.get("service", "")), ("scope", wanted)) if v}
        registry_url = httpx.URL(self.base_url)
        # Credentials go to a realm on the registry's own host (or one the operator allowed), and never
        # from an https registry to a plain-http realm.
        give = (
            self.credentials is not None
            and self.egress.credentials_allowed_at(realm_url.host, registry_url.host)
            and not (registry_url.scheme == "https" and realm_url.scheme != "https")
        )
        authorization = self.credentials.basic_header() if give and self.credentials is not None else None
        answer = await self._session.open(
            "GET", realm_url, params=params, authorization=authorization, authorization_origin=realm_url
        )
        try:
            if answer.status_code != 200:
                raise AuthenticationError(
                    f"token service {realm_url.host} refused: HTTP {answer.status_code}"
                    + ("" if give else " (credentials withheld from this host)"),
                    status=answer.status_code,
                )
            raw = await read_capped(answer, self.limits.token_bytes, what="token answer")
        finally:
            await answer.aclose()
        try:
            body = self._json(raw, "token answer")
        except RegistryError as exc:
            raise AuthenticationError(f"token service answered no usable JSON: {exc}") from exc
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError("token service answered no token")
        self._tokens.put(scope, token, expires_in if isinstance(expires_in, int | float) else None)

    def _json(self, raw: bytes, what: str) -> Any:
        try:
            return loads(raw, max_depth=self.limits.json_depth)
        except JsonTooDeep as exc:
            raise TransferLimitError(
                f"{self.base_url}: {what}: {exc}", public="the registry sent JSON nested deeper than allowed"
            ) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise RegistryError(f"{self.base_url}: {what} is not JSON") from exc

    async def _send(
        self,
        method: str,
        url: str,
        *,
        scope: str,
        headers: dict[str, str] | None = None,
        content: bytes | AsyncIterable[bytes] | None = None,
    ) -> httpx.Response:
        """Send once, answer an auth challenge, send again; raise on errors. The answer is streamed:
        the caller reads it (with a cap) and closes it. A streamed ``content`` cannot be sent twice:
        the caller authenticates first with a request without one (an upload's POST does)."""
        for attempt in range(2):
            authorization = self._authorization(scope)
            response = await self._session.open(
                method, url, headers=headers, authorization=authorization, content=content
            )
            if response.status_code == 401 and attempt == 0 and not (content is None or isinstance(content, bytes)):
                await response.aclose()
                raise AuthenticationError(f"{method} {url}: unauthorized with a streamed body", status=401)
            if response.status_code == 401 and attempt == 0:
                await response.aclose()
                sent_basic = (authorization or "").startswith("Basic ")
                await self._answer_challenge(response, scope, sent_basic=sent_basic)
                continue
            if response.status_code >= 400:
                await self._raise_for(response, method, url)
            return response
        raise AuthenticationError(f"{method} {url}: still unauthorized after authenticating", status=401)

    async def _raise_for(self, response: httpx.Response, method: str, url: str) -> None:
        try:
            body = await read_capped(response, self.limits.error_bytes, what="error answer", truncate=True)
        except RegistryError:
            body = b""
        finally:
            await response.aclose()
        codes: tuple[str, ...] = ()
        try:
            errors = loads(body, max_depth=self.limits.json_depth).get("errors") or []
            codes = tuple(str(e.get("code"))[:64] for e in errors[:16] if isinstance(e, dict))
        except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
            pass
        status = response.status_code
        message = f"{method} {url}: HTTP {status} {' '.join(codes)}".strip()
        if status in (401, 403):
            raise AuthenticationError(message, status=status, codes=codes)
        if status == 404:
            raise NotFoundError(message, status=404, codes=codes)
        raise RegistryError(message, status=status, codes=codes, public=f"the registry answered HTTP {status}")

    async def ping(self) -> None:
        """``GET /v2/`` with the credentials: raises ``AuthenticationError`` when they are refused
        and ``RegistryError`` when the registry cannot be reached or is not one."""
        response = await self._send("GET", "/v2/", scope="")
        await response.aclose()

    # -- manifests ------------------------------------------------------------------------------

    async def get_manifest(self, repository: str, reference: str) -> ManifestResponse:
        """GET a manifest or index by tag or digest (at most ``MAX_MANIFEST_BYTES``); the digest is
        checked against the bytes."""
        response = await self._send(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            scope=f"repository:{repository}:pull",
            headers={"Accept": mt.ACCEPT_MANIFESTS},
        )
        try:
            raw = await read_capped(response, MAX_MANIFEST_BYTES, what="manifest")
        finally:
            await response.aclose()
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()[:255]
        header_digest = response.headers.get("Docker-Content-Digest", "")
        pinned = _as_digest(reference) or _as_digest(header_digest)
        digest = Digest.of(raw, pinned.algorithm if pinned else "sha256")
        if pinned and pinned != digest:
            raise BlobDigestError(f"manifest {repository}@{reference} hashes to {digest}")
        return ManifestResponse(media_type, str(digest), raw)

    async def head_manifest(self, repository: str, reference: str) -> ManifestHead | None:
        """HEAD a manifest; None if it does not exist."""
        try:
            response = await self._send(
                "HEAD",
                f"/v2/{repository}/manifests/{reference}",
                scope=f"repository:{repository}:pull",
                headers={"Accept": mt.ACCEPT_MANIFESTS},
            )
        except NotFoundError:
            return None
        await response.aclose()
        length = response.headers.get("Content-Length", "0")
        return ManifestHead(
            response.headers.get("Content-Type", "").split(";")[0].strip()[:255],
            response.headers.get("Docker-Content-Digest", "")[:200],
            int(length) if length.isdigit() and len(length) < 20 else 0,
        )

    async def resolve_image(
        self, repository: str, reference: str, platform: Platform | None
    ) -> list[tuple[Descriptor, ImageManifest]]:
        """The image manifest(s) a reference names: through an index, the one for ``platform``
        (or every platform with None); a plain manifest is returned as it is."""
        top = await self.get_manifest(repository, reference)
        document = self._parsed(top, f"{repository}:{reference}")
        if isinstance(document, ImageManifest):
            return [(Descriptor(document.media_type, Digest.parse(top.digest), len(top.raw)), document)]
        chosen = select_platforms(document, platform)
        if platform is not None:
            chosen = chosen[:1]
        if not chosen:
            raise NotFoundError(f"{repository}:{reference} has no image for {platform}")
        out = []
        for descriptor in chosen:
            child = await self.get_manifest(repository, str(descriptor.digest))
            manifest = self._parsed(child, f"{repository}@{descriptor.digest}")
            if not isinstance(manifest, ImageManifest):
                raise RegistryError(f"{repository}@{descriptor.digest} is an index inside an index")
            out.append((descriptor, manifest))
        return out

    def _parsed(self, answer: ManifestResponse, label: str) -> ParsedManifest:
        try:
            return answer.parsed(max_depth=self.limits.json_depth)
        except ManifestInvalid as exc:
            raise RegistryError(f"{label}: {exc}", public="the registry sent a manifest moorage cannot read") from exc

    # -- blobs ----------------------------------------------------------------------------------

    async def get_blob_bytes(self, repository: str, digest: Digest | str, *, limit: int = MAX_MANIFEST_BYTES) -> bytes:
        """A small blob (an image config) in memory, digest checked, at most ``limit`` bytes (give
        the size its descriptor declares)."""
        digest = _check_digest(digest)
        response = await self._send("GET", f"/v2/{repository}/blobs/{digest}", scope=f"repository:{repository}:pull")
        try:
            data = await read_capped(response, limit, what=f"blob {digest}")
        finally:
            await response.aclose()
        if not digest.matches(data):
            raise BlobDigestError(f"blob {digest} does not match its content")
        return data

    async def download_blob(
        self, repository: str, digest: Digest | str, destination: Path, *, size: int, budget: ByteBudget | None = None
    ) -> int:
        """Stream a blob of the declared ``size`` into ``destination`` (written under a temporary
        name, renamed when the digest checks out); returns the number of bytes.

        Reading stops at ``size``: one byte more is a ``TransferLimitError`` (so is a
        ``Content-Length`` above it, before any byte is read). Every byte counts against ``budget``
        (the image's size limit, ``ImageTooLargeError``)."""
        digest = _check_digest(digest)
        if size < 0:
            raise TransferLimitError(f"blob {digest}: declared size {size}")
        hasher = digest.hasher()
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=destination.parent, prefix=".part-")
        received = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                response = await self._send(
                    "GET", f"/v2/{repository}/blobs/{digest}", scope=f"repository:{repository}:pull"
                )
                try:
                    received = await _stream_blob(response, handle, hasher, digest=digest, size=size, budget=budget)
                finally:
                    await response.aclose()
            if hasher.hexdigest() != digest.hex:
                raise BlobDigestError(f"blob {digest} downloaded from {repository} does not match its digest")
            os.replace(temp, destination)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return received

    # -- listings -------------------------------------------------------------------------------

    async def _pages(self, first_url: str, key: str, scope: str) -> AsyncIterator[list[str]]:
        url: str | None = first_url
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = await self._send("GET", url, scope=scope)
            try:
                raw = await read_capped(response, self.limits.json_bytes, what="listing")
            finally:
                await response.aclose()
            body = self._json(raw, f"GET {url}")
            items = body.get(key) if isinstance(body, dict) else None
            yield [str(i) for i in items] if isinstance(items, list) else []
            match = _LINK_NEXT.search(response.headers.get("Link", "")[:8192])
            url = str(self._session.url(response.request.url).join(match.group(1))) if match else None
        raise RegistryError(f"more than {MAX_PAGES} pages at {first_url}")

    async def list_tags(self, repository: str, *, page_size: int | None = None) -> list[str]:
        """Every tag of a repository, following ``Link`` pagination."""
        url = f"/v2/{repository}/tags/list" + (f"?n={page_size}" if page_size else "")
        return [tag async for page in self._pages(url, "tags", f"repository:{repository}:pull") for tag in page]

    async def catalog(self, *, page_size: int | None = None) -> list[str]:
        """Every repository the registry lists, following ``Link`` pagination."""
        url = "/v2/_catalog" + (f"?n={page_size}" if page_size else "")
        return [name async for page in self._pages(url, "repositories", "registry:catalog:*") for name in page]


def _as_digest(text: str) -> Digest | None:
    try:
        return Digest.parse(text)
    except (DigestInvalid, UnsupportedDigest):
        return None


def _check_digest(digest: Digest | str) -> Digest:
    found = digest if isinstance(digest, Digest) else _as_digest(digest)
    if found is None:
        raise RegistryError(f"{digest!r} is not a sha256 or sha512 digest")
    return found


async def _stream_blob(
    response: httpx.Response, handle: Any, hasher: Any, *, digest: Digest, size: int, budget: ByteBudget | None
) -> int:
    """Write a blob answer to ``handle``, hashing it, stopping at ``size`` bytes."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise RegistryError(
            f"blob {digest} sent with Content-Encoding {encoding[:32]!r}",
            public="the registry sent a compressed answer moorage did not ask for",
        )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > size:
        raise TransferLimitError(f"blob {digest}: Content-Length {declared[:20]}, the manifest declares {size}")
    received = 0
    try:
        async for chunk in response.aiter_bytes(BLOB_CHUNK):
            received += len(chunk)
            if received > size:
                raise TransferLimitError(
                    f"blob {digest}: more than the {size} bytes its descriptor declares",
                    public="the registry sent more bytes than the manifest declares",
                )
            if budget is not None:
                budget.take(len(chunk))
            hasher.update(chunk)
            handle.write(chunk)
    except httpx.HTTPError as exc:
        raise UnreachableError(f"blob {digest}: reading: {type(exc).__name__}: {exc}") from exc
    return received
