"""Building the copy engine's endpoints from the deployment's settings."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from moorage.clients.auth import Credentials
from moorage.clients.egress import EgressPolicy
from moorage.clients.push import RegistryPushClient
from moorage.domain.errors import Invalid
from moorage.domain.jobs import JobSubmitter
from moorage.metadata.database import Database
from moorage.services.blobs import BlobService
from moorage.services.enterprise.executions import ExecutionService
from moorage.services.enterprise.immutability import ImmutableTagGuard
from moorage.services.enterprise.registry_hooks import EnterpriseRegistryHooks
from moorage.services.manifests import ManifestListener, ManifestService
from moorage.services.pulls import PullRecorder
from moorage.services.quotas import QuotaLimits, QuotaService
from moorage.services.replication.endpoints import LocalRegistry, RemoteEndpoint
from moorage.services.security.policies import PolicyService
from moorage.services.security.push_listener import ScanOnPush
from moorage.services.security.remote_access import remote_access_of
from moorage.services.uploads import UploadService
from moorage.settings import Settings
from moorage.storage.blobstore import BlobStore


def push_listeners(settings: Settings, db: Database, jobs: JobSubmitter) -> list[ManifestListener]:
    """What a push sets off, for a worker that stores manifests: scan on push (the organization's
    policy or the global setting) and the namespace's on-push signature policies. A replicated image
    is scanned and signed on arrival as if a client had pushed it (Harbor does the same)."""
    policies = PolicyService(
        db,
        scan_on_push_default=settings.scanner.scan_on_push,
        cache_seconds=settings.scanner.pull_policy_cache_seconds,
    )
    return [
        ScanOnPush(db, jobs, policies, settings.vulndb_path),
        EnterpriseRegistryHooks(db, ExecutionService(db, jobs)),
    ]


def local_registry(
    settings: Settings, db: Database, store: BlobStore, *, listeners: Sequence[ManifestListener] = ()
) -> LocalRegistry:
    """The registry services a job worker writes through, built as the application builds its own
    (same quota limits, immutable tag rules, size bounds): a copy obeys what a push obeys, and sets
    off what a push sets off when given the ``listeners`` (``push_listeners``)."""
    quotas = QuotaService(
        db,
        QuotaLimits.from_settings(settings.quota),
        reservation_seconds=settings.registry.upload_stale_after_seconds,
    )
    protection = ImmutableTagGuard()
    return LocalRegistry(
        db=db,
        store=store,
        uploads=UploadService(
            db,
            store,
            quotas=quotas,
            lease_seconds=settings.registry.upload_lease_seconds,
            blob_max_bytes=settings.registry.blob_max_bytes,
        ),
        blobs=BlobService(db, store, quotas=quotas, touch_after_ms=settings.gc.grace_seconds * 500),
        manifests=ManifestService(
            db,
            max_bytes=settings.registry.manifest_max_bytes,
            pulls=PullRecorder(db, pull_events=False),
            listeners=listeners,
            max_json_depth=settings.http.max_json_depth,
            protection=protection,
            quotas=quotas,
        ),
    )


def remote_endpoint(
    url: str,
    *,
    settings: Settings,
    username: str = "",
    password: str = "",
    verify_tls: bool = True,
    egress: EgressPolicy | None = None,
) -> RemoteEndpoint:
    """A registry at ``url`` (``https://host[:port]``; ``http://`` for plain HTTP), under the
    deployment's egress policy (``egress`` replaces it); close it with ``await endpoint.client.aclose()``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        raise Invalid(f"{url[:200]!r} is not an http(s) registry address without credentials in it")
    access = remote_access_of(settings)
    client = RegistryPushClient(
        parts.netloc,
        egress=egress or access.egress,
        credentials=Credentials(username, password) if username else None,
        plain_http=parts.scheme == "http",
        timeout=access.timeout,
        verify_tls=verify_tls,
        limits=access.limits,
    )
    return RemoteEndpoint(client)
