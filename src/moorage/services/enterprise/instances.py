"""Enterprise Edition instances: create, list, show, delete; their domain names (virtual hosting),
configuration and statistics.

Instances are created at once (status ``Running``); the creation job id the API returns names
that finished step. An instance gets a ``default`` domain name ``<name>.<registry host>`` when
the registry has a DNS name (not when it is reached by address); more are added as ``custom``, as
far as the operator's ``HostPolicy`` allows and no other instance (of any account) has a name that
overlaps (``domain.hosts``).
"""

from __future__ import annotations

import re
import secrets
import urllib.parse
from collections.abc import Sequence

from sqlalchemy.engine import Connection

from moorage.domain.enterprise import DomainName, Instance, Page, PageRequest
from moorage.domain.errors import Conflict, Denied, Invalid, NotFound
from moorage.domain.events import Operation, ResourceType, change_event
from moorage.domain.hosts import HostKind, HostName, parse_claim, parse_host
from moorage.domain.identity import Principal
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_access as access_q
from moorage.metadata.queries import enterprise_instances as q
from moorage.services.enterprise.hosts import HostDirectory
from moorage.services.events.recorder import record_events

SPECS = ("swr.ee.professional", "swr.ee.enterprise", "swr.ee.basic")
INSTANCE_STATUSES = ("Initial", "Creating", "Running", "Deleting", "Unavailable", "Abnormal")
_INSTANCE_NAME = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$")
NAMESPACE_QUOTA = 100
REPOSITORY_QUOTA = 5000
SIGN_POLICY_QUOTA = 100
MAX_JOBS_LISTED = 1000
"""Instance jobs a listing looks at (one per instance)."""


def validate_instance_name(name: str) -> str:
    """3-48 characters: a lowercase letter first, lowercase letters, digits and single hyphens, no
    hyphen last (SWR's rule)."""
    if not 3 <= len(name) <= 48 or not _INSTANCE_NAME.fullmatch(name):
        raise Invalid(
            f"invalid instance name {name!r}: 3-48 characters, starting with a lowercase letter, "
            "lowercase letters, digits and single hyphens, not ending with a hyphen"
        )
    return name


def validate_domain_name(text: str) -> str:
    """A host name (``example.com``, ``*.example.com``) or an IP address, either with an optional
    ``:port``, in its canonical form (``domain.hosts.parse_claim``). moorage accepts addresses and
    ports beyond SWR's rule so that instances can be reached on loopback and on non-standard ports."""
    return str(parse_claim(text))


def _refuse_overlap(claim: HostName, instance_id: str, stored: Sequence[tuple[str, str]]) -> None:
    """``Invalid`` when another instance (of any account) has a name overlapping ``claim``;
    ``Conflict`` when this instance has it already."""
    for text, owner in stored:
        try:
            existing = parse_host(text, wildcard=True)
        except Invalid:
            continue
        if not claim.overlaps(existing):
            continue
        if owner != instance_id:
            raise Invalid(
                f"the domain name {str(claim)!r} is not available: it equals or overlaps a name of another instance",
                reason="domain_name_not_allowed",
            )
        if existing == claim:
            raise Conflict(f"the instance already has the domain name {str(claim)!r}", reason="domain_name_exists")


class InstanceService:
    """Instance lifecycle, domain names, configuration and statistics."""

    def __init__(self, db: Database, hosts: HostDirectory, *, external_url: str) -> None:
        self.db = db
        self.hosts = hosts
        self.policy = hosts.policy
        parsed = urllib.parse.urlsplit(external_url)
        self.registry_port = str(parsed.port or "")

    async def create(
        self,
        principal: Principal,
        *,
        name: str,
        description: str,
        spec: str,
        charge_mode: str,
        enterprise_project_id: str,
    ) -> Instance:
        """A new running instance of the caller's domain, with its default domain name."""
        validate_instance_name(name)
        if spec not in SPECS:
            raise Invalid(f"spec must be one of {', '.join(SPECS)}, got {spec!r}")
        if charge_mode != "postPaid":
            raise Invalid("charge_mode must be postPaid")
        if principal.domain_id is None:
            raise Denied("a user is required")
        domain_id, project_id = principal.domain_id, principal.project_id or ""
        instance_id = secrets.token_hex(16)
        default_host = self._default_name(name)

        def work(conn: Connection) -> Instance:
            q.lock_host_names(conn)
            if default_host is not None:
                try:
                    _refuse_overlap(default_host, instance_id, q.all_domain_names(conn))
                except Invalid as exc:
                    raise Conflict(
                        f"the domain name {str(default_host)!r} is taken", reason="domain_name_exists"
                    ) from exc
            created = q.create_instance(
                conn,
                instance_id=instance_id,
                name=name,
                description=description[:512],
                spec=spec,
                charge_mode=charge_mode,
                enterprise_project_id=enterprise_project_id or "0",
                domain_id=domain_id,
                project_id=project_id,
                creation_job_id=secrets.token_hex(16),
            )
            if created is None:
                raise Conflict(f"an instance called {name!r} already exists", reason="instance_exists")
            if (
                default_host is not None
                and q.add_domain_name(
                    conn,
                    domain_name_id=secrets.token_hex(16),
                    instance_id=instance_id,
                    domain_name=str(default_host),
                    kind="default",
                    certificate_id="",
                )
                is None
            ):
                raise Conflict(f"the domain name {default_host!r} is taken", reason="domain_name_exists")
            return created

        created = await self.db.write(work)
        self.hosts.invalidate()
        return created

    def _default_name(self, instance_name: str) -> HostName | None:
        """``<instance name>.<registry host>`` when the registry has a DNS name and the name is usable."""
        space = self.policy.instance_space
        if space is None:
            return None
        name = HostName(f"{instance_name}.{space}", None, HostKind.DNS)
        return None if self.policy.refusal(name, generated=True) else name

    async def list_instances(
        self, principal: Principal, *, status: str | None, page: PageRequest, enterprise_project_id: str | None = None
    ) -> Page[Instance]:
        """The caller's domain's instances (``all_granted_eps``: of every enterprise project)."""
        if enterprise_project_id == "all_granted_eps":
            enterprise_project_id = None
        if status is not None and status not in INSTANCE_STATUSES:
            raise Invalid(f"status must be one of {', '.join(INSTANCE_STATUSES)}")
        if principal.domain_id is None:
            return Page([], 0)
        domain_id = principal.domain_id
        return await self.db.read(
            lambda conn: q.list_instances(
                conn,
                domain_id,
                status=status,
                offset=page.offset,
                limit=page.limit,
                enterprise_project_id=enterprise_project_id,
            )
        )

    async def get(self, principal: Principal, instance_id: str) -> Instance:
        """An instance of the caller's domain."""
        found = await self.db.read(lambda conn: q.get_instance(conn, instance_id))
        if found is None or found.domain_id != principal.domain_id:
            raise NotFound(f"instance {instance_id!r} not found", reason="instance_not_found")
        return found

    async def jobs(self, principal: Principal) -> list[Instance]:
        """The instances of the caller's domain whose creation job (each instance's one job) has not
        been deleted (ListInstanceJobs, ShowInstanceJob)."""
        if principal.domain_id is None:
            return []
        domain_id = principal.domain_id

        def work(conn: Connection) -> list[Instance]:
            found = q.list_instances(conn, domain_id, status=None, offset=0, limit=MAX_JOBS_LISTED).items
            deleted = access_q.deleted_jobs(conn, [i.id for i in found])
            return [i for i in found if i.creation_job_id not in deleted]

        return await self.db.read(work)

    async def delete_job(self, principal: Principal, job_id: str) -> None:
        """Delete a finished instance job of the caller's domain (DeleteInstanceJob): it leaves the
        job listing; the instance stays."""
        for instance in await self.jobs(principal):
            if instance.creation_job_id == job_id:

                def work(conn: Connection, instance: Instance = instance) -> None:
                    access_q.delete_job(conn, job_id, instance.id)
                    record_events(
                        conn,
                        change_event(
                            Operation.DELETE,
                            ResourceType.JOB,
                            instance_id=instance.id,
                            resource=job_id,
                            domain_id=instance.domain_id,
                        ),
                    )

                await self.db.write(work)
                return
        raise NotFound(f"job {job_id[:64]!r} not found", reason="job_not_found")

    async def delete(self, principal: Principal, instance_id: str) -> None:
        """Delete an instance with everything in it (blob bytes are left to garbage collection)."""
        await self.get(principal, instance_id)
        await self.db.write(lambda conn: q.delete_instance(conn, instance_id))
        self.hosts.invalidate()

    async def access_address(self, instance_id: str) -> str:
        """``host[:port]`` under which clients reach the instance (its first domain name that reaches
        it; the port of the registry's external URL is added to one given without port), or "" when
        it has none."""
        names = await self.db.read(lambda conn: q.list_domain_names(conn, instance_id))
        for entry in names:
            try:
                name = parse_host(entry.domain_name, wildcard=True)
            except Invalid:
                continue
            if name.is_wildcard or not self.hosts.reachable(name):
                continue
            if name.port is not None or not self.registry_port:
                return str(name)
            return f"{name.host}:{self.registry_port}"
        return ""

    # Domain names -------------------------------------------------------------------------------
    async def add_domain_name(self, instance_id: str, *, domain_name: str, certificate_id: str) -> DomainName:
        """Attach a host name. ``Invalid`` (nothing stored) when it is, or covers, one of the shared
        registry's own names, is outside what the operator allows, or overlaps a name of another
        instance of any account; ``Conflict`` when the instance has it already."""
        claim = parse_claim(domain_name)
        reason = self.policy.refusal(claim)
        if reason is not None:
            raise Invalid(f"the domain name {str(claim)!r} {reason}", reason="domain_name_not_allowed")

        def work(conn: Connection) -> DomainName:
            q.lock_host_names(conn)
            _refuse_overlap(claim, instance_id, q.all_domain_names(conn))
            created = q.add_domain_name(
                conn,
                domain_name_id=secrets.token_hex(16),
                instance_id=instance_id,
                domain_name=str(claim),
                kind="custom",
                certificate_id=certificate_id[:64],
            )
            if created is None:
                raise Conflict(f"the domain name {str(claim)!r} is already in use", reason="domain_name_exists")
            return created

        created = await self.db.write(work)
        self.hosts.invalidate()
        return created

    async def domain_names(
        self, instance_id: str, *, domain_name_id: str | None, domain_name: str | None
    ) -> list[DomainName]:
        """An instance's host names (optionally one by id or by name, in any spelling)."""
        wanted = None
        if domain_name:
            try:
                wanted = str(parse_host(domain_name, wildcard=True))
            except Invalid:
                return []
        return await self.db.read(
            lambda conn: q.list_domain_names(conn, instance_id, domain_name_id=domain_name_id, domain_name=wanted)
        )

    async def update_domain_name(self, instance_id: str, domain_name_id: str, *, certificate_id: str) -> DomainName:
        """Change a host name's certificate id."""

        def work(conn: Connection) -> DomainName:
            if not q.update_domain_name(conn, instance_id, domain_name_id, certificate_id[:64]):
                raise NotFound(f"domain name {domain_name_id!r} not found", reason="domain_name_not_found")
            found = q.get_domain_name(conn, instance_id, domain_name_id)
            assert found is not None
            return found

        return await self.db.write(work)

    async def delete_domain_name(self, instance_id: str, domain_name_id: str) -> None:
        """Detach a custom host name (the default one stays)."""

        def work(conn: Connection) -> None:
            found = q.get_domain_name(conn, instance_id, domain_name_id)
            if found is None:
                raise NotFound(f"domain name {domain_name_id!r} not found", reason="domain_name_not_found")
            if found.type == "default":
                raise Conflict("the default domain name of an instance cannot be deleted", reason="default_domain_name")
            q.delete_domain_name(conn, instance_id, domain_name_id)

        await self.db.write(work)
        self.hosts.invalidate()

    # Configuration and statistics ---------------------------------------------------------------
    async def set_anonymous_access(self, instance_id: str, allowed: bool) -> None:
        """Let anonymous callers pull from the instance's public namespaces, or not."""
        await self.db.write(lambda conn: q.set_anonymous_access(conn, instance_id, allowed))

    async def statistics(self, instance_id: str) -> dict[str, int]:
        """Usage counters and quotas of an instance."""
        counts = await self.db.read(lambda conn: q.statistics(conn, instance_id), heavy=True)
        return {
            **counts,
            "namespace_quota": NAMESPACE_QUOTA,
            "repository_quota": REPOSITORY_QUOTA,
            "sign_policy_quota": SIGN_POLICY_QUOTA,
        }
