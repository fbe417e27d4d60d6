"""A small JSON client for registry management APIs (Harbor, Artifactory): Basic credentials,
capped answers, errors as the OCI client's (so an authentication failure reads the same)."""

from __future__ import annotations

from typing import Any

import httpx

from moorage.clients.registry import AuthenticationError, NotFoundError
from moorage.domain.bounded_json import load_document
from moorage.services.security.catalogs.interface import CatalogError, RemoteRegistry

MAX_ANSWER_BYTES = 32 << 20


class JsonApi:
    """``GET`` JSON documents from one registry's management API."""

    def __init__(self, registry: RemoteRegistry) -> None:
        auth = (registry.credentials.username, registry.credentials.password) if registry.credentials else None
        self._http = httpx.AsyncClient(base_url=registry.base_url, auth=auth, timeout=registry.timeout,
                                       follow_redirects=True, headers={"User-Agent": "moorage",
                                                                       "Accept": "application/json"})

    async def __aenter__(self) -> JsonApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def get(self, path: str, params: dict[str, Any] | None = None) -> tuple[Any, httpx.Headers]:
        """The JSON answer to ``GET path`` and its headers."""
        try:
            async with self._http.stream("GET", path, params=params) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise CatalogError(f"GET {path}: answer larger than {MAX_ANSWER_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise CatalogError(f"GET {path}: {exc}") from exc
        if response.status_code in (401, 403):
            raise AuthenticationError(f"GET {path}: HTTP {response.status_code}", status=response.status_code)
        if response.status_code == 404:
            raise NotFoundError(f"GET {path}: HTTP 404", status=404)
        if response.status_code >= 400:
            raise CatalogError(f"GET {path}: HTTP {response.status_code}")
        try:
            return load_document(bytes(body)), response.headers
        except ValueError as exc:
            raise CatalogError(f"GET {path}: the answer is not JSON") from exc


def text(value: Any, *, limit: int = 512) -> str:
    """A string field of an answer (anything else reads as empty; long ones are refused)."""
    if not isinstance(value, str) or len(value) > limit:
        return ""
    return value


def epoch_ms(value: Any) -> int:
    """An RFC 3339 time of an answer as epoch milliseconds (0 when absent or unreadable)."""
    import datetime

    if not isinstance(value, str) or not value or len(value) > 64:
        return 0
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1000)
