"""The image lists (SWR images, ListSwrImageRepository; every registry's images, ListRegistryImages) and synchronising
moorage's own images into them."""

from __future__ import annotations

import anyio.to_thread

from moorage.domain.errors import Invalid
from moorage.domain.identity import Principal
from moorage.domain.security import SWR_IMAGE_TYPES, ImageFilter, ImageRow, ImageVisibility
from moorage.metadata.database import Database
from moorage.metadata.queries import security_images as q
from moorage.services.security.synchronize import SyncOutcome, sync_swr


def account_of(principal: Principal) -> str:
    """The caller's account (HSS settings, handling and registries are account-wide)."""
    if not principal.domain_id:
        raise Invalid("an account is needed")
    return principal.domain_id


def image_visibility(principal: Principal) -> ImageVisibility:
    """The images the caller may see: all of the account's for a domain administrator, otherwise
    those of the repositories the caller may pull (``ImageVisibility``), as the registry decides."""
    domain_id = account_of(principal)
    if principal.is_admin:
        return ImageVisibility(domain_id)
    return ImageVisibility(domain_id, principal.user_id or "")


class ImageService:
    """Listing images and synchronising moorage's own."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self, principal: Principal, flt: ImageFilter, *, sort_key: str | None, descending: bool, offset: int, limit: int
    ) -> tuple[list[ImageRow], int]:
        """One page of the account's images (see ``security_images.page``)."""
        if sort_key is not None and sort_key not in q.SORT_COLUMNS:
            raise Invalid(f"sort_key must be one of {', '.join(q.SORT_COLUMNS)}")
        seen = image_visibility(principal)
        return await self.db.read(
            lambda conn: q.page(conn, seen, flt, sort_key=sort_key, descending=descending, offset=offset, limit=limit),
            heavy=True,
        )

    async def synchronize_swr(self, principal: Principal, image_type: str) -> SyncOutcome:
        """Record the account's current SWR images of one type (private, shared or instance)."""
        if image_type not in SWR_IMAGE_TYPES:
            raise Invalid(f"image_type must be one of {', '.join(SWR_IMAGE_TYPES)}")
        domain_id = account_of(principal)
        return await anyio.to_thread.run_sync(lambda: sync_swr(self.db, domain_id=domain_id, image_type=image_type))
