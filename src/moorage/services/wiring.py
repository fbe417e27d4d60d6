"""The services one application calls, built once by ``create_app`` (see ``moorage.app.build_services``)
and handed to the handlers through ``request.app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from moorage.auth.keys import MasterKey
from moorage.auth.tokens import TokenSigner
from moorage.domain.jobs import JobSubmitter
from moorage.metadata.database import Database
from moorage.services.access_keys import AccessKeyService
from moorage.services.account import AccountService
from moorage.services.blobs import BlobService
from moorage.services.console_overview import ConsoleOverview
from moorage.services.console_sessions import ConsoleSessions
from moorage.services.enterprise import EnterpriseServices
from moorage.services.enterprise.replication import ReplicationServices
from moorage.services.events.wiring import EventServices
from moorage.services.image_views import ImageViews
from moorage.services.lifecycle.runs import GcRunService
from moorage.services.logins import LoginService
from moorage.services.manifests import ManifestService
from moorage.services.namespaces import NamespaceService
from moorage.services.periodic import PeriodicChores
from moorage.services.permissions import PermissionService
from moorage.services.pulls import PullRecorder
from moorage.services.replay_guard import SignatureReplayGuard
from moorage.services.replication.image_sync import ImageSyncService
from moorage.services.repositories import RepositoryService
from moorage.services.repository_management import RepositoryManagement
from moorage.services.retention import RetentionServices
from moorage.services.security.wiring import SecurityServices
from moorage.services.sharing import SharingService
from moorage.services.tag_management import TagManagement
from moorage.services.uploads import UploadService
from moorage.services.users import UserService
from moorage.settings import Settings
from moorage.storage.blobstore import BlobStore
from moorage.storage.drivers import create_driver
from moorage.storage.drivers.s3_client import S3Config
from moorage.storage.interface import StorageDriver


@dataclass
class Services:
    """Everything the handlers call, built once per application."""

    settings: Settings
    db: Database
    store: BlobStore
    master_key: MasterKey
    signer: TokenSigner
    users: UserService
    access_keys: AccessKeyService
    logins: LoginService
    permissions: PermissionService
    namespaces: NamespaceService
    repositories: RepositoryService
    blobs: BlobService
    uploads: UploadService
    manifests: ManifestService
    pulls: PullRecorder
    jobs: JobSubmitter
    repository_management: RepositoryManagement
    tag_management: TagManagement
    sharing: SharingService
    account: AccountService
    enterprise: EnterpriseServices
    security: SecurityServices
    periodic: PeriodicChores
    replays: SignatureReplayGuard
    events: EventServices
    gc: GcRunService
    retention: RetentionServices
    replication: ReplicationServices
    image_sync: ImageSyncService
    console_sessions: ConsoleSessions
    image_views: ImageViews
    console_overview: ConsoleOverview


def storage_driver(settings: Settings) -> StorageDriver:
    """The driver the ``storage`` settings name (credentials read from their files now)."""
    storage = settings.storage
    if storage.driver != "s3":
        return create_driver(storage.driver, root=settings.storage_root, direct_writes=storage.direct_writes)

    def secret(value: object, file: Path | None) -> str | None:
        if file is not None:
            return file.read_text().strip()
        reveal = getattr(value, "get_secret_value", None)
        return str(reveal()) if callable(reveal) else None

    config = S3Config(
        bucket=storage.s3_bucket,
        endpoint=storage.s3_endpoint,
        region=storage.s3_region,
        prefix=storage.s3_prefix,
        access_key=secret(storage.s3_access_key, storage.s3_access_key_file),
        secret_key=secret(storage.s3_secret_key, storage.s3_secret_key_file),
        addressing=storage.s3_addressing,
        verify_tls=storage.s3_verify_tls,
        ca_bundle=storage.s3_ca_bundle,
        redirect=storage.s3_redirect,
        redirect_expiry_seconds=storage.s3_redirect_expiry_seconds,
        part_size=storage.s3_part_size,
        blob_max_bytes=settings.registry.blob_max_bytes,
        max_connections=storage.s3_max_connections,
    )
    return create_driver("s3", root=settings.storage_root, s3=config)
