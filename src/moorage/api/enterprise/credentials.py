"""Registry credentials of an instance (CreateInstanceLtCredential, ListInstanceLtCredentials,
UpdateInstanceLtCredential, DeleteInstanceLtCredential, CreateInstanceTempCredential). What a
credential lets its holder do is in ``services/enterprise/credentials.py``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise.common import INSTANCE, flag, page, timestamp
from moorage.api.enterprise.schemas_access import (
    AuthTokenList,
    AuthTokenView,
    CreateCredentialBody,
    IssuedCredentialView,
    UpdateCredentialBody,
)
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_MEMBER, access_rules
from moorage.domain.enterprise_access import IssuedCredential

LONG_TERM = INSTANCE + "/long-term-credential"
LONG_TERMS = INSTANCE + "/long-term-credentials"
ONE_LONG_TERM = LONG_TERMS + "/{credential_id}"
TEMPORARY = INSTANCE + "/temp-credential"

router = APIRouter(
    tags=["Enterprise Edition credentials"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

ACCESS_RULES = access_rules(
    {
        # Any user of the instance's domain: a credential carries its user's own rights, no more.
        ("POST", LONG_TERM): INSTANCE_MEMBER,
        ("GET", LONG_TERMS): INSTANCE_MEMBER,  # the caller's own (everyone's for a domain administrator)
        ("PUT", ONE_LONG_TERM): INSTANCE_MEMBER,  # the caller's own (any for a domain administrator)
        ("DELETE", ONE_LONG_TERM): INSTANCE_MEMBER,
        ("POST", TEMPORARY): INSTANCE_MEMBER,
    }
)


def _issued(issued: IssuedCredential) -> IssuedCredentialView:
    credential = issued.credential
    return IssuedCredentialView(
        auth_token=issued.secret,
        created_at=timestamp(credential.created_at),
        expire_date=timestamp(credential.expires_at) if credential.expires_at else "",
        token_id=credential.id,
        user_id=credential.user_id,
    )


@router.post(LONG_TERM, status_code=201, response_model=IssuedCredentialView)
async def create_long_term_credential(
    instance_id: str, body: CreateCredentialBody, principal: PrincipalDep, services: ServicesDep
) -> IssuedCredentialView:
    """A long-term credential of the caller on the instance; its ``auth_token`` is shown this once."""
    issued = await services.enterprise.credentials.create_long_term(principal, instance_id, body.name)
    return _issued(issued)


@router.get(LONG_TERMS, response_model=AuthTokenList)
async def list_long_term_credentials(
    instance_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    self_only: str | None = Query(default=None, max_length=5),
) -> AuthTokenList:
    """The caller's long-term credentials (with ``self_only=false``, a domain administrator sees everyone's)."""
    own = flag(self_only, "self_only")
    found = await services.enterprise.credentials.list_long_term(
        principal, instance_id, self_only=own is not False, page=page(offset, limit)
    )
    return AuthTokenList(total=found.total, auth_tokens=[AuthTokenView.of(c) for c in found.items])


@router.put(ONE_LONG_TERM)
async def update_long_term_credential(
    instance_id: str, credential_id: str, body: UpdateCredentialBody, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """Enable or disable a long-term credential: a disabled one is refused at its next request."""
    await services.enterprise.credentials.set_enabled(principal, instance_id, credential_id[:64], body.enable)
    return Response(status_code=200)


@router.delete(ONE_LONG_TERM, status_code=204)
async def delete_long_term_credential(
    instance_id: str, credential_id: str, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """Delete a long-term credential."""
    await services.enterprise.credentials.delete(principal, instance_id, credential_id[:64])
    return Response(status_code=204)


@router.post(TEMPORARY, status_code=201, response_model=IssuedCredentialView)
async def create_temporary_credential(
    instance_id: str, principal: PrincipalDep, services: ServicesDep
) -> IssuedCredentialView:
    """A temporary credential of the caller on the instance (expires after the configured lifetime)."""
    issued = await services.enterprise.credentials.create_temporary(principal, instance_id)
    return _issued(issued)
