"""``/service/token``: the token endpoint of the Docker token specification.

- ``GET`` (distribution's ``token.md``): Basic credentials or none (anonymous, where allowed);
  ``scope`` (repeatable), ``service``, ``client_id``, and ``offline_token=true`` for a refresh token.
  Answers ``token`` and ``access_token`` (the same), ``expires_in``, ``issued_at``[, ``refresh_token``].
- ``POST`` (``oauth.md``): an ``application/x-www-form-urlencoded`` body with ``grant_type=password``
  (``username``, ``password``) or ``grant_type=refresh_token`` (``refresh_token``), ``service``,
  ``client_id``, ``scope`` (repeatable) and ``access_type=offline`` for a refresh token. Answers
  ``access_token`` (and ``token``), ``scope`` (what was granted), ``expires_in``, ``issued_at``
  [, ``refresh_token``]. containerd and BuildKit log in this way; docker uses it with the refresh
  token ``docker login`` stored.

A token asked for without any scope (``docker login``, ``podman search``) grants the catalog: the
catalog answers only what its holder may read. Refresh tokens are signed and stateless (good on every
node) and bound to their user and the credential they came from, which are checked on every use.
"""

from __future__ import annotations

import datetime
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from moorage.api.access import Access
from moorage.api.client_address import client_address
from moorage.api.errors import oci_error_response
from moorage.auth import headers
from moorage.auth.token_request import MAX_FORM_BYTES, GrantType, TokenRequestError, parse_token_form
from moorage.auth.tokens import RegistryGrant
from moorage.domain.errors import Invalid, MoorageError, TooLarge, Unauthenticated
from moorage.domain.identity import ANONYMOUS, Principal
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.services.logins import INSTANCE_CREDENTIAL_BINDING, Login

if TYPE_CHECKING:
    from moorage.api.registry_auth import RegistryAuthorizer

CATALOG = RegistryGrant("registry", "catalog", ("*",))


@dataclass(frozen=True, slots=True)
class TokenAsk:
    """A token request, whatever its form: who asks, for what, and whether a refresh token is wanted."""

    principal: Principal
    login: Login | None
    """The credentials' login (None: anonymous, no refresh token possible)."""
    scope_values: tuple[str, ...]
    service: str
    client_id: str
    offline: bool
    oauth: bool
    """Asked by POST: the answer carries ``scope``."""


async def token_endpoint(request: Request, authorizer: RegistryAuthorizer) -> Response:
    """``GET`` or ``POST /service/token`` (see the module docstring)."""
    instance_id = getattr(request.state, "instance_id", DEFAULT_INSTANCE)
    try:
        if request.method == "POST":
            ask = await _oauth_ask(request, authorizer, instance_id)
        else:
            ask = await _query_ask(request, authorizer, instance_id)
        if ask.service and ask.service != authorizer.settings.auth.registry_service:
            raise Invalid(
                f"this token service is {authorizer.settings.auth.registry_service!r}, not {ask.service[:80]!r}"
            )
        scopes = headers.parse_scopes(ask.scope_values)
    except headers.HeaderError as exc:
        return oci_error_response(Unauthenticated(f"invalid scope: {exc}"))
    except TokenRequestError as exc:
        return oci_error_response(Invalid(str(exc)))
    except MoorageError as error:
        response = oci_error_response(error, {"Connection": "close"} if isinstance(error, TooLarge) else None)
        if isinstance(error, Unauthenticated) and request.method != "POST":
            response.headers["WWW-Authenticate"] = headers.build_challenge(
                "Basic", [("realm", authorizer.settings.auth.registry_service)]
            )
        return response
    grants = (
        await authorizer.grants_for(ask.principal, scopes, instance_id)
        if scopes
        else await _scopeless_grants(authorizer, ask.principal, instance_id)
    )
    ttl = authorizer.settings.auth.registry_token_ttl_seconds
    credential = ""
    if ask.login is not None and ask.login.binding.startswith(INSTANCE_CREDENTIAL_BINDING):
        # Checked on every use of the token; nor does the token outlive a temporary credential.
        credential = ask.login.binding
        if ask.login.not_after:
            ttl = max(1, min(ttl, ask.login.not_after - int(time.time())))
    token, _claims = authorizer.signer.issue_registry(
        subject=ask.principal.user_id,
        domain_id=ask.principal.domain_id,
        grants=grants,
        ttl=ttl,
        via=ask.principal.via or "anonymous",
        instance_id=instance_id,
        credential=credential,
    )
    issued = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    body: dict[str, object] = {"token": token, "access_token": token, "expires_in": ttl, "issued_at": issued}
    if ask.oauth:
        body["scope"] = " ".join(f"{g.type}:{g.name}:{','.join(g.actions)}" for g in grants if g.actions)
    if ask.offline and ask.login is not None:
        body["refresh_token"] = await authorizer.logins.issue_refresh_token(
            ask.login, instance_id=instance_id, client_id=ask.client_id
        )
    return Response(
        json.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )


async def _query_ask(request: Request, authorizer: RegistryAuthorizer, instance_id: str) -> TokenAsk:
    """The GET form: credentials from the Authorization header."""
    query = request.query_params
    header = request.headers.get("authorization")
    login: Login | None = None
    if header and header.split(" ", 1)[0].lower() == "basic":
        try:
            user_name, password = headers.parse_basic(header)
        except headers.HeaderError as exc:
            raise Unauthenticated(f"invalid credentials: {exc}") from exc
        login = await authorizer.logins.login(
            username=user_name, password=password, client=client_address(request), audit=True, instance_id=instance_id
        )
        principal = login.principal
    elif header:
        principal = await authorizer.authenticate(request)
        if principal.granted is not None:
            raise Unauthenticated("a registry token cannot be exchanged for another")
    else:
        principal = ANONYMOUS
        if not await authorizer.permissions.anonymous_pull_allowed(instance_id):
            raise Unauthenticated("credentials are required")
    return TokenAsk(
        principal,
        login,
        tuple(query.getlist("scope")),
        query.get("service", ""),
        query.get("client_id", ""),
        query.get("offline_token", "").lower() == "true",
        oauth=False,
    )


async def _oauth_ask(request: Request, authorizer: RegistryAuthorizer, instance_id: str) -> TokenAsk:
    """The POST form: credentials in the body."""
    form = parse_token_form(await _bounded_body(request), request.headers.get("content-type"))
    logins = authorizer.logins
    if form.grant_type is GrantType.PASSWORD:
        login = await logins.login(
            username=form.username,
            password=form.password,
            client=client_address(request),
            audit=True,
            instance_id=instance_id,
        )
    else:
        login = await logins.refresh(form.refresh_token, instance_id=instance_id, client_id=form.client_id)
    return TokenAsk(login.principal, login, form.scopes, form.service, form.client_id, form.offline, oauth=True)


async def _bounded_body(request: Request) -> bytes:
    """The request body, refused (413) past ``MAX_FORM_BYTES`` before more than that is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise TooLarge(f"a token request body is at most {MAX_FORM_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise TooLarge(f"a token request body is at most {MAX_FORM_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _scopeless_grants(
    authorizer: RegistryAuthorizer, principal: Principal, instance_id: str
) -> list[RegistryGrant]:
    """A token asked for without a scope: the catalog, when the caller may list it at all (the
    catalog then shows only what the caller may read). podman 4 asks for ``/v2/_catalog`` with such
    a token and does not retry with the ``registry:catalog:*`` scope the challenge names."""
    held = await authorizer.allowed_actions(principal, Access(CATALOG.type, CATALOG.name, CATALOG.actions), instance_id)
    return [CATALOG] if held else []
