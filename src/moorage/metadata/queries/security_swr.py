"""moorage's own tags as HSS image entries: an account's private images (its organizations in the
shared edition), the images other accounts share with it, and its Enterprise Edition images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.oci_platform import Platform
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.domain.security import INSTANCE_IMAGE, PRIVATE_IMAGE, SHARED_IMAGE
from moorage.domain.security_images import ImageEntry, PlatformEntry
from moorage.metadata.tables import (
    domains,
    instances,
    manifest_references,
    manifests,
    namespaces,
    repositories,
    repository_shares,
    tags,
)

_TAG_COLUMNS = (
    namespaces.c.name,
    repositories.c.name,
    tags.c.name,
    manifests.c.id,
    manifests.c.digest,
    manifests.c.media_type,
    manifests.c.config_digest,
    manifests.c.total_size,
    func.length(manifests.c.payload),
    tags.c.updated_at,
    repositories.c.id,
    repositories.c.instance_id,
)
_FROM = (
    tags.join(manifests, manifests.c.id == tags.c.manifest_id)
    .join(repositories, repositories.c.id == tags.c.repository_id)
    .join(namespaces, namespaces.c.id == repositories.c.namespace_id)
)


def _hex(digest: str | None) -> str:
    return digest.partition(":")[2] if digest else ""


def _platforms(conn: Connection, manifest_ids: Sequence[int]) -> dict[int, tuple[PlatformEntry, ...]]:
    """Platform images of index manifests (children stored in the same repository)."""
    if not manifest_ids:
        return {}
    child = manifests.alias("child")
    rows = conn.execute(
        select(
            manifest_references.c.manifest_id,
            manifest_references.c.digest,
            manifest_references.c.platform,
            child.c.config_digest,
            child.c.total_size,
            func.length(child.c.payload),
            child.c.media_type,
        )
        .select_from(
            manifest_references.join(manifests, manifests.c.id == manifest_references.c.manifest_id).join(
                child,
                and_(
                    child.c.repository_id == manifests.c.repository_id, child.c.digest == manifest_references.c.digest
                ),
            )
        )
        .where(manifest_references.c.manifest_id.in_(list(manifest_ids)), manifest_references.c.kind == "manifest")
        .order_by(manifest_references.c.manifest_id, manifest_references.c.position)
    )
    found: dict[int, list[PlatformEntry]] = {}
    for manifest_id, digest, platform, config_digest, total, payload_size, media_type in rows:
        label = _platform_label(platform)
        if not label or label.startswith("unknown/"):
            continue  # attestations and the like are not images to scan
        found.setdefault(int(manifest_id), []).append(
            PlatformEntry(
                str(digest), _hex(config_digest), label, max(int(total) - int(payload_size), 0), str(media_type)
            )
        )
    return {k: tuple(v) for k, v in found.items()}


def _platform_label(text: str | None) -> str:
    try:
        doc: Any = load_document(text or "{}")
    except ValueError:
        return ""
    found = Platform.from_json(doc) if isinstance(doc, dict) else None
    return str(found) if found is not None else ""


def _entries(
    conn: Connection, condition: ColumnElement[bool], extra: dict[int, dict[str, Any]] | None = None
) -> list[ImageEntry]:
    rows = conn.execute(
        select(*_TAG_COLUMNS)
        .select_from(_FROM)
        .where(condition)
        .order_by(namespaces.c.name, repositories.c.name, tags.c.name)
    ).all()
    indexes = [int(r[3]) for r in rows if not r[6]]
    platforms = _platforms(conn, indexes)
    instance_names = {str(r[0]): str(r[1]) for r in conn.execute(select(instances.c.id, instances.c.name))}
    entries = []
    for (
        ns,
        repo,
        tag,
        manifest_id,
        digest,
        media_type,
        config_digest,
        total,
        payload_size,
        updated,
        repo_id,
        inst,
    ) in rows:
        children = platforms.get(int(manifest_id), ())
        size = sum(p.size for p in children) if children else max(int(total) - int(payload_size), 0)
        values: dict[str, Any] = (extra or {}).get(int(repo_id), {})
        if inst != DEFAULT_INSTANCE:
            values = {**values, "instance_id": str(inst), "instance_name": instance_names.get(str(inst), str(inst))}
        entries.append(
            ImageEntry(
                namespace=str(ns),
                image_name=str(repo),
                image_version=str(tag),
                digest=str(digest),
                image_id=_hex(config_digest),
                media_type=str(media_type),
                size=size,
                updated_at=int(updated),
                platforms=children,
                repository_id=int(repo_id),
                **values,
            )
        )
    return entries


def account_tags(conn: Connection, domain_id: str, image_type: str, *, now: int) -> list[ImageEntry]:
    """Every tag of one SWR image type the account sees: its own organizations' (private), the
    repositories shared with it (shared, with the owner and whether the share is still valid),
    or its Enterprise Edition instances' (instance)."""
    if image_type == PRIVATE_IMAGE:
        return _entries(conn, and_(namespaces.c.domain_id == domain_id, repositories.c.instance_id == DEFAULT_INSTANCE))
    if image_type == INSTANCE_IMAGE:
        return _entries(conn, and_(namespaces.c.domain_id == domain_id, repositories.c.instance_id != DEFAULT_INSTANCE))
    if image_type == SHARED_IMAGE:
        shares = conn.execute(
            select(repository_shares.c.repository_id, repository_shares.c.deadline, domains.c.name)
            .select_from(
                repository_shares.join(repositories, repositories.c.id == repository_shares.c.repository_id)
                .join(namespaces, namespaces.c.id == repositories.c.namespace_id)
                .join(domains, domains.c.id == namespaces.c.domain_id)
            )
            .where(repository_shares.c.domain_id == domain_id)
        ).all()
        if not shares:
            return []
        extra = {
            int(r[0]): {
                "domain_name": str(r[2]),
                "shared_status": "effective" if r[1] is None or int(r[1]) > now else "expired",
            }
            for r in shares
        }
        return _entries(conn, repositories.c.id.in_(list(extra)), extra)
    raise ValueError(f"{image_type} is not an SWR image type")


def one_tag(conn: Connection, repository_id: int, tag: str) -> ImageEntry | None:
    """One tag of one of moorage's repositories (what a push just stored)."""
    found = _entries(conn, and_(tags.c.repository_id == repository_id, tags.c.name == tag))
    return found[0] if found else None


def owner_of(conn: Connection, repository_id: int) -> tuple[str | None, str]:
    """(owning account, instance) of a repository."""
    row = conn.execute(
        select(namespaces.c.domain_id, repositories.c.instance_id)
        .select_from(repositories.join(namespaces, namespaces.c.id == repositories.c.namespace_id))
        .where(repositories.c.id == repository_id)
    ).first()
    return (None, DEFAULT_INSTANCE) if row is None else (row[0], str(row[1]))
