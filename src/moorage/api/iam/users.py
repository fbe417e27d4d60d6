"""IAM users (``/v3/users``) and permanent access keys (``/v3.0/OS-CREDENTIAL/credentials``), in the
caller's own domain: administrators manage users, every user manages their own access keys."""

from __future__ import annotations

import datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.iam import schemas as s
from moorage.api.management_route import IamRoute
from moorage.api.management_rules import ADMIN, AUTHENTICATED, access_rules
from moorage.domain.errors import Invalid, NotFound
from moorage.domain.identity import AccessKey, User

router = APIRouter(tags=["IAM"], dependencies=[Depends(authorize)], route_class=IamRoute)

ACCESS_RULES = access_rules(
    {
        ("POST", "/v3/users"): ADMIN,
        ("GET", "/v3/users"): ADMIN,
        ("GET", "/v3/users/{user_id}"): ADMIN,
        ("DELETE", "/v3/users/{user_id}"): ADMIN,
        ("POST", "/v3.0/OS-CREDENTIAL/credentials"): AUTHENTICATED,  # oneself; administrators: their users
        ("GET", "/v3.0/OS-CREDENTIAL/credentials"): AUTHENTICATED,
        ("GET", "/v3.0/OS-CREDENTIAL/credentials/{access_key}"): AUTHENTICATED,
        ("PUT", "/v3.0/OS-CREDENTIAL/credentials/{access_key}"): AUTHENTICATED,
        ("DELETE", "/v3.0/OS-CREDENTIAL/credentials/{access_key}"): AUTHENTICATED,
    }
)


class NewUser(BaseModel):
    """``user`` of ``POST /v3/users``."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    domain_id: str | None = Field(default=None, max_length=64)
    enabled: bool = True
    description: str = Field(default="", max_length=255)


class CreateUserBody(BaseModel):
    """``{"user": {...}}``."""

    user: NewUser


class CredentialOption(BaseModel):
    """``credential`` of the access-key calls."""

    model_config = ConfigDict(extra="ignore")
    user_id: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=255)
    status: str | None = Field(default=None, pattern="^(active|inactive)$")


class CredentialBody(BaseModel):
    """``{"credential": {...}}``."""

    credential: CredentialOption


def _user_json(user: User, request: Request) -> s.UserResult:
    return s.UserResult(
        id=user.id,
        name=user.name,
        domain_id=user.domain_id,
        enabled=user.enabled,
        description="",
        pwd_status=True,
        password_expires_at=None,
        links=s.LinksSelf(self_link=f"{str(request.base_url).rstrip('/')}/v3/users/{user.id}"),
    )


def _key_json(key: AccessKey) -> s.Credential:
    created = datetime.datetime.fromtimestamp(key.created_at / 1000, datetime.UTC)
    return s.Credential(
        user_id=key.user_id,
        access=key.access,
        status="active" if key.enabled else "inactive",
        create_time=created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        description=key.description,
    )


@router.post("/v3/users", status_code=201, response_model=s.UserResponse)
async def create_user(
    body: CreateUserBody, request: Request, principal: PrincipalDep, services: ServicesDep
) -> s.UserResponse:
    """Create a user in the administrator's domain."""
    if body.user.domain_id and body.user.domain_id != principal.domain_id:
        raise Invalid("users can only be created in the caller's own domain")
    user = await services.users.create_user(name=body.user.name, password=body.user.password, caller=principal)
    return s.UserResponse(user=_user_json(user, request))


@router.get("/v3/users", response_model=s.UserList)
async def list_users(
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    name: str | None = Query(default=None, max_length=64),
) -> s.UserList:
    """Users of the administrator's domain."""
    users = [u for u in await services.users.users(caller=principal) if name in (None, u.name)]
    return s.UserList(
        users=[_user_json(u, request) for u in users],
        links=s.Links(self_link=str(request.url), next=None, previous=None),
    )


@router.get("/v3/users/{user_id}", response_model=s.UserResponse)
async def show_user(user_id: str, request: Request, principal: PrincipalDep, services: ServicesDep) -> s.UserResponse:
    """One user of the domain."""
    user = await services.users.user(user_id)
    if user is None or user.domain_id != principal.domain_id:
        raise NotFound(f"no user {user_id!r}")
    return s.UserResponse(user=_user_json(user, request))


@router.delete("/v3/users/{user_id}", status_code=204)
async def delete_user(user_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Delete a user of the domain."""
    await services.users.delete_user(user_id, caller=principal)
    return Response(status_code=204)


@router.post("/v3.0/OS-CREDENTIAL/credentials", status_code=201, response_model=s.NewCredentialResponse)
async def create_credential(
    body: CredentialBody, principal: PrincipalDep, services: ServicesDep
) -> s.NewCredentialResponse:
    """A permanent access key; the secret is in this answer only."""
    user_id = body.credential.user_id or principal.user_id or ""
    created = await services.access_keys.create_access_key(
        user_id, caller=principal, description=body.credential.description or ""
    )
    return s.NewCredentialResponse(credential=s.NewCredential(**dict(_key_json(created.key)), secret=created.secret))


@router.get("/v3.0/OS-CREDENTIAL/credentials", response_model=s.CredentialList)
async def list_credentials(
    principal: PrincipalDep, services: ServicesDep, user_id: str | None = Query(default=None, max_length=64)
) -> s.CredentialList:
    """Access keys of oneself or of a user of the domain (never their secrets)."""
    keys = await services.access_keys.access_keys(caller=principal, user_id=user_id or principal.user_id or "")
    return s.CredentialList(credentials=[_key_json(k) for k in keys])


@router.get("/v3.0/OS-CREDENTIAL/credentials/{access_key}", response_model=s.CredentialResponse)
async def show_credential(access_key: str, principal: PrincipalDep, services: ServicesDep) -> s.CredentialResponse:
    """One access key."""
    key = await services.access_keys.access_key(access_key, caller=principal)
    return s.CredentialResponse(credential=_key_json(key))


@router.put("/v3.0/OS-CREDENTIAL/credentials/{access_key}", response_model=s.CredentialResponse)
async def update_credential(
    access_key: str, body: CredentialBody, principal: PrincipalDep, services: ServicesDep
) -> s.CredentialResponse:
    """Enable, disable or describe an access key."""
    status = body.credential.status
    key = await services.access_keys.update_access_key(
        access_key,
        caller=principal,
        enabled=None if status is None else status == "active",
        description=body.credential.description,
    )
    return s.CredentialResponse(credential=_key_json(key))


@router.delete("/v3.0/OS-CREDENTIAL/credentials/{access_key}", status_code=204)
async def delete_credential(access_key: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Delete an access key."""
    await services.access_keys.delete_access_key(access_key, caller=principal)
    return Response(status_code=204)
