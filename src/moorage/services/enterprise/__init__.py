"""The Enterprise Edition services: instances and their host names, namespaces and repositories,
artifacts and their scans, signing keys, signature policies and their executions, immutable tag rules,
and the registry hooks (pull refusal of unsigned images, signing on push, tag immutability), built
together by ``build_enterprise``."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from moorage.auth.keys import MasterKey
from moorage.domain.hosts import HostPolicy
from moorage.domain.jobs import JobSubmitter
from moorage.metadata.database import Database
from moorage.services.enterprise.artifact_scans import ArtifactScanService
from moorage.services.enterprise.artifacts import ArtifactService
from moorage.services.enterprise.credentials import CredentialLimits, InstanceCredentialService
from moorage.services.enterprise.endpoint_policies import EndpointPolicyService
from moorage.services.enterprise.executions import ExecutionService
from moorage.services.enterprise.hosts import HostDirectory
from moorage.services.enterprise.immutability import ImmutableTagGuard
from moorage.services.enterprise.immutable_rules import ImmutableRuleService
from moorage.services.enterprise.instances import InstanceService
from moorage.services.enterprise.namespaces import InstanceNamespaceService
from moorage.services.enterprise.policies import SignPolicyService
from moorage.services.enterprise.registry_hooks import EnterpriseRegistryHooks
from moorage.services.enterprise.resource_tags import ResourceTagService
from moorage.services.enterprise.scheduler import PolicyScheduler
from moorage.services.enterprise.signing_keys import SigningKeyService
from moorage.services.enterprise.signing_view import SigningViews
from moorage.settings import Settings
from moorage.storage.blobstore import BlobStore


@dataclass
class EnterpriseServices:
    """Everything the Enterprise Edition handlers call."""

    hosts: HostDirectory
    instances: InstanceService
    namespaces: InstanceNamespaceService
    artifacts: ArtifactService
    scans: ArtifactScanService
    keys: SigningKeyService
    policies: SignPolicyService
    executions: ExecutionService
    hooks: EnterpriseRegistryHooks
    scheduler: PolicyScheduler
    immutable_rules: ImmutableRuleService
    immutability: ImmutableTagGuard
    """The core services' ``TagProtection``: tags the immutable tag rules cover."""
    credentials: InstanceCredentialService
    endpoint_policies: EndpointPolicyService
    tags: ResourceTagService
    signing: SigningViews
    """The web console's signature-policy page."""
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start the scheduler of scheduled policies (call from the application's lifespan)."""
        self._task = asyncio.get_running_loop().create_task(self.scheduler.run_forever())

    async def stop(self) -> None:
        """Stop the scheduler."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def build_enterprise(
    settings: Settings, db: Database, store: BlobStore, master_key: MasterKey, jobs: JobSubmitter
) -> EnterpriseServices:
    """Build the Enterprise Edition services (no I/O)."""
    policy = HostPolicy.build(
        external_url=settings.resolved_external_url,
        internal_url=settings.internal_url,
        listen_hosts=tuple(settings.listen_hosts),
        allowed=settings.enterprise.allowed_domain_suffixes,
    )
    hosts = HostDirectory(db, policy=policy, ttl=settings.enterprise.host_cache_seconds)
    executions = ExecutionService(db, jobs)
    immutability = ImmutableTagGuard()
    artifacts = ArtifactService(db, store, protection=immutability)
    policies = SignPolicyService(db)
    return EnterpriseServices(
        hosts=hosts,
        instances=InstanceService(db, hosts, external_url=settings.resolved_external_url),
        namespaces=InstanceNamespaceService(db, protection=immutability),
        artifacts=artifacts,
        scans=ArtifactScanService(db, jobs, artifacts),
        keys=SigningKeyService(db, master_key),
        policies=policies,
        executions=executions,
        hooks=EnterpriseRegistryHooks(db, executions),
        scheduler=PolicyScheduler(db, executions, interval_seconds=settings.enterprise.schedule_interval_seconds),
        immutable_rules=ImmutableRuleService(db),
        immutability=immutability,
        credentials=InstanceCredentialService(
            db,
            master_key,
            CredentialLimits(
                long_term_per_user=settings.enterprise.long_term_credentials_per_user,
                temporary_per_user=settings.enterprise.temporary_credentials_per_user,
                temporary_ttl_seconds=settings.enterprise.temporary_credential_ttl_seconds,
            ),
        ),
        endpoint_policies=EndpointPolicyService(db, ttl=settings.enterprise.host_cache_seconds),
        tags=ResourceTagService(db),
        signing=SigningViews(policies=policies, executions=executions),
    )
