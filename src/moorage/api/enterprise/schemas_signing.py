"""Response bodies of image signing: signature policies, their executions, tasks and subtasks, field
for field as ``huaweicloudsdkswr``'s v2 models define them (each class names its SDK model), and
signing keys (a moorage extension standing in for KMS: no SDK model)."""

from __future__ import annotations

from typing import Protocol

from moorage.api.enterprise.common import timestamp
from moorage.api.response_model import ResponseModel
from moorage.domain.enterprise import RunStatus

# Policies -----------------------------------------------------------------------------------------


class SignRuleSelector(ResponseModel):
    """``SignRuleSelector``."""

    kind: str
    decoration: str
    pattern: str
    extras: str


class SignScopeRule(ResponseModel):
    """``SignScopeRule``: repository selectors under ``scope_selectors["repository"]``."""

    tag_selectors: list[SignRuleSelector]
    scope_selectors: dict[str, list[SignRuleSelector]]
    repo_scope_mode: str


class TriggerSetting(ResponseModel):
    """``TriggerSetting``."""

    cron: str


class TriggerConfig(ResponseModel):
    """``TriggerConfig``."""

    type: str
    trigger_settings: TriggerSetting


class SignPolicyDetail(ResponseModel):
    """``SignPolicyDetail`` (and ``ShowInstanceSignPolicyResponse``)."""

    id: int
    name: str
    description: str
    namespace_id: int
    namespace_name: str
    trigger: TriggerConfig
    creator: str
    enabled: bool
    scope_rules: list[SignScopeRule]
    created_at: str
    updated_at: str
    signature_algorithm: str
    signature_key: str
    signature_method: str


class SignPolicyList(ResponseModel):
    """``ListInstanceSignPoliciesResponse`` (a namespace's policies too, a moorage extension)."""

    policies: list[SignPolicyDetail]
    total: int


# Executions ---------------------------------------------------------------------------------------


class Execution(ResponseModel):
    """``Execution``."""

    id: int
    policy_id: int
    status: str
    status_text: str
    total: int
    failed: int
    succeed: int
    in_progress: int
    stopped: int
    trigger: str
    created_at: str
    updated_at: str


class _CountedRun(Protocol):
    """A run with its counts: a signature execution or a replication execution (one wire model)."""

    @property
    def id(self) -> int: ...
    @property
    def policy_id(self) -> int: ...
    @property
    def status(self) -> RunStatus: ...
    @property
    def status_text(self) -> str: ...
    @property
    def trigger(self) -> str: ...
    @property
    def total(self) -> int: ...
    @property
    def succeed(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def in_progress(self) -> int: ...
    @property
    def stopped(self) -> int: ...
    @property
    def created_at(self) -> int: ...
    @property
    def updated_at(self) -> int: ...


def execution_view(execution: _CountedRun) -> Execution:
    """The ``Execution`` of a signature or replication execution (the SDK's one model for both)."""
    return Execution(
        id=execution.id,
        policy_id=execution.policy_id,
        status=execution.status.value,
        status_text=execution.status_text,
        total=execution.total,
        failed=execution.failed,
        succeed=execution.succeed,
        in_progress=execution.in_progress,
        stopped=execution.stopped,
        trigger=execution.trigger,
        created_at=timestamp(execution.created_at),
        updated_at=timestamp(execution.updated_at),
    )


class ExecutionList(ResponseModel):
    """``ListInstanceSignPolicyExecutionsResponse``."""

    executions: list[Execution]
    total: int


class SignatureExecutionTask(ResponseModel):
    """``SignatureExecutionTask``: the part of an execution that signs one repository."""

    id: int
    execution_id: int
    job_id: str
    status: str
    status_text: str
    namespace: str
    repository: str
    created_at: str
    updated_at: str


class SignatureExecutionTaskList(ResponseModel):
    """``ListInstanceSignPolicyExecTasksResponse``."""

    tasks: list[SignatureExecutionTask]
    total: int


class SignatureExecutionSubTask(ResponseModel):
    """``SignatureExecutionSubTask``: signing one tag (``tags``) of a repository."""

    id: int
    job_id: str
    namespace: str
    repository: str
    tags: str
    digest: str
    status: str
    status_text: str
    created_at: str
    updated_at: str


class SignatureExecutionSubTaskList(ResponseModel):
    """``ListInstanceSignatureExecutionSubtasksResponse``."""

    sub_tasks: list[SignatureExecutionSubTask]
    total: int


# Signing keys (moorage) ---------------------------------------------------------------------------


class SigningKey(ResponseModel):
    """A signing key with its public half (PEM); its ``id`` is what a policy's ``signature_key`` names."""

    id: str
    name: str
    description: str
    algorithm: str
    public_key: str
    creator: str
    created_at: str


class SigningKeyList(ResponseModel):
    """A page of an instance's signing keys."""

    keys: list[SigningKey]
    total: int
