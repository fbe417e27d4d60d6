"""Resource tags of Enterprise Edition instances and their namespaces: add (values of existing keys
are replaced), remove, list; the key/value summaries of a project's instances
(ListInstanceProjectTags) and of an instance's namespaces (ListNamespaceTags); and the resources
carrying given tags (ListInstanceResourceInstances, ShowInstanceResourceInstancesCount and their
sub-resource forms). A resource has at most ``MAX_TAGS_PER_RESOURCE`` tags; keys and values follow
SWR's rules (``domain.resource_tags``). Namespaces a user may not see are neither listed nor found."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from moorage.domain.enterprise import Page, PageRequest
from moorage.domain.errors import Invalid, NotFound
from moorage.domain.events import NewEvent, Operation, ResourceType, change_event
from moorage.domain.identity import Principal
from moorage.domain.resource_tags import (
    MAX_TAGS_PER_RESOURCE,
    ResourceTag,
    TagFilter,
    TaggedResource,
    validate_tags,
)
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_instances as instances_q
from moorage.metadata.queries import resource_tags as q
from moorage.services.enterprise.namespaces import visible_namespace_ids
from moorage.services.events.recorder import record_events


def _instance(conn: Connection, principal: Principal, instance_id: str) -> None:
    found = instances_q.get_instance(conn, instance_id)
    if found is None or found.domain_id != principal.domain_id:
        raise NotFound(f"instance {instance_id[:64]!r} not found", reason="instance_not_found")


def _namespace(conn: Connection, principal: Principal, instance_id: str, reference: str) -> int:
    _instance(conn, principal, instance_id)
    namespace_id = q.namespace_id_of(conn, instance_id, reference)
    visible = visible_namespace_ids(conn, principal, instance_id)
    if namespace_id is None or (visible is not None and namespace_id not in visible):
        raise NotFound(f"namespace {reference[:64]!r} not found", reason="namespace_not_found")
    return namespace_id


def _check_count(current: list[ResourceTag], added: tuple[ResourceTag, ...]) -> None:
    if len({t.key for t in current} | {t.key for t in added}) > MAX_TAGS_PER_RESOURCE:
        raise Invalid(f"a resource has at most {MAX_TAGS_PER_RESOURCE} tags", reason="too_many_tags")


def _event(operation: Operation, instance_id: str, resource: str, principal: Principal, keys: list[str]) -> NewEvent:
    return change_event(
        operation,
        ResourceType.RESOURCE_TAG,
        instance_id=instance_id,
        resource=resource,
        domain_id=principal.domain_id,
        detail={"keys": keys},
    )


class ResourceTagService:
    """Tags of instances and namespaces, and the resources they find."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # Instances ----------------------------------------------------------------------------------
    async def instance_tags(self, principal: Principal, instance_id: str) -> list[ResourceTag]:
        """An instance's tags."""

        def work(conn: Connection) -> list[ResourceTag]:
            _instance(conn, principal, instance_id)
            return q.instance_tags(conn, instance_id)

        return await self.db.read(work)

    async def tag_instance(self, principal: Principal, instance_id: str, pairs: list[tuple[str, str]]) -> None:
        """Add tags to an instance (a key it has gets the new value)."""
        tags = validate_tags(pairs)

        def work(conn: Connection) -> None:
            _instance(conn, principal, instance_id)
            _check_count(q.instance_tags(conn, instance_id), tags)
            q.put_instance_tags(conn, instance_id, tags)
            record_events(conn, _event(Operation.CREATE, instance_id, instance_id, principal, [t.key for t in tags]))

        await self.db.write(work)

    async def untag_instance(self, principal: Principal, instance_id: str, pairs: list[tuple[str, str]]) -> None:
        """Remove tags from an instance by key (keys it does not have are ignored)."""
        keys = [t.key for t in validate_tags(pairs, values=False)]

        def work(conn: Connection) -> None:
            _instance(conn, principal, instance_id)
            q.delete_instance_tags(conn, instance_id, keys)
            record_events(conn, _event(Operation.DELETE, instance_id, instance_id, principal, keys))

        await self.db.write(work)

    async def project_tags(self, principal: Principal) -> dict[str, list[str]]:
        """Key -> values of the tags of the caller's domain's instances."""
        domain_id = principal.domain_id or ""
        return await self.db.read(lambda conn: q.domain_tag_summary(conn, domain_id))

    async def find_instances(
        self, principal: Principal, filters: tuple[TagFilter, ...], page: PageRequest
    ) -> Page[TaggedResource]:
        """The caller's domain's instances carrying every filter's tag."""
        domain_id = principal.domain_id or ""
        return await self.db.read(
            lambda conn: q.find_instances(conn, domain_id, filters, offset=page.offset, limit=page.limit)
        )

    # Namespaces ---------------------------------------------------------------------------------
    async def namespace_tags(self, principal: Principal, instance_id: str, namespace: str) -> list[ResourceTag]:
        """A namespace's tags (named by id or name)."""

        def work(conn: Connection) -> list[ResourceTag]:
            return q.namespace_tags(conn, _namespace(conn, principal, instance_id, namespace))

        return await self.db.read(work)

    async def tag_namespace(
        self, principal: Principal, instance_id: str, namespace: str, pairs: list[tuple[str, str]]
    ) -> None:
        """Add tags to a namespace (a key it has gets the new value)."""
        tags = validate_tags(pairs)

        def work(conn: Connection) -> None:
            namespace_id = _namespace(conn, principal, instance_id, namespace)
            _check_count(q.namespace_tags(conn, namespace_id), tags)
            q.put_namespace_tags(conn, instance_id, namespace_id, tags)
            record_events(
                conn, _event(Operation.CREATE, instance_id, str(namespace_id), principal, [t.key for t in tags])
            )

        await self.db.write(work)

    async def untag_namespace(
        self, principal: Principal, instance_id: str, namespace: str, pairs: list[tuple[str, str]]
    ) -> None:
        """Remove tags from a namespace by key."""
        keys = [t.key for t in validate_tags(pairs, values=False)]

        def work(conn: Connection) -> None:
            namespace_id = _namespace(conn, principal, instance_id, namespace)
            q.delete_namespace_tags(conn, namespace_id, keys)
            record_events(conn, _event(Operation.DELETE, instance_id, str(namespace_id), principal, keys))

        await self.db.write(work)

    async def namespace_summary(self, principal: Principal, instance_id: str) -> dict[str, list[str]]:
        """Key -> values of the tags of the instance's namespaces the caller may see."""

        def work(conn: Connection) -> dict[str, list[str]]:
            _instance(conn, principal, instance_id)
            return q.namespace_tag_summary(conn, instance_id, visible_namespace_ids(conn, principal, instance_id))

        return await self.db.read(work)

    async def find_namespaces(
        self, principal: Principal, instance_id: str, filters: tuple[TagFilter, ...], page: PageRequest
    ) -> Page[TaggedResource]:
        """The instance's namespaces the caller may see carrying every filter's tag."""

        def work(conn: Connection) -> Page[TaggedResource]:
            _instance(conn, principal, instance_id)
            visible = visible_namespace_ids(conn, principal, instance_id)
            return q.find_namespaces(conn, instance_id, visible, filters, offset=page.offset, limit=page.limit)

        return await self.db.read(work)
