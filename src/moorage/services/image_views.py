"""One tag as a person looks at it: digest, size, platforms, created and pushed times, layers with
the commands that made them, labels, referrers (signatures, SBOMs) and who may pull it.

Read from what the registry stores (the tag's manifest, the image config blob, the referrers and
the grants), through the same queries the SWR and Enterprise APIs use; nothing here decides
anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.errors import MoorageError
from moorage.domain.identity import READ
from moorage.domain.management import TagDetail
from moorage.domain.manifests import ImageManifest, parse_manifest
from moorage.domain.names import RepositoryName
from moorage.domain.oci_config import parse_config
from moorage.domain.registry import Grant, Repository
from moorage.metadata.database import Database
from moorage.metadata.queries import manifests as manifest_q
from moorage.services.enterprise.artifacts import read_small_blob
from moorage.services.namespaces import NamespaceService
from moorage.services.tag_management import Accessory, TagManagement
from moorage.storage.blobstore import BlobStore

MAX_CONFIG_BYTES = 4 << 20
"""An image config larger than this is not read for the view (its layers still show)."""
MAX_REFERRERS_SHOWN = 50


@dataclass(frozen=True, slots=True)
class LayerView:
    """A layer (or an empty build step) with the command that made it."""

    digest: str
    size: int
    media_type: str
    created_by: str
    created_at: str


@dataclass(frozen=True, slots=True)
class PlatformView:
    """One platform image of a multi-architecture tag."""

    platform: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class TagView:
    """Everything the console's tag page shows."""

    repository: Repository
    tag: TagDetail
    is_index: bool
    platforms: tuple[PlatformView, ...]
    shown_platform: str
    """The platform whose layers and labels are shown (the first of an index; the image's own)."""
    created: str
    labels: tuple[tuple[str, str], ...]
    layers: tuple[LayerView, ...]
    referrers: tuple[Accessory, ...]
    referrer_total: int
    readers: tuple[Grant, ...]
    """Users holding a grant that lets them pull (organization and repository grants, highest level)."""
    public: bool
    note: str
    """Why part of the view is missing (a config too large to read), or empty."""


class ImageViews:
    """See the module docstring."""

    def __init__(self, db: Database, store: BlobStore, *, tags: TagManagement, namespaces: NamespaceService) -> None:
        self.db = db
        self.store = store
        self.tags = tags
        self.namespaces = namespaces

    async def describe(self, *, instance_id: str, name: RepositoryName, tag: str) -> TagView:
        """The tag's view (``NotFound`` for a tag or repository that does not exist)."""
        repository, detail = await self.tags.show(instance_id=instance_id, name=name, tag=tag)
        parsed = parse_manifest(detail.payload, detail.media_type)
        platforms: tuple[PlatformView, ...] = ()
        image: ImageManifest | None = parsed if isinstance(parsed, ImageManifest) else None
        shown = ""
        if not isinstance(parsed, ImageManifest):
            platforms = tuple(
                PlatformView(str(d.platform) if d.platform else "unknown", str(d.digest), d.size)
                for d in parsed.manifests
            )
            if parsed.manifests:
                child = parsed.manifests[0]
                shown = platforms[0].platform
                record = await self.db.read(
                    lambda conn: manifest_q.by_digest(conn, repository.id, str(child.digest), with_payload=True)
                )
                if record is not None:
                    found = parse_manifest(record.payload, child.media_type)
                    image = found if isinstance(found, ImageManifest) else None
        created, note = "", ""
        labels: tuple[tuple[str, str], ...] = ()
        history: tuple[dict[str, object], ...] = ()
        if image is not None:
            try:
                config = parse_config(await read_small_blob(self.store, str(image.config.digest), MAX_CONFIG_BYTES))
                raw = config.raw
                created = str(raw.get("created", ""))
                inner = raw.get("config")
                found_labels = inner.get("Labels") if isinstance(inner, dict) else None
                if isinstance(found_labels, dict):
                    labels = tuple(sorted((str(k), str(v)) for k, v in found_labels.items()))
                history = config.history
                if not shown and config.platform is not None:
                    shown = str(config.platform)
            except MoorageError as exc:
                note = f"the image configuration could not be read: {exc}"
        layers = _layers(image, history)
        _, referrers, referrer_total = await self.tags.accessories(
            instance_id=instance_id, name=name, tag=tag, offset=0, limit=MAX_REFERRERS_SHOWN
        )
        _, namespace_grants = await self.namespaces.namespace_grants(instance_id=instance_id, name=name.namespace)
        _, repository_grants = await self.namespaces.repository_grants(instance_id=instance_id, name=name)
        best: dict[str, Grant] = {}
        for grant in (*namespace_grants, *repository_grants):
            if grant.auth >= READ and grant.auth > best.get(grant.user_id, Grant("", "", 0)).auth:
                best[grant.user_id] = grant
        return TagView(
            repository=repository,
            tag=detail,
            is_index=not isinstance(parsed, ImageManifest),
            platforms=platforms,
            shown_platform=shown,
            created=created,
            labels=labels,
            layers=layers,
            referrers=tuple(referrers),
            referrer_total=referrer_total,
            readers=tuple(sorted(best.values(), key=lambda g: g.user_name)),
            public=repository.is_public,
            note=note,
        )


def _layers(image: ImageManifest | None, history: tuple[dict[str, object], ...]) -> tuple[LayerView, ...]:
    """Layers in order, each with the build step that made it; empty build steps (``ENV``,
    ``CMD``...) between them show with no layer."""
    if image is None:
        return ()
    layers = list(image.layers)
    found: list[LayerView] = []
    index = 0
    for entry in history:
        command = str(entry.get("created_by", ""))
        when = str(entry.get("created", ""))
        if entry.get("empty_layer"):
            found.append(LayerView("", 0, "", command, when))
            continue
        if index < len(layers):
            layer = layers[index]
            found.append(LayerView(str(layer.digest), layer.size, layer.media_type, command, when))
            index += 1
    for layer in layers[index:]:
        found.append(LayerView(str(layer.digest), layer.size, layer.media_type, "", ""))
    return tuple(found)
