"""Artifacts of instance repositories: listings, details, deletion, tags, accessories (signatures,
SBOMs, attestations) and additions (the build history read from the image config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.digests import Digest, is_digest
from moorage.domain.enterprise import Accessory, Artifact, ArtifactTag, Page, PageRequest
from moorage.domain.errors import Invalid, ManifestUnknown, NotFound
from moorage.domain.events import Operation, repository_event
from moorage.domain.identity import Principal
from moorage.domain.names import RepositoryName, validate_tag
from moorage.domain.registry import Repository
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_artifacts as q
from moorage.metadata.queries import manifests as core_manifests
from moorage.metadata.queries import repositories as core_repositories
from moorage.services.enterprise.namespaces import visible_namespace_ids
from moorage.services.events.recorder import record_events
from moorage.services.tag_protection import NO_PROTECTION, TagProtection
from moorage.storage.blobstore import BlobStore

MAX_CONFIG_BYTES = 8 << 20
ADDITIONS = ("build_history",)


@dataclass(frozen=True, slots=True)
class BuildStep:
    """One entry of an image's build history."""

    created_at: str
    created_by: str
    empty_layer: bool
    media_type: str
    size: int
    digest: str


async def read_small_blob(store: BlobStore, digest: str, limit: int) -> bytes:
    """A stored blob's bytes, refused (``Invalid``) past ``limit`` bytes."""
    parsed = Digest.parse(digest)
    info = await store.stat(parsed)
    if info is None:
        raise NotFound(f"blob {digest} is not stored")
    if info.size > limit:
        raise Invalid(f"blob {digest} is larger than {limit} bytes")
    data = bytearray()
    async for chunk in store.read(parsed):
        data += chunk
        if len(data) > limit:
            raise Invalid(f"blob {digest} is larger than {limit} bytes")
    return bytes(data)


class ArtifactService:
    """The artifact operations of the instance APIs."""

    def __init__(self, db: Database, store: BlobStore, *, protection: TagProtection = NO_PROTECTION) -> None:
        self.db = db
        self.store = store
        self.protection = protection

    async def _repository(self, instance_id: str, namespace: str, repository: str) -> Repository:
        name = RepositoryName.from_api_path(namespace, repository)
        found = await self.db.read(lambda conn: core_repositories.get(conn, instance_id, name))
        if found is None:
            raise NotFound(f"repository {name} not found", reason="repository_not_found")
        return found

    @staticmethod
    def _check_reference(reference: str) -> None:
        if is_digest(reference):
            Digest.parse(reference)
        else:
            validate_tag(reference)

    async def list_artifacts(
        self,
        *,
        instance_id: str,
        namespace: str,
        repository: str,
        artifact_type: str | None,
        tag: str | None,
        page: PageRequest,
    ) -> Page[Artifact]:
        """Artifacts of a repository, newest first."""
        found = await self._repository(instance_id, namespace, repository)
        return await self.db.read(
            lambda conn: q.list_artifacts(
                conn, found.id, artifact_type=artifact_type, tag=tag, offset=page.offset, limit=page.limit
            )
        )

    async def list_instance(
        self, principal: Principal, *, instance_id: str, marker: int, limit: int
    ) -> tuple[list[Artifact], int | None]:
        """Artifacts of every repository the principal may see, by id after ``marker``; (page, next marker)."""
        if not 1 <= limit <= 100 or marker < 0:
            raise Invalid("limit must be 1-100 and marker not negative")

        def work(conn: Connection) -> list[Artifact]:
            visible = visible_namespace_ids(conn, principal, instance_id)
            return q.list_instance_artifacts(conn, instance_id, namespace_ids=visible, after_id=marker, limit=limit + 1)

        found = await self.db.read(work, heavy=True)
        next_marker = found[limit - 1].id if len(found) > limit else None
        return found[:limit], next_marker

    async def get(self, *, instance_id: str, namespace: str, repository: str, reference: str) -> Artifact:
        """An artifact by digest or tag."""
        self._check_reference(reference)
        found_repository = await self._repository(instance_id, namespace, repository)
        found = await self.db.read(lambda conn: q.get_artifact(conn, found_repository.id, reference))
        if found is None:
            raise ManifestUnknown(
                f"artifact {reference} not found in {namespace}/{repository}", reason="artifact_not_found"
            )
        return found

    async def delete(self, *, instance_id: str, namespace: str, repository: str, reference: str) -> None:
        """Delete an artifact (by digest or tag) with its tags and the accessories that refer to it."""
        artifact = await self.get(
            instance_id=instance_id, namespace=namespace, repository=repository, reference=reference
        )
        holder = await self._repository(instance_id, namespace, repository)

        def work(conn: Connection) -> None:
            self.protection.check_manifest_removal(conn, holder, artifact.digest)
            for accessory_id in q.referrer_ids(conn, artifact.repository_id, artifact.digest):
                digest = q.digest_of_manifest(conn, accessory_id)
                if digest is not None:
                    core_manifests.remove(conn, artifact.repository_id, digest)
            core_manifests.remove(conn, artifact.repository_id, artifact.digest)
            record_events(
                conn,
                repository_event(Operation.DELETE, holder, digest=artifact.digest),
            )

        await self.db.write(work)

    async def tags(
        self, *, instance_id: str, namespace: str, repository: str, accessory: bool | None, page: PageRequest
    ) -> Page[tuple[ArtifactTag, Artifact]]:
        """Tags of a repository with their artifacts."""
        found = await self._repository(instance_id, namespace, repository)
        return await self.db.read(
            lambda conn: q.list_tags(conn, found.id, accessory=accessory, offset=page.offset, limit=page.limit)
        )

    async def delete_tag(self, *, instance_id: str, namespace: str, repository: str, tag: str) -> None:
        """Remove a tag (the artifact stays)."""
        validate_tag(tag)
        found = await self._repository(instance_id, namespace, repository)

        def work(conn: Connection) -> bool:
            self.protection.check_untag(conn, found, tag)
            removed = core_manifests.untag(conn, found.id, tag)
            if removed:
                record_events(
                    conn,
                    repository_event(Operation.DELETE, found, tag=tag),
                )
            return removed

        if not await self.db.write(work):
            raise NotFound(f"tag {tag!r} not found in {namespace}/{repository}", reason="tag_not_found")

    async def accessories(
        self,
        *,
        instance_id: str,
        namespace: str,
        repository: str,
        reference: str,
        accessory_type: str | None,
        page: PageRequest,
    ) -> Page[Accessory]:
        """What refers to an artifact (signatures, SBOMs...), optionally of one type."""
        artifact = await self.get(
            instance_id=instance_id, namespace=namespace, repository=repository, reference=reference
        )
        found = await self.db.read(lambda conn: q.accessories(conn, artifact.repository_id, artifact))
        if accessory_type:
            found = [a for a in found if a.type == accessory_type]
        return Page(found[page.offset : page.offset + page.limit], len(found))

    async def build_history(
        self, *, instance_id: str, namespace: str, repository: str, reference: str
    ) -> list[BuildStep]:
        """The ``history`` of the artifact's image config, each step with the layer it made."""
        artifact = await self.get(
            instance_id=instance_id, namespace=namespace, repository=repository, reference=reference
        )
        if artifact.config_digest is None:
            return []
        record = await self.db.read(
            lambda conn: core_manifests.by_digest(conn, artifact.repository_id, artifact.digest, with_payload=True)
        )
        config = load_document(await read_small_blob(self.store, artifact.config_digest, MAX_CONFIG_BYTES))
        layers = _layers(record.payload if record else b"")
        history = config.get("history") if isinstance(config, dict) else None
        steps: list[BuildStep] = []
        layer_index = 0
        for entry in history if isinstance(history, list) else []:
            if not isinstance(entry, dict):
                continue
            empty = bool(entry.get("empty_layer", False))
            layer: dict[str, Any] = {}
            if not empty and layer_index < len(layers):
                layer = layers[layer_index]
                layer_index += 1
            steps.append(
                BuildStep(
                    str(entry.get("created", "")),
                    str(entry.get("created_by", "")),
                    empty,
                    str(layer.get("mediaType", "")),
                    int(layer.get("size", 0) or 0),
                    str(layer.get("digest", "")),
                )
            )
        return steps


def _layers(manifest: bytes) -> list[dict[str, Any]]:
    try:
        document = load_document(manifest)
    except ValueError:
        return []
    layers = document.get("layers") if isinstance(document, dict) else None
    return [layer for layer in layers if isinstance(layer, dict)] if isinstance(layers, list) else []
