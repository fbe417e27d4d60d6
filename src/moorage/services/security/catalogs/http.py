"""A small JSON client for registry management APIs (Harbor, Artifactory): Basic credentials sent
to the registry's own origin only, connections under the egress policy, answers capped in size and
depth, errors as the OCI client's (so an authentication failure reads the same)."""

from __future__ import annotations

from typing import Any

import httpx

from moorage.clients.errors import AuthenticationError, NotFoundError, RegistryError, TransferLimitError
from moorage.clients.transport import EgressSession, read_capped
from moorage.domain.bounded_json import JsonTooDeep, loads
from moorage.services.security.catalogs.interface import CatalogError, RemoteRegistry


class JsonApi:
    """``GET`` JSON documents from one registry's management API."""

    def __init__(self, registry: RemoteRegistry) -> None:
        self.registry = registry
        self._authorization = registry.credentials.basic_header() if registry.credentials else None
        self._session = EgressSession(
            registry.base_url,
            policy=registry.egress,
            timeout=registry.timeout,
            verify=registry.verify_tls,
            headers={"Accept": "application/json"},
        )

    async def __aenter__(self) -> JsonApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.aclose()

    async def get(self, path: str, params: dict[str, Any] | None = None) -> tuple[Any, httpx.Headers]:
        """The JSON answer to ``GET path`` and its headers."""
        query = {key: str(value) for key, value in (params or {}).items()}
        response = await self._session.open("GET", path, params=query, authorization=self._authorization)
        try:
            status = response.status_code
            if status in (401, 403):
                raise AuthenticationError(f"GET {path}: HTTP {status}", status=status)
            if status == 404:
                raise NotFoundError(f"GET {path}: HTTP 404", status=404)
            if status >= 400:
                raise RegistryError(
                    f"GET {path}: HTTP {status}", status=status, public=f"the registry answered HTTP {status}"
                )
            body = await read_capped(response, self.registry.limits.json_bytes, what=f"answer to GET {path}")
        finally:
            await response.aclose()
        try:
            return loads(body, max_depth=self.registry.limits.json_depth), response.headers
        except JsonTooDeep as exc:
            raise TransferLimitError(
                f"GET {path}: {exc}", public="the registry sent JSON nested deeper than allowed"
            ) from exc
        except (ValueError, UnicodeDecodeError) as exc:
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
