"""Organizations (``/v2/manage/namespaces``) and the user authorizations on organizations and
repositories (``.../access``), answered as ``huaweicloudsdkswr`` parses them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import AUTHENTICATED, M, R, access_rules, on_namespace, on_repository
from moorage.api.swr import schemas as s
from moorage.api.swr.wire import refuse_nul_characters
from moorage.domain.errors import Invalid
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, GrantChange

router = APIRouter(
    tags=["SWR organizations"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

ACCESS_RULES = access_rules(
    {
        ("POST", "/v2/manage/namespaces"): AUTHENTICATED,  # any user of the account; creators get manage
        ("GET", "/v2/manage/namespaces"): AUTHENTICATED,  # filtered to what the caller may see
        ("GET", "/v2/manage/namespaces/{namespace}"): on_namespace(R),
        ("DELETE", "/v2/manage/namespaces/{namespace}"): on_namespace(M),
        ("GET", "/v2/manage/namespaces/{namespace}/access"): on_namespace(R),
        ("POST", "/v2/manage/namespaces/{namespace}/access"): on_namespace(M),
        ("PATCH", "/v2/manage/namespaces/{namespace}/access"): on_namespace(M),
        ("DELETE", "/v2/manage/namespaces/{namespace}/access"): on_namespace(M),
        ("GET", "/v2/manage/namespaces/{namespace}/repos/{repository}/access"): on_repository(R),
        ("POST", "/v2/manage/namespaces/{namespace}/repos/{repository}/access"): on_repository(M),
        ("PATCH", "/v2/manage/namespaces/{namespace}/repos/{repository}/access"): on_repository(M),
        ("DELETE", "/v2/manage/namespaces/{namespace}/repos/{repository}/access"): on_repository(M),
    }
)


class CreateNamespaceBody(BaseModel):
    """``{"namespace": "<name>"}``."""

    model_config = ConfigDict(extra="ignore")
    namespace: str = Field(min_length=1, max_length=64)


class UserAuth(BaseModel):
    """``{"user_id", "user_name", "auth"}``."""

    model_config = ConfigDict(extra="ignore")
    user_id: str = Field(min_length=1, max_length=64)
    user_name: str = Field(default="", max_length=64)
    auth: int


def _instance(request: Request) -> str:
    return str(getattr(request.state, "instance_id", DEFAULT_INSTANCE))


def _changes(body: list[UserAuth]) -> list[GrantChange]:
    return [GrantChange(u.user_id, u.user_name, u.auth) for u in body]


def _parse_filter(raw: str | None) -> dict[str, str]:
    """``key::value|key::value`` (SWR's filter syntax)."""
    out: dict[str, str] = {}
    for part in (raw or "").split("|"):
        if not part:
            continue
        key, sep, value = part.partition("::")
        if not sep:
            raise Invalid(f"invalid filter part {part!r}: expected key::value")
        out[key] = value
    return out


@router.post("/v2/manage/namespaces", status_code=201, response_class=Response)
async def create_namespace(
    body: CreateNamespaceBody, request: Request, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """Create an organization."""
    await services.namespaces.create(principal, instance_id=_instance(request), name=body.namespace)
    return Response(status_code=201)


@router.get("/v2/manage/namespaces", response_model=s.NamespaceList)
async def list_namespaces(
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    namespace: str | None = Query(default=None, max_length=64),
    filter: str | None = Query(default=None, max_length=512),
) -> s.NamespaceList:
    """Organizations the caller can see, with their own permission on each."""
    name = namespace or _parse_filter(filter).get("namespace") or None
    views = await services.namespaces.visible(principal, instance_id=_instance(request), name=name)
    return s.NamespaceList(
        namespaces=[
            s.NamespaceView(
                id=v.namespace.id, name=v.namespace.name, creator_name=v.namespace.creator_name, auth=v.level
            )
            for v in views
        ]
    )


@router.get("/v2/manage/namespaces/{namespace}", response_model=s.NamespaceView)
async def show_namespace(
    namespace: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> s.NamespaceView:
    """One organization."""
    view = await services.namespaces.get(principal, instance_id=_instance(request), name=namespace)
    return s.NamespaceView(
        id=view.namespace.id, name=view.namespace.name, creator_name=view.namespace.creator_name, auth=view.level
    )


@router.delete("/v2/manage/namespaces/{namespace}", status_code=204, response_class=Response)
async def delete_namespace(namespace: str, request: Request, services: ServicesDep) -> Response:
    """Delete an empty organization."""
    await services.namespaces.delete(instance_id=_instance(request), name=namespace)
    return Response(status_code=204)


def _auth_view(grants: list[Any], principal: Any, level: int) -> tuple[s.UserAuthView, list[s.UserAuthView]]:
    self_auth = s.UserAuthView(user_id=principal.user_id or "", user_name=principal.user_name, auth=level)
    others = [
        s.UserAuthView(user_id=g.user_id, user_name=g.user_name, auth=g.auth)
        for g in grants
        if g.user_id != principal.user_id
    ]
    return self_auth, others


@router.get("/v2/manage/namespaces/{namespace}/access", response_model=s.NamespaceAuthView)
async def show_namespace_auth(
    namespace: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> s.NamespaceAuthView:
    """Who holds what on an organization."""
    record, grants = await services.namespaces.namespace_grants(instance_id=_instance(request), name=namespace)
    _found, level = await services.permissions.management_level(
        principal, instance_id=_instance(request), namespace=namespace, repository=None
    )
    self_auth, others = _auth_view(grants, principal, level)
    return s.NamespaceAuthView(
        id=record.id, name=record.name, creator_name=record.creator_name, self_auth=self_auth, others_auths=others
    )


@router.post("/v2/manage/namespaces/{namespace}/access", status_code=201, response_class=Response)
async def create_namespace_auth(
    namespace: str, request: Request, services: ServicesDep, body: list[UserAuth] = Body(..., max_length=100)
) -> Response:
    """Grant users permissions on an organization."""
    await services.namespaces.set_namespace_grants(
        instance_id=_instance(request), name=namespace, changes=_changes(body), create=True
    )
    return Response(status_code=201)


@router.patch("/v2/manage/namespaces/{namespace}/access", status_code=201, response_class=Response)
async def update_namespace_auth(
    namespace: str, request: Request, services: ServicesDep, body: list[UserAuth] = Body(..., max_length=100)
) -> Response:
    """Change users' permissions on an organization."""
    await services.namespaces.set_namespace_grants(
        instance_id=_instance(request), name=namespace, changes=_changes(body), create=False
    )
    return Response(status_code=201)


@router.delete("/v2/manage/namespaces/{namespace}/access", status_code=204, response_class=Response)
async def delete_namespace_auth(
    namespace: str, request: Request, services: ServicesDep, body: list[str] = Body(..., max_length=100)
) -> Response:
    """Remove users' permissions on an organization (the body lists user ids)."""
    await services.namespaces.delete_namespace_grants(instance_id=_instance(request), name=namespace, user_ids=body)
    return Response(status_code=204)


@router.get("/v2/manage/namespaces/{namespace}/repos/{repository}/access", response_model=s.RepositoryAuthView)
async def show_repository_auth(
    namespace: str, repository: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> s.RepositoryAuthView:
    """Who holds what on a repository."""
    name = RepositoryName.from_api_path(namespace, repository)
    repo_id, grants = await services.namespaces.repository_grants(instance_id=_instance(request), name=name)
    _found, level = await services.permissions.management_level(
        principal, instance_id=_instance(request), namespace=namespace, repository=name.repository
    )
    self_auth, others = _auth_view(grants, principal, level)
    return s.RepositoryAuthView(id=repo_id, name=name.repository, self_auth=self_auth, others_auths=others)


@router.post("/v2/manage/namespaces/{namespace}/repos/{repository}/access", status_code=201, response_class=Response)
async def create_repository_auth(
    namespace: str,
    repository: str,
    request: Request,
    services: ServicesDep,
    body: list[UserAuth] = Body(..., max_length=100),
) -> Response:
    """Grant users permissions on a repository."""
    await services.namespaces.set_repository_grants(
        instance_id=_instance(request),
        name=RepositoryName.from_api_path(namespace, repository),
        changes=_changes(body),
        create=True,
    )
    return Response(status_code=201)


@router.patch("/v2/manage/namespaces/{namespace}/repos/{repository}/access", status_code=201, response_class=Response)
async def update_repository_auth(
    namespace: str,
    repository: str,
    request: Request,
    services: ServicesDep,
    body: list[UserAuth] = Body(..., max_length=100),
) -> Response:
    """Change users' permissions on a repository."""
    await services.namespaces.set_repository_grants(
        instance_id=_instance(request),
        name=RepositoryName.from_api_path(namespace, repository),
        changes=_changes(body),
        create=False,
    )
    return Response(status_code=201)


@router.delete("/v2/manage/namespaces/{namespace}/repos/{repository}/access", status_code=204, response_class=Response)
async def delete_repository_auth(
    namespace: str,
    repository: str,
    request: Request,
    services: ServicesDep,
    body: list[str] = Body(..., max_length=100),
) -> Response:
    """Remove users' permissions on a repository."""
    await services.namespaces.delete_repository_grants(
        instance_id=_instance(request), name=RepositoryName.from_api_path(namespace, repository), user_ids=body
    )
    return Response(status_code=204)
