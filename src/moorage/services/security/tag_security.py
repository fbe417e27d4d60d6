"""A tag's image security as the console shows it: the image row of the tag, its vulnerabilities
(filtered, sorted and one page of them), the counts by severity of those not handled, and the
malicious files and sensitive information found. Every list comes from ``ImageDetailService``, the
service the HSS API's image operations use, with the caller's visibility; handling (ignore,
whitelist in this image) goes through ``VulnerabilityHandling`` as ``HandleImageVulnerability``
does, a whitelist of every image through ``WhitelistService`` as ``AddVulnerabilityWhiteList``; the
whitelists covering a whitelisted finding of the page are listed so the console can offer to remove
one (``DeleteImageWhiteLists``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from moorage.domain.errors import Invalid
from moorage.domain.identity import Principal
from moorage.domain.security import ImageFilter, ImageRow
from moorage.domain.security_findings import VULNERABILITY_SORTS, ImageVulnerabilityQuery
from moorage.domain.security_handling import HandleRequest, Whitelist, WhitelistScope
from moorage.domain.security_images import ImageRef, ImageScope, ImageSelector
from moorage.services.security.baseline_details import BaselineService, BuildRisk, RiskConfig
from moorage.services.security.image_details import ImageDetailService, ImageMalware, ImageVulnerability, SensitiveItem
from moorage.services.security.images import ImageService
from moorage.services.security.sbom_export import SbomDocument, SbomExport
from moorage.services.security.tasks import TaskService
from moorage.services.security.vulnerability_handling import VulnerabilityHandling
from moorage.services.security.whitelists import WhitelistService

SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown")
SORTS = VULNERABILITY_SORTS
ROW_LOOKUP = 50


@dataclass(frozen=True, slots=True)
class VulnerabilityQuery:
    """The console's filters of one image's vulnerabilities."""

    severity: str | None = None
    fixable: bool | None = None
    package: str | None = None
    handled: bool | None = None
    sort: str = "severity"


@dataclass(frozen=True, slots=True)
class TagSecurityView:
    """What the tag's security page shows."""

    row: ImageRow | None
    """The tag's image row (None: the image security lists do not know the tag yet)."""
    unhandled_by_severity: tuple[tuple[str, int], ...]
    handled: int
    findings: tuple[ImageVulnerability, ...]
    """One page of the filtered, sorted vulnerabilities."""
    matching: int
    """How many match the filters."""
    malware: tuple[ImageMalware, ...]
    sensitive: tuple[SensitiveItem, ...]
    unsafe_settings: tuple[RiskConfig, ...]
    """Baselines with failed rules (``ListImageRiskConfigs``)."""
    build_risks: tuple[BuildRisk, ...]
    """Build-command rules the image breaks (``ListImageBuildCommandRisks`` for this image)."""
    whitelists: Mapping[str, tuple[Whitelist, ...]] = field(default_factory=dict)
    """For the page's whitelisted findings, the whitelists (of their id) covering them here."""


class TagSecurity:
    """See the module docstring."""

    def __init__(
        self,
        *,
        images: ImageService,
        details: ImageDetailService,
        baseline: BaselineService,
        handling: VulnerabilityHandling,
        whitelists: WhitelistService,
        sbom: SbomExport,
        tasks: TaskService,
    ) -> None:
        self.images = images
        self.details = details
        self.baseline = baseline
        self.handling = handling
        self.whitelists = whitelists
        self.sbom = sbom
        self.tasks = tasks

    async def row_of(self, principal: Principal, *, namespace: str, repository: str, tag: str) -> ImageRow | None:
        """The image row of a tag of the shared edition's registry, among those the caller sees."""
        rows, _ = await self.images.page(
            principal,
            ImageFilter(image_types=("private_image",), namespace=namespace, image_name=repository, image_version=tag),
            sort_key=None,
            descending=True,
            offset=0,
            limit=ROW_LOOKUP,
        )
        for row in rows:
            if (row.namespace, row.image_name, row.image_version) == (namespace, repository, tag):
                return row
        return None

    async def view(
        self,
        principal: Principal,
        *,
        namespace: str,
        repository: str,
        tag: str,
        query: VulnerabilityQuery,
        offset: int,
        limit: int,
    ) -> TagSecurityView:
        """The tag's security page (see ``TagSecurityView``)."""
        if query.severity is not None and query.severity not in SEVERITIES:
            raise Invalid(f"severity must be one of {', '.join(SEVERITIES)}")
        if query.sort not in SORTS:
            raise Invalid(f"sort must be one of {', '.join(SORTS)}")
        row = await self.row_of(principal, namespace=namespace, repository=repository, tag=tag)
        if row is None:
            return TagSecurityView(None, (), 0, (), 0, (), (), (), ())
        ref = ImageRef(str(row.id))
        found = await self.details.vulnerability_page(
            principal,
            ref,
            ImageVulnerabilityQuery(
                severity=query.severity,
                fixable=query.fixable,
                package=query.package,
                handled=query.handled,
                sort=query.sort,
            ),
            offset=offset,
            limit=limit,
            with_counts=True,
        )
        counts = {s: 0 for s in SEVERITIES}
        handled = 0
        for (severity, is_handled), n in found.counts.items():
            if is_handled:
                handled += n
            else:
                counts[severity if severity in counts else "unknown"] += n
        malware = await self.details.malware(principal, ref, file_name=None)
        sensitive = await self.details.sensitive(principal, ref, file_path=None, severity=None, handle_status=None)
        settings = await self.baseline.risk_configs(principal, ref, check_name=None, severity=None)
        build = await self.baseline.build_risks(
            principal,
            ImageScope(image_id=str(row.id), namespace=namespace, image_name=repository, image_version=tag),
            risk_name=None,
            level=None,
        )
        whitelisted = {v.vul_id for v in found.items if v.whitelisted}
        return TagSecurityView(
            row,
            tuple(counts.items()),
            handled,
            found.items,
            found.matching,
            tuple(malware),
            tuple(sensitive),
            tuple(c for c in settings if c.failed_rule_num),
            tuple(build),
            await self.whitelists.covering(principal, row, whitelisted) if whitelisted else {},
        )

    async def rescan(self, principal: Principal, *, image_row_id: int) -> str:
        """Scan the image again now (a manual scan task of one image, as ``CreateManualImageScanTask``);
        the task's id."""
        task = await self.tasks.create_scan_task(principal, selectors=(ImageSelector(row_id=image_row_id),))
        return task.id

    async def set_ignored(
        self, principal: Principal, *, image_row_id: int, vul_id: str, ignored: bool, remark: str
    ) -> int:
        """Ignore one vulnerability of one image (or stop ignoring it), as ``HandleImageVulnerability``
        with ``image_view`` does; how many findings it touched."""
        request = HandleRequest(
            operate_type="ignore" if ignored else "not_ignore",
            select_type="image_view",
            image_view=((str(image_row_id), (vul_id,)),),
            remark=remark,
        )
        return await self.handling.handle(principal, request)

    async def whitelist(
        self, principal: Principal, *, image_row_id: int, vul_id: str, everywhere: bool, remark: str
    ) -> None:
        """Whitelist one vulnerability: in this image (``HandleImageVulnerability`` with
        ``add_to_whitelist``, a whitelist of the chosen image) or in every image of the account
        (``AddVulnerabilityWhiteList`` with ``all_images``)."""
        if everywhere:
            await self.whitelists.add(
                principal,
                vul_type="",
                vul_ids=(vul_id,),
                scope=WhitelistScope(rule_type="all_images", image_types=(), row_ids=()),
                description=remark,
            )
            return
        request = HandleRequest(
            operate_type="add_to_whitelist",
            select_type="image_view",
            image_view=((str(image_row_id), (vul_id,)),),
            remark=remark,
        )
        await self.handling.handle(principal, request)

    async def sbom_document(
        self, principal: Principal, *, namespace: str, repository: str, tag: str, format_name: str
    ) -> SbomDocument:
        """The tag's SBOM from its image's last scan (as ``ExportImageSbom`` gives it); ``Invalid``
        when the image was not scanned yet."""
        row = await self.row_of(principal, namespace=namespace, repository=repository, tag=tag)
        if row is None:
            raise Invalid("the image has not been scanned yet")
        return await self.sbom.document(principal, ImageRef(str(row.id)), format_name=format_name)
