"""Artifacts of instance repositories: list (per repository, per instance), show, delete, their tags,
accessories (signatures, SBOMs) and additions (``build_history``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise import schemas_artifacts as s
from moorage.api.enterprise.artifact_scans import scan_overview
from moorage.api.enterprise.common import ARTIFACT, INSTANCE, REPOSITORY, page, repository_path_name, timestamp
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_MEMBER, M, R, access_rules, on_instance_repository
from moorage.domain.enterprise import Accessory, Artifact, ArtifactTag
from moorage.domain.errors import NotFound

router = APIRouter(
    tags=["Enterprise Edition artifacts"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

TAGS = "/v2/instances/{instance_id}/namespaces/{namespace_name}/repositories/{repository_name:path}/tags"

ACCESS_RULES = access_rules(
    {
        ("GET", REPOSITORY + "/artifacts"): on_instance_repository(R),
        ("GET", INSTANCE + "/artifacts"): INSTANCE_MEMBER,  # filtered to what the caller may see
        ("GET", ARTIFACT): on_instance_repository(R),
        ("DELETE", ARTIFACT): on_instance_repository(M),
        ("GET", ARTIFACT + "/accessories"): on_instance_repository(R),
        ("GET", ARTIFACT + "/additions/{addition}"): on_instance_repository(R),
        ("GET", TAGS): on_instance_repository(R),
        ("DELETE", TAGS + "/{tag_name}"): on_instance_repository(M),
    }
)


def tag_view(tag: ArtifactTag) -> s.ArtifactTag:
    """An ``ArtifactTag`` model."""
    return s.ArtifactTag(
        id=tag.id,
        repository_id=tag.repository_id,
        artifact_id=tag.artifact_id,
        name=tag.name,
        push_time=timestamp(tag.push_time),
        pull_time=timestamp(tag.pull_time),
    )


def artifact_view(artifact: Artifact) -> s.Artifact:
    """An ``Artifact`` model."""
    return s.Artifact(
        digest=artifact.digest,
        id=artifact.id,
        repository_id=artifact.repository_id,
        repository_name=artifact.repository_name,
        type=artifact.type,
        namespace_id=artifact.namespace_id,
        media_type=artifact.media_type,
        manifest_media_type=artifact.manifest_media_type,
        pull_time=timestamp(artifact.pull_time),
        push_time=timestamp(artifact.push_time),
        size=artifact.size,
        tags=[tag_view(t) for t in artifact.tags],
    )


def accessory_view(accessory: Accessory) -> s.Accessory:
    """An ``Accessory`` model."""
    return s.Accessory(
        id=accessory.id,
        artifact_id=accessory.artifact_id,
        subject_artifact_id=accessory.subject_artifact_id,
        size=accessory.size,
        digest=accessory.digest,
        type=accessory.type,
        created_at=timestamp(accessory.created_at),
    )


@router.get(REPOSITORY + "/artifacts", response_model=s.ArtifactList)
async def list_artifacts(
    instance_id: str,
    namespace_name: str,
    repository_name: str,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    type: str | None = Query(default=None, max_length=32),
    tags: str | None = Query(default=None, max_length=128),
) -> s.ArtifactList:
    """Artifacts of a repository, newest first (``tags`` filters by tag name, ``type`` by kind)."""
    found = await services.enterprise.artifacts.list_artifacts(
        instance_id=instance_id,
        namespace=namespace_name,
        repository=repository_path_name(repository_name),
        artifact_type=type,
        tag=tags,
        page=page(offset, limit),
    )
    return s.ArtifactList(artifacts=[artifact_view(a) for a in found.items], total=found.total)


@router.get(INSTANCE + "/artifacts", response_model=s.AllArtifactList, response_model_exclude_none=True)
async def list_all_artifacts(
    instance_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    marker: int = Query(default=0),
    limit: int = Query(default=10),
) -> s.AllArtifactList:
    """Artifacts of the whole instance, by id after ``marker``."""
    found, next_marker = await services.enterprise.artifacts.list_instance(
        principal, instance_id=instance_id, marker=marker, limit=limit
    )
    return s.AllArtifactList(artifacts=[artifact_view(a) for a in found], next_marker=next_marker)


@router.get(ARTIFACT, response_model=s.ShownArtifact, response_model_exclude_none=True)
async def show_artifact(
    instance_id: str,
    namespace_name: str,
    repository_name: str,
    reference: str,
    services: ServicesDep,
    with_scan_overview: bool = Query(default=False),
) -> s.ShownArtifact:
    """One artifact by digest or tag; ``with_scan_overview``: with its scan state and counts."""
    artifact = await services.enterprise.artifacts.get(
        instance_id=instance_id,
        namespace=namespace_name,
        repository=repository_path_name(repository_name),
        reference=reference,
    )
    overview = None
    if with_scan_overview:
        overview = scan_overview(await services.enterprise.scans.state(artifact, with_findings=True))
    return s.ShownArtifact(**dict(artifact_view(artifact)), scan_overview=overview)


@router.delete(ARTIFACT, status_code=204)
async def delete_artifact(
    instance_id: str, namespace_name: str, repository_name: str, reference: str, services: ServicesDep
) -> Response:
    """Delete an artifact with its tags and accessories."""
    await services.enterprise.artifacts.delete(
        instance_id=instance_id,
        namespace=namespace_name,
        repository=repository_path_name(repository_name),
        reference=reference,
    )
    return Response(status_code=204)


@router.get(ARTIFACT + "/accessories", response_model=s.AccessoryList)
async def list_accessories(
    instance_id: str,
    namespace_name: str,
    repository_name: str,
    reference: str,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    type: str | None = Query(default=None, max_length=64),
) -> s.AccessoryList:
    """Signatures, SBOMs and other artifacts that refer to this one."""
    found = await services.enterprise.artifacts.accessories(
        instance_id=instance_id,
        namespace=namespace_name,
        repository=repository_path_name(repository_name),
        reference=reference,
        accessory_type=type,
        page=page(offset, limit),
    )
    return s.AccessoryList(accessories=[accessory_view(a) for a in found.items], total=found.total)


@router.get(ARTIFACT + "/additions/{addition}", response_model=s.BuildHistoryList)
async def show_addition(
    instance_id: str, namespace_name: str, repository_name: str, reference: str, addition: str, services: ServicesDep
) -> s.BuildHistoryList:
    """``build_history``: the image config's history, each step with the layer it made."""
    if addition != "build_history":
        raise NotFound(f"no addition {addition!r}: moorage has build_history", reason="addition_not_found")
    steps = await services.enterprise.artifacts.build_history(
        instance_id=instance_id,
        namespace=namespace_name,
        repository=repository_path_name(repository_name),
        reference=reference,
    )
    return s.BuildHistoryList(
        build_histories=[
            s.BuildHistory(
                created_at=step.created_at,
                created_by=step.created_by,
                empty_layer=step.empty_layer,
                media_type=step.media_type,
                size=step.size,
                digest=step.digest,
            )
            for step in steps
        ],
        total=len(steps),
    )


@router.get(TAGS, response_model=s.RepositoryTagList)
async def list_tags(
    instance_id: str,
    namespace_name: str,
    repository_name: str,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    is_accessory: bool | None = Query(default=None),
) -> s.RepositoryTagList:
    """Tags of a repository with their artifacts (``is_accessory``: only, or no, accessory tags)."""
    found = await services.enterprise.artifacts.tags(
        instance_id=instance_id,
        namespace=namespace_name,
        repository=repository_path_name(repository_name),
        accessory=is_accessory,
        page=page(offset, limit),
    )
    return s.RepositoryTagList(
        tags=[
            s.RepositoryTag(
                name=tag.name,
                artifact_id=artifact.id,
                digest=artifact.digest,
                id=tag.id,
                repository_id=artifact.repository_id,
                type=artifact.type,
                namespace_id=artifact.namespace_id,
                media_type=artifact.media_type,
                manifest_media_type=artifact.manifest_media_type,
                pull_time=timestamp(tag.pull_time),
                push_time=timestamp(tag.push_time),
                size=artifact.size,
            )
            for tag, artifact in found.items
        ],
        total=found.total,
    )


@router.delete(TAGS + "/{tag_name}", status_code=204)
async def delete_tag(
    instance_id: str, namespace_name: str, repository_name: str, tag_name: str, services: ServicesDep
) -> Response:
    """Remove a tag (the artifact stays)."""
    await services.enterprise.artifacts.delete_tag(
        instance_id=instance_id,
        namespace=namespace_name,
        repository=repository_path_name(repository_name),
        tag=tag_name,
    )
    return Response(status_code=204)
