"""Login commands: ``POST /v2/manage/utils/secret`` (temporary, 6 hours by default) and
``POST /v2/manage/utils/authorizationtoken``, answered as the SWR SDK parses them."""

from __future__ import annotations

import base64
import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import AUTHENTICATED, access_rules
from moorage.api.swr import schemas as s
from moorage.api.swr.wire import refuse_nul_characters
from moorage.domain.errors import Denied, NotFound

router = APIRouter(
    tags=["SWR login commands"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

ACCESS_RULES = access_rules(
    {
        ("POST", "/v2/manage/utils/secret"): AUTHENTICATED,
        ("POST", "/v2/manage/utils/authorizationtoken"): AUTHENTICATED,
    }
)


async def _login_response(principal: Any, services: Any, response: Response) -> s.LoginView:
    if principal.user_id is None:
        raise Denied("a user is required")
    user = await services.users.user(principal.user_id)
    if user is None:
        raise NotFound("user not found")
    login = services.logins.issue_temporary_login(user)
    username, password, expires_at = login.username, login.password, login.expires_at
    host = services.settings.registry_host
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    expire = datetime.datetime.fromtimestamp(expires_at, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    response.headers["X-Swr-Dockerlogin"] = f"docker login -u {username} -p {password} {host}"
    response.headers["X-Swr-Expireat"] = expire
    return s.LoginView(auths={host: s.AuthInfo(auth=auth)})


@router.post("/v2/manage/utils/secret", response_model=s.LoginView)
async def create_secret(
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    projectname: str | None = Query(default=None, max_length=64),
) -> s.LoginView:
    """A temporary docker login command (the project name is the region)."""
    if projectname and projectname != services.settings.auth.region:
        raise NotFound(f"project {projectname!r} is not served here (region {services.settings.auth.region})")
    return await _login_response(principal, services, response)


@router.post("/v2/manage/utils/authorizationtoken", response_model=s.LoginView)
async def create_authorization_token(principal: PrincipalDep, services: ServicesDep, response: Response) -> s.LoginView:
    """A temporary authorization for the registry, in the same shape."""
    return await _login_response(principal, services, response)
