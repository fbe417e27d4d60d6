"""Image security value types: connected registries, HSS image rows, scan summaries, tasks and
policies, with the wire vocabularies (registry and image types, scan statuses, failure codes,
image risk levels) declared once. Finding severities are :mod:`moorage.domain.severity`'s."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from moorage.domain.severity import Severity, severity_rank


class RegistryType(StrEnum):
    """Where images come from: moorage itself (three SWR kinds) or an external registry."""

    SWR_PRIVATE = "SwrPrivate"
    SWR_SHARED = "SwrShared"
    SWR_ENTERPRISE = "SwrEnterprise"
    HARBOR = "Harbor"
    JFROG = "Jfrog"
    OTHER = "Other"

    @property
    def is_builtin(self) -> bool:
        """Whether moorage's own repositories back it (it cannot be added, changed or deleted)."""
        return self in (RegistryType.SWR_PRIVATE, RegistryType.SWR_SHARED, RegistryType.SWR_ENTERPRISE)

    @property
    def image_type(self) -> str:
        """The ``image_type`` of the images it holds."""
        return _IMAGE_TYPE_OF[self]


EXTERNAL_TYPES = (RegistryType.HARBOR, RegistryType.JFROG, RegistryType.OTHER)

PRIVATE_IMAGE = "private_image"
SHARED_IMAGE = "shared_image"
INSTANCE_IMAGE = "instance_image"
LOCAL_IMAGE = "local_image"
SWR_IMAGE_TYPES = (PRIVATE_IMAGE, SHARED_IMAGE, INSTANCE_IMAGE)
_IMAGE_TYPE_OF = {
    RegistryType.SWR_PRIVATE: PRIVATE_IMAGE,
    RegistryType.SWR_SHARED: SHARED_IMAGE,
    RegistryType.SWR_ENTERPRISE: INSTANCE_IMAGE,
    RegistryType.HARBOR: "harbor",
    RegistryType.JFROG: "jfrog",
    RegistryType.OTHER: "other",
}
IMAGE_TYPES = tuple(_IMAGE_TYPE_OF.values())
"""Every ``image_type`` an image row may have (``other``: an OCI registry of type Other)."""
BUILTIN_FOR_IMAGE_TYPE = {
    PRIVATE_IMAGE: RegistryType.SWR_PRIVATE,
    SHARED_IMAGE: RegistryType.SWR_SHARED,
    INSTANCE_IMAGE: RegistryType.SWR_ENTERPRISE,
}


class ScanStatus(StrEnum):
    """An image row's scan status (failures all read ``failed``, with a code saying why)."""

    UNSCAN = "unscan"
    WAITING = "waiting_for_scan"
    SCANNING = "scanning"
    SUCCESS = "success"
    FAILED = "failed"


class ScanResultStatus(StrEnum):
    """A manifest digest's stored scan result (what image rows' ``ScanStatus`` is derived from)."""

    NEW = "new"
    """Asked for; no job has claimed it yet."""
    SCANNING = "scanning"
    """Claimed by a job, which holds it while its lease lives."""
    SUCCESS = "success"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        """Whether a scan ran to an end (successful or not)."""
        return self in (ScanResultStatus.SUCCESS, ScanResultStatus.FAILED)


class TaskStatus(StrEnum):
    """A scan or sync task's status."""

    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def ended(self) -> bool:
        """Whether the task will not run again."""
        return self in ENDED_TASK_STATUSES


ENDED_TASK_STATUSES = (TaskStatus.FINISHED, TaskStatus.STOPPED, TaskStatus.FAILED)
"""The statuses of tasks that will not run again."""


class TaskItemStatus(StrEnum):
    """The status of one item (an image or a registry) of a task."""

    WAITING = "waiting"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def done(self) -> bool:
        """Whether the item will not be worked on again."""
        return self not in OPEN_ITEM_STATUSES


OPEN_ITEM_STATUSES = (TaskItemStatus.WAITING, TaskItemStatus.RUNNING)
"""The statuses of items still to be worked on (stopped when their task ends)."""


class RegistryStatus(StrEnum):
    """A connected registry's status: its last synchronisation, or a first one under way."""

    SUCCESS = "success"
    FAIL = "fail"
    ACCESSING = "accessing"


FAILURE_DESCRIPTIONS: dict[str, str] = {
    "unknown_error": "Unknown error.",
    "authentication_failed": "Authentication failed.",
    "download_failed": "The image download failed.",
    "image_over_sized": "The image is too large and cannot be scanned. Reduce the image size.",
    "get_detail_info_not_found": "The image is not found in the repository. Synchronize the latest images.",
    "image_layer_over_sized": "The image has too many layers and cannot be scanned.",
    "schema_v1_not_support": "Schema V1 images cannot be scanned. Upgrade to V2.",
    "access_swr_failed": "Failed to access SWR.",
    "swr_authentication_error": "The SWR authorization is missing.",
    "failed_to_scan_vulnerability": "The vulnerability scan failed.",
    "failed_to_scan_file": "The file scan failed.",
    "failed_to_scan_software": "The software scan failed.",
    "failed_to_check_sensitive_information": "Failed to check sensitive information.",
    "failed_to_check_baseline": "Baseline check failed.",
    "failed_to_check_software_compliance": "The software compliance check failed.",
    "failed_to_query_basic_image_information": "Failed to query the basic image information.",
    "failed_to_check_build_cmd": "Failed to scan the image building instructions.",
    "response_timed_out": "The response timed out.",
    "database_error": "Database error.",
    "failed_to_send_the_scan_request": "Failed to send the scan request.",
}
"""The documented ``scan_failed_code`` values (ListRegistryImages) and their descriptions."""

VULNERABILITIES_SKIPPED = "failed_to_scan_vulnerability"
"""The failure code a *successful* scan carries when its vulnerability part did not run (no advisory
database yet): the image's other checks are there, its vulnerabilities are not known, not zero."""
VULNERABILITIES_SKIPPED_DESCRIPTION = (
    "Vulnerability scan skipped: no advisory database yet. The image is re-matched when one is installed."
)


def failure_description(scan_status: str, code: str) -> str:
    """``scan_failed_desc`` of a row: the code's documented description, or for a successful scan
    with a code (a part that did not run) what was left out."""
    if not code:
        return ""
    if scan_status == ScanStatus.SUCCESS and code == VULNERABILITIES_SKIPPED:
        return VULNERABILITIES_SKIPPED_DESCRIPTION
    return FAILURE_DESCRIPTIONS.get(code, "")


class SeverityLevel(StrEnum):
    """An image's risk level once scanned."""

    SECURITY = "Security"
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


def level_for(severities: list[str]) -> SeverityLevel:
    """The image level of a set of finding severities: High for high or critical, Medium, Low for
    anything else found, Security for nothing found."""
    if not severities:
        return SeverityLevel.SECURITY
    top = max(severity_rank(s) for s in severities)
    if top >= Severity.HIGH.rank:
        return SeverityLevel.HIGH
    if top == Severity.MEDIUM.rank:
        return SeverityLevel.MEDIUM
    return SeverityLevel.LOW


# HSS scan scope bits: which checks a scan runs.
SCOPE_ALL = 0x7FFFFFFF
SCOPE_VULNERABILITY = 0x000F0000
SCOPE_BASELINE = 0x0000F000
SCOPE_MALWARE = 0x00000F00
SCOPE_SENSITIVE = 0x000000F0
SCOPE_COMPLIANCE = 0x0000000F


def scanners_for_scope(scope: int) -> tuple[str, ...]:
    """The scanner names a scope bit mask asks for (0 or the whole mask: all of them)."""
    if scope in (0, SCOPE_ALL):
        return ("vuln", "secret", "malware", "config")
    chosen = []
    for bits, name in (
        (SCOPE_VULNERABILITY, "vuln"),
        (SCOPE_SENSITIVE, "secret"),
        (SCOPE_MALWARE, "malware"),
        (SCOPE_BASELINE, "config"),
    ):
        if scope & bits:
            chosen.append(name)
    return tuple(chosen) or ("vuln", "secret", "malware", "config")


@dataclass(frozen=True, slots=True)
class ConnectedRegistry:
    """A registry images are listed from (its password stays encrypted in the database)."""

    id: str
    domain_id: str
    name: str
    type: RegistryType
    api_version: str
    protocol: str
    address: str
    username: str
    organization_filter: tuple[str, ...]
    connect_cluster_id: str
    scan_image_channel: str
    status: RegistryStatus
    fail_reason: str
    images_num: int
    latest_sync_time: int
    created_at: int


@dataclass(frozen=True, slots=True)
class ImageRow:
    """One image tag of one registry (or one platform image of a multi-architecture tag)."""

    id: int
    domain_id: str
    registry_id: str
    registry_name: str
    registry_type: str
    parent_id: int | None
    image_type: str
    namespace: str
    image_name: str
    image_version: str
    image_digest: str
    image_id: str
    media_type: str
    platform: str
    image_size: int
    is_multiple_arch: bool
    latest_version: bool
    latest_update_time: int
    latest_sync_time: int
    scan_status: ScanStatus
    scan_failed_code: str
    latest_scan_time: int
    vul_num: int
    unsafe_setting_num: int
    malicious_file_num: int
    severity_level: str
    domain_name: str
    shared_status: str
    instance_id: str
    instance_name: str
    instance_url: str
    repository_id: int | None
    children: tuple[ImageRow, ...] = field(default=(), compare=False)
    """Platform images of a multi-architecture image (filled by the list queries)."""

    @property
    def repository_path(self) -> str:
        """The repository's path in its registry: ``namespace/name`` (or the name alone)."""
        return f"{self.namespace}/{self.image_name}" if self.namespace else self.image_name

    @property
    def label(self) -> str:
        """``namespace/name:tag`` for messages and task items."""
        return f"{self.repository_path}:{self.image_version}"


@dataclass(frozen=True, slots=True)
class ImageVisibility:
    """The image rows a caller may see. Every row of the account ``domain_id`` for a domain
    administrator (``reader`` None); for another user (``reader``: their user id) the images of
    moorage's own repositories that user may pull (a read grant on the organization or the
    repository, or a public one), the images other accounts share with the account, and the images
    of connected external registries (moorage holds no permissions on those: they are the
    account's, as the registries are)."""

    domain_id: str
    reader: str | None = None

    @property
    def everything(self) -> bool:
        """Whether every row of the account is visible."""
        return self.reader is None


@dataclass(frozen=True, slots=True)
class ImageFilter:
    """The filters of the two image lists (None: not filtered)."""

    image_types: tuple[str, ...] = ()
    namespace: str | None = None
    image_name: str | None = None
    image_version: str | None = None
    registry_name: str | None = None
    registry_types: tuple[str, ...] = ()
    scan_status: str | None = None
    latest_version: bool | None = None
    image_size: int | None = None
    start_latest_update_time: int | None = None
    end_latest_update_time: int | None = None
    start_latest_scan_time: int | None = None
    end_latest_scan_time: int | None = None
    start_latest_sync_time: int | None = None
    end_latest_sync_time: int | None = None
    has_malicious_file: bool | None = None
    has_unsafe_setting: bool | None = None
    has_vul: bool | None = None
    risky: bool | None = None
    instance_id: str | None = None
    instance_name: str | None = None
    is_multarch: bool | None = None
    severity_level: str | None = None
    image_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ScanSummary:
    """What lists and policies need of a scan result: counts, level and the findings' ids."""

    vulnerabilities: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    """(main id, severity, aliases) of each distinct vulnerability, most severe first."""
    malicious_files: tuple[tuple[str, str], ...] = ()
    """(rule, path) of each malicious file."""
    unsafe_settings: tuple[tuple[str, str], ...] = ()
    """(rule, severity) of each unsafe setting (baseline and build-history findings)."""
    sensitive: int = 0
    """Sensitive-information findings."""

    def level(self, ignored: frozenset[str] = frozenset()) -> SeverityLevel:
        """The image's risk level, not counting the vulnerabilities in ``ignored``."""
        severities = [s for vid, s, aliases in self.vulnerabilities if not _is_ignored(vid, aliases, ignored)]
        severities += ["high"] * len(self.malicious_files)
        severities += [s for _rule, s in self.unsafe_settings]
        return level_for(severities)

    def vul_count(self, ignored: frozenset[str] = frozenset()) -> int:
        """Distinct vulnerabilities, not counting those in ``ignored``."""
        return sum(1 for vid, _s, aliases in self.vulnerabilities if not _is_ignored(vid, aliases, ignored))


def _is_ignored(vul_id: str, aliases: tuple[str, ...], ignored: frozenset[str]) -> bool:
    return bool(ignored) and (vul_id in ignored or any(a in ignored for a in aliases))


@dataclass(frozen=True, slots=True)
class ScanResultRecord:
    """A stored scan result of one manifest digest."""

    manifest_digest: str
    status: ScanResultStatus
    failed_code: str
    failed_message: str
    holder_job_id: str
    summary: ScanSummary
    severity_level: str
    advisory_db: str
    version: int
    started_at: int
    scanned_at: int


@dataclass(frozen=True, slots=True)
class SecurityTask:
    """A scan or sync task, as the task list shows it."""

    id: str
    domain_id: str
    type: str
    task_type: str
    name: str
    job_id: str
    policy_id: str
    scan_scope: int
    rate_limit: int
    is_all: bool
    status: TaskStatus
    total: int
    succeeded: int
    failed: int
    risky: int
    failed_reason: str
    created_at: int
    begin_time: int
    end_time: int


@dataclass(frozen=True, slots=True)
class TaskItem:
    """One image (scan task) or registry (sync task) of a task."""

    task_id: str
    position: int
    image_row_id: int | None
    registry_id: str
    manifest_digest: str
    label: str
    status: TaskItemStatus
    failed_reason: str


@dataclass(frozen=True, slots=True)
class ScanPolicy:
    """An account's scheduled-scan policy."""

    domain_id: str
    enabled: bool
    scan_cycle: int
    scan_scope: int
    rate_limit: int
    time_scope: int
    registry_ids: tuple[str, ...]
    last_run_at: int


@dataclass(frozen=True, slots=True)
class NamespacePolicy:
    """An organization's scan-on-push and pull policies."""

    namespace_id: int
    scan_on_push: bool | None
    block_severity: str
    block_unscanned: bool
    allowlist: tuple[str, ...]
    version: int
    allowlist_expires_at: int = 0
    """Epoch seconds after which the allowlist no longer exempts anything (0: never)."""

    def allowlist_active(self, now: float) -> bool:
        """Whether the allowlist exempts its ids at ``now`` (epoch seconds)."""
        return not self.allowlist_expires_at or now < self.allowlist_expires_at
