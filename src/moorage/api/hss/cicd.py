"""HSS CI/CD (``/v5/{project_id}/image/cicd/...``): configurations (add, list, show, modify, delete),
the command a pipeline runs (``create-command``), the images pipelines uploaded (``cicd/images``),
and moorage's own upload operation that ``moorage scan --report-to`` calls
(``POST .../configurations/{cicd_id}/results``).

The upload route takes no IAM credential (its rule is public): the handler hands the request's
``Authorization: Bearer`` credential and a bounded body reader to the upload service, which checks
the credential before reading a byte. Included before the vulnerability routers:
``/image/cicd/images`` would otherwise be taken by ``/image/{vul_id}/images``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.requests import ClientDisconnect

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.hss import cicd_schemas as c
from moorage.api.hss.account_schemas import Empty
from moorage.api.hss.fields import Limit, Offset, Short, Text
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ACCOUNT, ADMIN, PUBLIC, access_rules
from moorage.api.swr.wire import refuse_nul_characters
from moorage.domain.errors import Invalid, TooLarge, Unauthenticated
from moorage.domain.security import ScanStatus
from moorage.domain.security_cicd import CICD_IMAGE_PREFIX, CicdConfiguration, CicdImage, CicdImageFilter
from moorage.services.security.cicd import CommandRequest, GateChange
from moorage.services.security.detail_vocabulary import choice

router = APIRouter(
    tags=["HSS CI/CD"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

CONFIGURATIONS = "/v5/{project_id}/image/cicd/configurations"
BATCH_DELETE = f"{CONFIGURATIONS}/batch-delete"
CREATE_COMMAND = f"{CONFIGURATIONS}/create-command"
CONFIGURATION = f"{CONFIGURATIONS}/{{cicd_id}}"
RESULTS = f"{CONFIGURATIONS}/{{cicd_id}}/results"
IMAGES = "/v5/{project_id}/image/cicd/images"
ACCESS_RULES = access_rules(
    {
        ("POST", CONFIGURATIONS): ADMIN,
        ("GET", CONFIGURATIONS): ACCOUNT,
        ("POST", BATCH_DELETE): ADMIN,
        ("POST", CREATE_COMMAND): ADMIN,
        ("GET", CONFIGURATION): ACCOUNT,
        ("PUT", CONFIGURATION): ADMIN,
        ("GET", IMAGES): ACCOUNT,
        ("POST", RESULTS): PUBLIC,  # the scan-upload credential is checked by the service
    }
)
CicdId = Annotated[str, Query(min_length=1, max_length=128)]
Long = Annotated[int | None, Query(ge=0, le=2**63 - 1)]
CICD_LIMIT = Annotated[int, Query(ge=10, le=200)]
SCAN_STATUSES = ("unscan", "success", "scanning", "failed", "waiting_for_scan")
LEVELS = ("Security", "Low", "Medium", "High")
PIPELINES = ("jenkins", "codearts", "gitlab", "github", "other")


def _change(body: c.GateFields) -> GateChange:
    return GateChange(
        vulnerability_whitelist=body.vulnerability_whitelist,
        vulnerability_blocklist=body.vulnerability_blocklist,
        image_whitelist=body.image_whitelist,
        block_severities=body.block_severities,
        block_on_secrets=body.block_on_secrets,
        block_on_malicious_files=body.block_on_malicious_files,
    )


@router.post(CONFIGURATIONS, response_model=c.AddCicdConfigurationAnswer)
async def add_cicd_configuration(
    project_id: str,
    body: c.AddCicdConfigurationBody,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
) -> c.AddCicdConfigurationAnswer:
    """A new CI/CD configuration: its gate (defaults: critical and high vulnerabilities, secrets and
    malicious files fail the build)."""
    cicd_id = await services.security.cicd.add(principal, name=body.cicd_name, change=_change(body))
    return c.AddCicdConfigurationAnswer(cicd_id=cicd_id)


def _info(found: CicdConfiguration) -> c.CicdConfigurationInfo:
    return c.CicdConfigurationInfo(
        cicd_id=found.id, cicd_name=found.name, associated_images_num=found.images_num, associated_config_num=0
    )


@router.get(CONFIGURATIONS, response_model=c.CicdConfigurationList)
async def list_cicd_configurations(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
    offset: Offset = 0,
    limit: CICD_LIMIT = 10,
    cicd_name: Text = None,
    cicd_id: Text = None,
) -> c.CicdConfigurationList:
    """The account's configurations, oldest first."""
    found, total = await services.security.cicd.page(
        principal, name=cicd_name or None, cicd_id=cicd_id or None, offset=offset, limit=limit
    )
    return c.CicdConfigurationList(total_num=total, data_list=[_info(f) for f in found])


@router.post(BATCH_DELETE, response_model=Empty)
async def delete_cicd_configurations(
    project_id: str,
    body: c.DeleteCicdConfigurationsBody,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
) -> Empty:
    """Delete configurations with their uploaded images; their upload credentials stop working."""
    await services.security.cicd.delete(principal, body.cicd_id_list)
    return Empty()


@router.post(CREATE_COMMAND, response_model=c.CicdCommand)
async def create_cicd_configuration_command(
    project_id: str,
    body: c.CreateCommandBody,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
) -> c.CicdCommand:
    """The ``moorage scan`` command line a pipeline runs, with a short-lived scan-upload credential."""
    if body.is_iac_scan:
        raise Invalid("moorage scans images: is_iac_scan is not served")
    nested = body.image_scan_info or c.ImageScanInfo()

    def pick(field: str) -> str:
        value = getattr(nested, field) or getattr(body, field)
        return str(value or "")

    blocking = nested.is_blocking if nested.is_blocking is not None else body.is_blocking
    command = await services.security.cicd.command(
        principal,
        CommandRequest(
            cicd_id=body.cicd_id,
            scan_type=pick("scan_type") or "local_image",
            image_name=pick("image_name"),
            image_version=pick("image_version"),
            namespace=pick("namespace"),
            repository_address=pick("repository_address"),
            login_user_name=pick("login_user_name"),
            is_blocking=True if blocking is None else blocking,
            pipeline_type=pick("pipeline_type"),
        ),
    )
    return c.CicdCommand(cicd_command=command)


@router.get(CONFIGURATION, response_model=c.CicdConfigurationDetail)
async def show_cicd_configuration(
    project_id: str,
    cicd_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
) -> c.CicdConfigurationDetail:
    """One configuration and its gate."""
    found = await services.security.cicd.show(principal, cicd_id)
    gate = found.gate
    return c.CicdConfigurationDetail(
        cicd_id=found.id,
        cicd_name=found.name,
        associated_images_num=found.images_num,
        vulnerability_whitelist=list(gate.vulnerability_whitelist),
        vulnerability_blocklist=list(gate.vulnerability_blocklist),
        image_whitelist=list(gate.image_whitelist),
        block_severities=[s.value for s in gate.block_severities],
        block_on_secrets=gate.block_on_secrets,
        block_on_malicious_files=gate.block_on_malicious_files,
    )


@router.put(CONFIGURATION, response_model=Empty)
async def modify_cicd_configuration(
    project_id: str,
    cicd_id: str,
    body: c.ModifyCicdConfigurationBody,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
) -> Empty:
    """Change a configuration's gate (fields left out stay as they are)."""
    await services.security.cicd.modify(principal, cicd_id, _change(body))
    return Empty()


def _image(found: CicdImage) -> c.CicdImageInfo:
    failed = found.scan_status == ScanStatus.FAILED.value
    return c.CicdImageInfo(
        image_id=found.image_id,
        cicd_name=found.cicd_name,
        namespace=found.namespace,
        image_name=found.image_name,
        image_digest=found.manifest_digest,
        image_version=found.image_version,
        registry_name=found.cicd_name,
        image_type="cicd",
        registry_type="cicd",
        latest_version=found.latest_version,
        scan_status=found.scan_status,
        scan_failed_desc="the uploaded result could not be stored" if failed else "",
        scan_failed_code="unknown_error" if failed else "",
        image_size=found.image_size,
        latest_update_time=found.uploaded_at,
        latest_scan_time=found.latest_scan_time,
        vul_num=found.vul_num,
        unsafe_setting_num=found.unsafe_setting_num,
        malicious_file_num=found.malicious_file_num,
        severity_level=found.severity_level,
        pipeline_type=found.pipeline_type,
    )


def _image_row_id(image_id: str | None) -> int | None:
    if not image_id:
        return None
    digits = image_id.removeprefix(CICD_IMAGE_PREFIX)
    if not digits.isdigit() or len(digits) > 18:
        return -1  # matches nothing
    return int(digits)


@router.get(IMAGES, response_model=c.CicdImageList)
async def list_cicd_images(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
    namespace: Text = None,
    image_name: Text = None,
    image_version: Text = None,
    sort_key: Short = None,
    sort_dir: Short = None,
    limit: Limit = 10,
    offset: Offset = 0,
    image_id: Text = None,
    cicd_name: Text = None,
    latest_version: bool | None = None,
    image_size: Long = None,
    scan_status: Short = None,
    start_latest_update_time: Long = None,
    end_latest_update_time: Long = None,
    start_latest_scan_time: Long = None,
    end_latest_scan_time: Long = None,
    has_malicious_file: bool | None = None,
    has_unsafe_setting: bool | None = None,
    has_vul: bool | None = None,
    severity_level: Short = None,
    risky: bool | None = None,
    pipeline_type: Short = None,
) -> c.CicdImageList:
    """The images pipelines uploaded, by latest scan time (``sort_dir=desc``: newest first)."""
    choice("sort_key", sort_key, ("latest_scan_time",))
    descending = choice("sort_dir", sort_dir, ("asc", "desc")) == "desc"
    flt = CicdImageFilter(
        namespace=namespace or None,
        image_name=image_name or None,
        image_version=image_version or None,
        image_id=_image_row_id(image_id),
        cicd_name=cicd_name or None,
        latest_version=latest_version,
        scan_status=choice("scan_status", scan_status, SCAN_STATUSES),
        severity_level=choice("severity_level", severity_level, LEVELS),
        has_vul=has_vul,
        has_malicious_file=has_malicious_file,
        has_unsafe_setting=has_unsafe_setting,
        risky=risky,
        pipeline_type=choice("pipeline_type", pipeline_type, PIPELINES),
        start_scan_time=start_latest_scan_time,
        end_scan_time=end_latest_scan_time,
        start_update_time=start_latest_update_time,
        end_update_time=end_latest_update_time,
    )
    found, total = await services.security.cicd.images(
        principal, flt, descending=descending, offset=offset, limit=limit
    )
    return c.CicdImageList(total_num=total, data_list=[_image(f) for f in found])


async def _bounded_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise TooLarge(f"the upload is larger than {limit} bytes (MOORAGE_SCANNER__CICD_UPLOAD_MAX_BYTES)")
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the upload is larger than {limit} bytes (MOORAGE_SCANNER__CICD_UPLOAD_MAX_BYTES)")
            parts.append(chunk)
    except ClientDisconnect as exc:
        raise Invalid("the client went away while sending the upload") from exc
    return b"".join(parts)


@router.post(RESULTS, response_model=c.UploadAnswer)
async def upload_cicd_result(project_id: str, cicd_id: str, request: Request, services: ServicesDep) -> c.UploadAnswer:
    """A pipeline's scan result (``moorage scan --report-to``), with the command's credential; the
    answer says whether the configuration's gate passed."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("an Authorization: Bearer CI/CD upload credential is required")
    outcome = await services.security.cicd_uploads.receive(
        credential=credential.strip(),
        project_id=project_id,
        cicd_id=cicd_id,
        read_body=lambda limit: _bounded_body(request, limit),
    )
    return c.UploadAnswer(
        cicd_id=outcome.cicd_id,
        image_id=outcome.image_id,
        image_digest=outcome.manifest_digest,
        passed=outcome.verdict.passed,
        reasons=list(outcome.verdict.reasons),
        vul_num=outcome.vul_num,
        severity_level=outcome.severity_level,
        advisory_db=outcome.advisory_db,
    )
