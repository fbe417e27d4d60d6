"""Connected registries: add (after a connectivity check with the credentials given), list,
change, delete, count by access status. Passwords are encrypted with the master key, bound to
the registry's id, and never returned. moorage's own SWR entries cannot be changed or deleted."""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import replace

from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey
from moorage.clients.errors import AuthenticationError, EgressDenied, RegistryError
from moorage.domain.errors import Conflict, Invalid, NotFound
from moorage.domain.events import NewEvent, Operation, ResourceType, account_event
from moorage.domain.identity import Principal
from moorage.domain.security import EXTERNAL_TYPES, ConnectedRegistry, RegistryStatus, RegistryType
from moorage.domain.security_registries import RegistryFields, RegistryInput, RegistryQuery
from moorage.metadata.database import Database
from moorage.metadata.queries import security_registries as q
from moorage.services.events.recorder import record_events
from moorage.services.security.catalogs import CatalogError, make_catalog
from moorage.services.security.remote_access import RemoteAccess, tenant_reason
from moorage.services.security.synchronize import decrypt_password, remote_registry

_ADDRESS = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253})|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
MAX_BATCH = 200


def _domain(principal: Principal) -> str:
    if not principal.domain_id:
        raise Invalid("an account is needed")
    return principal.domain_id


def normalise_address(address: str, protocol: str) -> tuple[str, str]:
    """(``host[:port]``, protocol): a pasted URL gives its scheme and loses its path's slash."""
    text = address.strip()
    for scheme in ("http", "https"):
        if text.lower().startswith(f"{scheme}://"):
            text, protocol = text[len(scheme) + 3 :], scheme
    text = text.rstrip("/")
    if not _ADDRESS.match(text) or not _usable_host(text):
        raise Invalid(
            f"registry_addr must be host[:port] (a host name or an IP address in its usual form), got {address[:64]!r}"
        )
    if protocol not in ("http", "https"):
        raise Invalid(f"protocol must be http or https, got {protocol[:16]!r}")
    return text, protocol


def _usable_host(address: str) -> bool:
    """A port in range, an IPv6 literal that parses, and no numeric spelling of an IPv4 address
    other than the dotted quad (``2130706433``, ``0x7f.1``, ``0177.0.0.1`` name 127.0.0.1 to the
    resolver): such spellings are refused here, and whatever they name is refused anyway by the
    egress policy when connecting."""
    if address.startswith("["):
        end = address.index("]") + 1
        host, port = address[:end], address[end:].removeprefix(":")
    else:
        host, _, port = address.partition(":")
    if port and int(port) > 65535:
        return False
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    last = host.rstrip(".").rsplit(".", 1)[-1]
    if _NUMERIC_LABEL.match(last):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
    return True


def _text(name: str, value: str, *, low: int, high: int) -> str:
    if not low <= len(value) <= high:
        raise Invalid(f"{name} must have {low} to {high} characters")
    return value


class RegistryService:
    """The registry operations of the HSS API."""

    def __init__(self, db: Database, master_key: MasterKey, access: RemoteAccess) -> None:
        self.db = db
        self.master_key = master_key
        self.access = access

    async def _check(self, registry: ConnectedRegistry, password: str) -> None:
        """Reach the registry with the credentials; a failure is told in general terms (the same
        text for a closed port as for an open one, nothing of the address), the detail logged."""
        catalog = make_catalog(registry.type, remote_registry(registry, password, self.access))
        try:
            await catalog.check()
        except (RegistryError, CatalogError, OSError) as exc:
            reason = tenant_reason(exc, registry_id=registry.id, action="connectivity check")
            raise Invalid(reason, reason=_check_reason(exc)) from exc

    async def add(self, principal: Principal, data: RegistryInput) -> ConnectedRegistry:
        """Connect an external registry (its credentials are checked first)."""
        domain_id = _domain(principal)
        try:
            kind = RegistryType(data.type or "")
        except ValueError as exc:
            raise Invalid(f"registry_type must be one of {', '.join(t.value for t in EXTERNAL_TYPES)}") from exc
        if kind not in EXTERNAL_TYPES:
            raise Invalid(f"registry_type must be one of {', '.join(t.value for t in EXTERNAL_TYPES)}")
        address, protocol = normalise_address(data.address or "", data.protocol or "https")
        name = _text("registry_name", (data.name or "").strip(), low=1, high=128)
        password = _text("registry_password", data.password or "", low=0, high=128)
        registry_id = secrets.token_hex(16)
        fields = RegistryFields(
            name=name,
            type=kind,
            api_version=data.api_version or "V2",
            protocol=protocol,
            address=address,
            username=_text("registry_username", data.username or "", low=0, high=128),
            password_encrypted=self.master_key.encrypt(password, context=f"registry:{registry_id}") if password else "",
            organization_filter=_organizations(data.organization_filter or ""),
            connect_cluster_id=(data.connect_cluster_id or "")[:64],
            scan_image_channel=(data.scan_image_channel or "")[:16],
        )
        candidate = ConnectedRegistry(
            registry_id,
            domain_id,
            name,
            kind,
            fields.api_version,
            protocol,
            address,
            fields.username,
            (),
            "",
            "",
            RegistryStatus.ACCESSING,
            "",
            0,
            0,
            0,
        )
        await self._check(candidate, password)

        def work(conn: Connection) -> ConnectedRegistry:
            if q.name_taken(conn, domain_id, name):
                raise Conflict(f"a registry named {name!r} exists", reason="registry_exists")
            q.create(conn, registry_id=registry_id, domain_id=domain_id, fields=fields)
            found = q.get(conn, domain_id, registry_id)
            assert found is not None
            record_events(conn, _event(Operation.CREATE, found))
            return found

        return await self.db.write(work)

    async def get(self, principal: Principal, registry_id: str) -> ConnectedRegistry:
        """One of the account's registries."""
        found = await self.db.read(lambda conn: q.get(conn, _domain(principal), registry_id))
        if found is None:
            raise NotFound(f"no registry {registry_id[:64]!r}", reason="registry_not_found")
        return found

    async def update(self, principal: Principal, registry_id: str, data: RegistryInput) -> ConnectedRegistry:
        """Change an external registry (checked again with the new settings)."""
        current = await self.get(principal, registry_id)
        if current.type.is_builtin:
            raise Invalid("moorage's own SWR registries cannot be changed")
        address, protocol = normalise_address(data.address or current.address, data.protocol or current.protocol)
        sealed = await self.db.read(lambda conn: q.password_encrypted(conn, registry_id))
        password = (
            _text("registry_password", data.password, low=0, high=128)
            if data.password is not None
            else decrypt_password(self.master_key, registry_id, sealed)
        )
        changed = replace(
            current,
            address=address,
            protocol=protocol,
            username=data.username if data.username is not None else current.username,
            api_version=data.api_version or current.api_version,
            organization_filter=tuple(
                o
                for o in _organizations(
                    data.organization_filter
                    if data.organization_filter is not None
                    else ",".join(current.organization_filter)
                ).split(",")
                if o
            ),
        )
        await self._check(changed, password)
        values = {
            "address": address,
            "protocol": protocol,
            "username": changed.username[:128],
            "api_version": changed.api_version[:8],
            "organization_filter": ",".join(changed.organization_filter),
            "status": RegistryStatus.SUCCESS,
            "fail_reason": "",
        }
        if data.password is not None:
            values["password_encrypted"] = (
                self.master_key.encrypt(password, context=f"registry:{registry_id}") if password else ""
            )
        if data.connect_cluster_id is not None:
            values["connect_cluster_id"] = data.connect_cluster_id[:64]
        if data.scan_image_channel is not None:
            values["scan_image_channel"] = data.scan_image_channel[:16]

        def work(conn: Connection) -> None:
            q.change(conn, registry_id, values)
            record_events(conn, _event(Operation.UPDATE, changed, password_changed=data.password is not None))

        await self.db.write(work)
        return await self.get(principal, registry_id)

    async def delete(self, principal: Principal, registry_ids: list[str]) -> int:
        """Delete external registries and their image rows; moorage's own are refused."""
        if not registry_ids or len(registry_ids) > MAX_BATCH:
            raise Invalid(f"give 1 to {MAX_BATCH} registry ids")
        domain_id = _domain(principal)

        def work(conn: Connection) -> int:
            found = [q.get(conn, domain_id, i) for i in registry_ids]
            if any(r is None for r in found):
                missing = next(i for i, r in zip(registry_ids, found, strict=True) if r is None)
                raise NotFound(f"no registry {missing[:64]!r}", reason="registry_not_found")
            if any(r is not None and r.type.is_builtin for r in found):
                raise Invalid("moorage's own SWR registries cannot be deleted")
            record_events(conn, *(_event(Operation.DELETE, r) for r in found if r is not None))
            return q.remove(conn, domain_id, registry_ids)

        return await self.db.write(work)

    async def page(
        self, principal: Principal, query: RegistryQuery, *, offset: int, limit: int
    ) -> tuple[list[ConnectedRegistry], int]:
        """One page of the account's registries."""
        return await self.db.read(lambda conn: q.page(conn, _domain(principal), query, offset=offset, limit=limit))

    async def statistics(self, principal: Principal, types: tuple[str, ...]) -> tuple[int, int]:
        """(registries whose access failed, registries accessed successfully)."""
        counts = await self.db.read(lambda conn: q.status_counts(conn, _domain(principal), types))
        return counts.get(RegistryStatus.FAIL, 0), counts.get(RegistryStatus.SUCCESS, 0)


def _organizations(text: str) -> str:
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        if len(name) > 128 or "/" in name:
            raise Invalid(f"organization filter entry {name[:32]!r} is not an organization name")
    return ",".join(dict.fromkeys(names))


def _check_reason(error: BaseException) -> str:
    """The machine-readable reason of a failed connectivity check."""
    if isinstance(error, AuthenticationError):
        return "registry_authentication_failed"
    if isinstance(error, EgressDenied):
        return "registry_address_not_allowed"
    return "registry_unreachable"


def _event(operation: Operation, registry: ConnectedRegistry, *, password_changed: bool = False) -> NewEvent:
    """The event of an external registry connected, changed or removed (its address, never its
    credentials)."""
    detail = {"name": registry.name, "type": registry.type.value, "address": registry.address}
    if password_changed:
        detail["credentials"] = "changed"
    return account_event(
        operation, ResourceType.CONNECTED_REGISTRY, registry.id, domain_id=registry.domain_id, detail=detail
    )
