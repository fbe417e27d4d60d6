"""Synchronisation: the image rows of a registry made to match what it holds now.

moorage's own registries (SWR private / shared / enterprise) are read from the metadata database;
an external registry is listed through its catalog (OCI, Harbor or Artifactory API) and each tag
the listing did not describe is read from its manifest (digest, size, platform images). Rows of
tags that are gone are removed; the newest tag of each repository is marked the latest version;
rows whose content was already scanned (by anybody) get that result at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey
from moorage.clients.auth import Credentials
from moorage.clients.registry import RegistryClient, RegistryError
from moorage.domain.errors import ManifestInvalid
from moorage.domain.manifests import ImageManifest, select_platforms
from moorage.domain.security import BUILTIN_FOR_IMAGE_TYPE, ConnectedRegistry, RegistryStatus, RegistryType
from moorage.domain.security_images import ImageEntry, PlatformEntry
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import security_images as images_q
from moorage.metadata.queries import security_registries as registries_q
from moorage.metadata.queries import security_results as results_q
from moorage.metadata.queries import security_swr as swr_q
from moorage.services.security.catalogs import CatalogError, RemoteRegistry, RemoteTag, make_catalog
from moorage.services.security.remote_access import RemoteAccess, tenant_reason
from moorage.services.security.results import apply_to_rows
from moorage.services.security.sources import RemoteOrigin

log = logging.getLogger(__name__)

PARALLEL_MANIFESTS = 8
FAIL_API = "REQUEST_API_ERROR"


class SyncFailed(Exception):
    """A synchronisation of an external registry failed; the message is the reason recorded for the
    tenant (general terms: see ``remote_access.tenant_reason``)."""


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """What a synchronisation recorded."""

    registry_id: str
    images: int
    removed: int


def _record(db: Database, registry: ConnectedRegistry, image_type: str, entries: Sequence[ImageEntry]) -> SyncOutcome:
    def work(conn: Connection) -> SyncOutcome:
        images_q.upsert(
            conn, domain_id=registry.domain_id, registry_id=registry.id, image_type=image_type, entries=entries
        )
        removed = images_q.remove_missing(conn, registry.id, (e.row_key for e in entries))
        images_q.refresh_latest_versions(conn, registry.id)
        digests = {e.digest for e in entries} | {p.digest for e in entries for p in e.platforms}
        for digest in results_q.get_many(conn, digests):
            apply_to_rows(conn, digest)
        count = images_q.count_of_registry(conn, registry.id)
        registries_q.record_sync(
            conn, registry.id, status=RegistryStatus.SUCCESS, fail_reason="", images_num=count, synced_at=now_ms()
        )
        return SyncOutcome(registry.id, count, removed)

    return db.run_write(work)


def sync_swr(db: Database, *, domain_id: str, image_type: str) -> SyncOutcome:
    """Synchronise an account's images of one SWR type (private, shared or instance)."""
    kind = BUILTIN_FOR_IMAGE_TYPE[image_type]
    registry = db.run_write(lambda conn: registries_q.ensure_builtin(conn, domain_id, kind))
    entries = db.run_read(lambda conn: swr_q.account_tags(conn, domain_id, image_type, now=now_ms()))
    return _record(db, registry, image_type, entries)


def remote_registry(registry: ConnectedRegistry, password: str, access: RemoteAccess) -> RemoteRegistry:
    """How to reach an external registry with its credentials, under the deployment's egress policy."""
    credentials = Credentials(registry.username, password) if registry.username else None
    return RemoteRegistry(
        address=registry.address,
        plain_http=registry.protocol == "http",
        credentials=credentials,
        egress=access.egress,
        limits=access.limits,
        organizations=registry.organization_filter,
        timeout=access.timeout,
    )


def decrypt_password(master_key: MasterKey, registry_id: str, sealed: str) -> str:
    """A registry's password (stored encrypted, bound to the registry's id)."""
    return master_key.decrypt(sealed, context=f"registry:{registry_id}") if sealed else ""


def origin_for(registry: ConnectedRegistry, password: str, repository: str, access: RemoteAccess) -> RemoteOrigin:
    """Where a scan reads an image of an external registry."""
    return RemoteOrigin(
        remote_registry(registry, password, access), repository=repository, max_image_bytes=access.max_image_bytes
    )


def sync_external(
    db: Database, master_key: MasterKey, *, registry_id: str, limit: int, access: RemoteAccess
) -> SyncOutcome:
    """Synchronise an external registry; a failure marks the registry ``fail`` (with a reason a
    tenant may read) and is raised as ``SyncFailed``."""
    registry = db.run_read(lambda conn: registries_q.by_id(conn, registry_id))
    if registry is None or registry.type.is_builtin:
        raise CatalogError(f"no external registry {registry_id}")
    sealed = db.run_read(lambda conn: registries_q.password_encrypted(conn, registry_id))
    remote = remote_registry(registry, decrypt_password(master_key, registry_id, sealed), access)
    try:
        entries = asyncio.run(_list(registry.type, remote, limit))
    except (CatalogError, RegistryError, OSError) as exc:
        reason = f"{FAIL_API}: {tenant_reason(exc, registry_id=registry_id, action='synchronisation')}"
        db.run_write(
            lambda conn: registries_q.record_sync(
                conn, registry_id, status=RegistryStatus.FAIL, fail_reason=reason, images_num=None, synced_at=None
            )
        )
        raise SyncFailed(reason) from exc
    return _record(db, registry, registry.type.image_type, entries)


async def _list(kind: RegistryType, remote: RemoteRegistry, limit: int) -> list[ImageEntry]:
    tags = await make_catalog(kind, remote).tags(limit=limit)
    limiter = asyncio.Semaphore(PARALLEL_MANIFESTS)
    async with RegistryClient(
        remote.address,
        egress=remote.egress,
        credentials=remote.credentials,
        plain_http=remote.plain_http,
        timeout=remote.timeout,
        limits=remote.limits,
    ) as client:

        async def one(tag: RemoteTag) -> ImageEntry | None:
            async with limiter:
                try:
                    return await _describe(client, tag)
                except (RegistryError, ManifestInvalid) as exc:
                    log.warning("skipping %s:%s of %s: %s", tag.repository, tag.tag, remote.address, exc)
                    return None

        described = await asyncio.gather(*(one(t) for t in tags))
    return [entry for entry in described if entry is not None]


def split_repository(path: str) -> tuple[str, str]:
    """``project/a/b`` -> (``project``, ``a/b``); a one-component path has no namespace."""
    namespace, sep, name = path.partition("/")
    return (namespace, name) if sep else ("", namespace)


async def _describe(client: RegistryClient, tag: RemoteTag) -> ImageEntry:
    """A tag as an image entry, reading its manifest for what the listing did not say."""
    namespace, name = split_repository(tag.repository)
    is_index = "index" in tag.media_type or "list" in tag.media_type
    if tag.digest and tag.size >= 0 and (tag.platforms or not is_index):
        described = tuple(PlatformEntry(p.digest, "", p.platform, max(p.size, 0)) for p in tag.platforms)
        return ImageEntry(
            namespace,
            name,
            tag.tag,
            tag.digest,
            media_type=tag.media_type,
            size=tag.size,
            updated_at=tag.updated_at,
            platforms=described,
        )
    answer = await client.get_manifest(tag.repository, tag.digest or tag.tag)
    depth = client.limits.json_depth
    document = answer.parsed(max_depth=depth)
    if isinstance(document, ImageManifest):
        return ImageEntry(
            namespace,
            name,
            tag.tag,
            answer.digest,
            image_id=document.config.digest.hex,
            media_type=answer.media_type,
            size=document.total_size(),
            updated_at=tag.updated_at,
        )
    platforms = []
    for descriptor in select_platforms(document, None):
        child = (await client.get_manifest(tag.repository, str(descriptor.digest))).parsed(max_depth=depth)
        if not isinstance(child, ImageManifest):
            continue
        platforms.append(
            PlatformEntry(
                str(descriptor.digest),
                child.config.digest.hex,
                str(descriptor.platform) if descriptor.platform else "",
                child.total_size(),
                descriptor.media_type,
            )
        )
    return ImageEntry(
        namespace,
        name,
        tag.tag,
        answer.digest,
        media_type=answer.media_type,
        size=sum(p.size for p in platforms),
        updated_at=tag.updated_at,
        platforms=tuple(platforms),
    )
