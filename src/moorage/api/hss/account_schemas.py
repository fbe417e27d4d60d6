"""Response and request bodies of the HSS operations across an account's images (vulnerability
lists, handling, whitelists, sensitive-information settings, statistics and reports), field for
field as ``huaweicloudsdkhss``'s models define them (``v5/model``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from moorage.api.hss.schemas import ImageFilterFields, RequestBody

# Across images ------------------------------------------------------------------------------------


class CveScore(BaseModel):
    cve_id: str
    cvss: float


class GeneralImageVul(BaseModel):
    """One vulnerability over the account's images (``GeneralImageVulsResponseInfo``)."""

    vul_name: str
    vul_id: str
    type: str
    image_type: str
    label_list: list[str]
    severity_level: str
    image_num: int
    cve_list: list[CveScore]
    max_cvss_score: float
    scan_time: int
    description: str
    url: str
    solution_detail: str
    cluster_num: int


class GeneralImageVulList(BaseModel):
    total_num: int
    data_list: list[GeneralImageVul]


class CveInfo(BaseModel):
    cve_id: str
    cvss_score: float
    publish_time: int
    description: str


class GlobalVul(BaseModel):
    """One vulnerability over the account's images (``GlobalVulInfo``; ``decription`` is the SDK's spelling)."""

    vul_name: str
    vul_id: str
    repair_necessity: str
    decription: str
    description: str
    solution: str
    url: str
    history_number: int
    undeal_number: int
    data_list: list[CveInfo]


class GlobalVulList(BaseModel):
    total_num: int
    data_list: list[GlobalVul]


class CveList(BaseModel):
    total_num: int
    data_list: list[CveInfo]


class VulRepoTag(BaseModel):
    tag_id: str
    tag_name: str
    size: int
    app_name: str


class VulRepoImage(BaseModel):
    namespace: str
    image_id: str
    image_name: str
    app_name: str
    version: str
    tag_count: int
    image_type: str
    data_list: list[VulRepoTag]


class VulRepoImageList(BaseModel):
    total_num: int
    data_list: list[VulRepoImage]


class VulAffectImage(BaseModel):
    """An image a vulnerability is found in (``VulAffectImagesResponseInfo``: times and sizes are strings there)."""

    image_id: str
    image_name: str
    vul_id: str
    repair_necessity: str
    container_num: int
    image_digest: str
    image_version: str
    agent_id: str
    status: str
    first_scan_time: str
    latest_scan_time: str
    image_type: str
    image_size: str
    organization: str
    registry_type: str
    registry_name: str
    is_multi_arch: str
    cluster_id: str
    cluster_name: str


class VulAffectImageList(BaseModel):
    total_num: int
    data_list: list[VulAffectImage]


class AppPath(BaseModel):
    status: str
    app_version: str
    app_path: str


class VulAffectApp(BaseModel):
    app_name: str
    paths: list[AppPath]
    rule: str


class VulAffectAppList(BaseModel):
    total_num: int
    data_list: list[VulAffectApp]


class VulDataItem(RequestBody):
    vul_id: str = Field(default="", max_length=128)
    image_id_list: list[str] = Field(default_factory=list, max_length=1000)


class ImageDataItem(RequestBody):
    image_id: str = Field(default="", max_length=512)
    vul_id_list: list[str] = Field(default_factory=list, max_length=1000)


class HandleVulnerabilityBody(RequestBody):
    """``HandleImageVulnerabilityRequestBody``."""

    image_type: str | None = Field(default=None, max_length=32)
    type: str | None = Field(default=None, max_length=16)
    operate_type: str = Field(max_length=32)
    handle_status: str | None = Field(default=None, max_length=16)
    select_type: str = Field(max_length=32)
    image_id_list: list[str] | None = Field(default=None, max_length=1000)
    vul_id_list: list[str] | None = Field(default=None, max_length=1000)
    vul_data_list: list[VulDataItem] | None = Field(default=None, max_length=1000)
    image_data_list: list[ImageDataItem] | None = Field(default=None, max_length=1000)
    remark: str = Field(default="", max_length=512)


class HandledPair(BaseModel):
    image_id: str
    image_name: str
    vul_id: str
    vul_name: str


class HandleAffectList(BaseModel):
    total_vul_num: int
    vul_num: int
    image_num: int
    data_list: list[HandledPair]


class VulOperation(BaseModel):
    image_id: str
    image_name: str
    user_name: str
    handle_time: int
    handle_type: str
    status: str
    app_name: str
    app_version: str
    app_path: str
    remark: str
    image_digest: str
    image_version: str
    agent_id: str


class VulOperationList(BaseModel):
    total_num: int
    data_list: list[VulOperation]


class GlobalApp(BaseModel):
    app_name: str
    app_type: str
    app_version: str
    vul_num: int
    app_path: str
    layer_digest: str
    is_compliant: bool
    latest_scan_time: int
    image_type: str
    namespace: str
    image_name: str
    image_version: str
    image_id: str


class GlobalAppList(BaseModel):
    total_num: int
    data_list: list[GlobalApp]


class GlobalMalware(BaseModel):
    file_name: str
    file_path: str
    size: int
    latest_scan_time: int
    description: str
    image_type: str
    namespace: str
    image_name: str
    image_version: str
    image_id: str
    instance_id: str


class GlobalMalwareList(BaseModel):
    total_num: int
    data_list: list[GlobalMalware]


class Empty(BaseModel):
    """An answer without fields."""


# Whitelists, sensitive information, weak passwords --------------------------------------------------


class WhitelistQueryInfo(RequestBody):
    image_type: str = Field(default="", max_length=64)


class WhitelistImageRef(RequestBody):
    id: int | None = Field(default=None, ge=1, le=9_223_372_036_854_775_807)
    image_id: str = Field(default="", max_length=200)
    image_name: str = Field(default="", max_length=256)
    image_type: str = Field(default="", max_length=32)


class AddWhitelistsBody(RequestBody):
    """``AddImageWhiteListsRequestBody``."""

    vul_type: str = Field(default="", max_length=16)
    vul_ids: list[str] = Field(max_length=100)
    rule_type: str = Field(max_length=32)
    query_info: WhitelistQueryInfo | None = None
    image_info: list[WhitelistImageRef] | None = Field(default=None, max_length=1000)
    description: str = Field(default="", max_length=512)


class ChangeWhitelistBody(RequestBody):
    """``ChangeImageWhiteListRequestBody``."""

    rule_type: str = Field(max_length=32)
    query_info: WhitelistQueryInfo | None = None
    image_info: list[WhitelistImageRef] | None = Field(default=None, max_length=1000)
    description: str = Field(default="", max_length=512)


class DeleteWhitelistsBody(RequestBody):
    ids: list[str] = Field(max_length=1000)


class WhitelistCve(BaseModel):
    cve_id: str
    cvss: float


class WhitelistQueryInfoOut(BaseModel):
    image_type: str


class WhitelistImageInfo(BaseModel):
    id: int
    image_id: str
    image_name: str


class WhitelistDetail(BaseModel):
    id: str
    vul_id: str
    vul_name: str
    vul_type: str
    cves: list[WhitelistCve]
    rule_type: str
    query_info: WhitelistQueryInfoOut
    image_info: list[WhitelistImageInfo]
    description: str


class WhitelistList(BaseModel):
    total_num: int
    data_list: list[WhitelistDetail]


class SensitiveOperateBody(RequestBody):
    sensitive_info_id: str = Field(max_length=64)
    operate_type: str = Field(max_length=32)


class FilePathsBody(RequestBody):
    customized_path: list[str] = Field(default_factory=list, max_length=1000)


class FilePaths(BaseModel):
    default_path: list[str]
    customized_path: list[str]


class WeakPasswordsBody(RequestBody):
    extended_weak_password: list[str] = Field(default_factory=list, max_length=1000)


class WeakPasswords(BaseModel):
    extended_weak_password: list[str]


# Statistics and reports -----------------------------------------------------------------------------


class AssetStatistics(BaseModel):
    local_num: int
    cicd_num: int
    registry_num: int


class ImageTypeRisk(BaseModel):
    local: int
    registriy: int
    registry: int
    cicd: int


class PayPerScanStatistics(BaseModel):
    """``ShowImagePayPerScanStatisticsResponse``: moorage bills nothing, so only the counts mean something."""

    repository_scan_num: int
    cicd_scan_num: int
    free_quota_num: int
    already_given: bool
    image_free_quota: int
    high_risk: ImageTypeRisk
    has_risk: ImageTypeRisk
    total: ImageTypeRisk
    unscan: ImageTypeRisk


class ReportFilterBody(ImageFilterFields):
    """``BatchExportSWRBaselineInfoRequestInfo`` / ``ExportImageSecurityReportTaskRequestInfo``: which images."""

    export_size: int | None = Field(default=None, ge=0, le=2_147_483_647)
    security_report_type: str | None = Field(default=None, max_length=32)
    image_id_list: list[str] | None = Field(default=None, max_length=1000)
    operate_all: bool | None = None
    latest_version: bool | None = None
    has_malicious_file: bool | None = None
    has_vul: bool | None = None
    has_unsafe_setting: bool | None = None
    risky: bool | None = None
    severity_level: str | None = Field(default=None, max_length=16)
    instance_name: str | None = Field(default=None, max_length=128)
    instance_id: str | None = Field(default=None, max_length=128)


class ReportStatistic(BaseModel):
    total_num: int


class ExportTaskId(BaseModel):
    task_id: str


class BaselineExport(BaseModel):
    record_total_num: int
    task_id: str


class ExportTaskInfo(BaseModel):
    """moorage's view of an export task (not an SDK model)."""

    task_id: str
    kind: str
    status: str
    file_name: str
    file_format: str
    record_num: int
    image_num: int
    created_at: int
    finished_at: int
