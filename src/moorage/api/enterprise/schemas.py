"""Response bodies of the Enterprise Edition instances, jobs, namespaces and repositories, field for
field as ``huaweicloudsdkswr``'s v2 models define them (each class names its SDK model; times are
RFC 3339 strings, ``""`` when unset). Artifacts and scans are in ``schemas_artifacts``, signing in
``schemas_signing``; tests/api/test_response_models.py compares every one with the SDK."""

from __future__ import annotations

from pydantic import Field

from moorage.api.response_model import ResponseModel

# Instances ----------------------------------------------------------------------------------------


class CreatedInstance(ResponseModel):
    """``CreateInstanceResponse``."""

    job_id: str
    instance_id: str


class Instance(ResponseModel):
    """``Instance`` (and ``ShowInstanceResponse``)."""

    id: str
    name: str
    description: str
    vpc_id: str
    subnet_id: str
    spec: str
    version: str
    charge_mode: str
    access_address: str
    created_at: str
    updated_at: str
    expires_at: str
    status: str
    obs_bucket_name: str
    project_id: str
    enterprise_project_id: str
    user_def_obs: bool
    product_id: str
    order_id: str
    vpc_name: str
    vpc_cidr: str
    subnet_name: str
    subnet_cidr: str
    vpcep_service_id: str


class InstanceList(ResponseModel):
    """``ListInstanceResponse``."""

    instances: list[Instance]
    total: int


class DomainNameInfo(ResponseModel):
    """``DomainNameInfo``."""

    uid: str
    domain_id: str
    project_id: str
    instance_id: str
    type: str
    domain_name: str
    certificate_id: str
    created_at: str
    updated_at: str


class DomainNameResult(ResponseModel):
    """``AddDomainNameResponse`` / ``UpdateDomainNameResponse``."""

    domain_name_info: DomainNameInfo


class DomainNameList(ResponseModel):
    """``ListDomainNamesResponse``."""

    domain_name_infos: list[DomainNameInfo]


class InstanceConfiguration(ResponseModel):
    """``ShowInstanceConfigurationResponse``."""

    anonymous_access: bool


class InstanceStatistics(ResponseModel):
    """``ListInstanceStatisticsResponse``."""

    storage_used: int
    total_namespace_count: int
    total_image_count: int
    namespace_quota: int
    image_repo_quota: int
    sign_policy_quota: int
    sign_policy_count: int
    replica_policy_quota: int
    retention_policy_quota: int
    notify_policy_quota: int
    replica_registry_quota: int
    replica_policy_count: int
    retention_policy_count: int
    notify_policy_count: int
    replica_registry_count: int
    intranet_endpoint_quota: int
    intranet_endpoint_count: int
    long_term_quota: int


class FeatureGates(ResponseModel):
    """``ListFeatureGatesResponse``: what an instance supports."""

    enable_domain_name: bool = Field(alias="enableDomainName")
    enable_combination_retention: bool = Field(alias="enableCombinationRetention")
    enable_artifact_scanning: bool = Field(alias="enableArtifactScanning")
    enable_artifact_gc: bool = Field(alias="enableArtifactGc")


class GlobalFeatureGates(ResponseModel):
    """``ListGlobalFeatureGatesResponse``: what the deployment offers."""

    enable_user_def_obs: bool = Field(alias="enableUserDefObs")
    enable_enterprise: bool = Field(alias="enableEnterprise")
    cer_available: bool = Field(alias="cerAvailable")
    enable_intranet_access_switch: bool = Field(alias="enableIntranetAccessSwitch")


class JobDetail(ResponseModel):
    """``JobDetail`` (and ``ShowInstanceJobResponse``)."""

    id: str
    instance_id: str
    resource_id: str
    resource_name: str
    type: str
    status: str
    reason: str
    created_at: str
    updated_at: str


class JobList(ResponseModel):
    """``ListInstanceJobsResponse``."""

    jobs: list[JobDetail]
    total: int


# Namespaces ---------------------------------------------------------------------------------------


class CreatedId(ResponseModel):
    """``CreateInstanceNamespaceResponse``, ``CreateInstanceSignPolicyResponse``,
    ``ExecuteInstanceSignPolicyResponse``: the new object's id."""

    id: int


class NamespaceMetadata(ResponseModel):
    """``NamespaceMetadata``: ``"true"``/``"false"`` strings and a severity, plus
    ``enable_content_trust_cosign`` (Harbor's name; a moorage extension the SDK does not read)."""

    public: str
    auto_scan: str
    prevent_vul: str
    severity: str
    enable_content_trust_cosign: str


class CveAllowlistItem(ResponseModel):
    """``CVEAllowlistItem``."""

    cve_id: str


class CveAllowlist(ResponseModel):
    """``CVEAllowlist``."""

    id: int
    namespace_id: int
    expires_at: int
    items: list[CveAllowlistItem]
    creation_time: str
    update_time: str


class Namespace(ResponseModel):
    """``Namespace`` (and ``ShowInstanceNamespaceResponse``)."""

    name: str
    metadata: NamespaceMetadata
    namespace_id: int
    created_at: str
    updated_at: str
    repo_count: int
    cve_allowlist: CveAllowlist


class NamespaceList(ResponseModel):
    """``ListInstanceNamespacesResponse``."""

    namespaces: list[Namespace]
    total: int


class UpdatedCveAllowlist(ResponseModel):
    """``UpdateCVEAllowlistRequest``, as ``UpdateInstanceNamespaceResponse`` nests it."""

    id: int
    namespace_id: int
    expires_at: int
    items: list[CveAllowlistItem]


class UpdatedNamespace(ResponseModel):
    """``UpdateInstanceNamespaceResponse``."""

    namespace_name: str
    metadata: NamespaceMetadata
    cve_allowlist: UpdatedCveAllowlist


# Repositories -------------------------------------------------------------------------------------


class Repository(ResponseModel):
    """``Repository`` (and ``ShowInstanceRepositoryResponse``)."""

    id: int
    name: str
    namespace_name: str
    namespace_id: int
    tag_count: int
    pull_count: int
    artifact_count: int
    description: str
    created_at: str
    updated_at: str


class RepositoryList(ResponseModel):
    """``ListNamespaceRepositoriesResponse`` / ``ListInstanceRepositoriesResponse``."""

    total: int
    repositories: list[Repository]


class InstanceRepository(Repository):
    """``InstanceRepository``: a repository with the instance it lives in."""

    instance_id: str
    instance_name: str
    resource_urn: str


class PageInfo(ResponseModel):
    """``PageInfo``: where the next page starts (``""`` on the last page)."""

    next_marker: str


class AllRepositoryList(ResponseModel):
    """``ListAllInstanceRepositoriesResponse``."""

    repositories: list[InstanceRepository]
    page_info: PageInfo
