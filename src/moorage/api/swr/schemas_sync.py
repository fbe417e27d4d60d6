"""Bodies and answers of image synchronisation (CreateImageSyncRepo, DeleteImageSyncRepo,
ListImageAutoSyncReposDetails, CreateManualImageSyncRepo, ShowSyncJob): the SDK's request bodies,
``SyncRepo`` and ``SyncJob`` field for field (camelCase on the wire, as the SDK's ``attribute_map``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from moorage.api.response_model import ResponseModel
from moorage.api.swr.wire import format_time
from moorage.domain.image_sync import SyncJob, SyncRule
from moorage.services.replication.image_sync import SyncRuleFields


class CreateSyncRepoBody(BaseModel):
    """``CreateImageSyncRepoRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    remote_region_id: str = Field(alias="remoteRegionId", max_length=64)
    remote_namespace: str = Field(alias="remoteNamespace", max_length=64)
    sync_auto: bool = Field(default=False, alias="syncAuto")
    override: bool = False

    def fields(self) -> SyncRuleFields:
        """What the request sets."""
        return SyncRuleFields(self.remote_region_id, self.remote_namespace, self.sync_auto, self.override)


class DeleteSyncRepoBody(BaseModel):
    """``DeleteImageSyncRepoRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    remote_region_id: str = Field(alias="remoteRegionId", max_length=64)
    remote_namespace: str = Field(alias="remoteNamespace", max_length=64)


class ManualSyncBody(BaseModel):
    """``CreateManualImageSyncRepoRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    image_tag: list[str] = Field(alias="imageTag", max_length=100)
    override: bool = False
    remote_namespace: str = Field(alias="remoteNamespace", max_length=64)
    remote_region_id: str = Field(alias="remoteRegionId", max_length=64)


class SyncRepoModel(ResponseModel):
    """``SyncRepo``."""

    created_at: str = Field(alias="createdAt")
    domain_id: str = Field(alias="domainID")
    domain_name: str = Field(alias="domainName")
    id: int
    namespace: str
    override: bool
    remote_namespace: str = Field(alias="remoteNamespace")
    remote_region_id: str = Field(alias="remoteRegionId")
    repo_name: str = Field(alias="repoName")
    sync_auto: bool = Field(alias="syncAuto")
    updated_at: str = Field(alias="updatedAt")

    @classmethod
    def of(cls, rule: SyncRule) -> SyncRepoModel:
        """The wire form of a rule."""
        return cls(
            created_at=format_time(rule.created_at),
            domain_id=rule.domain_id,
            domain_name=rule.domain_name,
            id=rule.id,
            namespace=rule.namespace,
            override=rule.override,
            remote_namespace=rule.remote_namespace,
            remote_region_id=rule.remote_region_id,
            repo_name=rule.repo_name,
            sync_auto=rule.sync_auto,
            updated_at=format_time(rule.updated_at),
        )


class SyncJobModel(ResponseModel):
    """``SyncJob`` (+ moorage's ``detail``: what the last attempt found)."""

    created_at: str = Field(alias="createdAt")
    domain_id: str = Field(alias="domainID")
    domain_name: str = Field(alias="domainName")
    id: int
    namespace: str
    override: bool
    remote_namespace: str = Field(alias="remoteNamespace")
    remote_region_id: str = Field(alias="remoteRegionId")
    repo_name: str = Field(alias="repoName")
    status: str
    sync_operator_id: str = Field(alias="syncOperatorId")
    sync_operator_name: str = Field(alias="syncOperatorName")
    tag: str
    updated_at: str = Field(alias="updatedAt")
    detail: str

    @classmethod
    def of(cls, job: SyncJob) -> SyncJobModel:
        """The wire form of a sync job."""
        return cls(
            created_at=format_time(job.created_at),
            domain_id=job.domain_id,
            domain_name=job.domain_name,
            id=job.id,
            namespace=job.namespace,
            override=job.override,
            remote_namespace=job.remote_namespace,
            remote_region_id=job.remote_region_id,
            repo_name=job.repo_name,
            status=str(job.status),
            sync_operator_id=job.operator_id,
            sync_operator_name=job.operator_name,
            tag=job.tag,
            updated_at=format_time(job.updated_at),
            detail=job.detail,
        )
