"""Enterprise Edition replication: the registries a policy copies to or from, the policies, and
the executions, tasks and subtasks of their runs (SWR ``CreateInstanceRegistry``,
``CreateInstanceReplicationPolicy`` and their siblings). Pure values and pure rules (filters,
destination names); the services in ``services/enterprise/replication/`` do the I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from moorage.domain.doublestar import compile_pattern, matches
from moorage.domain.enterprise import RunStatus, Trigger
from moorage.domain.errors import Invalid


class RegistryKind(StrEnum):
    """What a replication registry is, in SWR's words and moorage's: how its repositories are
    listed (Harbor's and Artifactory's APIs, else the OCI catalog) and how it is reached."""

    HARBOR = "swr-pro"
    """An open-source Harbor v2 (SWR's ``swr-pro``): listed through Harbor's API."""
    SWR_ENTERPRISE = "swr-pro-internal"
    """Another SWR Enterprise Edition instance: another moorage (OCI API)."""
    SWR_BASIC = "huawei-SWR"
    """SWR's shared edition: another moorage (OCI API)."""
    DOCKER_REGISTRY = "docker-registry"
    """Any OCI distribution registry (distribution/distribution, zot, ...)."""
    ARTIFACTORY = "artifactory"
    """JFrog Artifactory: listed through its API."""


MAX_FILTER_PATTERN = 512


class FilterType(StrEnum):
    """What a policy's filter looks at."""

    NAME = "name"
    """The repository's full path (``library/app``)."""
    TAG = "tag"
    """The tag."""
    LABEL = "label"
    """A label of the image (its config's ``Labels`` or its manifest's annotations): ``key`` or
    ``key=value``; several separated by commas, all required."""


@dataclass(frozen=True, slots=True)
class ReplicationFilter:
    """One filter of a policy: a doublestar pattern (name, tag) or labels."""

    type: FilterType
    value: str

    @classmethod
    def parse(cls, kind: str, value: str) -> ReplicationFilter:
        """A checked filter (``Invalid`` for an unknown type or a malformed pattern)."""
        try:
            found = FilterType(kind)
        except ValueError:
            raise Invalid(f"a filter's type must be name, tag or label, got {kind[:32]!r}") from None
        if len(value) > MAX_FILTER_PATTERN:
            raise Invalid(f"a filter's value has at most {MAX_FILTER_PATTERN} characters")
        if found is not FilterType.LABEL and value:
            compile_pattern(value)
        return cls(found, value)

    def labels(self) -> tuple[tuple[str, str | None], ...]:
        """A label filter's ``(key, value or None)`` pairs."""
        pairs: list[tuple[str, str | None]] = []
        for item in self.value.split(","):
            key, sep, wanted = item.strip().partition("=")
            if key:
                pairs.append((key, wanted if sep else None))
        return tuple(pairs)


def pattern_matches(pattern: str, text: str) -> bool:
    """Whether ``text`` matches the doublestar ``pattern`` as a whole (an empty pattern: anything).
    A stored pattern the matcher refuses (saved before filters were checked by it) matches only
    itself, as the earlier matcher took an unclosed brace or bracket literally."""
    if not pattern:
        return True
    try:
        return matches(pattern, text)
    except Invalid:
        return pattern == text


def repository_selected(filters: tuple[ReplicationFilter, ...], repository: str) -> bool:
    """Whether every name filter selects the repository path."""
    return all(pattern_matches(f.value, repository) for f in filters if f.type is FilterType.NAME)


def tag_selected(filters: tuple[ReplicationFilter, ...], tag: str) -> bool:
    """Whether every tag filter selects the tag."""
    return all(pattern_matches(f.value, tag) for f in filters if f.type is FilterType.TAG)


def labels_selected(filters: tuple[ReplicationFilter, ...], labels: dict[str, str]) -> bool:
    """Whether the image's labels satisfy every label filter."""
    for item in filters:
        if item.type is not FilterType.LABEL:
            continue
        for key, wanted in item.labels():
            if key not in labels or (wanted is not None and labels[key] != wanted):
                return False
    return True


def has_label_filter(filters: tuple[ReplicationFilter, ...]) -> bool:
    """Whether a policy filters on labels (so each image's labels must be read)."""
    return any(f.type is FilterType.LABEL and f.value for f in filters)


FLATTEN_ALL = -1
"""Harbor's "flatten all levels": keep only the repository's last component under the destination
namespace."""
MAX_FLATTENING = 3


def destination_repository(repository: str, dest_namespace: str, replace_count: int) -> str:
    """Where ``repository`` lands (Harbor's flattening): without a destination namespace, the same
    path; else the namespace replaces ``replace_count`` leading components (0: none, prefixed;
    -1: all but the last). ``Invalid`` when the path has fewer components than it replaces."""
    if not dest_namespace:
        return repository
    parts = repository.split("/")
    if replace_count == FLATTEN_ALL:
        return f"{dest_namespace}/{parts[-1]}"
    if replace_count == 0:
        return f"{dest_namespace}/{repository}"
    if replace_count == len(parts):
        return dest_namespace
    if replace_count > len(parts):
        raise Invalid(
            f"repository {repository!r} has {len(parts)} components; the policy replaces {replace_count} of them"
        )
    return f"{dest_namespace}/{'/'.join(parts[replace_count:])}"


@dataclass(frozen=True, slots=True)
class ReplicationRegistry:
    """A registry replication copies to or from (its password is sealed and never in here)."""

    id: int
    instance_id: str
    name: str
    description: str
    type: RegistryKind
    url: str
    """``http(s)://host[:port]``."""
    username: str
    has_password: bool
    insecure: bool
    status: str
    """``healthy`` after a successful check, ``unhealthy`` after a failed one."""
    created_at: int
    updated_at: int

    @property
    def host(self) -> str:
        """``host[:port]`` of the URL."""
        return self.url.split("://", 1)[-1].rstrip("/")

    @property
    def plain_http(self) -> bool:
        """Whether it speaks HTTP without TLS."""
        return self.url.startswith("http://")


@dataclass(frozen=True, slots=True)
class RegistryChanges:
    """What a create or update request says about a registry (None: not given / unchanged)."""

    name: str | None = None
    description: str | None = None
    type: str | None = None
    url: str | None = None
    username: str | None = None
    password: str | None = None
    insecure: bool | None = None


TRIGGER_TYPES = ("manual", "scheduled", "event_based")


@dataclass(frozen=True, slots=True)
class ReplicationPolicy:
    """A replication policy of an instance: copy what the filters select from ``src_registry_id``
    (None: this instance, push-based) to ``dest_registry_id`` (None: this instance, pull-based)."""

    id: int
    instance_id: str
    name: str
    description: str
    src_registry_id: int | None
    dest_registry_id: int | None
    dest_namespace: str
    dest_namespace_replace_count: int
    filters: tuple[ReplicationFilter, ...]
    repo_scope_mode: str
    trigger: Trigger
    override: bool
    enabled: bool
    replicate_deletion: bool
    speed_kb: int
    """Bandwidth limit in KiB/s (-1: none), as Harbor's ``speed``."""
    copy_by_chunk: bool
    created_at: int
    updated_at: int

    @property
    def push_based(self) -> bool:
        """Whether it copies from this instance to a registry."""
        return self.src_registry_id is None


@dataclass(frozen=True, slots=True)
class PolicyChanges:
    """What a create or update request says about a policy (None: not given / unchanged)."""

    name: str | None = None
    description: str | None = None
    src_registry_id: int | None = None
    src_given: bool = False
    dest_registry_id: int | None = None
    dest_given: bool = False
    dest_namespace: str | None = None
    dest_namespace_replace_count: int | None = None
    filters: tuple[ReplicationFilter, ...] | None = None
    repo_scope_mode: str | None = None
    trigger: Trigger | None = None
    override: bool | None = None
    enabled: bool | None = None
    replicate_deletion: bool | None = None
    speed_kb: int | None = None
    copy_by_chunk: bool | None = None


@dataclass(frozen=True, slots=True)
class ReplicationExecution:
    """One run of a policy, with its tasks' counts."""

    id: int
    policy_id: int
    status: RunStatus
    status_text: str
    trigger: str
    job_id: str | None
    total: int
    failed: int
    succeed: int
    in_progress: int
    stopped: int
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class ReplicationTask:
    """One artifact of an execution: copy (or delete) ``src_resource`` as ``dst_resource``."""

    id: int
    execution_id: int
    resource_type: str
    src_resource: str
    dst_resource: str
    operation: str
    """``copy`` or ``deletion``."""
    job_id: str
    status: RunStatus
    status_text: str
    status_revision: int
    start_time: int | None
    end_time: int | None


@dataclass(frozen=True, slots=True)
class ReplicationSubtask:
    """One manifest or blob a task copied (or found already there)."""

    id: int
    task_id: int
    job_id: str
    namespace: str
    repository: str
    tag: str
    digest: str
    status: RunStatus
    status_text: str
    start_time: int | None
    end_time: int | None


@dataclass(frozen=True, slots=True)
class PlannedArtifact:
    """What a task copies: a source repository and reference, and where it lands."""

    src_repository: str
    reference: str
    """A tag, or a digest when copied by digest."""
    dest_repository: str
    operation: str = "copy"
