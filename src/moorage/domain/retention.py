"""Retention: the rules that delete old images, in both editions, and what their runs record. Pure
data, no I/O.

- The shared edition's *retention* (SWR ``CreateRetention``) belongs to one repository: each of its
  rules keeps the tags pushed within ``days`` (``date_rule``) or the ``num`` most recently pushed tags
  (``tag_rule``); its ``tag_selectors`` name tags (``label``) or regular expressions (``regexp``)
  the rule leaves alone. A run deletes every tag no rule keeps and logs each deleted tag.
- An Enterprise Edition *retention policy* (``CreateInstanceRetentionPolicy``) belongs to a
  namespace: Harbor's rules (``latestPushedK``, ``latestPulledN``, ``nDaysSinceLastPush``,
  ``nDaysSinceLastPull``, ``always``) over the repositories and tags their doublestar selectors
  choose; its runs are executions made of tasks (one per repository) and subtasks (one per deleted
  artifact), with the statuses signature executions have.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from moorage.domain.enterprise import RunStatus, Selector, Trigger

ALGORITHM = "or"
"""The only ``algorithm`` either edition documents: a tag is kept when any rule keeps it."""
ACTION = "retain"
"""The only ``action`` of an Enterprise Edition rule SWR documents (a reserved field)."""
DELETE_ACTION = "DEL"
"""The ``action`` of every retention subtask: it deletes an artifact."""


class SharedTemplate(StrEnum):
    """A shared-edition rule's kind, and the key its ``params`` hold the number under."""

    DATE_RULE = "date_rule"
    """Keep the tags pushed within ``days`` days."""
    TAG_RULE = "tag_rule"
    """Keep the ``num`` most recently pushed tags."""

    @property
    def parameter(self) -> str:
        """The ``params`` key of the rule's number."""
        return "days" if self is SharedTemplate.DATE_RULE else "num"


class SelectorKind(StrEnum):
    """How a shared-edition tag selector names the tags its rule leaves alone."""

    LABEL = "label"
    """One tag, by its exact name."""
    REGEXP = "regexp"
    """Every tag a regular expression (RE2 syntax, as SWR's Go service reads it) finds a match in."""


@dataclass(frozen=True, slots=True)
class TagSelector:
    """A tag (``label``) or a regular expression (``regexp``) a shared-edition rule does not touch."""

    kind: SelectorKind
    pattern: str


@dataclass(frozen=True, slots=True)
class SharedRule:
    """One rule of a shared-edition retention: its template and number, and its exceptions."""

    template: SharedTemplate
    count: int
    """Days (``date_rule``) or tags (``tag_rule``)."""
    tag_selectors: tuple[TagSelector, ...] = ()


@dataclass(frozen=True, slots=True)
class SharedRetention:
    """A shared-edition retention of one repository."""

    id: int
    repository_id: int
    namespace: str
    repository: str
    """The name inside the namespace."""
    algorithm: str
    rules: tuple[SharedRule, ...]
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class RetentionLog:
    """One tag a shared-edition retention deleted (``RetentionLog``)."""

    id: int
    retention_id: int
    namespace: str
    repository: str
    tag: str
    rule_type: str
    """The JSON of the rules the tag fell under, as SWR's ``rule_type`` shows them."""
    created_at: int


class PolicyTemplate(StrEnum):
    """An Enterprise Edition rule's kind (Harbor's templates); ``params`` holds its number under the
    template's own name (``{"latestPushedK": 10}``), ``always`` takes none."""

    LATEST_PUSHED_K = "latestPushedK"
    """Keep the K most recently pushed artifacts."""
    LATEST_PULLED_N = "latestPulledN"
    """Keep the N most recently pulled artifacts (never pulled ones come last)."""
    DAYS_SINCE_LAST_PUSH = "nDaysSinceLastPush"
    """Keep the artifacts pushed within N days."""
    DAYS_SINCE_LAST_PULL = "nDaysSinceLastPull"
    """Keep the artifacts pulled within N days."""
    ALWAYS = "always"
    """Keep every artifact the rule selects."""

    @property
    def takes_number(self) -> bool:
        """Whether ``params`` must give the template's number."""
        return self is not PolicyTemplate.ALWAYS

    @property
    def counts_days(self) -> bool:
        """Whether the number is days (else artifacts)."""
        return self in (PolicyTemplate.DAYS_SINCE_LAST_PUSH, PolicyTemplate.DAYS_SINCE_LAST_PULL)


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One rule of an Enterprise Edition retention policy (``RetentionRule``)."""

    template: PolicyTemplate
    count: int
    """The template's number (0 for ``always``)."""
    tag_selectors: tuple[Selector, ...]
    repository_selectors: tuple[Selector, ...]
    priority: int = 0
    disabled: bool = False
    action: str = ACTION
    repo_scope_mode: str = "regular"
    id: int = 0
    """The rule's position in its policy, from 1 (``RetentionRuleResponseBody.id``)."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """An Enterprise Edition retention policy of one namespace (``ImageRetention``)."""

    id: int
    instance_id: str
    namespace_id: int
    namespace_name: str
    name: str
    algorithm: str
    enabled: bool
    trigger: Trigger
    rules: tuple[PolicyRule, ...]
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class RetentionExecution:
    """One run of a retention policy (``RetentionExecution``)."""

    id: int
    policy_id: int
    dry_run: bool
    status: RunStatus
    status_text: str
    trigger: str
    """``manual`` or ``scheduled``."""
    job_id: str | None
    started_at: int
    finished_at: int | None


@dataclass(frozen=True, slots=True)
class CountedRetentionExecution:
    """An execution with its tasks (one per repository) counted by outcome, as the web console's
    execution list shows it (the SDK's ``RetentionExecution`` has no counts)."""

    execution: RetentionExecution
    total: int
    succeeded: int
    failed: int


@dataclass(frozen=True, slots=True)
class RetentionTask:
    """The part of an execution that looks at one repository (``Task``): how many artifacts it
    found (``total``) and kept (``retained``)."""

    id: int
    execution_id: int
    repository: str
    job_id: str
    status: RunStatus
    status_text: str
    total: int
    retained: int
    started_at: int
    updated_at: int
    finished_at: int | None


@dataclass(frozen=True, slots=True)
class RetentionSubtask:
    """Deleting one artifact (``Subtask``): its tags (comma-separated; empty when untagged) and digest."""

    id: int
    task_id: int
    execution_id: int
    namespace: str
    repository: str
    tags: str
    digest: str
    status: RunStatus
    status_text: str
    updated_at: int


@dataclass(frozen=True, slots=True)
class TagState:
    """A tag as a run saw it: the decision to delete it holds only while the tag still names the
    same manifest and was not pushed again since (its push time is unchanged)."""

    name: str
    tag_id: int
    manifest_id: int
    pushed_at: int
    """When the tag was last pushed (or moved, or copied onto): ``tags.updated_at``."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """An image a retention run may delete: a manifest of the repository with the tags naming it
    (none: an untagged artifact). Accessories (signatures, SBOMs, attestations: a ``subject`` or a
    cosign ``sha256-<hex>.sig|.att|.sbom`` tag) are never candidates: they go with their subject."""

    manifest_id: int
    digest: str
    tags: tuple[TagState, ...]
    created_at: int
    """When the manifest was first stored."""
    pulled_at: int | None
    """When it was last pulled (None: never)."""

    @property
    def pushed_at(self) -> int:
        """The artifact's push time: its newest tag's, or the manifest's own when it has none."""
        return max((t.pushed_at for t in self.tags), default=self.created_at)

    @property
    def tag_names(self) -> tuple[str, ...]:
        """Its tags' names, sorted."""
        return tuple(sorted(t.name for t in self.tags))
