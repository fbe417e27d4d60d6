"""Request and response bodies of HSS's CI/CD operations, field for field as ``huaweicloudsdkhss``'s
models define them (``AddCicdConfigurationRequestBody``, ``CicdConfigurationsResponseInfo``,
``CICDImageResponseInfo``...), plus moorage's gate fields (``block_severities``,
``block_on_secrets``, ``block_on_malicious_files``), which the SDK's models do not carry: a caller
may send them, an SDK ignores them in answers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from moorage.api.hss.schemas import RequestBody

Entries = list[str] | None


class GateFields(RequestBody):
    """The gate's fields of a request (None: left as it is, or the default for a new configuration)."""

    vulnerability_whitelist: Entries = None
    vulnerability_blocklist: Entries = None
    image_whitelist: Entries = None
    block_severities: Entries = None
    block_on_secrets: bool | None = None
    block_on_malicious_files: bool | None = None


class AddCicdConfigurationBody(GateFields):
    """``AddCicdConfigurationRequestBody``."""

    cicd_name: str = Field(min_length=1, max_length=128)


class ModifyCicdConfigurationBody(GateFields):
    """``ModifyCicdConfigurationRequestBody``."""


class DeleteCicdConfigurationsBody(RequestBody):
    """``DeleteCicdConfigurationsRequestBody``."""

    cicd_id_list: list[str] = Field(min_length=1, max_length=1000)


class ImageScanInfo(RequestBody):
    """``ImageScanRequestInfo`` (the newer SDKs' place for the image fields)."""

    scan_type: str | None = None
    image_name: str | None = None
    image_version: str | None = None
    is_blocking: bool | None = None
    repository_address: str | None = None
    login_user_name: str | None = None
    login_password: str | None = None
    namespace: str | None = None
    pipeline_type: str | None = None


class CreateCommandBody(ImageScanInfo):
    """``CreateCicdConfigurationCommandRequestBody``: the image fields at the top or in ``image_scan_info``."""

    cicd_id: str = Field(min_length=1, max_length=128)
    is_image_scan: bool | None = None
    image_scan_info: ImageScanInfo | None = None
    is_iac_scan: bool | None = None


class AddCicdConfigurationAnswer(BaseModel):
    """``AddCicdConfigurationResponse``."""

    cicd_id: str


class CicdConfigurationInfo(BaseModel):
    """``CicdConfigurationsResponseInfo``."""

    cicd_id: str
    cicd_name: str
    associated_images_num: int
    associated_config_num: int


class CicdConfigurationList(BaseModel):
    """``ListCicdConfigurationsResponse``."""

    total_num: int
    data_list: list[CicdConfigurationInfo]


class CicdConfigurationDetail(BaseModel):
    """``ShowCicdConfigurationResponse`` and moorage's gate fields."""

    cicd_id: str
    cicd_name: str
    associated_images_num: int
    vulnerability_whitelist: list[str]
    vulnerability_blocklist: list[str]
    image_whitelist: list[str]
    block_severities: list[str]
    block_on_secrets: bool
    block_on_malicious_files: bool


class CicdCommand(BaseModel):
    """``CreateCicdConfigurationCommandResponse``."""

    cicd_command: str


class CicdImageInfo(BaseModel):
    """``CICDImageResponseInfo``."""

    image_id: str
    cicd_name: str
    namespace: str
    image_name: str
    image_digest: str
    image_version: str
    registry_name: str
    image_type: str
    registry_type: str
    latest_version: bool
    scan_status: str
    scan_failed_desc: str
    scan_failed_code: str
    image_size: int
    latest_update_time: int
    latest_scan_time: int
    vul_num: int
    unsafe_setting_num: int
    malicious_file_num: int
    severity_level: str
    pipeline_type: str


class CicdImageList(BaseModel):
    """``ListCicdImagesResponse``."""

    total_num: int
    data_list: list[CicdImageInfo]


class UploadAnswer(BaseModel):
    """What ``moorage scan --report-to`` is told after an upload (moorage's own operation)."""

    cicd_id: str
    image_id: str
    image_digest: str
    passed: bool
    reasons: list[str]
    vul_num: int
    severity_level: str
    advisory_db: str
