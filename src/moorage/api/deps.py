"""Shared FastAPI dependencies: the services, and the one authorization check of management routes.

``authorize`` runs once per request (FastAPI caches it): it finds the route's rule in
``management_rules.RULES``, authenticates the caller (``X-Auth-Token`` or an SDK-HMAC-SHA256
signature), checks that a ``{project_id}`` in the path is one of the caller's, and checks the rule.
Routers declare it as a router-wide dependency, and handlers that need the caller take
``PrincipalDep``.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from moorage.api.client_address import client_address
from moorage.api.management_rules import RULES
from moorage.domain.errors import Denied, NotFound, Unauthenticated
from moorage.domain.identity import ANONYMOUS, READ, Principal
from moorage.domain.names import validate_namespace, validate_repository
from moorage.domain.registry import DEFAULT_INSTANCE

if TYPE_CHECKING:
    from moorage.app import Services

log = logging.getLogger(__name__)

SIGNATURE_SCHEME = "SDK-HMAC-SHA256"


def get_services(request: Request) -> Services:
    """The application's services."""
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated["Services", Depends(get_services)]


async def authenticate_management(request: Request) -> Principal:
    """The caller of a management route: an IAM token or an AK/SK signature, else ``Unauthenticated``."""
    services = get_services(request)
    identity = services.identity
    token = request.headers.get("x-auth-token")
    if token:
        claims, user = await identity.validate_token(token)
        return identity.principal(user, via="token", project_id=claims.project_id)
    authorization = request.headers.get("authorization", "")
    if authorization.startswith(SIGNATURE_SCHEME):
        from moorage.auth import sdk_signature

        try:
            parsed = sdk_signature.parse_authorization(authorization)
        except sdk_signature.SignatureError as exc:
            raise Unauthenticated(f"malformed signature: {exc}") from exc
        client = client_address(request)
        async with identity.login_attempt(user_name=parsed.access_key, client=client,
                                          credential=authorization) as attempt:
            found = await identity.access_key_secret(parsed.access_key)
            if found is None:
                await identity.record_failure(attempt, user_name=parsed.access_key, client=client,
                                              reason="unknown or disabled access key")
                raise Unauthenticated("unknown or disabled access key")
            user, secret = found
            try:
                sdk_signature.verify(
                    method=request.method, raw_path=request.scope.get("raw_path") or request.url.path.encode(),
                    query_string=request.scope.get("query_string", b""), headers=request.headers,
                    body=await request.body(), secret_key=secret, now=datetime.datetime.now(datetime.UTC),
                )
            except sdk_signature.SignatureError as exc:
                await identity.record_failure(attempt, user_name=parsed.access_key, client=client, reason=str(exc))
                raise Unauthenticated(f"signature rejected: {exc}") from exc
        return identity.principal(user, via="access-key", project_id=request.headers.get("x-project-id") or None)
    raise Unauthenticated("an X-Auth-Token header or an AK/SK signature is required")


async def authorize(request: Request) -> Principal:
    """Authenticate and check the route's rule (see the module docstring)."""
    route = request.scope.get("route")
    rule = RULES.get((request.method, getattr(route, "path", "")))
    if rule is None:
        log.error("no access rule for %s %s: refused", request.method, getattr(route, "path", request.url.path))
        raise Denied("this operation has no access rule")
    if rule.kind == "public":
        principal = ANONYMOUS
    else:
        principal = await authenticate_management(request)
        principal = await _check_project(request, principal)
        await _check_host_instance(request, principal)
        await _check_rule(request, principal, rule.kind, rule.level)
    request.state.principal = principal
    return principal


async def _check_project(request: Request, principal: Principal) -> Principal:
    """A ``{project_id}`` in the path (or X-Project-Id) must be a project of the caller's domain."""
    wanted = request.path_params.get("project_id") or principal.project_id
    if not wanted:
        return principal
    project = await get_services(request).identity.project(str(wanted))
    if project is None or project.domain_id != principal.domain_id:
        raise Denied("the project is not one of the caller's")
    return replace(principal, project_id=project.id)


async def _check_host_instance(request: Request, principal: Principal) -> None:
    """A request sent to an Enterprise Edition instance's host name works on that instance's
    registry: only users of the instance's domain may use it."""
    instance_id = getattr(request.state, "instance_id", DEFAULT_INSTANCE)
    if instance_id == DEFAULT_INSTANCE:
        return
    if await get_services(request).enterprise.hosts.owner(instance_id) != principal.domain_id:
        raise NotFound("no such registry instance", reason="instance_not_found")


async def _check_instance_rule(request: Request, principal: Principal, kind: str, level: int) -> None:
    params = request.path_params
    instance_id = str(params.get("instance_id", ""))
    owner = await get_services(request).enterprise.hosts.owner(instance_id)
    if owner is None or owner != principal.domain_id:
        raise NotFound(f"instance {instance_id!r} not found", reason="instance_not_found")
    if kind == "instance":
        return
    if kind == "instance_admin":
        if not principal.is_admin:
            raise Denied("this operation needs a domain administrator")
        return
    namespace = validate_namespace(str(params.get("namespace_name", "")))
    repository = None
    if kind == "instance_repository":
        repository = validate_repository(str(params.get("repository_name", "")).replace("$", "/"))
    found, held = await get_services(request).permissions.management_level(
        principal, instance_id=instance_id, namespace=namespace, repository=repository)
    if not found:
        raise NotFound(f"namespace {namespace!r} not found", reason="namespace_not_found")
    if held < level and not (level <= READ and await get_services(request).enterprise.namespaces.is_public(
            instance_id=instance_id, name=namespace)):
        raise Denied(f"this operation needs permission level {level} on {namespace}"
                     + (f"/{repository}" if repository else ""))


async def _check_rule(request: Request, principal: Principal, kind: str, level: int) -> None:
    if kind == "authenticated":
        return
    if kind.startswith("instance"):
        await _check_instance_rule(request, principal, kind, level)
        return
    if kind == "account":
        if not principal.project_id or not principal.domain_id:
            raise Denied("this operation needs a project of the caller's account in the path")
        return
    if kind == "admin":
        if not principal.is_admin:
            raise Denied("this operation needs a domain administrator")
        return
    params = request.path_params
    namespace = validate_namespace(str(params.get("namespace", "")))
    repository = None
    if kind == "repository":
        repository = validate_repository(str(params.get("repository", "")).replace("$", "/"))
    found, held = await get_services(request).permissions.management_level(
        principal, instance_id=getattr(request.state, "instance_id", DEFAULT_INSTANCE),
        namespace=namespace, repository=repository)
    if not found:
        raise NotFound(f"organization {namespace!r} not found", reason="namespace_not_found")
    if held < level:
        raise Denied(f"this operation needs permission level {level} on {namespace}"
                     + (f"/{repository}" if repository else ""))


PrincipalDep = Annotated[Principal, Depends(authorize)]
