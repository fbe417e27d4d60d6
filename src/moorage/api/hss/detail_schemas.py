"""Response bodies of the HSS detail operations about images (per image, baseline and build
commands), field for field as ``huaweicloudsdkhss``'s models define them (``v5/model``); the
operations across an account's images are in ``account_schemas``."""

from __future__ import annotations

from pydantic import BaseModel

# Per image ----------------------------------------------------------------------------------------


class ImageVulInfo(BaseModel):
    """A vulnerability of one image (``ImageVulInfo``)."""

    vul_id: str
    repair_necessity: str
    description: str
    position: str
    app_name: str
    app_path: str
    version: str
    solution: str
    url: str


class ImageVulList(BaseModel):
    total_num: int
    data_list: list[ImageVulInfo]


class ImageAppsInfo(BaseModel):
    app_name: str
    app_type: str
    app_version: str
    vul_num: int


class ImageAppList(BaseModel):
    total_num: int
    data_list: list[ImageAppsInfo]


class ImageFileInfo(BaseModel):
    file_name: str
    file_path: str
    size: int


class ImageFileList(BaseModel):
    total_num: int
    data_list: list[ImageFileInfo]


class ImageFilesStat(BaseModel):
    total_files_num: int
    total_files_size: int


class ImageMalwareInfo(BaseModel):
    file_name: str
    file_path: str
    size: int
    description: str


class ImageMalwareList(BaseModel):
    total_num: int
    data_list: list[ImageMalwareInfo]


class ImageSensitiveInfo(BaseModel):
    sensitive_info_id: str
    severity: str
    name: str
    description: str
    position: str
    file_path: str
    content: str
    latest_scan_time: int
    handle_status: str
    operate_accept: str


class ImageSensitiveList(BaseModel):
    total_num: int
    data_list: list[ImageSensitiveInfo]


class ImageNonCompliantAppInfo(BaseModel):
    id: str
    app_name: str
    app_path: str
    app_version: str
    layer_digest: str


class ImageNonCompliantAppList(BaseModel):
    total_num: int
    data_list: list[ImageNonCompliantAppInfo]


class ImageBasicImageInfo(BaseModel):
    os_name: str
    os_version: str
    layer_digest: str


class ImageBasicImageList(BaseModel):
    total_num: int
    data_list: list[ImageBasicImageInfo]


# Baseline and build commands ----------------------------------------------------------------------


class RiskConfigInfo(BaseModel):
    """A baseline of an image (``ImageRiskConfigsInfoResponseInfo``)."""

    severity: str
    check_name: str
    check_type: str
    standard: str
    check_rule_num: int
    failed_rule_num: int
    check_type_desc: str


class RiskConfigList(BaseModel):
    total_num: int
    data_list: list[RiskConfigInfo]


class RiskConfigRuleInfo(BaseModel):
    """A rule of a baseline (``ImageRiskConfigsCheckRulesResponseInfo``)."""

    severity: str
    check_name: str
    check_type: str
    standard: str
    check_rule_name: str
    check_rule_id: str
    scan_result: str


class RiskConfigRuleList(BaseModel):
    total_num: int
    data_list: list[RiskConfigRuleInfo]


class CheckCase(BaseModel):
    check_description: str
    current_value: str
    suggest_value: str


class CheckRuleDetail(BaseModel):
    description: str
    reference: str
    audit: str
    remediation: str
    check_info_list: list[CheckCase]


class WeakPwdUser(BaseModel):
    namespace: str
    image_name: str
    image_version: str
    image_id: str
    image_type: str
    latest_scan_time: int
    user_name: str
    service_type: str
    duration: int
    desensitized_weak_passwords: str
    suggestion: str


class WeakPwdUserList(BaseModel):
    total_num: int
    data_list: list[WeakPwdUser]


class PwdComplexity(BaseModel):
    image_id: str
    namespace: str
    image_name: str
    image_version: str
    image_type: str
    latest_scan_time: int
    min_length: bool
    uppercase_letter: bool
    lowercase_letter: bool
    number: bool
    special_character: bool
    suggestion: str


class PwdComplexityList(BaseModel):
    total_num: int
    data_list: list[PwdComplexity]


class BuildCommandRisk(BaseModel):
    latest_scan_time: int
    image_num: int
    risk_id: str
    rule_id: str
    risk_name: str
    risk_level: str
    description: str
    image_type: str


class BuildCommandRiskList(BaseModel):
    total_num: int
    data_list: list[BuildCommandRisk]


class BuildCommandRiskDetail(BaseModel):
    remediation: str
    build_instruction: str


class BuildCommandRiskDetailList(BaseModel):
    risk_num: int
    risk_list: list[BuildCommandRiskDetail]


class BuildCommandRiskImage(BaseModel):
    namespace: str
    image_digest: str
    image_id: str
    image_name: str
    image_version: str
    image_type: str
    image_size: int
    latest_scan_time: int
    risk_detail_info: BuildCommandRiskDetailList


class BuildCommandRiskImageList(BaseModel):
    total_num: int
    data_list: list[BuildCommandRiskImage]


class BaselineStatistic(BaseModel):
    image_weak_pwd: int
    pwd_policy: int
    security_check: int
