"""Shared FastAPI dependencies: the services, and the one authorization check of management routes.

``admit`` runs once per request, before the body is read (``ManagementRoute`` calls it): it finds
the route's rule in the application's access rules (each router module's ``ACCESS_RULES``, merged
by ``create_app`` into ``app.state.access_rules``), authenticates the caller from the headers
(``X-Auth-Token`` or an SDK-HMAC-SHA256 signature, refused if replayed later), checks that a
``{project_id}`` in the path is one of the caller's, and checks the rule. Routers also declare
``authorize`` as a router-wide dependency (it returns what ``admit`` found), and handlers that
need the caller take ``PrincipalDep``.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, assert_never

from fastapi import Depends, Request
from starlette.requests import ClientDisconnect

from moorage.api.client_address import client_address
from moorage.api.management_rules import AccessRules, Rule, RuleKind
from moorage.auth import sdk_signature
from moorage.domain.errors import Denied, Invalid, NotFound, Unauthenticated
from moorage.domain.identity import ANONYMOUS, READ, Principal
from moorage.domain.names import validate_namespace, validate_repository
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.services.users import principal_of

if TYPE_CHECKING:
    from moorage.services.wiring import Services

log = logging.getLogger(__name__)

SIGNATURE_SCHEME = "SDK-HMAC-SHA256"


def get_services(request: Request) -> Services:
    """The application's services."""
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated["Services", Depends(get_services)]


def get_access_rules(request: Request) -> AccessRules:
    """The application's access rules, by (method, path template)."""
    found: AccessRules = request.app.state.access_rules
    return found


@dataclass(frozen=True, slots=True)
class Admission:
    """What authorizing a management request established, before the route read its body."""

    principal: Principal
    """The caller."""
    body: bytes | None = None
    """The body as the route must see it when checking an SDK signature consumed the stream (empty
    when the route takes no body: it was hashed, not kept); None when the stream was not touched."""


async def authenticate_management(request: Request, *, keeps_body: bool = True) -> Admission:
    """The caller of a management route, from the headers: an IAM token, or an AK/SK signature
    whose headers are checked before a byte of the body is read (the body is then hashed as it
    arrives, within the edge's size cap, and kept only when ``keeps_body``). Else ``Unauthenticated``."""
    token = request.headers.get("x-auth-token")
    if token:
        claims, user = await get_services(request).logins.validate_token(token)
        return Admission(principal_of(user, via="token", project_id=claims.project_id))
    authorization = request.headers.get("authorization", "")
    if authorization.startswith(SIGNATURE_SCHEME):
        return await _authenticate_signature(request, authorization, keeps_body=keeps_body)
    raise Unauthenticated("an X-Auth-Token header or an AK/SK signature is required")


async def _authenticate_signature(request: Request, authorization: str, *, keeps_body: bool) -> Admission:
    services = get_services(request)
    logins = services.logins
    client = client_address(request)
    try:
        parsed = sdk_signature.parse_authorization(authorization)
    except sdk_signature.SignatureError as exc:
        raise Unauthenticated(f"malformed signature: {exc}") from exc
    policy = services.settings.auth
    async with logins.login_attempt(user_name=parsed.access_key, client=client, credential=None) as attempt:
        try:
            signed = sdk_signature.check_headers(
                method=request.method,
                raw_path=request.scope.get("raw_path") or request.url.path.encode(),
                query_string=request.scope.get("query_string", b""),
                headers=request.headers,
                now=datetime.datetime.now(datetime.UTC),
                max_age=datetime.timedelta(seconds=policy.sdk_signature_max_age_seconds),
                max_ahead=datetime.timedelta(seconds=policy.sdk_signature_max_ahead_seconds),
            )
        except sdk_signature.SignatureError as exc:
            await logins.record_failure(attempt, user_name=parsed.access_key, client=client, reason=str(exc))
            raise Unauthenticated(f"signature rejected: {exc}") from exc
        found = await services.access_keys.access_key_secret(parsed.access_key)
        if found is None:
            await logins.record_failure(
                attempt, user_name=parsed.access_key, client=client, reason="unknown or disabled access key"
            )
            raise Unauthenticated("unknown or disabled access key")
        user, secret = found
        try:
            body = await _verify_with_body(request, signed, secret, keeps_body=keeps_body)
        except sdk_signature.SignatureError as exc:
            await logins.record_failure(attempt, user_name=parsed.access_key, client=client, reason=str(exc))
            raise Unauthenticated(f"signature rejected: {exc}") from exc
    await services.replays.check(signed.authorization.signature, signed_at=signed.signed_at)
    principal = principal_of(user, via="access-key", project_id=request.headers.get("x-project-id") or None)
    return Admission(principal, body)


def _may_have_body(request: Request) -> bool:
    """Whether body bytes may follow the headers (a chunked body, or a Content-Length above 0)."""
    length = request.headers.get("content-length")
    return "chunked" in request.headers.get("transfer-encoding", "").lower() or (
        length is not None and length.strip() not in ("", "0")
    )


async def _verify_with_body(
    request: Request, signed: sdk_signature.SignedRequest, secret: str, *, keeps_body: bool
) -> bytes | None:
    """Check the signature, reading the body only when its hash is needed and no sooner; the body
    read (see ``Admission.body``)."""
    declared = signed.declared_payload_hash
    if not _may_have_body(request):
        signed.verify(secret, body_sha256=None)
        return None
    if declared == sdk_signature.UNSIGNED_PAYLOAD:
        # The client left the body out of the signature: nothing to hash (the value only says "a body").
        signed.verify(secret, body_sha256=sdk_signature.UNSIGNED_PAYLOAD)
        return None
    if declared is not None:
        # The client declared the body's hash: the signature is checked before the body is read,
        # and the body must then hash to what was declared.
        signed.verify(secret, body_sha256=declared.lower())
        digest, body = await _hash_body(request, keep=keeps_body)
        if not hmac.compare_digest(digest or sdk_signature.EMPTY_SHA256, declared.lower()):
            raise sdk_signature.SignatureMismatch("X-Sdk-Content-Sha256 does not match the body")
        return body
    digest, body = await _hash_body(request, keep=keeps_body)
    signed.verify(secret, body_sha256=digest)
    return body


async def _hash_body(request: Request, *, keep: bool) -> tuple[str | None, bytes]:
    """(hex SHA-256, or None when the body is empty; the body when ``keep``, else b""), read as it
    arrives: the edge's size cap stops an oversized body part way."""
    hasher = hashlib.sha256()
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            hasher.update(chunk)
            size += len(chunk)
            if keep:
                parts.append(chunk)
    except ClientDisconnect as exc:
        raise Invalid("the client went away while sending the body") from exc
    return (hasher.hexdigest() if size else None), b"".join(parts)


async def admit(request: Request, *, keeps_body: bool = True) -> Admission:
    """Authenticate and check the route's rule (see the module docstring); the principal is kept in
    ``request.state.principal``."""
    route = request.scope.get("route")
    rule = get_access_rules(request).get((request.method, getattr(route, "path", "")))
    if rule is None:
        log.error("no access rule for %s %s: refused", request.method, getattr(route, "path", request.url.path))
        raise Denied("this operation has no access rule")
    if rule.kind is RuleKind.PUBLIC:
        admission = Admission(ANONYMOUS)
    else:
        admission = await authenticate_management(request, keeps_body=keeps_body)
        principal = await _check_project(request, admission.principal)
        await _check_host_instance(request, principal)
        await _check_rule(request, principal, rule)
        admission = replace(admission, principal=principal)
    request.state.principal = admission.principal
    return admission


async def admit_principal(request: Request, principal: Principal, rule: Rule) -> Principal:
    """The checks ``admit`` makes after authentication, for a caller authenticated another way (the
    web console's session): the project, the host's instance and the rule. The principal with the
    path's project."""
    principal = await _check_project(request, principal)
    await _check_host_instance(request, principal)
    await _check_rule(request, principal, rule)
    return principal


async def authorize(request: Request) -> Principal:
    """The router-wide dependency: the principal ``ManagementRoute`` admitted before the body was
    read, or (for a route outside it) authenticate and check the rule now."""
    admitted: Principal | None = getattr(request.state, "principal", None)
    if admitted is not None:
        return admitted
    return (await admit(request)).principal


async def _check_project(request: Request, principal: Principal) -> Principal:
    """A ``{project_id}`` in the path (or X-Project-Id) must be a project of the caller's domain."""
    wanted = request.path_params.get("project_id") or principal.project_id
    if not wanted:
        return principal
    project = await get_services(request).users.project(str(wanted))
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


async def _check_rule(request: Request, principal: Principal, rule: Rule) -> None:
    """Whether ``principal`` passes ``rule`` (one case per kind: mypy refuses a kind left out)."""
    match rule.kind:
        case RuleKind.PUBLIC | RuleKind.AUTHENTICATED:
            return
        case RuleKind.ACCOUNT:
            if not principal.project_id or not principal.domain_id:
                raise Denied("this operation needs a project of the caller's account in the path")
        case RuleKind.ADMIN:
            _require_admin(principal)
        case RuleKind.NAMESPACE:
            await _check_level(request, principal, rule.level, with_repository=False)
        case RuleKind.REPOSITORY:
            await _check_level(request, principal, rule.level, with_repository=True)
        case RuleKind.INSTANCE:
            await _check_instance_owner(request, principal)
        case RuleKind.INSTANCE_ADMIN:
            await _check_instance_owner(request, principal)
            _require_admin(principal)
        case RuleKind.INSTANCE_NAMESPACE:
            await _check_instance_level(request, principal, rule.level, with_repository=False)
        case RuleKind.INSTANCE_REPOSITORY:
            await _check_instance_level(request, principal, rule.level, with_repository=True)
        case _:
            assert_never(rule.kind)


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Denied("this operation needs a domain administrator")


async def _check_level(request: Request, principal: Principal, level: int, *, with_repository: bool) -> None:
    """At least ``level`` on the path's ``namespace`` (and ``repository``) of the request's registry."""
    params = request.path_params
    namespace = validate_namespace(str(params.get("namespace", "")))
    repository = None
    if with_repository:
        repository = validate_repository(str(params.get("repository", "")).replace("$", "/"))
    found, held = await get_services(request).permissions.management_level(
        principal,
        instance_id=getattr(request.state, "instance_id", DEFAULT_INSTANCE),
        namespace=namespace,
        repository=repository,
    )
    if not found:
        raise NotFound(f"organization {namespace!r} not found", reason="namespace_not_found")
    if held < level:
        raise Denied(
            f"this operation needs permission level {level} on {namespace}" + (f"/{repository}" if repository else "")
        )


async def _check_instance_owner(request: Request, principal: Principal) -> str:
    """The path's ``instance_id``, which must be an instance of the caller's domain."""
    instance_id = str(request.path_params.get("instance_id", ""))
    owner = await get_services(request).enterprise.hosts.owner(instance_id)
    if owner is None or owner != principal.domain_id:
        raise NotFound(f"instance {instance_id!r} not found", reason="instance_not_found")
    return instance_id


async def _check_instance_level(request: Request, principal: Principal, level: int, *, with_repository: bool) -> None:
    """At least ``level`` on the path's instance namespace ``namespace_name`` (and repository
    ``repository_name``); reading a public namespace needs no grant."""
    instance_id = await _check_instance_owner(request, principal)
    params = request.path_params
    namespace = validate_namespace(str(params.get("namespace_name", "")))
    repository = None
    if with_repository:
        repository = validate_repository(str(params.get("repository_name", "")).replace("$", "/"))
    found, held = await get_services(request).permissions.management_level(
        principal, instance_id=instance_id, namespace=namespace, repository=repository
    )
    if not found:
        raise NotFound(f"namespace {namespace!r} not found", reason="namespace_not_found")
    if held < level and not (
        level <= READ
        and await get_services(request).enterprise.namespaces.is_public(instance_id=instance_id, name=namespace)
    ):
        raise Denied(
            f"this operation needs permission level {level} on {namespace}" + (f"/{repository}" if repository else "")
        )


PrincipalDep = Annotated[Principal, Depends(authorize)]
