"""The services one application calls, built once by ``create_app`` (see ``moorage.app.build_services``)
and handed to the handlers through ``request.app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.auth.keys import MasterKey
from moorage.auth.tokens import TokenSigner
from moorage.domain.jobs import JobSubmitter
from moorage.metadata.database import Database
from moorage.services.access_keys import AccessKeyService
from moorage.services.account import AccountService
from moorage.services.blobs import BlobService
from moorage.services.enterprise import EnterpriseServices
from moorage.services.logins import LoginService
from moorage.services.manifests import ManifestService
from moorage.services.namespaces import NamespaceService
from moorage.services.periodic import PeriodicChores
from moorage.services.permissions import PermissionService
from moorage.services.pulls import PullRecorder
from moorage.services.replay_guard import SignatureReplayGuard
from moorage.services.repositories import RepositoryService
from moorage.services.repository_management import RepositoryManagement
from moorage.services.security.wiring import SecurityServices
from moorage.services.sharing import SharingService
from moorage.services.tag_management import TagManagement
from moorage.services.uploads import UploadService
from moorage.services.users import UserService
from moorage.settings import Settings
from moorage.storage.blobstore import BlobStore


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
