"""Bodies and answers of the Enterprise Edition replication operations (CreateInstanceRegistry,
CreateInstanceReplicationPolicy and their siblings), field for field as ``huaweicloudsdkswr``'s v2
models define them: requests ``CreateRegistryRequestBody`` / ``UpdateRegistryRequestBody``
(``Credential``, ``DnsConf``), ``CreateReplicationPolicyRequestBody`` /
``UpdateReplicationPolicyRequestBody`` (``ReplicationRegistry``, ``Filter``, ``TriggerConfig``) and
``CreateReplicationExecutionRequestBody``; answers ``Registry``, ``ReplicationPolicy``,
``Execution``, ``TaskDetail`` and ``SubtaskDetail`` with their lists.

Policies take four fields the SDK's model lacks (Harbor's; send the body as a dict):
``dest_namespace_replace_count`` (flattening), ``replicate_deletion``, ``speed`` (KiB/s) and
``copy_by_chunk``; answers carry them too."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from moorage.api.enterprise.common import timestamp
from moorage.api.enterprise.schemas_signing import Execution, TriggerConfig, TriggerSetting
from moorage.api.response_model import ResponseModel
from moorage.domain.enterprise import Trigger
from moorage.domain.errors import Invalid
from moorage.domain.replication import (
    PolicyChanges,
    RegistryChanges,
    ReplicationFilter,
    ReplicationPolicy,
    ReplicationRegistry,
    ReplicationSubtask,
    ReplicationTask,
)

MASKED = "******"
"""What an answer shows of a password; sent back in an update it keeps the stored one."""

# Requests -----------------------------------------------------------------------------------------


class CredentialBody(BaseModel):
    """``Credential`` (``type``: the authentication, ``basic``)."""

    model_config = ConfigDict(extra="ignore")
    type: str = Field(default="basic", max_length=16)
    access_key: str = Field(default="", max_length=255)
    access_secret: str = Field(default="", max_length=1024)


class RegistryBody(BaseModel):
    """``CreateRegistryRequestBody`` / ``UpdateRegistryRequestBody`` (``project_id``, ``region_id``,
    ``instance_id`` and ``dns_conf`` are accepted and ignored: a registry is reached at its URL)."""

    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=128)
    description: str | None = Field(default=None, max_length=2048)
    type: str | None = Field(default=None, max_length=64)
    url: str | None = Field(default=None, max_length=1024)
    credential: CredentialBody | None = None
    insecure: bool | None = None

    def changes(self) -> RegistryChanges:
        """What the request says (a masked password: unchanged)."""
        credential = self.credential
        if credential is not None and credential.type not in ("basic", ""):
            raise Invalid("credential type must be basic")
        secret = credential.access_secret if credential is not None else None
        return RegistryChanges(
            name=self.name,
            description=self.description,
            type=self.type,
            url=self.url,
            username=credential.access_key if credential is not None else None,
            password=None if secret == MASKED else secret,
            insecure=self.insecure,
        )


class RegistryRef(BaseModel):
    """``ReplicationRegistry``: a registry of the instance (id 0, or absent: this instance)."""

    model_config = ConfigDict(extra="ignore")
    id: int | None = Field(default=None, ge=0, le=2**63 - 1)

    def registry_id(self) -> int | None:
        """None for this instance."""
        return self.id or None


class FilterBody(BaseModel):
    """``Filter``."""

    model_config = ConfigDict(extra="ignore")
    type: str = Field(max_length=32)
    value: str = Field(default="", max_length=1024)


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
    """``CreateReplicationPolicyRequestBody`` / ``UpdateReplicationPolicyRequestBody`` and Harbor's
    fields the SDK lacks."""

    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=512)
    description: str | None = Field(default=None, max_length=2048)
    src_registry: RegistryRef | None = None
    dest_registry: RegistryRef | None = None
    dest_namespace: str | None = Field(default=None, max_length=512)
    filters: list[FilterBody] | None = Field(default=None, max_length=32)
    repo_scope_mode: str | None = Field(default=None, max_length=32)
    trigger: TriggerBody | None = None
    override: bool | None = None
    enabled: bool | None = None
    dest_namespace_replace_count: int | None = Field(default=None, ge=-1000, le=1000)
    replicate_deletion: bool | None = None
    speed: int | None = Field(default=None, ge=-1, le=2**31 - 1)
    copy_by_chunk: bool | None = None

    def changes(self) -> PolicyChanges:
        """What the request says; filters checked (``Invalid`` names the first bad one)."""
        return PolicyChanges(
            name=self.name,
            description=self.description,
            src_registry_id=self.src_registry.registry_id() if self.src_registry else None,
            src_given=self.src_registry is not None or "src_registry" in self.model_fields_set,
            dest_registry_id=self.dest_registry.registry_id() if self.dest_registry else None,
            dest_given=self.dest_registry is not None or "dest_registry" in self.model_fields_set,
            dest_namespace=self.dest_namespace,
            dest_namespace_replace_count=self.dest_namespace_replace_count,
            filters=(
                tuple(ReplicationFilter.parse(f.type, f.value) for f in self.filters)
                if self.filters is not None
                else None
            ),
            repo_scope_mode=self.repo_scope_mode,
            trigger=self.trigger.trigger() if self.trigger else None,
            override=self.override,
            enabled=self.enabled,
            replicate_deletion=self.replicate_deletion,
            speed_kb=self.speed,
            copy_by_chunk=self.copy_by_chunk,
        )


class ExecuteBody(BaseModel):
    """``CreateReplicationExecutionRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    policy_id: int = Field(ge=0, le=2**63 - 1)


# Answers ------------------------------------------------------------------------------------------


class Credential(ResponseModel):
    """``Credential``: the password is never shown."""

    type: str
    access_key: str
    access_secret: str


class Registry(ResponseModel):
    """``Registry`` (and ``ShowInstanceRegistryResponse``)."""

    id: int
    name: str
    description: str
    region_id: str
    instance_id: str
    type: str
    url: str
    credential: Credential
    insecure: bool
    status: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, registry: ReplicationRegistry, *, region: str) -> Registry:
        """The wire form (the password masked)."""
        return cls(
            id=registry.id,
            name=registry.name,
            description=registry.description,
            region_id=region,
            instance_id=registry.instance_id,
            type=registry.type.value,
            url=registry.url,
            credential=Credential(
                type="basic", access_key=registry.username, access_secret=MASKED if registry.has_password else ""
            ),
            insecure=registry.insecure,
            status=registry.status,
            created_at=timestamp(registry.created_at),
            updated_at=timestamp(registry.updated_at),
        )


class RegistryList(ResponseModel):
    """``ListInstanceRegistriesResponse``."""

    registries: list[Registry]
    total: int


class RegistryIdView(ResponseModel):
    """``ReplicationRegistry`` (id 0: this instance)."""

    id: int


class FilterView(ResponseModel):
    """``Filter``."""

    type: str
    value: str


class ReplicationPolicyView(ResponseModel):
    """``ReplicationPolicy`` (and ``ShowInstanceReplicationPolicyResponse``), with Harbor's fields."""

    id: int
    name: str
    description: str
    src_registry: RegistryIdView
    dest_registry: RegistryIdView
    dest_namespace: str
    filters: list[FilterView]
    repo_scope_mode: str
    trigger: TriggerConfig
    override: bool
    enabled: bool
    created_at: str
    updated_at: str
    dest_namespace_replace_count: int
    replicate_deletion: bool
    speed: int
    copy_by_chunk: bool

    @classmethod
    def of(cls, policy: ReplicationPolicy) -> ReplicationPolicyView:
        """The wire form."""
        return cls(
            id=policy.id,
            name=policy.name,
            description=policy.description,
            src_registry=RegistryIdView(id=policy.src_registry_id or 0),
            dest_registry=RegistryIdView(id=policy.dest_registry_id or 0),
            dest_namespace=policy.dest_namespace,
            filters=[FilterView(type=f.type.value, value=f.value) for f in policy.filters],
            repo_scope_mode=policy.repo_scope_mode,
            trigger=TriggerConfig(type=policy.trigger.type, trigger_settings=TriggerSetting(cron=policy.trigger.cron)),
            override=policy.override,
            enabled=policy.enabled,
            created_at=timestamp(policy.created_at),
            updated_at=timestamp(policy.updated_at),
            dest_namespace_replace_count=policy.dest_namespace_replace_count,
            replicate_deletion=policy.replicate_deletion,
            speed=policy.speed_kb,
            copy_by_chunk=policy.copy_by_chunk,
        )


class ReplicationPolicyList(ResponseModel):
    """``ListInstanceReplicationPoliciesResponse``."""

    policies: list[ReplicationPolicyView]
    total: int


class ReplicationExecutionList(ResponseModel):
    """``ListInstanceReplicationPolicyExecutionsResponse``."""

    executions: list[Execution]
    total: int


class TaskDetail(ResponseModel):
    """``TaskDetail``."""

    id: int
    execution_id: int
    resource_type: str
    src_resource: str
    dst_resource: str
    operation: str
    job_id: str
    status: str
    status_revision: int = Field(alias="StatusRevision")
    start_time: str
    end_time: str

    @classmethod
    def of(cls, task: ReplicationTask) -> TaskDetail:
        """The wire form."""
        return cls(
            id=task.id,
            execution_id=task.execution_id,
            resource_type=task.resource_type,
            src_resource=task.src_resource,
            dst_resource=task.dst_resource,
            operation=task.operation,
            job_id=task.job_id,
            status=task.status.value,
            status_revision=task.status_revision,
            start_time=timestamp(task.start_time),
            end_time=timestamp(task.end_time),
        )


class TaskList(ResponseModel):
    """``ListInstanceReplicationPolicyExecTasksResponse``."""

    tasks: list[TaskDetail]
    total: int


class SubtaskDetail(ResponseModel):
    """``SubtaskDetail``."""

    id: int
    job_id: str
    namespace: str
    repository: str
    tag: str
    digest: str
    status: str
    status_text: str
    start_time: str
    end_time: str

    @classmethod
    def of(cls, subtask: ReplicationSubtask) -> SubtaskDetail:
        """The wire form."""
        return cls(
            id=subtask.id,
            job_id=subtask.job_id,
            namespace=subtask.namespace,
            repository=subtask.repository,
            tag=subtask.tag,
            digest=subtask.digest,
            status=subtask.status.value,
            status_text=subtask.status_text,
            start_time=timestamp(subtask.start_time),
            end_time=timestamp(subtask.end_time),
        )


class SubtaskList(ResponseModel):
    """``ListInstanceReplicationPolicyExecSubTasksResponse``."""

    sub_tasks: list[SubtaskDetail]
    total: int
