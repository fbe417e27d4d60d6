"""Replication registries of an Enterprise Edition instance (``CreateInstanceRegistry`` and its
siblings): the registries policies copy to or from. A create (and an update that changes the
address or the credentials) first reaches the registry with the credentials: a wrong password or an
unreachable address is a 400 that says which, in general terms. Passwords are sealed with the master
key, bound to the registry's id, never returned and never logged."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey
from moorage.clients.auth import Credentials
from moorage.clients.errors import AuthenticationError, EgressDenied, RegistryError
from moorage.domain.enterprise import Page, PageRequest
from moorage.domain.errors import Conflict, Invalid, NotFound
from moorage.domain.events import NewEvent, Operation, ResourceType
from moorage.domain.replication import RegistryChanges, RegistryKind, ReplicationRegistry
from moorage.domain.security import RegistryType
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_instances as instances_q
from moorage.metadata.queries import replication as q
from moorage.services.events.recorder import record_events
from moorage.services.security.catalogs import CatalogError, RemoteRegistry, make_catalog
from moorage.services.security.registries import normalise_address
from moorage.services.security.remote_access import RemoteAccess, tenant_reason

REGISTRY_NAME = re.compile(r"^[\w-]{1,64}$")
ORDER_COLUMNS = ("created_at", "updated_at", "name", "id")


@dataclass(frozen=True, slots=True)
class RegistryAccess:
    """How to reach a replication registry: its address, credentials and the deployment's bounds."""

    registry: ReplicationRegistry
    credentials: Credentials | None
    access: RemoteAccess

    def remote(self) -> RemoteRegistry:
        """The catalogs' description of the registry."""
        return RemoteRegistry(
            address=self.registry.host,
            plain_http=self.registry.plain_http,
            credentials=self.credentials,
            egress=self.access.egress,
            limits=self.access.limits,
            timeout=self.access.timeout,
            verify_tls=not self.registry.insecure,
        )


def catalog_type(kind: RegistryKind) -> RegistryType:
    """Which listing API a registry kind speaks (Harbor's, Artifactory's, else the OCI catalog)."""
    if kind is RegistryKind.HARBOR:
        return RegistryType.HARBOR
    if kind is RegistryKind.ARTIFACTORY:
        return RegistryType.JFROG
    return RegistryType.OTHER


def _url(url: str) -> str:
    """``scheme://host[:port]`` (https when no scheme is given), checked like HSS's addresses."""
    text = url.strip()
    protocol = "http" if text.lower().startswith("http://") else "https"
    if "://" in text and not text.lower().startswith(("http://", "https://")):
        raise Invalid("url must be an http:// or https:// address")
    address, protocol = normalise_address(text, protocol)
    return f"{protocol}://{address}"


def _kind(value: str) -> RegistryKind:
    try:
        return RegistryKind(value)
    except ValueError:
        raise Invalid(f"type must be one of {', '.join(k.value for k in RegistryKind)}, got {value[:32]!r}") from None


def _check_reason(error: BaseException) -> str:
    if isinstance(error, AuthenticationError):
        return "registry_authentication_failed"
    if isinstance(error, EgressDenied):
        return "registry_address_not_allowed"
    return "registry_unreachable"


def _event(instance_id: str, operation: Operation, name: str) -> NewEvent:
    """The audit record of a registry change: its name, never its address or credentials."""
    return NewEvent(operation, ResourceType.REPLICATION_REGISTRY, instance_id, name)


class ReplicationRegistryService:
    """The registry operations of the instance API, and the sealed credentials runs use."""

    def __init__(self, db: Database, master_key: MasterKey, access: RemoteAccess, *, max_registries: int = 100) -> None:
        self.db = db
        self.master_key = master_key
        self.access = access
        self.max_registries = max_registries

    def _seal(self, registry_id: int, password: str) -> str:
        return self.master_key.encrypt(password, context=f"replication-registry:{registry_id}") if password else ""

    def _unseal(self, registry_id: int, sealed: str) -> str:
        return self.master_key.decrypt(sealed, context=f"replication-registry:{registry_id}") if sealed else ""

    async def check(self, registry: ReplicationRegistry, password: str) -> None:
        """Reach the registry with the credentials; ``Invalid`` says in general terms why not (the
        detail goes to the log, never the password)."""
        credentials = Credentials(registry.username, password) if registry.username else None
        catalog = make_catalog(catalog_type(registry.type), RegistryAccess(registry, credentials, self.access).remote())
        try:
            await catalog.check()
        except (RegistryError, CatalogError, OSError) as exc:
            reason = tenant_reason(exc, registry_id=str(registry.id), action="replication registry check")
            raise Invalid(f"cannot use registry {registry.name!r}: {reason}", reason=_check_reason(exc)) from exc

    async def access_of(self, registry_id: int) -> RegistryAccess:
        """A registry with its unsealed credentials (for runs; never shown)."""

        def work(conn: Connection) -> tuple[ReplicationRegistry | None, str]:
            return q.registry_by_id(conn, registry_id), q.sealed_password(conn, registry_id)

        registry, sealed = await self.db.read(work)
        if registry is None:
            raise NotFound(f"replication registry {registry_id} not found", reason="registry_not_found")
        password = self._unseal(registry_id, sealed)
        credentials = Credentials(registry.username, password) if registry.username else None
        return RegistryAccess(registry, credentials, self.access)

    async def create(self, *, instance_id: str, changes: RegistryChanges) -> int:
        """A new registry, once it answered to its credentials; its id."""
        name = (changes.name or "").strip()
        if not REGISTRY_NAME.fullmatch(name):
            raise Invalid("name must have 1-64 letters, digits, '_' or '-'")
        kind = _kind(changes.type or "")
        url = _url(changes.url or "")
        username, password = changes.username or "", changes.password or ""
        if len(username) > 255 or len(password) > 1024:
            raise Invalid("credential access_key has at most 255 characters, access_secret at most 1024")
        description = (changes.description or "")[:1024]
        candidate = ReplicationRegistry(
            0, instance_id, name, description, kind, url, username, bool(password), bool(changes.insecure), "", 0, 0
        )
        await self.check(candidate, password)

        def work(conn: Connection) -> int:
            if instances_q.get_instance(conn, instance_id) is None:
                raise NotFound(f"instance {instance_id!r} not found", reason="instance_not_found")
            if q.registry_name_taken(conn, instance_id, name, other_than=None):
                raise Conflict(f"a registry named {name!r} exists", reason="registry_exists")
            if (
                q.list_registries(
                    conn, instance_id, name=None, kind=None, order_column="id", descending=False, offset=0, limit=1
                ).total
                >= self.max_registries
            ):
                raise Invalid(f"an instance has at most {self.max_registries} replication registries")
            registry_id = q.create_registry(
                conn,
                instance_id=instance_id,
                values={
                    "name": name,
                    "description": description,
                    "type": kind.value,
                    "url": url,
                    "username": username,
                    "insecure": bool(changes.insecure),
                    "status": "healthy",
                },
            )
            q.set_password(conn, registry_id, self._seal(registry_id, password))
            record_events(conn, _event(instance_id, Operation.CREATE, name))
            return registry_id

        return await self.db.write(work)

    async def get(self, *, instance_id: str, registry_id: int) -> ReplicationRegistry:
        """A registry of an instance."""
        found = await self.db.read(lambda conn: q.get_registry(conn, instance_id, registry_id))
        if found is None:
            raise NotFound(f"replication registry {registry_id} not found", reason="registry_not_found")
        return found

    async def list_registries(
        self,
        *,
        instance_id: str,
        name: str | None,
        kind: str | None,
        order_column: str | None,
        order_type: str | None,
        page: PageRequest,
    ) -> Page[ReplicationRegistry]:
        """Registries of an instance."""
        column, descending = order(order_column, order_type)
        if kind:
            _kind(kind)
        return await self.db.read(
            lambda conn: q.list_registries(
                conn,
                instance_id,
                name=name or None,
                kind=kind or None,
                order_column=column,
                descending=descending,
                offset=page.offset,
                limit=page.limit,
            )
        )

    async def update(self, *, instance_id: str, registry_id: int, changes: RegistryChanges) -> None:
        """Change the fields given; a new address or new credentials are checked first."""
        current = await self.get(instance_id=instance_id, registry_id=registry_id)
        values: dict[str, Any] = {}
        if changes.name is not None and changes.name != current.name:
            if not REGISTRY_NAME.fullmatch(changes.name):
                raise Invalid("name must have 1-64 letters, digits, '_' or '-'")
            values["name"] = changes.name
        if changes.description is not None:
            values["description"] = changes.description[:1024]
        if changes.type is not None and changes.type != current.type.value:
            values["type"] = _kind(changes.type).value
        if changes.url is not None:
            values["url"] = _url(changes.url)
        if changes.username is not None:
            values["username"] = changes.username[:255]
        if changes.insecure is not None:
            values["insecure"] = changes.insecure
        reach = {"type", "url", "username"} & values.keys() or changes.password is not None
        if reach:
            sealed = await self.db.read(lambda conn: q.sealed_password(conn, registry_id))
            password = changes.password if changes.password is not None else self._unseal(registry_id, sealed)
            candidate = ReplicationRegistry(
                registry_id,
                instance_id,
                values.get("name", current.name),
                current.description,
                RegistryKind(values.get("type", current.type.value)),
                values.get("url", current.url),
                values.get("username", current.username),
                bool(password),
                values.get("insecure", current.insecure),
                current.status,
                current.created_at,
                current.updated_at,
            )
            await self.check(candidate, password)
            if changes.password is not None:
                values["password"] = self._seal(registry_id, changes.password)
            values["status"] = "healthy"

        def work(conn: Connection) -> None:
            if q.get_registry(conn, instance_id, registry_id) is None:
                raise NotFound(f"replication registry {registry_id} not found", reason="registry_not_found")
            if "name" in values and q.registry_name_taken(conn, instance_id, values["name"], other_than=registry_id):
                raise Conflict(f"a registry named {values['name']!r} exists", reason="registry_exists")
            if values:
                q.update_registry(conn, registry_id, values)
                record_events(conn, _event(instance_id, Operation.UPDATE, values.get("name", current.name)))

        await self.db.write(work)

    async def delete(self, *, instance_id: str, registry_id: int) -> None:
        """Remove a registry no policy uses."""

        def work(conn: Connection) -> None:
            found = q.get_registry(conn, instance_id, registry_id)
            if found is None:
                raise NotFound(f"replication registry {registry_id} not found", reason="registry_not_found")
            if q.registry_in_use(conn, registry_id):
                raise Conflict(
                    f"replication registry {registry_id} is used by a replication policy", reason="registry_in_use"
                )
            q.delete_registry(conn, registry_id)
            record_events(conn, _event(instance_id, Operation.DELETE, found.name))

        await self.db.write(work)


def order(column: str | None, direction: str | None) -> tuple[str, bool]:
    """A listing's sort (``order_column`` one of ``ORDER_COLUMNS``, ``order_type`` ``asc``/``desc``)."""
    chosen = column or "created_at"
    if chosen not in ORDER_COLUMNS:
        raise Invalid(f"order_column must be one of {', '.join(ORDER_COLUMNS)}")
    kind = (direction or "desc").lower()
    if kind not in ("asc", "desc"):
        raise Invalid("order_type must be asc or desc")
    return chosen, kind == "desc"
