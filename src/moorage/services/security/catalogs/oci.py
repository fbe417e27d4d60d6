"""Any OCI registry: ``/v2/_catalog`` and ``/v2/<name>/tags/list`` (through the OCI client,
which follows ``Link`` pages and answers Basic and Bearer challenges)."""

from __future__ import annotations

from moorage.clients.registry import RegistryClient, RegistryError
from moorage.services.security.catalogs.interface import CatalogError, RegistryCatalog, RemoteTag


class OciCatalog(RegistryCatalog):
    """The distribution API's catalog and tag lists."""

    def _client(self) -> RegistryClient:
        return RegistryClient(
            self.registry.address,
            egress=self.registry.egress,
            credentials=self.registry.credentials,
            plain_http=self.registry.plain_http,
            timeout=self.registry.timeout,
            limits=self.registry.limits,
            verify_tls=self.registry.verify_tls,
        )

    async def check(self) -> None:
        """See :meth:`RegistryCatalog.check`: ``GET /v2/`` with the credentials."""
        async with self._client() as client:
            await client.ping()

    async def tags(self, *, limit: int) -> list[RemoteTag]:
        """See :meth:`RegistryCatalog.tags`."""
        found: list[RemoteTag] = []
        async with self._client() as client:
            try:
                repositories = await client.catalog(page_size=1000)
            except RegistryError as exc:
                if not exc.status:  # no HTTP answer (unreachable, egress policy): say that, not "no catalog"
                    raise
                raise CatalogError(
                    f"the registry's catalog is not available ({exc.public}); use the Harbor or "
                    "Jfrog type for registries that disable it"
                ) from exc
            for repository in sorted(set(repositories)):
                if not self.registry.wanted(repository.split("/", 1)[0]):
                    continue
                for tag in sorted(set(await client.list_tags(repository, page_size=1000))):
                    found.append(RemoteTag(repository, tag))
                    if len(found) >= limit:
                        return found
        return found
