"""Signing keys of an instance (a moorage extension standing in for KMS, which SWR signs with):
``.../instances/{instance_id}/signature/keys``. The public key is served as PEM for verifiers::

    POST   .../signature/keys                      {"name", "description", "algorithm"} -> key
    GET    .../signature/keys?offset&limit         {"keys": [...], "total"}
    GET    .../signature/keys/{key_id}             key
    GET    .../signature/keys/{key_id}/public-key  PEM (application/x-pem-file)
    DELETE .../signature/keys/{key_id}             refused while a policy uses it

A policy names a key by its ``id`` in ``signature_key``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise import schemas_signing as s
from moorage.api.enterprise.common import INSTANCE, page, timestamp
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_ADMIN, INSTANCE_MEMBER, access_rules
from moorage.domain.enterprise import SigningKey
from moorage.signing.ecdsa import ALGORITHM

router = APIRouter(
    tags=["Enterprise Edition signing keys"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

KEYS = INSTANCE + "/signature/keys"
KEY = KEYS + "/{key_id}"

ACCESS_RULES = access_rules(
    {
        ("POST", KEYS): INSTANCE_ADMIN,
        ("GET", KEYS): INSTANCE_MEMBER,
        ("GET", KEY): INSTANCE_MEMBER,
        ("GET", KEY + "/public-key"): INSTANCE_MEMBER,
        ("DELETE", KEY): INSTANCE_ADMIN,
    }
)


class CreateKeyBody(BaseModel):
    """A new key's name, description and algorithm (``ECDSA_SHA_256``)."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=255)
    algorithm: str = ALGORITHM


def key_view(key: SigningKey) -> s.SigningKey:
    """A key, public half included."""
    return s.SigningKey(
        id=key.id,
        name=key.name,
        description=key.description,
        algorithm=key.algorithm,
        public_key=key.public_key_pem,
        creator=key.creator,
        created_at=timestamp(key.created_at),
    )


@router.post(KEYS, status_code=201, response_model=s.SigningKey)
async def create_key(
    instance_id: str, body: CreateKeyBody, principal: PrincipalDep, services: ServicesDep
) -> s.SigningKey:
    """Make a key pair; its private half never leaves moorage."""
    return key_view(
        await services.enterprise.keys.create(
            principal, instance_id=instance_id, name=body.name, description=body.description, algorithm=body.algorithm
        )
    )


@router.get(KEYS, response_model=s.SigningKeyList)
async def list_keys(
    instance_id: str,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> s.SigningKeyList:
    """The instance's keys."""
    found = await services.enterprise.keys.list_keys(instance_id=instance_id, page=page(offset, limit))
    return s.SigningKeyList(keys=[key_view(k) for k in found.items], total=found.total)


@router.get(KEY, response_model=s.SigningKey)
async def show_key(instance_id: str, key_id: str, services: ServicesDep) -> s.SigningKey:
    """One key."""
    return key_view(await services.enterprise.keys.get(instance_id=instance_id, key_id=key_id))


@router.get(KEY + "/public-key")
async def public_key(instance_id: str, key_id: str, services: ServicesDep) -> Response:
    """The public key as PEM, for ``sigstoreSigned`` policies and ``cosign verify --key``."""
    key = await services.enterprise.keys.get(instance_id=instance_id, key_id=key_id)
    return Response(
        key.public_key_pem,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": f'attachment; filename="{key.name}.pub"'},
    )


@router.delete(KEY, status_code=204)
async def delete_key(instance_id: str, key_id: str, services: ServicesDep) -> Response:
    """Delete a key no policy uses."""
    await services.enterprise.keys.delete(instance_id=instance_id, key_id=key_id)
    return Response(status_code=204)
