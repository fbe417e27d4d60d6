"""Harbor (v2.x): projects, repositories and artifacts through ``/api/v2.0`` (works when the OCI
catalog is disabled, as Harbor does for non-administrators). Artifacts already carry their
digest, size, push time and, for an index, its platform images."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from moorage.services.security.catalogs.http import JsonApi, epoch_ms, text
from moorage.services.security.catalogs.interface import (
    MAX_PAGES,
    CatalogError,
    RegistryCatalog,
    RemotePlatform,
    RemoteTag,
)

PAGE_SIZE = 100
API = "/api/v2.0"


def _platform(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    parts = [text(value.get("os"), limit=32), text(value.get("architecture"), limit=32)]
    variant = text(value.get("variant"), limit=32)
    return "/".join([*parts, variant] if variant else parts) if all(parts) else ""


class HarborCatalog(RegistryCatalog):
    """Harbor's REST API."""

    async def check(self) -> None:
        """See :meth:`RegistryCatalog.check`: the current user (fails on bad credentials)."""
        async with JsonApi(self.registry) as api:
            if self.registry.credentials is None:
                await api.get(f"{API}/systeminfo")
            else:
                await api.get(f"{API}/users/current")

    async def _paged(self, api: JsonApi, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            body, _headers = await api.get(path, {**(params or {}), "page": page, "page_size": PAGE_SIZE})
            if not isinstance(body, list):
                raise CatalogError(f"GET {path}: expected a list")
            items.extend(item for item in body if isinstance(item, dict))
            if len(body) < PAGE_SIZE:
                return items
        raise CatalogError(f"GET {path}: more than {MAX_PAGES} pages")

    async def tags(self, *, limit: int) -> list[RemoteTag]:
        """See :meth:`RegistryCatalog.tags`."""
        found: list[RemoteTag] = []
        async with JsonApi(self.registry) as api:
            listed = await self._paged(api, f"{API}/projects")
            projects = sorted({text(p.get("name"), limit=255) for p in listed} - {""})
            for project in projects:
                if not self.registry.wanted(project):
                    continue
                repositories = await self._paged(api, f"{API}/projects/{quote(project, safe='')}/repositories")
                for full_name in sorted({text(r.get("name"), limit=255) for r in repositories} - {""}):
                    name = full_name.removeprefix(f"{project}/")
                    # Harbor wants a repository name with "/" encoded twice in the path.
                    encoded = quote(quote(name, safe=""), safe="")
                    artifacts = await self._paged(
                        api,
                        f"{API}/projects/{quote(project, safe='')}/repositories/{encoded}/artifacts",
                        {"with_tag": "true"},
                    )
                    for artifact in artifacts:
                        found.extend(self._artifact_tags(f"{project}/{name}", artifact))
                        if len(found) >= limit:
                            return found[:limit]
        return found

    @staticmethod
    def _artifact_tags(repository: str, artifact: dict[str, Any]) -> list[RemoteTag]:
        digest = text(artifact.get("digest"), limit=140)
        size = artifact.get("size")
        references = artifact.get("references") if isinstance(artifact.get("references"), list) else []
        platforms = tuple(
            RemotePlatform(text(r.get("child_digest"), limit=140), _platform(r.get("platform")))
            for r in references or []
            if isinstance(r, dict) and text(r.get("child_digest"), limit=140)
        )
        tags = artifact.get("tags") if isinstance(artifact.get("tags"), list) else []
        out = []
        for tag in tags or []:
            name = text(tag.get("name"), limit=128) if isinstance(tag, dict) else ""
            if not name:
                continue
            pushed = epoch_ms(tag.get("push_time")) or epoch_ms(artifact.get("push_time"))
            out.append(
                RemoteTag(
                    repository,
                    name,
                    digest=digest,
                    media_type=text(artifact.get("manifest_media_type"), limit=255),
                    size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else -1,
                    updated_at=pushed,
                    platforms=platforms,
                )
            )
        return out
