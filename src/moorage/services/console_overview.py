"""The console's overview: the account's totals and storage quota (as ``ShowDomainOverview`` and
``ListQuotas`` give them) and an image-security summary (images by risk level and by scan status,
the newest scanned images), each read through the service the API uses, with the caller's
permissions. Counting pages of one row each keeps every read an indexed count."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.identity import Principal
from moorage.domain.management import UsageTotals
from moorage.domain.security import ImageFilter, ImageRow, ScanStatus, SeverityLevel
from moorage.services.account import AccountService
from moorage.services.security.images import ImageService

PRIVATE_IMAGES = ("private_image",)
NEWEST_SHOWN = 5


@dataclass(frozen=True, slots=True)
class OverviewSummary:
    """What the overview page shows."""

    totals: UsageTotals | None
    """None for a user who may not read the account's totals."""
    storage_limit: int
    """The account's storage quota in bytes (0: none)."""
    by_level: tuple[tuple[str, int], ...]
    """Scanned images by risk level, most severe first."""
    by_status: tuple[tuple[str, int], ...]
    newest: tuple[ImageRow, ...]
    """The most recently scanned images."""


class ConsoleOverview:
    """See the module docstring."""

    def __init__(self, *, account: AccountService, images: ImageService) -> None:
        self.account = account
        self.images = images

    async def summary(self, principal: Principal, *, instance_id: str) -> OverviewSummary:
        """The overview for ``principal`` (images: those they may pull; totals: their account)."""
        totals = None
        limit = 0
        if principal.domain_id:
            totals = await self.account.current_totals(principal, instance_id=instance_id)
            for quota in await self.account.quotas(principal, instance_id=instance_id):
                if quota.key == "storage":
                    limit = quota.limit
        by_level = []
        for level in (SeverityLevel.HIGH, SeverityLevel.MEDIUM, SeverityLevel.LOW, SeverityLevel.SECURITY):
            flt = ImageFilter(image_types=PRIVATE_IMAGES, severity_level=level.value, scan_status=ScanStatus.SUCCESS)
            _, count = await self.images.page(principal, flt, sort_key=None, descending=True, offset=0, limit=1)
            by_level.append((level.value, count))
        by_status = []
        for status in ScanStatus:
            flt = ImageFilter(image_types=PRIVATE_IMAGES, scan_status=status.value)
            _, count = await self.images.page(principal, flt, sort_key=None, descending=True, offset=0, limit=1)
            by_status.append((status.value, count))
        newest, _ = await self.images.page(
            principal,
            ImageFilter(image_types=PRIVATE_IMAGES, scan_status=ScanStatus.SUCCESS),
            sort_key="latest_scan_time",
            descending=True,
            offset=0,
            limit=NEWEST_SHOWN,
        )
        return OverviewSummary(totals, limit, tuple(by_level), tuple(by_status), tuple(newest))
