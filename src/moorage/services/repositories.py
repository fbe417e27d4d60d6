"""Finding repositories (and creating them on first push) and listing the catalog."""

from __future__ import annotations

from moorage.domain.errors import NameUnknown
from moorage.domain.names import RepositoryName
from moorage.domain.registry import Repository, Visibility
from moorage.metadata.database import Database
from moorage.metadata.queries import repositories as q


class RepositoryService:
    """Repository lookup for the OCI API."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def find(self, *, instance_id: str, name: RepositoryName) -> Repository:
        """The repository, or ``NameUnknown``."""
        repository = await self.db.read(lambda conn: q.get(conn, instance_id, name))
        if repository is None:
            raise NameUnknown(f"repository {name} not known to registry", detail={"name": str(name)})
        return repository

    async def catalog(self, *, instance_id: str, limit: int, last: str | None, visible: Visibility | None) -> list[str]:
        """Repository names after ``last``, at most ``limit``, of those ``visible``."""
        return await self.db.read(
            lambda conn: q.catalog(conn, instance_id, limit=limit, last=last, visible=visible), heavy=limit > 1000
        )
