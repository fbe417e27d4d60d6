"""Baseline and build-command details (``/v5/{project_id}/image/baseline/...`` and
``/image/build-command-risks``): the baselines checked in an image and their rules, one rule's
detail, accounts with weak passwords, password complexity policies, the baseline statistic, and
risky build commands with the images that have them. Lists answer ``{"total_num", "data_list"}``
paged by ``offset``/``limit``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.hss import detail_schemas as d
from moorage.api.hss.fields import ByTag, ByType, ByVersion, OptionalId, Paged, Short, Text, image_fields
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ACCOUNT, access_rules
from moorage.api.swr.wire import refuse_nul_characters
from moorage.services.security.baseline_catalog import STANDARD
from moorage.services.security.detail_vocabulary import RISK_LEVELS, choice

router = APIRouter(
    tags=["HSS image baseline"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

RISK_CONFIGS = "/v5/{project_id}/image/baseline/risk-configs"
RISK_CONFIG_RULES = "/v5/{project_id}/image/baseline/risk-configs/{check_name}/rules"
CHECK_RULE_DETAIL = "/v5/{project_id}/image/baseline/check-rule/detail"
WEAK_USERS_PATH = "/v5/{project_id}/image/baseline/weak-password-users"
COMPLEXITY_PATH = "/v5/{project_id}/image/baseline/password-complexity"
STATISTIC = "/v5/{project_id}/image/baseline/statistic"
BUILD_RISKS = "/v5/{project_id}/image/build-command-risks"
BUILD_RISK_IMAGES = "/v5/{project_id}/image/build-command-risks/images"
ACCESS_RULES = access_rules(
    {
        ("GET", path): ACCOUNT
        for path in (
            RISK_CONFIGS,
            RISK_CONFIG_RULES,
            CHECK_RULE_DETAIL,
            WEAK_USERS_PATH,
            COMPLEXITY_PATH,
            STATISTIC,
            BUILD_RISKS,
            BUILD_RISK_IMAGES,
        )
    }
)
BASELINE_LEVELS = ("Critical", "High", "Medium", "Low", "Security")
"""The severity filters of the configuration checks. The SDK documents ``Critical`` too; a check's level
tops at ``High`` (critical rules are reported as High), so that filter finds nothing."""
WEAK_SUGGESTION = "Set a strong password for the account, or lock it (passwd -l), and rebuild the image."


def _standard(standard: str | None) -> None:
    choice("standard", standard, (STANDARD, "cn_standard"))


@router.get(RISK_CONFIGS, response_model=d.RiskConfigList)
async def list_image_risk_configs(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByVersion,
    paging: Paged,
    image_id: str = Query(max_length=200),
    check_name: Text = None,
    severity: Short = None,
    standard: Short = None,
) -> d.RiskConfigList:
    """The baselines checked in an image, the most severe first."""
    _standard(standard)
    found = await services.security.baseline.risk_configs(
        principal,
        naming.of(image_id),
        check_name=check_name or None,
        severity=choice("severity", severity, BASELINE_LEVELS),
    )
    return d.RiskConfigList(
        total_num=len(found),
        data_list=[
            d.RiskConfigInfo(
                severity=c.severity,
                check_name=c.check_name,
                check_type=c.check_type,
                standard=c.standard,
                check_rule_num=c.check_rule_num,
                failed_rule_num=c.failed_rule_num,
                check_type_desc=c.check_type_desc,
            )
            for c in paging.of(found)
        ],
    )


@router.get(RISK_CONFIG_RULES, response_model=d.RiskConfigRuleList)
async def list_image_risk_config_rules(
    project_id: str,
    check_name: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByVersion,
    paging: Paged,
    image_id: str = Query(max_length=200),
    standard: Short = None,
    result_type: Short = None,
    check_rule_name: Text = None,
    severity: Short = None,
) -> d.RiskConfigRuleList:
    """Each rule of one baseline with its result in an image, failures first."""
    _standard(standard)
    found = await services.security.baseline.rules(
        principal,
        naming.of(image_id),
        check_name=check_name[:255],
        result_type=result_type or None,
        check_rule_name=check_rule_name or None,
        severity=choice("severity", severity, BASELINE_LEVELS),
    )
    return d.RiskConfigRuleList(
        total_num=len(found),
        data_list=[
            d.RiskConfigRuleInfo(
                severity=r.severity,
                check_name=r.check_name,
                check_type=r.check_type,
                standard=r.standard,
                check_rule_name=r.check_rule_name,
                check_rule_id=r.check_rule_id,
                scan_result=r.scan_result,
            )
            for r in paging.of(found)
        ],
    )


@router.get(CHECK_RULE_DETAIL, response_model=d.CheckRuleDetail)
async def show_image_check_rule_detail(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByVersion,
    image_id: str = Query(max_length=200),
    check_rule_id: str = Query(max_length=128),
    enterprise_project_id: Text = None,
    check_name: Text = None,
    check_type: Text = None,
    standard: Short = None,
) -> d.CheckRuleDetail:
    """What a rule checks, how to audit and fix it, and what the image has."""
    _standard(standard)
    detail = await services.security.baseline.rule_detail(principal, naming.of(image_id), check_rule_id=check_rule_id)
    rule = detail.rule
    return d.CheckRuleDetail(
        description=rule.description,
        reference=rule.reference,
        audit=rule.audit,
        remediation=rule.remediation,
        check_info_list=[
            d.CheckCase(
                check_description=rule.name,
                current_value="; ".join(detail.current) if detail.current else "compliant",
                suggest_value=rule.suggest_value,
            )
        ],
    )


@router.get(WEAK_USERS_PATH, response_model=d.WeakPwdUserList)
async def list_image_weak_pwd_users(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByTag,
    paging: Paged,
    image_id: OptionalId = None,
    user_name: Text = None,
) -> d.WeakPwdUserList:
    """Accounts with a weak or empty password (one image, or every image of the account)."""
    found = await services.security.baseline.weak_password_users(
        principal, naming.scope(image_id), user_name=user_name or None
    )
    return d.WeakPwdUserList(
        total_num=len(found),
        data_list=[
            d.WeakPwdUser(
                **image_fields(u.image),
                user_name=u.user_name,
                service_type="system",
                duration=u.duration_days,
                desensitized_weak_passwords="(empty)" if u.empty else "******",
                suggestion=WEAK_SUGGESTION,
            )
            for u in paging.of(found)
        ],
    )


@router.get(COMPLEXITY_PATH, response_model=d.PwdComplexityList)
async def list_image_pwd_complexity(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByVersion,
    paging: Paged,
) -> d.PwdComplexityList:
    """Images whose password policy misses a complexity rule (true: the rule is enforced)."""
    found = await services.security.baseline.password_complexity(principal, naming.scope())
    return d.PwdComplexityList(
        total_num=len(found),
        data_list=[
            d.PwdComplexity(
                **image_fields(c.image),
                min_length=c.complexity.min_length,
                uppercase_letter=c.complexity.uppercase_letter,
                lowercase_letter=c.complexity.lowercase_letter,
                number=c.complexity.number,
                special_character=c.complexity.special_character,
                suggestion=c.complexity.suggestion,
            )
            for c in paging.of(found)
        ],
    )


@router.get(STATISTIC, response_model=d.BaselineStatistic)
async def show_image_baseline_statistic(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByVersion,
    enterprise_project_id: Text = None,
    image_id: OptionalId = None,
) -> d.BaselineStatistic:
    """Images with weak passwords, with a weak password policy, and failing a configuration check."""
    weak, policy, failing = await services.security.baseline.statistic(principal, naming.scope(image_id))
    return d.BaselineStatistic(image_weak_pwd=weak, pwd_policy=policy, security_check=failing)


@router.get(BUILD_RISKS, response_model=d.BuildCommandRiskList)
async def list_image_build_command_risks(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByType,
    paging: Paged,
    image_id: OptionalId = None,
    risk_name: Text = None,
    risk_level: Short = None,
) -> d.BuildCommandRiskList:
    """Build-command rules broken by the images (one image, or the account's), the most severe first."""
    found = await services.security.baseline.build_risks(
        principal,
        naming.scope(image_id),
        risk_name=risk_name or None,
        level=choice("risk_level", risk_level, RISK_LEVELS),
    )
    return d.BuildCommandRiskList(
        total_num=len(found),
        data_list=[
            d.BuildCommandRisk(
                latest_scan_time=r.latest_scan_time,
                image_num=r.image_num,
                risk_id=r.rule.rule_id,
                rule_id=r.rule.rule_id,
                risk_name=r.rule.name,
                risk_level=_level(r.rule.severity),
                description=r.rule.description,
                image_type=r.image_type,
            )
            for r in paging.of(found)
        ],
    )


def _level(severity: str) -> str:
    return {"critical": "Critical", "high": "High", "medium": "Medium"}.get(severity, "Low")


@router.get(BUILD_RISK_IMAGES, response_model=d.BuildCommandRiskImageList)
async def list_image_build_command_risks_images(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByType,
    paging: Paged,
    rule_id: str | None = Query(default=None, max_length=128),
    image_id: OptionalId = None,
) -> d.BuildCommandRiskImageList:
    """Images with build-command risks (``rule_id``: of one rule), with the instructions concerned."""
    found = await services.security.baseline.build_risk_images(
        principal, naming.scope(image_id), rule_id=rule_id or None
    )
    return d.BuildCommandRiskImageList(
        total_num=len(found),
        data_list=[
            d.BuildCommandRiskImage(
                **image_fields(i.image),
                image_digest=i.image.image_digest,
                image_size=i.image.image_size,
                risk_detail_info=d.BuildCommandRiskDetailList(
                    risk_num=len(i.instructions),
                    risk_list=[
                        d.BuildCommandRiskDetail(remediation=remediation, build_instruction=text)
                        for text, remediation in i.instructions
                    ],
                ),
            )
            for i in paging.of(found)
        ],
    )
