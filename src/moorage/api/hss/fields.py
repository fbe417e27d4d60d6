"""The fields the HSS image-security operations share, declared once: the query parameters of a list
(paging, and the enterprise project every list takes), the ones that name an image, and the image
fields copied into a response row. The names are the wire's: ``huaweicloudsdkhss`` sends them, and
each operation keeps exactly the parameters its SDK request class has (an operation that calls the
tag ``tag_name`` reads ``ByTag``, one that calls it ``image_version`` reads ``ByVersion``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, TypedDict, TypeVar

from fastapi import Depends, Query

from moorage.domain.security import IMAGE_TYPES
from moorage.domain.security_images import ImageRef, ImageScope, RowOfImage
from moorage.services.security.detail_vocabulary import page

T = TypeVar("T")

OFFSET_MAX = 2_000_000
# Annotated aliases (a shared ``Query(...)`` default would make every parameter read the first one's value).
Offset = Annotated[int, Query(ge=0, le=OFFSET_MAX)]
Limit = Annotated[int, Query(ge=1, le=200)]
Text = Annotated[str | None, Query(max_length=255)]
Short = Annotated[str | None, Query(max_length=32)]
OptionalId = Annotated[str | None, Query(max_length=200)]
VulId = Annotated[str | None, Query(max_length=128)]


def row_image_type(value: str | None) -> str | None:
    """The image type a vulnerability filter keeps: HSS's ``registry`` is every image here (no filter);
    a row type (``private_image``...) is itself; ``local``, ``cicd`` and ``cluster`` (images on hosts, in
    pipelines and clusters, which moorage does not hold) are kept as they are, so they match nothing."""
    return None if value in (None, "", "registry") else value


@dataclass(frozen=True, slots=True)
class Paging:
    """Which slice of a computed list an operation answers."""

    offset: int
    limit: int

    def of(self, items: Sequence[T]) -> list[T]:
        """The page of ``items``."""
        return page(items, self.offset, self.limit)


def paging(enterprise_project_id: Text = None, offset: Offset = 0, limit: Limit = 10) -> Paging:
    """``offset`` and ``limit`` of a list operation. ``enterprise_project_id`` comes with every HSS list
    and is read only to bound it: an account here is one project."""
    return Paging(offset, limit)


Paged = Annotated[Paging, Depends(paging)]


@dataclass(frozen=True, slots=True)
class ImageNaming:
    """The query fields that narrow which image an operation means (HSS names the tag ``tag_name`` in
    some operations and ``image_version`` in others; ``naming_by_tag`` / ``naming_by_version`` read them)."""

    image_type: str | None
    namespace: str | None = None
    image_name: str | None = None
    tag: str | None = None
    instance_id: str | None = None

    def _known_type(self) -> str | None:
        """An unknown ``image_type``, like HSS's ``registry``, narrows nothing."""
        return self.image_type if self.image_type in IMAGE_TYPES else None

    def of(self, image_id: str) -> ImageRef:
        """The reference to one image (``image_id``: a row id, a manifest digest or an image id)."""
        return ImageRef(
            image_id=image_id[:200],
            namespace=self.namespace or None,
            image_name=self.image_name or None,
            tag=self.tag or None,
            image_type=self._known_type(),
            instance_id=self.instance_id or None,
        )

    def scope(self, image_id: str | None = None) -> ImageScope:
        """The images of the account these fields (and ``image_id``, when given) select."""
        return ImageScope(
            image_id=image_id or None,
            image_type=self._known_type(),
            namespace=self.namespace or None,
            image_name=self.image_name or None,
            image_version=self.tag or None,
            instance_id=self.instance_id or None,
        )


def naming_by_tag(
    image_type: Short = None,
    namespace: Text = None,
    image_name: Text = None,
    tag_name: Text = None,
    instance_id: Text = None,
) -> ImageNaming:
    """The naming fields of the operations that call the tag ``tag_name``."""
    return ImageNaming(image_type, namespace, image_name, tag_name, instance_id)


def naming_by_version(
    image_type: Short = None,
    namespace: Text = None,
    image_name: Text = None,
    image_version: Text = None,
    instance_id: Text = None,
) -> ImageNaming:
    """The naming fields of the operations that call the tag ``image_version``."""
    return ImageNaming(image_type, namespace, image_name, image_version, instance_id)


def naming_by_type(image_type: Short = None) -> ImageNaming:
    """The one naming field of the operations that narrow by ``image_type`` alone."""
    return ImageNaming(image_type)


ByTag = Annotated[ImageNaming, Depends(naming_by_tag)]
ByVersion = Annotated[ImageNaming, Depends(naming_by_version)]
ByType = Annotated[ImageNaming, Depends(naming_by_type)]


class ImageFields(TypedDict):
    """The fields that say which image a response row is about, as HSS names them."""

    image_id: str
    namespace: str
    image_name: str
    image_version: str
    image_type: str
    latest_scan_time: int


def image_fields(image: RowOfImage) -> ImageFields:
    """``image``'s naming fields for a response row (``Row(**image_fields(image), ...)``)."""
    return ImageFields(
        image_id=image.image_id,
        namespace=image.namespace,
        image_name=image.image_name,
        image_version=image.image_version,
        image_type=image.image_type,
        latest_scan_time=image.latest_scan_time,
    )
