"""HSS CI/CD configurations: the gate a pipeline's scan must pass, the images pipelines uploaded,
and the rule that decides a gate (pure: the service feeds it a stored result's findings).

A configuration's gate is the SDK's three lists (``vulnerability_whitelist``: ids never counted;
``vulnerability_blocklist``: ids that fail the build whatever their severity; ``image_whitelist``:
images that always pass) plus moorage's own fields, which the SDK model does not carry
(``block_severities``: the severities that fail the build; ``block_on_secrets``,
``block_on_malicious_files``). docs/image-security.md describes the whole flow.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from moorage.domain.severity import Severity

CICD_IMAGE_PREFIX = "cicd-"
"""The image id of an uploaded result in the image lists and detail operations (``cicd-<n>``):
never all digits, a digest or a hex image id, so it cannot name a registry image."""

UPLOAD_SCHEMA = "moorage-cicd-upload/1"
"""The document ``moorage scan --report-to`` uploads: ``{schema, image: {namespace, name, version,
digest, size}, pipeline_type, report}`` (``report``: the ``moorage scan --format json`` report)."""
DEFAULT_BLOCK_SEVERITIES = (Severity.CRITICAL, Severity.HIGH)
MAX_LIST_ENTRIES = 1000
"""The SDK's bound on each list of a configuration."""
MAX_ENTRY_CHARS = 256
PIPELINE_TYPES = ("jenkins", "codearts", "gitlab", "github", "other")


@dataclass(frozen=True, slots=True)
class CicdGate:
    """What fails a pipeline's build."""

    vulnerability_whitelist: tuple[str, ...] = ()
    """Vulnerability ids (or aliases) never counted."""
    vulnerability_blocklist: tuple[str, ...] = ()
    """Vulnerability ids (or aliases) that fail the build at any severity."""
    image_whitelist: tuple[str, ...] = ()
    """Images that always pass: ``name``, ``name:tag`` or a glob of either (``team/*``)."""
    block_severities: tuple[Severity, ...] = DEFAULT_BLOCK_SEVERITIES
    """A vulnerability of one of these severities fails the build."""
    block_on_secrets: bool = True
    """Sensitive information (keys, tokens) fails the build."""
    block_on_malicious_files: bool = True
    """A malicious file fails the build."""


@dataclass(frozen=True, slots=True)
class CicdConfiguration:
    """One CI/CD configuration of an account."""

    id: str
    domain_id: str
    name: str
    gate: CicdGate
    images_num: int
    """Images uploaded under it."""
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class CicdImage:
    """One image a pipeline scanned and uploaded (``CICDImageResponseInfo``)."""

    id: int
    domain_id: str
    cicd_id: str
    cicd_name: str
    namespace: str
    image_name: str
    image_version: str
    manifest_digest: str
    """The image's real manifest digest (as the pipeline reported it)."""
    result_key: str
    """Where its result is stored: :func:`result_key`, never a registry digest's row."""
    pipeline_type: str
    image_size: int
    latest_version: bool
    scan_status: str
    latest_scan_time: int
    vul_num: int
    unsafe_setting_num: int
    malicious_file_num: int
    severity_level: str
    gate_passed: bool
    gate_reasons: tuple[str, ...]
    advisory_db: str
    uploaded_at: int

    @property
    def image_id(self) -> str:
        """Its id in the HSS lists and detail operations."""
        return f"{CICD_IMAGE_PREFIX}{self.id}"


@dataclass(frozen=True, slots=True)
class CicdCounts:
    """An account's uploaded images, counted the way HSS's statistics count registry images."""

    total: int
    scanned: int
    risky: int
    high_risk: int
    unscanned: int


@dataclass(frozen=True, slots=True)
class CicdImageFilter:
    """The filters of ``ListCicdImages``."""

    namespace: str | None = None
    image_name: str | None = None
    image_version: str | None = None
    image_id: int | None = None
    cicd_name: str | None = None
    latest_version: bool | None = None
    scan_status: str | None = None
    severity_level: str | None = None
    has_vul: bool | None = None
    has_malicious_file: bool | None = None
    has_unsafe_setting: bool | None = None
    risky: bool | None = None
    pipeline_type: str | None = None
    start_scan_time: int | None = None
    end_scan_time: int | None = None
    start_update_time: int | None = None
    end_update_time: int | None = None


@dataclass(frozen=True, slots=True)
class UploadGrant:
    """What a pipeline's upload credential allows: results for one configuration, until it expires."""

    domain_id: str
    project_id: str
    cicd_id: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """The gate's decision on one uploaded image."""

    passed: bool
    reasons: tuple[str, ...]
    """Why it failed (empty when it passed): one line per cause, at most a few dozen."""


def result_key(domain_id: str, cicd_id: str, manifest_digest: str) -> str:
    """The key an uploaded result is stored under: a SHA-256 of the account, configuration and
    digest. It has a digest's shape (every result query takes it) but is no registry manifest's
    digest (that would need a SHA-256 preimage), so an upload can neither replace nor be read as
    the result of a registry scan, of this account or of another."""
    text = f"moorage-cicd-result\0{domain_id}\0{cicd_id}\0{manifest_digest}"
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def image_whitelisted(patterns: Sequence[str], *, name: str, version: str) -> bool:
    """Whether ``name:version`` matches an image whitelist entry (``name``, ``name:tag``, globs)."""
    full = f"{name}:{version}"
    for pattern in patterns:
        target = full if ":" in pattern else name
        if fnmatch.fnmatchcase(target, pattern):
            return True
    return False


MAX_REASONS = 50


def evaluate_gate(
    gate: CicdGate,
    *,
    image_name: str,
    image_version: str,
    vulnerabilities: Sequence[tuple[str, str, tuple[str, ...]]],
    secrets: int,
    malicious_files: int,
) -> GateVerdict:
    """Decide the gate for one image's findings: ``vulnerabilities`` are (id, severity, aliases)."""
    if image_whitelisted(gate.image_whitelist, name=image_name, version=image_version):
        return GateVerdict(True, ())
    allowed = frozenset(gate.vulnerability_whitelist)
    blocked = frozenset(gate.vulnerability_blocklist)
    severities = frozenset(s.value for s in gate.block_severities)
    reasons: list[str] = []
    for vul_id, severity, aliases in vulnerabilities:
        names = {vul_id, *aliases}
        if names & allowed:
            continue
        if names & blocked:
            reasons.append(f"{vul_id} is on the configuration's vulnerability blocklist")
        elif severity in severities:
            reasons.append(f"{vul_id} ({severity})")
    if gate.block_on_secrets and secrets:
        reasons.append(f"{secrets} sensitive-information finding(s)")
    if gate.block_on_malicious_files and malicious_files:
        reasons.append(f"{malicious_files} malicious file(s)")
    if len(reasons) > MAX_REASONS:
        reasons = [*reasons[:MAX_REASONS], f"... and {len(reasons) - MAX_REASONS} more"]
    return GateVerdict(not reasons, tuple(reasons))
