"""The image-security services the API uses, built together from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.auth.keys import MasterKey
from moorage.auth.tokens import CicdUploadSigner
from moorage.domain.jobs import JobSubmitter
from moorage.metadata.database import Database
from moorage.services.security.account_settings import AccountSettings
from moorage.services.security.advisory_lookup import AdvisoryLookup
from moorage.services.security.advisory_updates import AdvisoryDatabaseStatus, UpdatePolicy
from moorage.services.security.baseline_details import BaselineService
from moorage.services.security.cicd import CicdService
from moorage.services.security.cicd_uploads import CicdUploads
from moorage.services.security.detail_reader import DetailReader
from moorage.services.security.image_details import ImageDetailService
from moorage.services.security.images import ImageService
from moorage.services.security.layer_cache import layer_cache_of
from moorage.services.security.policies import PolicyService
from moorage.services.security.pull_gate import PullGate
from moorage.services.security.push_listener import ScanOnPush
from moorage.services.security.registries import RegistryService
from moorage.services.security.remote_access import remote_access_of
from moorage.services.security.reports import ReportService
from moorage.services.security.sbom_export import SbomExport
from moorage.services.security.tag_security import TagSecurity
from moorage.services.security.tasks import TaskService
from moorage.services.security.vulnerability_handling import VulnerabilityHandling
from moorage.services.security.vulnerability_views import VulnerabilityViews
from moorage.services.security.whitelists import WhitelistService
from moorage.settings import Settings


@dataclass(frozen=True)
class SecurityServices:
    """Image lists, registries, tasks, policies, the pull gate, the scan-on-push listener, the
    detail queries, the advisory database's status and CI/CD configurations and uploads."""

    images: ImageService
    registries: RegistryService
    tasks: TaskService
    policies: PolicyService
    pull_gate: PullGate
    scan_on_push: ScanOnPush
    details: ImageDetailService
    baseline: BaselineService
    vulnerabilities: VulnerabilityViews
    handling: VulnerabilityHandling
    whitelists: WhitelistService
    settings: AccountSettings
    reports: ReportService
    advisory_database: AdvisoryDatabaseStatus
    cicd: CicdService
    cicd_uploads: CicdUploads
    sbom: SbomExport
    tag_security: TagSecurity


def build_security_services(
    settings: Settings, db: Database, master_key: MasterKey, jobs: JobSubmitter
) -> SecurityServices:
    """Construct them (no I/O)."""
    policies = PolicyService(
        db,
        scan_on_push_default=settings.scanner.scan_on_push,
        cache_seconds=settings.scanner.pull_policy_cache_seconds,
    )
    reader = reader_of(settings, db)
    details = ImageDetailService(db, reader)
    baseline = BaselineService(db, reader)
    views = VulnerabilityViews(db, reader, AdvisoryLookup(settings.vulndb_path))
    cicd_signer = CicdUploadSigner(master_key)
    images = ImageService(db)
    handling = VulnerabilityHandling(db, reader, views)
    whitelists = WhitelistService(views)
    sbom = SbomExport(db, reader)
    tasks = TaskService(db, jobs)
    return SecurityServices(
        images=images,
        registries=RegistryService(db, master_key, remote_access_of(settings)),
        tasks=tasks,
        policies=policies,
        pull_gate=PullGate(db, cache_seconds=settings.scanner.pull_policy_cache_seconds),
        scan_on_push=ScanOnPush(db, jobs, policies, settings.vulndb_path),
        details=details,
        baseline=baseline,
        vulnerabilities=views,
        handling=handling,
        whitelists=whitelists,
        settings=AccountSettings(db, reader),
        reports=ReportService(db, details, baseline),
        advisory_database=AdvisoryDatabaseStatus(db, settings.vulndb_path, UpdatePolicy.of(settings)),
        cicd=CicdService(db, settings, cicd_signer),
        cicd_uploads=CicdUploads(db, settings, cicd_signer),
        sbom=sbom,
        tag_security=TagSecurity(
            images=images,
            details=details,
            baseline=baseline,
            handling=handling,
            whitelists=whitelists,
            sbom=sbom,
            tasks=tasks,
        ),
    )


def reader_of(settings: Settings, db: Database) -> DetailReader:
    """The detail queries' reader of reports, file lists and password policies."""
    return DetailReader(db, layer_cache_of(settings, db))
