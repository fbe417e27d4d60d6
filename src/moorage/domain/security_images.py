"""Image rows as synchronisations find them and as requests and lists name them: the tags (and
platform images) a synchronisation records, how a request names an image, and the image facts the
account-wide lists show."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PlatformEntry:
    """One platform image of a multi-architecture tag, as a synchronisation found it."""

    digest: str
    image_id: str
    platform: str
    size: int
    media_type: str = ""


@dataclass(frozen=True, slots=True)
class ImageEntry:
    """One tag as a synchronisation found it."""

    namespace: str
    image_name: str
    image_version: str
    digest: str
    image_id: str = ""
    media_type: str = ""
    size: int = 0
    updated_at: int = 0
    platforms: tuple[PlatformEntry, ...] = ()
    domain_name: str = ""
    shared_status: str = ""
    instance_id: str = ""
    instance_name: str = ""
    instance_url: str = ""
    repository_id: int | None = None

    @property
    def row_key(self) -> str:
        """The stable key of the tag's row within its registry."""
        return row_key_of(self.namespace, self.image_name, self.image_version)


def row_key_of(*parts: str) -> str:
    """The stable key of a row made of ``parts`` (a tag's namespace, name and version)."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ImageRef:
    """How a request names an image: ``image_id`` (the list's row id, a manifest digest, or the
    image id the lists show) and the optional narrowing fields."""

    image_id: str
    namespace: str | None = None
    image_name: str | None = None
    tag: str | None = None
    image_type: str | None = None
    instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class RowOfImage:
    """The image facts the account-wide lists show next to a finding."""

    tag_row_id: int
    """The image as the lists show it (a platform image's multi-architecture image)."""
    row_id: int
    manifest_digest: str
    image_type: str
    registry_name: str
    registry_type: str
    namespace: str
    image_name: str
    image_version: str
    image_digest: str
    """The digest of the image as listed (the multi-architecture image's, for a platform row)."""
    image_id: str
    image_size: int
    is_multiple_arch: bool
    instance_id: str
    latest_scan_time: int
    created_at: int

    @property
    def row_ids(self) -> tuple[int, ...]:
        """The ids this image is known by (a platform row by its own and its parent's)."""
        return (self.row_id,) if self.row_id == self.tag_row_id else (self.row_id, self.tag_row_id)


@dataclass(frozen=True, slots=True)
class ImageScope:
    """Which of the account's images a cross-image list covers (None: any)."""

    image_id: str | None = None
    image_type: str | None = None
    namespace: str | None = None
    image_name: str | None = None
    image_version: str | None = None
    instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class ImageSelector:
    """An image a request names: by row id, or by namespace, name and tag (and registry)."""

    row_id: int | None = None
    namespace: str = ""
    image_name: str = ""
    image_version: str = ""
    image_digest: str = ""
    registry_id: str = ""
    image_type: str = ""
