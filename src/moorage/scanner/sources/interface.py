"""Image sources: where an image's manifest, config and layer blobs come from.

A source resolves to one :class:`ResolvedImage` per selected platform. Each layer is a
:class:`LayerRef` whose blob is a :class:`LocalBlob` (a byte range of a local file, picklable so a
worker process can open it) or, for a root filesystem, a directory. A remote source downloads only
the layers the scan still needs, in :meth:`ImageSource.fetch`.
"""

from __future__ import annotations

import io
import platform as host
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, cast

from moorage.domain.oci_platform import Platform
from moorage.scanner.errors import ImageSourceError


@dataclass(frozen=True, slots=True)
class LocalBlob:
    """A blob stored as ``length`` bytes at ``offset`` of a local file (-1: to the end)."""

    path: str
    """Local file holding the blob."""
    offset: int = 0
    """Where the blob starts."""
    length: int = -1
    """How many bytes it has (-1: the rest of the file)."""

    def open(self) -> IO[bytes]:
        """A fresh read-only stream over the blob."""
        handle = open(self.path, "rb")  # noqa: SIM115 - the caller closes it
        if self.offset == 0 and self.length < 0:
            return handle
        handle.seek(self.offset)
        return cast(IO[bytes], io.BufferedReader(_Slice(handle, self.length), 1 << 20))

    def read_all(self, limit: int) -> bytes:
        """The whole blob, refusing more than ``limit`` bytes (configs and manifests)."""
        with self.open() as stream:
            data = stream.read(limit + 1)
        if len(data) > limit:
            raise ValueError(f"blob in {self.path} is larger than {limit} bytes")
        return data


class _Slice(io.RawIOBase):
    """At most ``length`` bytes of an open file, from its current position."""

    def __init__(self, handle: IO[bytes], length: int) -> None:
        self._handle = handle
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        view = memoryview(buffer).cast("B")  # type: ignore[arg-type]
        want = len(view) if self._left < 0 else min(len(view), self._left)
        data = self._handle.read(want)
        view[: len(data)] = data
        if self._left >= 0:
            self._left -= len(data)
        return len(data)

    def close(self) -> None:
        self._handle.close()
        super().close()


@dataclass(frozen=True, slots=True)
class LayerRef:
    """One layer of a resolved image."""

    digest: str
    """Layer digest as the manifest lists it (the cache key), or a synthetic id for a directory."""
    media_type: str = ""
    """Layer media type (compression is detected from the bytes anyway)."""
    size: int = -1
    """Blob size when known."""
    blob: LocalBlob | None = None
    """Where the bytes are; None until a remote source fetched them."""
    directory: str = ""
    """For a root filesystem source: the directory to walk instead of a blob."""
    verify_digest: bool = True
    """Check the blob against ``digest`` while reading (off for synthetic ids)."""


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """One image (one platform) ready to scan."""

    name: str
    """What the user named (path or reference), for reports."""
    manifest_digest: str = ""
    """Digest of the image manifest; empty for a root filesystem."""
    platform: Platform | None = None
    """Platform of this image."""
    layers: tuple[LayerRef, ...] = ()
    """Layers, base first."""
    config: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    """The image configuration document (empty for a root filesystem)."""
    config_digest: str = ""
    """Digest of the image configuration blob (empty for a root filesystem)."""


class ImageSource(ABC):
    """An image location the scanner can read."""

    @abstractmethod
    def resolve(self, platform: Platform | None) -> list[ResolvedImage]:
        """The images to scan: the one for ``platform`` or, with None, one per platform."""

    def fetch(self, image: ResolvedImage, layers: Sequence[LayerRef]) -> ResolvedImage:
        """Make ``layers`` of ``image`` readable locally; local sources have nothing to do."""
        return image

    def close(self) -> None:  # noqa: B027 - an optional hook: most sources hold nothing to release
        """Release temporary files and connections."""

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_images(source: ImageSource, platform: Platform | None, *, all_platforms: bool) -> list[ResolvedImage]:
    """The images of ``source`` to read: every platform's with ``all_platforms``, else the one for
    ``platform`` or, with None, for the machine we run on; ``ImageSourceError`` when there is none."""
    wanted = None if all_platforms else (platform or Platform.for_machine(host.machine()))
    images = source.resolve(wanted)
    if not images:
        raise ImageSourceError(f"no image for platform {wanted}")
    return images
