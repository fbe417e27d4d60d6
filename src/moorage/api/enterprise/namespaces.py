"""Namespaces of an instance (``.../instances/{instance_id}/namespaces``): create, list, show,
update (public/private and the other metadata) and delete.

Besides SWR's metadata (``public``, ``auto_scan``, ``prevent_vul``, ``severity``) moorage reads and
returns ``enable_content_trust_cosign`` (Harbor's name): ``"true"`` refuses pulls of unsigned images.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise import schemas as s
from moorage.api.enterprise.common import INSTANCE, NAMESPACE, flag, page, text_flag, timestamp
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_ADMIN, INSTANCE_MEMBER, M, R, access_rules, on_instance_namespace
from moorage.domain.enterprise import InstanceNamespace, NamespaceOptions
from moorage.domain.errors import Invalid

router = APIRouter(
    tags=["Enterprise Edition namespaces"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

NAMESPACES = INSTANCE + "/namespaces"

ACCESS_RULES = access_rules(
    {
        ("POST", NAMESPACES): INSTANCE_ADMIN,
        ("GET", NAMESPACES): INSTANCE_MEMBER,  # filtered to what the caller may see
        ("GET", NAMESPACE): on_instance_namespace(R),
        ("PUT", NAMESPACE): on_instance_namespace(M),
        ("DELETE", NAMESPACE): on_instance_namespace(M),
    }
)


class NamespaceMetadata(BaseModel):
    """``NamespaceMetadata``: strings ``"true"``/``"false"``, and a severity."""

    model_config = ConfigDict(extra="ignore")
    public: str | None = None
    auto_scan: str | None = None
    prevent_vul: str | None = None
    severity: str | None = Field(default=None, max_length=16)
    enable_content_trust_cosign: str | None = None


class CveAllowlist(BaseModel):
    """``UpdateCVEAllowlistRequest``: CVEs a vulnerability block lets through, until ``expires_at``."""

    model_config = ConfigDict(extra="ignore")
    expires_at: int | None = None
    items: list[dict[str, str]] = Field(default_factory=list, max_length=1000)


class CreateNamespaceBody(BaseModel):
    """``CreateInstanceNamespaceRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    namespace_name: str = Field(min_length=1, max_length=64)
    metadata: NamespaceMetadata = Field(default_factory=NamespaceMetadata)


class UpdateNamespaceBody(BaseModel):
    """``UpdateNamespaceRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    metadata: NamespaceMetadata | None = None
    cve_allowlist: CveAllowlist | None = None


def _option_changes(metadata: NamespaceMetadata) -> dict[str, object]:
    changes: dict[str, object] = {}
    for field, name in (
        ("auto_scan", "auto_scan"),
        ("prevent_vul", "prevent_vul"),
        ("require_signature", "enable_content_trust_cosign"),
    ):
        value = flag(getattr(metadata, name), name)
        if value is not None:
            changes[field] = value
    if metadata.severity is not None:
        changes["severity"] = metadata.severity
    return changes


def metadata_view(namespace: InstanceNamespace) -> s.NamespaceMetadata:
    """A ``NamespaceMetadata`` model (plus ``enable_content_trust_cosign``)."""
    o = namespace.options
    return s.NamespaceMetadata(
        public=text_flag(namespace.is_public),
        auto_scan=text_flag(o.auto_scan),
        prevent_vul=text_flag(o.prevent_vul),
        severity=o.severity,
        enable_content_trust_cosign=text_flag(o.require_signature),
    )


def allowlist_view(namespace: InstanceNamespace) -> s.CveAllowlist:
    """A ``CVEAllowlist`` model."""
    allowlist = namespace.options.cve_allowlist
    items = allowlist.get("items")
    return s.CveAllowlist(
        id=namespace.id,
        namespace_id=namespace.id,
        expires_at=int(str(allowlist.get("expires_at") or 0)),
        items=[s.CveAllowlistItem(cve_id=str(item.get("cve_id", ""))) for item in items if isinstance(item, dict)]
        if isinstance(items, list)
        else [],
        creation_time=timestamp(namespace.created_at),
        update_time=timestamp(namespace.updated_at),
    )


def namespace_view(namespace: InstanceNamespace) -> s.Namespace:
    """A ``Namespace`` model."""
    return s.Namespace(
        name=namespace.name,
        metadata=metadata_view(namespace),
        namespace_id=namespace.id,
        created_at=timestamp(namespace.created_at),
        updated_at=timestamp(namespace.updated_at),
        repo_count=namespace.repo_count,
        cve_allowlist=allowlist_view(namespace),
    )


@router.post(NAMESPACES, status_code=201, response_model=s.CreatedId)
async def create_namespace(
    instance_id: str, body: CreateNamespaceBody, principal: PrincipalDep, services: ServicesDep
) -> s.CreatedId:
    """Create a namespace in the instance."""
    instance = await services.enterprise.instances.get(principal, instance_id)
    changes = _option_changes(body.metadata)
    options = NamespaceOptions(**changes)  # type: ignore[arg-type]
    created = await services.enterprise.namespaces.create(
        principal,
        instance_id=instance_id,
        domain_id=instance.domain_id,
        name=body.namespace_name,
        public=bool(flag(body.metadata.public, "public")),
        options=options,
    )
    return s.CreatedId(id=created.id)


@router.get(NAMESPACES, response_model=s.NamespaceList)
async def list_namespaces(
    instance_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    order_column: str | None = Query(default=None, max_length=32),
    order_type: str | None = Query(default=None, max_length=8),
    name: str | None = Query(default=None, max_length=64),
    public: str | None = Query(default=None, max_length=8),
) -> s.NamespaceList:
    """Namespaces of the instance the caller may see."""
    found = await services.enterprise.namespaces.list_namespaces(
        principal,
        instance_id=instance_id,
        name=name,
        public=flag(public, "public"),
        order_column=order_column,
        order_type=order_type,
        page=page(offset, limit),
    )
    return s.NamespaceList(namespaces=[namespace_view(n) for n in found.items], total=found.total)


@router.get(NAMESPACE, response_model=s.Namespace)
async def show_namespace(instance_id: str, namespace_name: str, services: ServicesDep) -> s.Namespace:
    """One namespace."""
    return namespace_view(await services.enterprise.namespaces.get(instance_id=instance_id, name=namespace_name))


@router.put(NAMESPACE, response_model=s.UpdatedNamespace)
async def update_namespace(
    instance_id: str, namespace_name: str, body: UpdateNamespaceBody, services: ServicesDep
) -> s.UpdatedNamespace:
    """Change a namespace's metadata and CVE allowlist."""
    metadata = body.metadata or NamespaceMetadata()
    allowlist = None
    if body.cve_allowlist is not None:
        items = [{"cve_id": str(item.get("cve_id", ""))[:64]} for item in body.cve_allowlist.items]
        if any(not item["cve_id"] for item in items):
            raise Invalid("every CVE allowlist item needs a cve_id")
        allowlist = {"expires_at": body.cve_allowlist.expires_at or 0, "items": items}
    updated = await services.enterprise.namespaces.update(
        instance_id=instance_id,
        name=namespace_name,
        public=flag(metadata.public, "public"),
        options=_option_changes(metadata),
        cve_allowlist=allowlist,
    )
    view = allowlist_view(updated)
    return s.UpdatedNamespace(
        namespace_name=updated.name,
        metadata=metadata_view(updated),
        cve_allowlist=s.UpdatedCveAllowlist(
            id=view.id, namespace_id=view.namespace_id, expires_at=view.expires_at, items=view.items
        ),
    )


@router.delete(NAMESPACE, status_code=204)
async def delete_namespace(instance_id: str, namespace_name: str, services: ServicesDep) -> Response:
    """Delete an empty namespace."""
    await services.enterprise.namespaces.delete(instance_id=instance_id, name=namespace_name)
    return Response(status_code=204)
