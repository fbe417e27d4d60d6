"""What the Enterprise Edition does around pulls and pushes of instance repositories:

- a namespace whose option ``require_signature`` is on refuses pulls of manifests that carry no
  signature (403, saying why), as Harbor's cosign content trust does; signatures themselves and
  the children of a signed index stay readable, so verifiers can check them;
- a tagged push runs the namespace's enabled ``event_based`` signature policies whose rules cover
  the pushed repository and tag (only that tag is signed).

Repositories of the default (shared edition) registry are left alone at the cost of one comparison.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Connection

from moorage.domain.errors import Denied
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, ManifestRecord
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_artifacts as artifacts_q
from moorage.metadata.queries import enterprise_instances as instances_q
from moorage.metadata.queries import enterprise_signing as signing_q
from moorage.metadata.queries import repositories as repo_q
from moorage.services.enterprise.executions import ExecutionService
from moorage.services.enterprise.selectors import selected
from moorage.services.manifests import ManifestStored

log = logging.getLogger(__name__)


class EnterpriseRegistryHooks:
    """The Enterprise Edition's pull guard and manifest listener (see the module docstring)."""

    def __init__(self, db: Database, executions: ExecutionService) -> None:
        self.db = db
        self.executions = executions

    async def check_pull(self, instance_id: str, name: RepositoryName, record: ManifestRecord) -> None:
        """Refuse an unsigned image where the namespace demands signatures (a ``PullGuard`` part)."""
        if instance_id == DEFAULT_INSTANCE:
            return

        def work(conn: Connection) -> bool:
            repository = repo_q.get(conn, instance_id, name)
            if repository is None or not instances_q.namespace_options(conn, repository.namespace_id).require_signature:
                return True
            return artifacts_q.pull_without_signature_ok(
                conn, repository.id, record.id, record.digest, record.subject_digest
            )

        if not await self.db.read(work):
            raise Denied(
                f"pull refused: namespace {name.namespace!r} accepts only signed images, and "
                f"{name}@{record.digest} has no signature; sign it with a signature policy "
                "(or turn the namespace's signature requirement off)",
                detail={"reason": "unsigned image", "digest": record.digest},
                reason="unsigned_image",
            )

    async def manifest_stored(self, event: ManifestStored) -> None:
        """Run the namespace's on-push signature policies that cover this tag (a ``ManifestListener``)."""
        tag = event.tag
        if event.instance_id == DEFAULT_INSTANCE or tag is None or artifacts_q.COSIGN_TAG.fullmatch(tag):
            return
        repository_name = event.repository.split("/", 1)[1]
        policies = await self.db.read(
            lambda conn: signing_q.policies_triggered(conn, event.instance_id, event.namespace_id, "event_based")
        )
        for policy in policies:
            if selected(policy.scope_rules, repository_name, tag):
                execution = await self.executions.start(
                    policy,
                    trigger="event_based",
                    only_repository=repository_name,
                    only_tag=tag,
                    dedupe_key=f"push:{policy.id}:{event.repository_id}:{tag}:{event.digest}",
                )
                log.info(
                    "push of %s:%s started signature execution %s of policy %d",
                    event.repository,
                    tag,
                    execution,
                    policy.id,
                )
