"""JFrog Artifactory: Docker repositories from ``/artifactory/api/repositories``, their images and
tags through ``/artifactory/api/docker/<repo>/v2/...`` (works when the registry-wide catalog is
off). Images are pulled with the repository-path method: ``<host>/<repo>/<image>``."""

from __future__ import annotations

from urllib.parse import quote

from moorage.services.security.catalogs.http import JsonApi, text
from moorage.services.security.catalogs.interface import CatalogError, RegistryCatalog, RemoteTag

API = "/artifactory/api"


class JfrogCatalog(RegistryCatalog):
    """Artifactory's REST API."""

    async def check(self) -> None:
        """See :meth:`RegistryCatalog.check`: the repository list needs valid credentials."""
        async with JsonApi(self.registry) as api:
            await api.get(f"{API}/repositories", {"packageType": "docker"})

    async def tags(self, *, limit: int) -> list[RemoteTag]:
        """See :meth:`RegistryCatalog.tags`."""
        found: list[RemoteTag] = []
        async with JsonApi(self.registry) as api:
            body, _ = await api.get(f"{API}/repositories", {"packageType": "docker"})
            if not isinstance(body, list):
                raise CatalogError("the repository list is not a list")
            keys = sorted(
                {
                    text(r.get("key"), limit=128)
                    for r in body
                    if isinstance(r, dict) and str(r.get("packageType", "docker")).lower() == "docker"
                }
                - {""}
            )
            for key in keys:
                if not self.registry.wanted(key):
                    continue
                base = f"{API}/docker/{quote(key, safe='')}/v2"
                catalog, _ = await api.get(f"{base}/_catalog")
                images = catalog.get("repositories") if isinstance(catalog, dict) else None
                if not isinstance(images, list):
                    raise CatalogError(f"the catalog of {key} is not a list")
                for image in sorted({text(i, limit=255) for i in images} - {""}):
                    listing, _ = await api.get(f"{base}/{quote(image, safe='/')}/tags/list")
                    tags = listing.get("tags") if isinstance(listing, dict) else None
                    for tag in sorted({text(t, limit=128) for t in tags or []} - {""}):
                        found.append(RemoteTag(f"{key}/{image}", tag))
                        if len(found) >= limit:
                            return found
        return found
