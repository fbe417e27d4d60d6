"""Connected registries: add (with a connectivity check), list, change, delete one or several,
count by access status, and the upload command. Registry types: ``Harbor``, ``Jfrog``, ``Other``
(any OCI registry); moorage's own ``SwrPrivate`` / ``SwrShared`` / ``SwrEnterprise`` entries are
listed once used and cannot be changed."""

from __future__ import annotations

import shlex

from fastapi import APIRouter, Depends, Query

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.hss import schemas as s
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ACCOUNT, ADMIN, access_rules
from moorage.api.swr.wire import refuse_nul_characters
from moorage.domain.errors import Invalid
from moorage.domain.security import ConnectedRegistry, RegistryStatus, RegistryType
from moorage.domain.security_registries import RegistryInput, RegistryQuery
from moorage.services.security.registries import normalise_address

router = APIRouter(
    tags=["HSS registries"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

REGISTRIES = "/v5/{project_id}/image/registries"
ACCESS_RULES = access_rules(
    {
        ("POST", REGISTRIES): ADMIN,
        ("GET", REGISTRIES): ACCOUNT,
        ("POST", REGISTRIES + "/batch-delete"): ADMIN,
        ("GET", REGISTRIES + "/statistics"): ACCOUNT,
        ("GET", REGISTRIES + "/image-upload-command"): ACCOUNT,
        ("PUT", REGISTRIES + "/{id}"): ADMIN,
        ("DELETE", REGISTRIES + "/{id}"): ADMIN,
    }
)
REGISTRY_TYPES = tuple(t.value for t in RegistryType)


def _types(value: str | None) -> tuple[str, ...]:
    """``Harbor,Jfrog`` -> the types (several may be asked, comma-separated)."""
    if not value:
        return ()
    found = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    for kind in found:
        if kind not in REGISTRY_TYPES:
            raise Invalid(f"registry_type must be one of {', '.join(REGISTRY_TYPES)}, got {kind[:32]!r}")
    return found


def registry_info(registry: ConnectedRegistry) -> s.RegistryInfo:
    """A registry as the API shows it (never its password)."""
    return s.RegistryInfo(
        id=registry.id,
        registry_name=registry.name,
        registry_type=registry.type.value,
        api_version=registry.api_version,
        protocol=registry.protocol,
        registry_addr=registry.address,
        registry_username=registry.username,
        namespace=",".join(registry.organization_filter),
        connect_cluster_id=registry.connect_cluster_id,
        get_scan_image_channel=registry.scan_image_channel,
        status=registry.status,
        fail_reason=registry.fail_reason,
        images_num=registry.images_num,
        latest_sync_time=registry.latest_sync_time,
    )


@router.post(REGISTRIES, response_model=s.Created)
async def add_registry(
    project_id: str,
    body: s.AddRegistryRequest,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
) -> s.Created:
    """Connect an external registry after checking that its credentials work."""
    registry = await services.security.registries.add(
        principal,
        RegistryInput(
            name=body.registry_name,
            type=body.registry_type,
            api_version=body.api_version,
            protocol=body.protocol,
            address=body.registry_addr,
            username=body.registry_username,
            password=body.registry_password,
            organization_filter=body.namespace,
            connect_cluster_id=body.connect_cluster_id,
            scan_image_channel=body.get_scan_image_channel,
        ),
    )
    return s.Created(id=registry.id)


@router.get(REGISTRIES, response_model=s.RegistryList)
async def list_registry(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
    offset: int = Query(default=0, ge=0, le=2_000_000),
    limit: int = Query(default=10, ge=1, le=200),
    registry_name: str | None = Query(default=None, max_length=128),
    registry_id: str | None = Query(default=None, max_length=64),
    registry_type: str | None = Query(default=None, max_length=128),
    registry_addr: str | None = Query(default=None, max_length=256),
    status: str | None = Query(default=None, max_length=16),
) -> s.RegistryList:
    """The account's registries, oldest first (``registry_name`` and ``registry_addr`` match a part)."""
    if status and status not in tuple(RegistryStatus):
        raise Invalid(f"status must be one of {', '.join(RegistryStatus)}")
    query = RegistryQuery(
        name=registry_name or None,
        registry_id=registry_id or None,
        types=_types(registry_type),
        address=registry_addr or None,
        status=status or None,
    )
    found, total = await services.security.registries.page(principal, query, offset=offset, limit=limit)
    return s.RegistryList(data_list=[registry_info(r) for r in found], total_num=total)


@router.post(REGISTRIES + "/batch-delete", response_model=s.Empty)
async def batch_delete_registry(
    project_id: str,
    body: s.BatchDeleteRegistryRequest,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
) -> s.Empty:
    """Delete several external registries (all or none) and their image rows."""
    await services.security.registries.delete(principal, list(dict.fromkeys(body.ids)))
    return s.Empty()


@router.get(REGISTRIES + "/statistics", response_model=s.RegistryStatistics)
async def list_registry_statistics(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
    registry_type: str | None = Query(default=None, max_length=128),
) -> s.RegistryStatistics:
    """How many registries were reached successfully and how many failed."""
    failed, succeeded = await services.security.registries.statistics(principal, _types(registry_type))
    return s.RegistryStatistics(fail_num=failed, success_num=succeeded)


@router.get(REGISTRIES + "/image-upload-command", response_model=s.UploadCommand)
async def show_image_upload_command(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    registry_addr: str = Query(min_length=1, max_length=256),
    namespace: str = Query(min_length=1, max_length=128),
    username: str = Query(default="", max_length=128),
    password: str = Query(default="", max_length=128),
) -> s.UploadCommand:
    """The commands that copy an image from moorage into a connected registry's organization.

    HSS answers with the commands that upload its scan component; moorage's scanner runs in its
    own workers, so it answers with what an operator of a connected registry needs instead. The
    password is never echoed: the login reads it from standard input."""
    address, _protocol = normalise_address(registry_addr, "https")
    if "/" in namespace or not namespace.strip():
        raise Invalid("namespace must be one organization name")
    source = services.settings.registry_host
    login = f"docker login {shlex.quote(address)} --password-stdin"
    if username:
        login += f" -u {shlex.quote(username)}"
    target = f"{address}/{namespace}/IMAGE:TAG"
    return s.UploadCommand(
        image_command=f"{login} && skopeo copy docker://{source}/ORGANIZATION/IMAGE:TAG docker://{target}",
        images_download_url=services.settings.resolved_external_url,
        swr_image_pull_command=f"docker pull {source}/ORGANIZATION/IMAGE:TAG",
    )


@router.put(REGISTRIES + "/{id}", response_model=s.Empty)
async def update_registry(
    project_id: str,
    id: str,
    body: s.UpdateRegistryRequest,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
) -> s.Empty:
    """Change an external registry's address, credentials or organization filter (checked again)."""
    await services.security.registries.update(
        principal,
        id,
        RegistryInput(
            api_version=body.api_version,
            protocol=body.protocol,
            address=body.registry_addr,
            username=body.registry_username,
            password=body.registry_password,
            organization_filter=body.namespace,
            connect_cluster_id=body.connect_cluster_id,
            scan_image_channel=body.get_scan_image_channel,
        ),
    )
    return s.Empty()


@router.delete(REGISTRIES + "/{id}", response_model=s.Empty)
async def delete_registry(
    project_id: str,
    id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
) -> s.Empty:
    """Delete an external registry and its image rows."""
    await services.security.registries.delete(principal, [id])
    return s.Empty()
