"""Enterprise Edition value types: instances and their host names, namespace options, artifacts,
artifact scan states, signing keys, signature policies (and the changes a request makes to one) and
their executions, tasks and subtasks, and the listings' pages. Pure data, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from moorage.domain.security import ScanResultRecord

T = TypeVar("T")


class RunStatus(StrEnum):
    """Where an execution, a task or a subtask is, in the words the SWR API uses."""

    INITIALIZED = "Initialized"
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCEED = "Succeed"
    FAILED = "Failed"
    STOPPED = "Stopped"

    @property
    def finished(self) -> bool:
        """True once nothing more will happen to it."""
        return self in (RunStatus.SUCCEED, RunStatus.FAILED, RunStatus.STOPPED)


UNFINISHED = (RunStatus.INITIALIZED, RunStatus.PENDING, RunStatus.IN_PROGRESS)
"""The statuses of what has not finished yet."""


def summarize(counts: dict[str, int]) -> tuple[RunStatus, str]:
    """The status (and its explanation) of something made of parts with these status counts (an
    execution's tasks, a task's subtasks): InProgress while any runs or some wait, Pending while all
    wait, else Failed if any failed, else Stopped if any stopped, else Succeed (also with no parts)."""
    total = sum(counts.values())
    running = counts.get(RunStatus.IN_PROGRESS.value, 0)
    waiting = counts.get(RunStatus.PENDING.value, 0) + counts.get(RunStatus.INITIALIZED.value, 0)
    failed = counts.get(RunStatus.FAILED.value, 0)
    stopped = counts.get(RunStatus.STOPPED.value, 0)
    if running or (waiting and waiting < total):
        return RunStatus.IN_PROGRESS, ""
    if waiting:
        return RunStatus.PENDING, ""
    if failed:
        return RunStatus.FAILED, f"{failed} of {total} failed"
    if stopped:
        return RunStatus.STOPPED, f"{stopped} of {total} stopped"
    return RunStatus.SUCCEED, ""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing and the number of items in the whole listing."""

    items: list[T]
    total: int


@dataclass(frozen=True, slots=True)
class Instance:
    """An Enterprise Edition instance: a registry of its own, owned by one domain."""

    id: str
    name: str
    description: str
    spec: str
    charge_mode: str
    enterprise_project_id: str
    status: str
    domain_id: str
    project_id: str
    anonymous_access: bool
    creation_job_id: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class DomainName:
    """A host name (``host`` or ``host:port``, or ``*.suffix``) under which an instance answers."""

    id: str
    instance_id: str
    domain_name: str
    type: str
    """``default`` (made with the instance, cannot be removed) or ``custom``."""
    certificate_id: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class NamespaceOptions:
    """Per-namespace settings of an instance (SWR's namespace metadata, plus signature enforcement)."""

    auto_scan: bool = False
    prevent_vul: bool = False
    severity: str = "low"
    require_signature: bool = False
    """Refuse pulls of images that carry no signature (Harbor's cosign content trust)."""
    cve_allowlist: dict[str, object] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class InstanceNamespace:
    """A namespace of an instance with its options and repository count."""

    id: int
    name: str
    is_public: bool
    created_at: int
    updated_at: int
    repo_count: int
    options: NamespaceOptions


@dataclass(frozen=True, slots=True)
class InstanceRepository:
    """A repository of an instance, with its counters."""

    id: int
    name: str
    namespace_id: int
    namespace_name: str
    tag_count: int
    pull_count: int
    artifact_count: int
    description: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class ArtifactTag:
    """A tag pointing at an artifact."""

    id: int
    name: str
    repository_id: int
    artifact_id: int
    push_time: int
    pull_time: int | None


@dataclass(frozen=True, slots=True)
class Artifact:
    """A manifest of a repository as the artifact APIs show it."""

    id: int
    digest: str
    repository_id: int
    repository_name: str
    namespace_id: int
    media_type: str
    """The config media type (what the artifact is), or the manifest's own for an index."""
    manifest_media_type: str
    type: str
    """``IMAGE``, ``CHART``, ``SIGNATURE``, ``SBOM`` or ``UNKNOWN``."""
    size: int
    push_time: int
    pull_time: int | None
    config_digest: str | None
    tags: tuple[ArtifactTag, ...] = ()


@dataclass(frozen=True, slots=True)
class Accessory:
    """An artifact that refers to another: a signature, an SBOM, an attestation."""

    id: int
    artifact_id: int
    subject_artifact_id: int
    size: int
    digest: str
    type: str
    """``signature.cosign``, ``signature.notation``, ``sbom.harbor``, ``attestation.cosign`` or ``subject``."""
    created_at: int


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A signing key held by moorage; only the public half ever leaves it."""

    id: str
    instance_id: str
    name: str
    description: str
    algorithm: str
    public_key_pem: str
    creator: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Selector:
    """One doublestar selector: ``decoration`` (``matches``/``excludes``/``repoMatches``/``repoExcludes``)
    of ``pattern``; ``extras`` is the API's JSON string (``{"untagged":true}``)."""

    kind: str
    decoration: str
    pattern: str
    extras: str = ""


@dataclass(frozen=True, slots=True)
class ScopeRule:
    """Which repositories (``scope_selectors["repository"]``) and tags (``tag_selectors``) a policy signs."""

    tag_selectors: tuple[Selector, ...]
    repository_selectors: tuple[Selector, ...]
    repo_scope_mode: str = "regular"


@dataclass(frozen=True, slots=True)
class Trigger:
    """When a policy runs: ``manual``, ``event_based`` (on push, and manually) or ``scheduled``
    (``cron``, six UTC fields starting with seconds, and manually)."""

    type: str
    cron: str = ""


@dataclass(frozen=True, slots=True)
class SignPolicy:
    """An image signature policy of one namespace."""

    id: int
    instance_id: str
    namespace_id: int
    namespace_name: str
    name: str
    description: str
    enabled: bool
    signature_method: str
    signature_algorithm: str
    signature_key: str
    trigger: Trigger
    scope_rules: tuple[ScopeRule, ...]
    creator: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class Execution:
    """One run of a policy, with its subtask counts."""

    id: int
    policy_id: int
    status: RunStatus
    status_text: str
    trigger: str
    job_id: str | None
    total: int
    succeed: int
    failed: int
    in_progress: int
    stopped: int
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class SignTask:
    """The part of an execution that signs one repository."""

    id: int
    execution_id: int
    job_id: str
    status: RunStatus
    status_text: str
    namespace: str
    repository: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class SignSubtask:
    """Signing one tag (or one untagged artifact, with an empty tag) of a repository."""

    id: int
    task_id: int
    execution_id: int
    job_id: str
    namespace: str
    repository: str
    tag: str
    digest: str
    status: RunStatus
    status_text: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A validated page: skip ``offset`` items, return at most ``limit``."""

    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class PolicyChanges:
    """What a create or update request sets (None: left as it is, or the default on create)."""

    name: str | None = None
    description: str | None = None
    enabled: bool | None = None
    signature_method: str | None = None
    signature_algorithm: str | None = None
    signature_key: str | None = None
    trigger: Trigger | None = None
    scope_rules: Sequence[ScopeRule] | None = None


@dataclass(frozen=True, slots=True)
class ArtifactScanState:
    """An artifact's scan result and, when it has vulnerabilities, the report's findings."""

    artifact: Artifact
    result: ScanResultRecord | None
    vulnerabilities: tuple[dict[str, Any], ...] = ()
    """The report's vulnerability findings (docs/vulnerability-database.md, "Findings JSON")."""
