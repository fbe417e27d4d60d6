"""Repositories of an instance: list (per namespace, per instance), show, update, delete.

Repository names may contain ``/``: clients send it percent-encoded (``%2F``) or as ``$``. The
routes with a repository name at the end match any rest of the path, so this router is included
after every router whose paths continue past the repository name.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise import schemas as s
from moorage.api.enterprise.common import INSTANCE, NAMESPACE, REPOSITORY, page, repository_path_name, timestamp
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import (
    AUTHENTICATED,
    INSTANCE_MEMBER,
    M,
    R,
    W,
    access_rules,
    on_instance_namespace,
    on_instance_repository,
)
from moorage.domain.enterprise import InstanceRepository
from moorage.domain.errors import Invalid

router = APIRouter(
    tags=["Enterprise Edition repositories"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

ALL_REPOSITORIES = "/v2/{project_id}/repositories"

ACCESS_RULES = access_rules(
    {
        ("GET", ALL_REPOSITORIES): AUTHENTICATED,  # the caller's domain's instances, filtered to what they may see
        ("GET", NAMESPACE + "/repositories"): on_instance_namespace(R),
        ("GET", INSTANCE + "/repositories"): INSTANCE_MEMBER,  # filtered to what the caller may see
        ("GET", REPOSITORY): on_instance_repository(R),
        ("PUT", REPOSITORY): on_instance_repository(W),
        ("DELETE", REPOSITORY): on_instance_repository(M),
    }
)


class UpdateRepositoryBody(BaseModel):
    """``UpdateRepoConfigRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    description: str = Field(default="", max_length=30000)


def repository_view(repository: InstanceRepository) -> s.Repository:
    """A ``Repository`` model."""
    return s.Repository(
        id=repository.id,
        name=repository.name,
        namespace_name=repository.namespace_name,
        namespace_id=repository.namespace_id,
        tag_count=repository.tag_count,
        pull_count=repository.pull_count,
        artifact_count=repository.artifact_count,
        description=repository.description,
        created_at=timestamp(repository.created_at),
        updated_at=timestamp(repository.updated_at),
    )


@router.get(ALL_REPOSITORIES, response_model=s.AllRepositoryList)
async def list_all_repositories(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    marker: str | None = Query(default=None, max_length=20),
    limit: int = Query(default=10),
    name: str | None = Query(default=None, max_length=128),
) -> s.AllRepositoryList:
    """Repositories of every instance of the caller's domain, by id after ``marker``."""
    if marker not in (None, "") and not str(marker).isdigit():
        raise Invalid(f"marker must be a repository id, got {marker!r}")
    found, next_marker = await services.enterprise.namespaces.repositories_everywhere(
        principal, name=name, marker=int(marker or 0), limit=limit
    )
    region = services.settings.auth.region
    views = [
        s.InstanceRepository(
            **dict(repository_view(repository)),
            instance_id=instance_id,
            instance_name=instance_name,
            resource_urn=f"swr:{region}:{project_id}:instance:{instance_id}:repository:"
            f"{repository.namespace_name}/{repository.name}",
        )
        for repository, instance_id, instance_name in found
    ]
    return s.AllRepositoryList(
        repositories=views, page_info=s.PageInfo(next_marker=str(next_marker) if next_marker else "")
    )


@router.get(NAMESPACE + "/repositories", response_model=s.RepositoryList)
async def list_namespace_repositories(
    instance_id: str,
    namespace_name: str,
    principal: PrincipalDep,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    order_column: str | None = Query(default=None, max_length=32),
    order_type: str | None = Query(default=None, max_length=8),
) -> s.RepositoryList:
    """Repositories of a namespace."""
    found = await services.enterprise.namespaces.repositories(
        principal,
        instance_id=instance_id,
        namespace=namespace_name,
        namespace_id=None,
        order_column=order_column,
        order_type=order_type,
        page=page(offset, limit),
    )
    return s.RepositoryList(total=found.total, repositories=[repository_view(r) for r in found.items])


@router.get(INSTANCE + "/repositories", response_model=s.RepositoryList)
async def list_instance_repositories(
    instance_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    order_column: str | None = Query(default=None, max_length=32),
    order_type: str | None = Query(default=None, max_length=8),
    namespace_id: int | None = Query(default=None),
) -> s.RepositoryList:
    """Repositories of every namespace the caller may see (or of one, by id)."""
    found = await services.enterprise.namespaces.repositories(
        principal,
        instance_id=instance_id,
        namespace=None,
        namespace_id=namespace_id,
        order_column=order_column,
        order_type=order_type,
        page=page(offset, limit),
    )
    return s.RepositoryList(total=found.total, repositories=[repository_view(r) for r in found.items])


@router.get(REPOSITORY, response_model=s.Repository)
async def show_repository(
    instance_id: str, namespace_name: str, repository_name: str, services: ServicesDep
) -> s.Repository:
    """One repository."""
    return repository_view(
        await services.enterprise.namespaces.repository(
            instance_id=instance_id, namespace=namespace_name, name=repository_path_name(repository_name)
        )
    )


@router.put(REPOSITORY)
async def update_repository(
    instance_id: str, namespace_name: str, repository_name: str, body: UpdateRepositoryBody, services: ServicesDep
) -> Response:
    """Change a repository's description."""
    await services.enterprise.namespaces.update_repository(
        instance_id=instance_id,
        namespace=namespace_name,
        name=repository_path_name(repository_name),
        description=body.description,
    )
    return Response(status_code=200)


@router.delete(REPOSITORY, status_code=204)
async def delete_repository(
    instance_id: str, namespace_name: str, repository_name: str, services: ServicesDep
) -> Response:
    """Delete a repository with all its artifacts."""
    await services.enterprise.namespaces.delete_repository(
        instance_id=instance_id, namespace=namespace_name, name=repository_path_name(repository_name)
    )
    return Response(status_code=204)
