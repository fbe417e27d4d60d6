"""``/v3/auth/tokens`` and ``/v3/projects``."""

from __future__ import annotations

import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from moorage.api.client_address import client_address
from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.iam import schemas as s
from moorage.api.iam.schemas import TokenRequest
from moorage.api.management_route import IamRoute
from moorage.api.management_rules import AUTHENTICATED, PUBLIC, access_rules
from moorage.auth.tokens import IamToken
from moorage.domain.errors import Invalid, NotFound, Unauthenticated
from moorage.domain.identity import Project, User

router = APIRouter(tags=["IAM"], dependencies=[Depends(authorize)], route_class=IamRoute)

ACCESS_RULES = access_rules(
    {
        ("POST", "/v3/auth/tokens"): PUBLIC,
        ("GET", "/v3/auth/tokens"): AUTHENTICATED,
        ("DELETE", "/v3/auth/tokens"): AUTHENTICATED,
        ("HEAD", "/v3/auth/tokens"): AUTHENTICATED,
        ("GET", "/v3/projects"): AUTHENTICATED,
        ("GET", "/v3/auth/projects"): AUTHENTICATED,
    }
)


def _iso(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _project_json(project: Project, base: str) -> s.ProjectResult:
    return s.ProjectResult(
        id=project.id,
        name=project.name,
        domain_id=project.domain_id,
        enabled=True,
        is_domain=False,
        parent_id=project.domain_id,
        description="",
        links=s.LinksSelf(self_link=f"{base}/v3/projects/{project.id}"),
    )


def _token_body(claims: IamToken, user: User, project: Project | None) -> s.TokenResponse:
    domain = s.TokenDomain(id=user.domain_id, name=user.domain_name)
    return s.TokenResponse(
        token=s.Token(
            methods=list(claims.methods),
            expires_at=_iso(claims.expires_at),
            issued_at=_iso(claims.issued_at),
            user=s.TokenUser(id=user.id, name=user.name, domain=domain, password_expires_at=""),
            roles=[s.TokenRole(id="0", name="te_admin" if user.is_admin else "te_agency")],
            catalog=[],
            project=None if project is None else s.TokenProject(id=project.id, name=project.name, domain=domain),
            domain=domain if project is None else None,
        )
    )


@router.post("/v3/auth/tokens", status_code=201, response_model=s.TokenResponse, response_model_exclude_none=True)
async def create_token(
    body: TokenRequest, request: Request, response: Response, services: ServicesDep
) -> s.TokenResponse:
    """Obtain a token with a user name (or id) and password, scoped to a project or the domain."""
    identity = body.auth.identity
    if "password" not in identity.methods or identity.password is None:
        raise Invalid("only the password method is supported")
    pw_user = identity.password.user
    domain_name = pw_user.domain.name if pw_user.domain else None
    name = pw_user.name
    if name is None and pw_user.id:
        found_user = await services.users.user(pw_user.id)
        name = found_user.name if found_user else pw_user.id
    if not name:
        raise Invalid("auth.identity.password.user needs a name or an id")
    user = await services.logins.authenticate_password(
        user_name=name, password=pw_user.password, client=client_address(request), domain_name=domain_name
    )
    project = None
    scope = body.auth.scope
    if scope is not None and scope.project is not None:
        candidates = await services.users.projects(domain_id=user.domain_id, name=scope.project.name)
        project = next((p for p in candidates if scope.project.id in (None, p.id)), None)
        if project is None:
            raise NotFound("no such project in the user's domain")
    token, claims = await services.logins.issue_token(user, project_id=project.id if project else None)
    response.headers["X-Subject-Token"] = token
    return _token_body(claims, user, project)


async def _subject(request: Request, services: Any) -> tuple[IamToken, User, Project | None]:
    subject = request.headers.get("x-subject-token")
    if not subject:
        raise Unauthenticated("X-Subject-Token is required")
    claims, user = await services.logins.validate_token(subject)
    project = await services.users.project(claims.project_id) if claims.project_id else None
    return claims, user, project


@router.get("/v3/auth/tokens", response_model=s.TokenResponse, response_model_exclude_none=True)
async def validate_token(
    request: Request, response: Response, principal: PrincipalDep, services: ServicesDep
) -> s.TokenResponse:
    """Validate the token in ``X-Subject-Token`` (the caller authenticates with ``X-Auth-Token``)."""
    claims, user, project = await _subject(request, services)
    if user.domain_id != principal.domain_id:
        raise NotFound("token not found")
    response.headers["X-Subject-Token"] = request.headers["x-subject-token"]
    return _token_body(claims, user, project)


@router.head("/v3/auth/tokens")
async def check_token(request: Request, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Check the token in ``X-Subject-Token``: 200 if valid."""
    _claims, user, _project = await _subject(request, services)
    if user.domain_id != principal.domain_id:
        raise NotFound("token not found")
    return Response(status_code=200)


@router.delete("/v3/auth/tokens", status_code=204)
async def revoke_token(request: Request, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Revoke the token in ``X-Subject-Token`` (everywhere: every node reads the revocation list)."""
    _claims, user, _project = await _subject(request, services)
    if user.domain_id != principal.domain_id or (user.id != principal.user_id and not principal.is_admin):
        raise NotFound("token not found")
    await services.logins.revoke_token(request.headers["x-subject-token"])
    return Response(status_code=204)


def _listing_address(request: Request) -> str:
    return str(request.base_url).rstrip("/") + request.url.path


@router.get("/v3/projects", response_model=s.ProjectList)
async def list_projects(
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    name: str | None = Query(default=None, max_length=64),
    domain_id: str | None = Query(default=None, max_length=64),
) -> s.ProjectList:
    """Projects of the caller's domain (the SDK looks its project up by region name here)."""
    found = (
        []
        if domain_id and domain_id != principal.domain_id
        else await services.users.projects(domain_id=principal.domain_id, name=name)
    )
    base = str(request.base_url).rstrip("/")
    return s.ProjectList(
        projects=[_project_json(p, base) for p in found],
        links=s.Links(self_link=_listing_address(request), next=None, previous=None),
    )


@router.get("/v3/auth/projects", response_model=s.AuthProjectList)
async def list_auth_projects(request: Request, principal: PrincipalDep, services: ServicesDep) -> s.AuthProjectList:
    """Projects the caller's token may be scoped to."""
    found = await services.users.projects(domain_id=principal.domain_id)
    base = str(request.base_url).rstrip("/")
    return s.AuthProjectList(
        projects=[_project_json(p, base) for p in found], links=s.LinksSelf(self_link=_listing_address(request))
    )
