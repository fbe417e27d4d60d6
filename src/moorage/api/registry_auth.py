"""Authentication for the registry API, as the Docker token specification describes it.

``/v2/`` routes accept a bearer token from ``/service/token`` (the usual flow of docker, podman,
skopeo, containerd), Basic credentials sent directly, or nothing (anonymous). A request without
acceptable credentials gets 401 with a ``WWW-Authenticate: Bearer`` challenge naming the realm,
service and scope; an authenticated caller without the right gets 403 DENIED. A bearer token
narrower than its holder's rights (it does not name the resource, or names fewer actions) gets 403
DENIED (``insufficient_scope``) with a challenge naming the scope to ask for, which is what oras-py
acts on; a token whose holder lacks the right gets plain DENIED, or the answer for a missing name
when the holder may not know the name exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from moorage.api import registry_token
from moorage.api.access import ALL, AUTHENTICATED, PUSH, Access
from moorage.api.client_address import client_address
from moorage.auth import headers
from moorage.auth.tokens import RegistryGrant, TokenError, TokenSigner
from moorage.domain.errors import Denied, NameInvalid, Unauthenticated
from moorage.domain.identity import ANONYMOUS, Principal
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, NO_INSTANCE, RepositoryAccess
from moorage.services.logins import LoginService
from moorage.services.permissions import PermissionService
from moorage.services.users import UserService, principal_of
from moorage.settings import Settings


class RegistryAuthorizer:
    """The ``Authorizer`` of the OCI routes."""

    def __init__(
        self,
        *,
        settings: Settings,
        logins: LoginService,
        users: UserService,
        permissions: PermissionService,
        signer: TokenSigner,
    ) -> None:
        self.settings = settings
        self.logins = logins
        self.users = users
        self.permissions = permissions
        self.signer = signer
        self.realm = f"{settings.resolved_external_url}/service/token"

    async def authenticate(self, connection: HTTPConnection) -> Principal:
        """Who the caller is (bearer token, Basic credentials, or anonymous)."""
        header = connection.headers.get("authorization")
        if not header:
            return ANONYMOUS
        scheme = header.split(" ", 1)[0].lower()
        try:
            if scheme == "bearer":
                token = self.signer.verify_registry(headers.parse_bearer(header))
                if token.instance_id != getattr(connection.state, "instance_id", DEFAULT_INSTANCE):
                    raise Unauthenticated("the token was issued for another registry instance")
                granted: dict[str, frozenset[str]] = {}
                for g in token.grants:
                    granted[f"{g.type}:{g.name}"] = granted.get(f"{g.type}:{g.name}", frozenset()) | set(g.actions)
                if token.subject is None:
                    return Principal(via="bearer", granted=granted)
                user = await self.users.user_recently(token.subject)

                if user is None or not user.enabled:
                    raise Unauthenticated("the token's user no longer exists")
                if token.credential and not await self.logins.credential_holds(
                    token.credential, instance_id=token.instance_id, user_id=user.id
                ):
                    raise Unauthenticated("the credential the token was issued for is disabled, deleted or expired")
                return replace(principal_of(user, via="bearer"), granted=granted)
            if scheme == "basic":
                user_name, password = headers.parse_basic(header)
                login = await self.logins.login(
                    username=user_name,
                    password=password,
                    client=client_address(connection),
                    instance_id=getattr(connection.state, "instance_id", DEFAULT_INSTANCE),
                )
                return login.principal
        except (headers.HeaderError, TokenError) as exc:
            raise Unauthenticated(f"invalid credentials: {exc}") from exc
        raise Unauthenticated("unsupported authorization scheme")

    async def allowed_actions(self, principal: Principal, access: Access, instance_id: str) -> frozenset[str]:
        """Actions the principal holds on ``access``'s resource, whatever the credential kind."""
        return (await self._access(principal, access, instance_id)).actions

    async def _access(self, principal: Principal, access: Access, instance_id: str) -> RepositoryAccess:
        if access.resource_type == "registry" and access.name == "catalog":
            return RepositoryAccess(
                frozenset({ALL})
                if not principal.anonymous or await self.permissions.anonymous_pull_allowed(instance_id)
                else frozenset()
            )
        if access.resource_type != "repository":
            return RepositoryAccess(frozenset())
        try:
            name = RepositoryName.parse(access.name)
        except NameInvalid:
            return RepositoryAccess(frozenset())
        return await self.permissions.repository_access(principal, instance_id=instance_id, name=name)

    @staticmethod
    def _answer_as_missing(connection: HTTPConnection, access: Access, unseen: frozenset[str]) -> bool:
        """Whether a refused request on another account's name is answered as for a name that does not
        exist (and route it to ``NO_INSTANCE``, where every handler finds nothing): when the caller
        would have been let through on a free name. Creating the name (starting an upload, putting a
        manifest) stays refused: names are unique across accounts."""
        if not unseen or not set(access.actions) <= unseen:
            return False
        if PUSH in access.actions and connection.scope.get("oci", ("",))[0] != "upload":
            return False
        connection.state.instance_id = NO_INSTANCE
        return True

    async def authorize(self, connection: HTTPConnection, required: list[Access]) -> Principal:
        """The principal, if it may do all of ``required``."""
        principal = await self.authenticate(connection)
        instance_id = getattr(connection.state, "instance_id", DEFAULT_INSTANCE)
        for access in required:
            if access == AUTHENTICATED:
                anonymous_ok = principal.granted is not None or await self.permissions.anonymous_pull_allowed(
                    instance_id
                )
                if principal.anonymous and not anonymous_ok:
                    raise Unauthenticated()
                continue
            unseen: frozenset[str] = frozenset()
            if principal.granted is not None:  # a bearer token: only what it grants
                granted = principal.granted.get(f"{access.resource_type}:{access.name}", frozenset())
                if not set(access.actions) <= granted and ALL not in granted and not principal.anonymous:
                    # The token is narrower than the caller's rights: answer DENIED with a challenge naming
                    # the scope to ask for (oras-py fetches a new token on exactly this; Docker-style
                    # clients ask for push up front and never get here).
                    held = await self._access(principal, access, instance_id)
                    if set(access.actions) <= held.actions or ALL in held.actions:
                        raise Denied(
                            "the token does not cover this request; request a token with this scope",
                            reason="insufficient_scope",
                        )
                    unseen = held.unseen
            else:
                held = await self._access(principal, access, instance_id)
                granted, unseen = held.actions, held.unseen
            if not set(access.actions) <= granted and ALL not in granted:
                if self._answer_as_missing(connection, access, unseen):
                    continue
                if principal.anonymous:
                    raise Unauthenticated()
                raise Denied(
                    f"requested access to {access.name or 'the registry'} is denied",
                    detail=[{"Type": access.resource_type, "Name": access.name, "Action": ",".join(access.actions)}],
                )
        return principal

    async def permits(self, connection: HTTPConnection, principal: Principal, access: Access) -> bool:
        """Soft check (cross-repository mount sources)."""
        if principal.granted is not None:
            granted = principal.granted.get(f"{access.resource_type}:{access.name}", frozenset())
        else:
            granted = await self.allowed_actions(
                principal, access, getattr(connection.state, "instance_id", DEFAULT_INSTANCE)
            )
        return set(access.actions) <= granted

    def challenge_headers(
        self, connection: HTTPConnection, required: list[Access], error: str | None = None
    ) -> dict[str, str]:
        """``WWW-Authenticate: Bearer realm=...,service=...[,scope=...][,error=...]``; an Enterprise Edition
        instance's realm is on the host name the client used, so its token is that instance's."""
        scopes = " ".join(a.scope() for a in required if a.resource_type)
        realm = self.realm
        host = connection.headers.get("host")
        if getattr(connection.state, "instance_id", DEFAULT_INSTANCE) != DEFAULT_INSTANCE and host:
            realm = f"{self.realm.split('://', 1)[0]}://{host}/service/token"
        return {
            "WWW-Authenticate": headers.build_bearer_challenge(
                realm=realm, service=self.settings.auth.registry_service, scope=scopes or None, error=error
            )
        }

    async def grants_for(
        self, principal: Principal, scopes: Iterable[headers.TokenScope], instance_id: str
    ) -> list[RegistryGrant]:
        """The requested scopes reduced to what ``principal`` holds (``*`` on a repository: all it holds)."""
        grants = []
        for kind, name, actions in scopes:  # plugin scopes keep their class in ``kind`` and get nothing
            held = await self.allowed_actions(principal, Access(kind, name, actions), instance_id)
            if ALL in actions and kind == "repository":  # "*": everything the caller holds
                actions = tuple(dict.fromkeys([*(a for a in actions if a != ALL), *sorted(held)]))
            given = tuple(a for a in actions if a in held or ALL in held)
            grants.append(RegistryGrant(kind, name, given))
        return grants

    async def token_endpoint(self, request: Request) -> Response:
        """``GET`` and ``POST /service/token`` (``registry_token``)."""
        return await registry_token.token_endpoint(request, self)
