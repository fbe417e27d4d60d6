"""Enterprise Edition instances (``/v2/{project_id}/instances``): create, list, show, delete; their
domain names, configuration, statistics and feature gates, shaped as ``huaweicloudsdkswr`` models."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

import moorage
from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise import schemas as s
from moorage.api.enterprise.common import INSTANCE, INSTANCES, page, timestamp
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ADMIN, AUTHENTICATED, INSTANCE_ADMIN, INSTANCE_MEMBER, access_rules
from moorage.domain.enterprise import DomainName, Instance
from moorage.domain.errors import Invalid, NotFound

router = APIRouter(
    tags=["Enterprise Edition instances"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

DOMAIN_NAMES = INSTANCE + "/domainname"
DOMAIN_NAME = DOMAIN_NAMES + "/{domainname_id}"

JOBS = "/v2/{project_id}/jobs"
JOB_STATUSES = ("Initial", "Creating", "Initializing", "Running", "Success", "Failed")
"""What a job may be; ``Creating`` and ``Initializing`` are the SDK's documented spellings of a job not
started yet (filters by them find nothing: instances are created at once)."""

ACCESS_RULES = access_rules(
    {
        ("GET", "/v2/{project_id}/feature-gates"): AUTHENTICATED,
        ("GET", JOBS): AUTHENTICATED,  # the caller's domain's instance jobs
        ("GET", JOBS + "/{job_id}"): AUTHENTICATED,
        ("DELETE", JOBS + "/{job_id}"): ADMIN,  # a domain administrator, of the domain's jobs
        ("POST", INSTANCES): ADMIN,
        ("GET", INSTANCES): AUTHENTICATED,  # the caller's domain's instances
        ("GET", INSTANCE): INSTANCE_MEMBER,
        ("DELETE", INSTANCE): INSTANCE_ADMIN,
        ("POST", DOMAIN_NAMES): INSTANCE_ADMIN,
        ("GET", DOMAIN_NAMES): INSTANCE_MEMBER,
        ("PUT", DOMAIN_NAME): INSTANCE_ADMIN,
        ("DELETE", DOMAIN_NAME): INSTANCE_ADMIN,
        ("GET", INSTANCE + "/configurations"): INSTANCE_MEMBER,
        ("PUT", INSTANCE + "/configurations"): INSTANCE_ADMIN,
        ("GET", INSTANCE + "/statistics"): INSTANCE_MEMBER,
        ("GET", INSTANCE + "/feature-gates"): INSTANCE_MEMBER,
    }
)


class CreateInstanceBody(BaseModel):
    """``CreateInstanceRequestBody`` (network, bucket and encryption fields are accepted and ignored:
    moorage stores blobs in its own storage)."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=512)
    spec: str = "swr.ee.professional"
    charge_mode: str = "postPaid"
    enterprise_project_id: str = Field(default="0", max_length=64)


class DomainNameBody(BaseModel):
    """``AddDomainNameRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    domain_name: str = Field(min_length=1, max_length=255)
    certificate_id: str = Field(default="", max_length=64)


class UpdateDomainNameBody(BaseModel):
    """``UpdateDomainNameRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    certificate_id: str = Field(default="", max_length=64)


class ConfigurationBody(BaseModel):
    """``UpdateInstanceConfigurationRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    anonymous_access: bool


def instance_view(instance: Instance, access_address: str) -> s.Instance:
    """An ``Instance`` model."""
    return s.Instance(
        id=instance.id,
        name=instance.name,
        description=instance.description,
        vpc_id="",
        subnet_id="",
        spec=instance.spec,
        version=moorage.__version__,
        charge_mode=instance.charge_mode,
        access_address=access_address,
        created_at=timestamp(instance.created_at),
        updated_at=timestamp(instance.updated_at),
        expires_at="",
        status=instance.status,
        obs_bucket_name="",
        project_id=instance.project_id,
        enterprise_project_id=instance.enterprise_project_id,
        user_def_obs=False,
        product_id="",
        order_id="",
        vpc_name="",
        vpc_cidr="",
        subnet_name="",
        subnet_cidr="",
        vpcep_service_id="",
    )


def domain_name_view(entry: DomainName, *, domain_id: str, project_id: str) -> s.DomainNameInfo:
    """A ``DomainNameInfo`` model."""
    return s.DomainNameInfo(
        uid=entry.id,
        domain_id=domain_id,
        project_id=project_id,
        instance_id=entry.instance_id,
        type=entry.type,
        domain_name=entry.domain_name,
        certificate_id=entry.certificate_id,
        created_at=timestamp(entry.created_at),
        updated_at=timestamp(entry.updated_at),
    )


@router.post(INSTANCES, status_code=201, response_model=s.CreatedInstance)
async def create_instance(
    body: CreateInstanceBody, principal: PrincipalDep, services: ServicesDep
) -> s.CreatedInstance:
    """Create an instance (ready at once; ``job_id`` names the finished creation)."""
    created = await services.enterprise.instances.create(
        principal,
        name=body.name,
        description=body.description,
        spec=body.spec,
        charge_mode=body.charge_mode,
        enterprise_project_id=body.enterprise_project_id,
    )
    return s.CreatedInstance(job_id=created.creation_job_id, instance_id=created.id)


@router.get(INSTANCES, response_model=s.InstanceList)
async def list_instances(
    principal: PrincipalDep,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    status: str | None = Query(default=None),
    enterprise_project_id: str | None = Query(default=None, max_length=64),
) -> s.InstanceList:
    """The caller's instances."""
    found = await services.enterprise.instances.list_instances(
        principal, status=status, page=page(offset, limit), enterprise_project_id=enterprise_project_id or None
    )
    views = [instance_view(i, await services.enterprise.instances.access_address(i.id)) for i in found.items]
    return s.InstanceList(instances=views, total=found.total)


@router.get(INSTANCE, response_model=s.Instance)
async def show_instance(instance_id: str, principal: PrincipalDep, services: ServicesDep) -> s.Instance:
    """One instance."""
    found = await services.enterprise.instances.get(principal, instance_id)
    return instance_view(found, await services.enterprise.instances.access_address(found.id))


@router.delete(INSTANCE, status_code=202)
async def delete_instance(instance_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Delete an instance with everything in it."""
    await services.enterprise.instances.delete(principal, instance_id)
    return Response(status_code=202)


@router.post(DOMAIN_NAMES, status_code=201, response_model=s.DomainNameResult)
async def add_domain_name(
    instance_id: str, body: DomainNameBody, principal: PrincipalDep, services: ServicesDep
) -> s.DomainNameResult:
    """Attach a host name: requests to it reach this instance's registry."""
    instance = await services.enterprise.instances.get(principal, instance_id)
    created = await services.enterprise.instances.add_domain_name(
        instance_id, domain_name=body.domain_name, certificate_id=body.certificate_id
    )
    return s.DomainNameResult(
        domain_name_info=domain_name_view(created, domain_id=instance.domain_id, project_id=instance.project_id)
    )


@router.get(DOMAIN_NAMES, response_model=s.DomainNameList)
async def list_domain_names(
    instance_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    uid: str | None = Query(default=None, max_length=64),
    domain_name: str | None = Query(default=None, max_length=255),
) -> s.DomainNameList:
    """An instance's host names."""
    instance = await services.enterprise.instances.get(principal, instance_id)
    found = await services.enterprise.instances.domain_names(instance_id, domain_name_id=uid, domain_name=domain_name)
    return s.DomainNameList(
        domain_name_infos=[
            domain_name_view(d, domain_id=instance.domain_id, project_id=instance.project_id) for d in found
        ]
    )


@router.put(DOMAIN_NAME, response_model=s.DomainNameResult)
async def update_domain_name(
    instance_id: str,
    domainname_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    body: UpdateDomainNameBody = Body(...),
) -> s.DomainNameResult:
    """Change a host name's certificate."""
    instance = await services.enterprise.instances.get(principal, instance_id)
    updated = await services.enterprise.instances.update_domain_name(
        instance_id, domainname_id, certificate_id=body.certificate_id
    )
    return s.DomainNameResult(
        domain_name_info=domain_name_view(updated, domain_id=instance.domain_id, project_id=instance.project_id)
    )


@router.delete(DOMAIN_NAME, status_code=204)
async def delete_domain_name(instance_id: str, domainname_id: str, services: ServicesDep) -> Response:
    """Detach a host name."""
    await services.enterprise.instances.delete_domain_name(instance_id, domainname_id)
    return Response(status_code=204)


@router.get(INSTANCE + "/configurations", response_model=s.InstanceConfiguration)
async def show_configuration(
    instance_id: str, principal: PrincipalDep, services: ServicesDep
) -> s.InstanceConfiguration:
    """The instance's configuration."""
    found = await services.enterprise.instances.get(principal, instance_id)
    return s.InstanceConfiguration(anonymous_access=found.anonymous_access)


@router.put(INSTANCE + "/configurations", status_code=200)
async def update_configuration(instance_id: str, body: ConfigurationBody, services: ServicesDep) -> Response:
    """Let anonymous callers pull from public namespaces, or not."""
    await services.enterprise.instances.set_anonymous_access(instance_id, body.anonymous_access)
    return Response(status_code=200)


@router.get(INSTANCE + "/statistics", response_model=s.InstanceStatistics)
async def statistics(instance_id: str, services: ServicesDep) -> s.InstanceStatistics:
    """Usage and quotas (features moorage does not have yet count 0 with quota 0)."""
    counts = await services.enterprise.instances.statistics(instance_id)
    return s.InstanceStatistics(
        storage_used=counts["storage_used"],
        total_namespace_count=counts["namespaces"],
        total_image_count=counts["repositories"],
        namespace_quota=counts["namespace_quota"],
        image_repo_quota=counts["repository_quota"],
        sign_policy_quota=counts["sign_policy_quota"],
        sign_policy_count=counts["sign_policies"],
        replica_policy_quota=0,
        retention_policy_quota=0,
        notify_policy_quota=0,
        replica_registry_quota=0,
        replica_policy_count=0,
        retention_policy_count=0,
        notify_policy_count=0,
        replica_registry_count=0,
        intranet_endpoint_quota=0,
        intranet_endpoint_count=0,
        long_term_quota=0,
    )


@router.get(INSTANCE + "/feature-gates", response_model=s.FeatureGates)
async def feature_gates(instance_id: str) -> s.FeatureGates:
    """What this instance supports."""
    return s.FeatureGates(
        enable_domain_name=True,
        enable_combination_retention=False,
        enable_artifact_scanning=False,
        enable_artifact_gc=False,
    )


@router.get("/v2/{project_id}/feature-gates", response_model=s.GlobalFeatureGates)
async def global_feature_gates() -> s.GlobalFeatureGates:
    """What this deployment offers (no object storage or certificate services of its own)."""
    return s.GlobalFeatureGates(
        enable_user_def_obs=False, enable_enterprise=True, cer_available=False, enable_intranet_access_switch=False
    )


def job_view(instance: Instance) -> s.JobDetail:
    """A ``JobDetail``: moorage creates instances at once, so each has one finished creation job."""
    return s.JobDetail(
        id=instance.creation_job_id,
        instance_id=instance.id,
        resource_id=instance.id,
        resource_name=instance.name,
        type="CreateInstance",
        status="Success",
        reason="",
        created_at=timestamp(instance.created_at),
        updated_at=timestamp(instance.created_at),
    )


async def _jobs(principal: Any, services: Any) -> list[s.JobDetail]:
    return [job_view(i) for i in await services.enterprise.instances.jobs(principal)]


@router.get(JOBS, response_model=s.JobList)
async def list_jobs(
    principal: PrincipalDep,
    services: ServicesDep,
    status: str | None = Query(default=None),
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> s.JobList:
    """Instance jobs of the caller's domain."""
    if status not in (None, "", *JOB_STATUSES):
        raise Invalid(f"status must be one of {', '.join(JOB_STATUSES)}")
    requested = page(offset, limit)
    jobs = [j for j in await _jobs(principal, services) if status in (None, "", j.status)]
    return s.JobList(jobs=jobs[requested.offset : requested.offset + requested.limit], total=len(jobs))


@router.get(JOBS + "/{job_id}", response_model=s.JobDetail)
async def show_job(job_id: str, principal: PrincipalDep, services: ServicesDep) -> s.JobDetail:
    """One instance job."""
    for job in await _jobs(principal, services):
        if job.id == job_id:
            return job
    raise NotFound(f"job {job_id!r} not found", reason="job_not_found")


@router.delete(JOBS + "/{job_id}", status_code=204)
async def delete_job(job_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Delete a finished instance job (it leaves the listing; the instance stays)."""
    await services.enterprise.instances.delete_job(principal, job_id)
    return Response(status_code=204)
