"""Request and response bodies of the HSS image API, field for field as ``huaweicloudsdkhss``'s
models define them (``v5/model``): times and sizes are integers (epoch ms, bytes), flags booleans.
Request models ignore fields they do not know (newer SDKs add some)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RequestBody(BaseModel):
    """A request model: fields it does not know are ignored (newer SDKs add some)."""

    model_config = ConfigDict(extra="ignore")


# Image lists (ListSwrImageRepository and ListRegistryImages) -----------------------------------------


class AssociateImages(BaseModel):
    """A platform image of a multi-architecture image (ListSwrImageRepository)."""

    image_name: str
    image_version: str
    image_type: str
    namespace: str
    image_digest: str
    scan_status: str


class PrivateImageRepositoryInfo(BaseModel):
    """An image of the SWR image list (ListSwrImageRepository)."""

    id: int
    namespace: str
    image_name: str
    image_id: str
    image_digest: str
    image_version: str
    image_type: str
    latest_version: bool
    scan_status: str
    scan_failed_desc: str
    image_size: int
    latest_update_time: int
    latest_scan_time: int
    vul_num: int
    unsafe_setting_num: int
    malicious_file_num: int
    domain_name: str
    shared_status: str
    scannable: bool
    instance_name: str
    instance_id: str
    instance_url: str
    association_images: list[AssociateImages]


class SwrImageList(BaseModel):
    """``GET /v5/{project_id}/image/swr-repository``."""

    total_num: int
    data_list: list[PrivateImageRepositoryInfo]


class AssociateImagesInfo(BaseModel):
    """A platform image of a multi-architecture image (ListRegistryImages)."""

    id: int
    image_id: str
    image_name: str
    image_version: str
    image_type: str
    namespace: str
    image_digest: str
    scan_status: str
    vul_num: int
    unsafe_setting_num: int
    malicious_file_num: int


class RegistryImagesInfo(BaseModel):
    """An image of any connected registry (ListRegistryImages)."""

    id: int
    namespace: str
    image_name: str
    image_id: str
    image_digest: str
    image_version: str
    image_type: str
    registry_id: str
    registry_name: str
    registry_type: str
    latest_version: bool
    scan_status: str
    scan_failed_desc: str
    scan_failed_code: str
    image_size: int
    latest_update_time: int
    latest_scan_time: int
    latest_sync_time: int
    vul_num: int
    unsafe_setting_num: int
    malicious_file_num: int
    domain_name: str
    shared_status: str
    scannable: bool
    is_multiple_arch: bool
    instance_name: str
    instance_id: str
    instance_url: str
    severity_level: str
    association_images: list[AssociateImagesInfo]


class RegistryImageList(BaseModel):
    """``GET /v5/{project_id}/image/registries/images``."""

    total_num: int
    data_list: list[RegistryImagesInfo]


class SynchronizeRequest(RequestBody):
    """``POST /v5/{project_id}/image/synchronize``."""

    image_type: str = Field(max_length=32)


class SynchronizeResponse(BaseModel):
    """``RunImageSynchronizeResponse``: 0 and no description when the images were recorded."""

    error_code: int
    error_description: str


# Registries ---------------------------------------------------------------------------------------


class AddRegistryRequest(RequestBody):
    """``AddRegistryRequestBody``. ``namespace``: moorage reads it as the organization filter (the
    organizations to list, comma-separated; empty: all)."""

    registry_name: str = Field(min_length=1, max_length=128)
    registry_type: str = Field(max_length=16)
    api_version: str = Field(default="V2", max_length=8)
    protocol: str = Field(default="https", max_length=8)
    registry_addr: str = Field(min_length=1, max_length=256)
    registry_username: str = Field(default="", max_length=128)
    registry_password: str = Field(default="", max_length=128)
    namespace: str = Field(default="", max_length=1024)
    connect_cluster_id: str = Field(default="", max_length=64)
    get_scan_image_channel: str = Field(default="", max_length=16)


class UpdateRegistryRequest(RequestBody):
    """``UpdateRegistryRequestBody`` (absent fields stay as they are)."""

    api_version: str | None = Field(default=None, max_length=8)
    protocol: str | None = Field(default=None, max_length=8)
    registry_addr: str | None = Field(default=None, max_length=256)
    registry_username: str | None = Field(default=None, max_length=128)
    registry_password: str | None = Field(default=None, max_length=128)
    namespace: str | None = Field(default=None, max_length=1024)
    connect_cluster_id: str | None = Field(default=None, max_length=64)
    get_scan_image_channel: str | None = Field(default=None, max_length=16)


class BatchDeleteRegistryRequest(RequestBody):
    """``BatchDeleteRegistryRequestBody``."""

    ids: list[str] = Field(min_length=1, max_length=200)


class RegistryInfo(BaseModel):
    """A connected registry (its password is never returned)."""

    id: str
    registry_name: str
    registry_type: str
    api_version: str
    protocol: str
    registry_addr: str
    registry_username: str
    namespace: str
    connect_cluster_id: str
    get_scan_image_channel: str
    status: str
    fail_reason: str
    images_num: int
    latest_sync_time: int


class RegistryList(BaseModel):
    """``GET /v5/{project_id}/image/registries``."""

    data_list: list[RegistryInfo]
    total_num: int


class RegistryStatistics(BaseModel):
    """``GET /v5/{project_id}/image/registries/statistics``."""

    fail_num: int
    success_num: int


class UploadCommand(BaseModel):
    """``GET /v5/{project_id}/image/registries/image-upload-command``."""

    image_command: str
    images_download_url: str
    swr_image_pull_command: str


class Created(BaseModel):
    """What creating something answers: the SDK's model is empty; moorage adds the new id."""

    id: str = ""
    task_id: str = ""


# Tasks and policies --------------------------------------------------------------------------------


class RegistryRef(RequestBody):
    """A registry named by a request."""

    registry_id: str = Field(default="", max_length=64)
    registry_name: str = Field(default="", max_length=128)
    registry_type: str = Field(default="", max_length=16)


class CreateSyncTaskRequest(RequestBody):
    """``CreateImageSynchronizeTaskRequestInfo``."""

    sync_all_registries: bool = False
    registry_info: list[RegistryRef] = Field(default_factory=list, max_length=200)


class AssociateRegistriesResponseInfo(BaseModel):
    """A registry of an image-sync task."""

    registry_id: str
    registry_name: str
    registry_type: str
    sync_status: str
    failed_reason: str


class AssociateRegistryList(BaseModel):
    """``GET /v5/{project_id}/image/image-sync/tasks/{task_id}/registries``."""

    data_list: list[AssociateRegistriesResponseInfo]
    total_num: int


class SwrImageRef(RequestBody):
    """``BatchScanSwrImageInfo``."""

    namespace: str = Field(default="", max_length=128)
    image_name: str = Field(default="", max_length=255)
    image_version: str = Field(default="", max_length=128)
    instance_id: str = Field(default="", max_length=128)
    instance_url: str = Field(default="", max_length=256)


class ImageFilterFields(RequestBody):
    """The image-list filters that scan and report bodies share (the SDK repeats them per model).
    ``image_type`` and ``scan_status`` are checked by each operation against its own choices."""

    namespace: str | None = Field(default=None, max_length=128)
    image_name: str | None = Field(default=None, max_length=255)
    image_version: str | None = Field(default=None, max_length=128)
    image_type: str | None = Field(default=None, max_length=32)
    scan_status: str | None = Field(default=None, max_length=32)
    image_size: int | None = Field(default=None, ge=0)
    start_latest_update_time: int | None = Field(default=None, ge=0)
    end_latest_update_time: int | None = Field(default=None, ge=0)
    start_latest_scan_time: int | None = Field(default=None, ge=0)
    end_latest_scan_time: int | None = Field(default=None, ge=0)

    def filter_fields(self) -> dict[str, Any]:
        """The ``ImageFilter`` arguments these fields give (empty strings: not filtered)."""
        return {
            "namespace": self.namespace or None,
            "image_name": self.image_name or None,
            "image_version": self.image_version or None,
            "image_size": self.image_size,
            "start_latest_update_time": self.start_latest_update_time,
            "end_latest_update_time": self.end_latest_update_time,
            "start_latest_scan_time": self.start_latest_scan_time,
            "end_latest_scan_time": self.end_latest_scan_time,
        }


class BatchScanRequest(ImageFilterFields):
    """``BatchScanPrivateImageRequestInfo``."""

    repo_type: str | None = None
    image_info_list: list[SwrImageRef] = Field(default_factory=list, max_length=20000)
    operate_all: bool = False
    latest_version: bool | None = None


class ScanQueryInfo(ImageFilterFields):
    """``CreateManualImageScanTaskReqInfoQueryInfo`` (the registry-image filters; host fields ignored)."""

    has_vul: bool | None = None


class ScanImageRef(RequestBody):
    """``CreateManualImageScanTaskReqInfoImageInfo``."""

    id: int | None = None
    image_id: str = Field(default="", max_length=140)
    image_digest: str = Field(default="", max_length=140)
    registry_id: str = Field(default="", max_length=64)
    registry_name: str = Field(default="", max_length=128)
    image_name: str = Field(default="", max_length=255)
    image_version: str = Field(default="", max_length=128)
    namespace: str = Field(default="", max_length=128)
    instance_id: str = Field(default="", max_length=128)
    instance_url: str = Field(default="", max_length=256)
    registry_type: str = Field(default="", max_length=16)


class CreateScanTaskRequest(RequestBody):
    """``CreateManualImageScanTaskReqInfo``."""

    scan_scope: int = Field(default=0x7FFFFFFF, ge=0, le=0x7FFFFFFF)
    rate_limit: int = Field(default=0, ge=0, le=1000)
    is_all: bool = False
    query_info: ScanQueryInfo | None = None
    image_info: list[ScanImageRef] = Field(default_factory=list, max_length=20000)


class FailedImage(BaseModel):
    """``ImageScanTaskInfoFailedImages``."""

    id: int
    registry_id: str
    registry_name: str
    image_name: str
    image_version: str
    namespace: str
    registry_type: str
    failed_reason: str


class ImageScanTaskInfo(BaseModel):
    """A scan or sync task."""

    task_id: str
    policy_id: str
    task_name: str
    begin_time: int
    end_time: int
    remain_min: int
    task_type: str
    image_type: str
    task_status: int
    scan_scope: int
    rate_limit: int
    is_all: bool
    failed_num: int
    success_num: int
    total_num: int
    risky_num: int
    sync_task_type: str
    failed_reason: str
    failed_images: list[FailedImage]


class TaskList(BaseModel):
    """``GET /v5/{project_id}/image/tasks``."""

    data_list: list[ImageScanTaskInfo]
    total_num: int


class PolicyRegistry(BaseModel):
    """A registry of the scheduled-scan policy."""

    is_selected: bool
    registry_name: str
    registry_id: str
    registry_type: str


class ScanPolicyResponse(BaseModel):
    """``GET /v5/{project_id}/image/scanner-policies``."""

    is_all: bool
    enabled: bool
    scan_cycle: int
    scan_scope: int
    rate_limit: int
    time_scope: int
    total_registry_num: int
    registry_list: list[PolicyRegistry]


class ScanPolicyRequest(RequestBody):
    """``CycleImageScanPolicyReqInfo``."""

    enabled: bool
    scan_cycle: int = 7
    scan_scope: int = Field(default=0x7FFFFFFF, ge=0, le=0x7FFFFFFF)
    rate_limit: int = Field(default=0, ge=0, le=1000)
    time_scope: int = 0
    registry_info: list[RegistryRef] = Field(default_factory=list, max_length=200)


class OrganizationPolicy(BaseModel):
    """moorage's organization policy."""

    namespace: str
    scan_on_push: bool | None
    """Scan tagged pushes; null: the global setting (``MOORAGE_SCANNER__SCAN_ON_PUSH``)."""
    block_severity: str
    """Refuse pulls of images with findings at or above ``low``, ``medium``, ``high`` or
    ``critical``; empty: never."""
    block_unscanned: bool
    """Refuse pulls of images not scanned successfully."""
    allowlist: list[str]
    """Vulnerability ids (any alias) and rule ids that never cause a refusal."""
    version: int


class OrganizationPolicyList(BaseModel):
    """Every organization of the account that has a policy."""

    total_num: int
    data_list: list[OrganizationPolicy]


class OrganizationPolicyRequest(RequestBody):
    """A new organization policy."""

    scan_on_push: bool | None = None
    block_severity: str = Field(default="", max_length=16)
    block_unscanned: bool = False
    allowlist: list[str] = Field(default_factory=list, max_length=1000)


class Empty(BaseModel):
    """An answer with nothing to say (the SDK's model has no fields)."""
