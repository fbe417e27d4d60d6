"""Bodies and answers of the Enterprise Edition retention operations (CreateInstanceRetentionPolicy
and its siblings), field for field as ``huaweicloudsdkswr``'s v2 models define them: requests
``CreateRetentionPolicyRequestBody`` / ``UpdateRetentionPolicyRequestBody`` (``RetentionRule``,
``RetentionSelector``, ``TriggerConfig``) and ``ExecuteRetentionPolicyRequestBody``; answers
``ImageRetention``, ``RetentionExecution``, ``Task`` and ``Subtask`` with their lists."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from moorage.api.enterprise.common import timestamp
from moorage.api.enterprise.schemas_signing import TriggerConfig, TriggerSetting
from moorage.api.enterprise.selector_body import SelectorBody
from moorage.api.response_model import ResponseModel
from moorage.domain.enterprise import RunStatus, Selector, Trigger
from moorage.domain.retention import (
    DELETE_ACTION,
    PolicyRule,
    RetentionExecution,
    RetentionPolicy,
    RetentionSubtask,
    RetentionTask,
)
from moorage.services.retention.policies import PolicyChanges
from moorage.services.retention.rules import RuleFields

# Requests -----------------------------------------------------------------------------------------


class RuleBody(BaseModel):
    """``RetentionRule``."""

    model_config = ConfigDict(extra="ignore")
    priority: int = Field(default=0, ge=-(2**31), le=2**31 - 1)
    disabled: bool = False
    action: str | None = Field(default=None, max_length=32)
    template: str = Field(max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, max_length=8)
    tag_selectors: list[SelectorBody] = Field(max_length=20)
    scope_selectors: dict[str, list[SelectorBody]] = Field(max_length=8)
    repo_scope_mode: str | None = Field(default=None, max_length=32)

    def fields(self) -> RuleFields:
        """What the request says, to be checked."""
        return RuleFields(
            template=self.template,
            params=self.params,
            tag_selectors=[s.selector() for s in self.tag_selectors],
            scope_selectors={
                kind: [s.selector() for s in selectors] for kind, selectors in self.scope_selectors.items()
            },
            priority=self.priority,
            disabled=self.disabled,
            action=self.action,
            repo_scope_mode=self.repo_scope_mode,
        )


class TriggerSettingBody(BaseModel):
    """``TriggerSetting``."""

    model_config = ConfigDict(extra="ignore")
    cron: str = Field(default="", max_length=128)


class TriggerBody(BaseModel):
    """``TriggerConfig``."""

    model_config = ConfigDict(extra="ignore")
    type: str = Field(max_length=32)
    trigger_settings: TriggerSettingBody | None = None

    def trigger(self) -> Trigger:
        """The domain form."""
        return Trigger(self.type, self.trigger_settings.cron if self.trigger_settings else "")


class PolicyBody(BaseModel):
    """``CreateRetentionPolicyRequestBody`` / ``UpdateRetentionPolicyRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    algorithm: str | None = Field(default=None, max_length=16)
    enabled: bool | None = None
    rules: list[RuleBody] | None = Field(default=None, max_length=64)
    trigger: TriggerBody | None = None
    name: str | None = Field(default=None, max_length=512)

    def changes(self) -> PolicyChanges:
        """What the request says."""
        return PolicyChanges(
            self.name,
            self.algorithm,
            self.enabled,
            self.trigger.trigger() if self.trigger else None,
            [r.fields() for r in self.rules] if self.rules is not None else None,
        )


class ExecuteBody(BaseModel):
    """``ExecuteRetentionPolicyRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    dry_run: bool = False


# Answers ------------------------------------------------------------------------------------------


class RetentionSelector(ResponseModel):
    """``RetentionSelector``."""

    kind: str
    decoration: str
    pattern: str
    extras: str

    @classmethod
    def of(cls, selector: Selector) -> RetentionSelector:
        """The wire form."""
        return cls(kind=selector.kind, decoration=selector.decoration, pattern=selector.pattern, extras=selector.extras)


class RetentionRuleView(ResponseModel):
    """``RetentionRuleResponseBody``."""

    id: int
    priority: int
    disabled: bool
    action: str
    template: str
    params: dict[str, int]
    tag_selectors: list[RetentionSelector]
    scope_selectors: dict[str, list[RetentionSelector]]
    repo_scope_mode: str

    @classmethod
    def of(cls, rule: PolicyRule) -> RetentionRuleView:
        """The wire form."""
        return cls(
            id=rule.id,
            priority=rule.priority,
            disabled=rule.disabled,
            action=rule.action,
            template=rule.template.value,
            params={rule.template.value: rule.count} if rule.template.takes_number else {},
            tag_selectors=[RetentionSelector.of(s) for s in rule.tag_selectors],
            scope_selectors={"repository": [RetentionSelector.of(s) for s in rule.repository_selectors]},
            repo_scope_mode=rule.repo_scope_mode,
        )


class ImageRetention(ResponseModel):
    """``ImageRetention`` (and ``ShowInstanceRetentionPolicyResponse``)."""

    id: int
    algorithm: str
    rules: list[RetentionRuleView]
    trigger: TriggerConfig
    enabled: bool
    name: str
    namespace_id: int
    namespace_name: str

    @classmethod
    def of(cls, policy: RetentionPolicy) -> ImageRetention:
        """The wire form."""
        return cls(
            id=policy.id,
            algorithm=policy.algorithm,
            rules=[RetentionRuleView.of(r) for r in policy.rules],
            trigger=TriggerConfig(type=policy.trigger.type, trigger_settings=TriggerSetting(cron=policy.trigger.cron)),
            enabled=policy.enabled,
            name=policy.name,
            namespace_id=policy.namespace_id,
            namespace_name=policy.namespace_name,
        )


class RetentionPolicyList(ResponseModel):
    """``ListInstanceRetentionPoliciesResponse``."""

    total: int
    retentions: list[ImageRetention]


class RetentionExecutionView(ResponseModel):
    """``RetentionExecution``."""

    id: int
    policy_id: int
    dry_run: bool
    status: str
    trigger: str
    start_time: str
    end_time: str

    @classmethod
    def of(cls, execution: RetentionExecution) -> RetentionExecutionView:
        """The wire form (``end_time`` empty until it has finished)."""
        return cls(
            id=execution.id,
            policy_id=execution.policy_id,
            dry_run=execution.dry_run,
            status=execution.status.value,
            trigger=execution.trigger,
            start_time=timestamp(execution.started_at),
            end_time=timestamp(execution.finished_at),
        )


class RetentionExecutionList(ResponseModel):
    """``ListInstanceRetentionPolicyExecutionsResponse``."""

    total: int
    executions: list[RetentionExecutionView]


def status_code(status: RunStatus) -> int:
    """A task's numeric status (Harbor's job status codes: 0 waiting, 2 running, 3 finished)."""
    if status.finished:
        return 3
    return 2 if status is RunStatus.IN_PROGRESS else 0


class RetentionTaskView(ResponseModel):
    """``Task``: one repository of an execution (``total`` artifacts looked at, ``retained`` kept)."""

    id: int
    execution_id: int
    repository: str
    job_id: str
    status: str
    status_code: int
    status_revision: int
    start_time: str
    end_time: str
    total: int
    retained: int

    @classmethod
    def of(cls, task: RetentionTask) -> RetentionTaskView:
        """The wire form (``status_revision``: when the status last changed, epoch milliseconds)."""
        return cls(
            id=task.id,
            execution_id=task.execution_id,
            repository=task.repository,
            job_id=task.job_id,
            status=task.status.value,
            status_code=status_code(task.status),
            status_revision=task.updated_at,
            start_time=timestamp(task.started_at),
            end_time=timestamp(task.finished_at),
            total=task.total,
            retained=task.retained,
        )


class RetentionTaskList(ResponseModel):
    """``ListInstanceRetentionPolicyExecTasksResponse``."""

    tasks: list[RetentionTaskView]
    total: int


class RetentionSubtaskView(ResponseModel):
    """``Subtask``: deleting one artifact (``tag``: its tags, comma-separated; ``job_id``: the task's id)."""

    id: int
    job_id: int
    namespace: str
    repository: str
    tag: str
    digest: str
    action: str
    status: str
    status_text: str
    op_time: str

    @classmethod
    def of(cls, subtask: RetentionSubtask) -> RetentionSubtaskView:
        """The wire form."""
        return cls(
            id=subtask.id,
            job_id=subtask.task_id,
            namespace=subtask.namespace,
            repository=subtask.repository,
            tag=subtask.tags,
            digest=subtask.digest,
            action=DELETE_ACTION,
            status=subtask.status.value,
            status_text=subtask.status_text,
            op_time=timestamp(subtask.updated_at),
        )


class RetentionSubtaskList(ResponseModel):
    """``ListInstanceRetentionPolicyExecSubTasksResponse``."""

    sub_tasks: list[RetentionSubtaskView]
    total: int
