"""OCI image layout sources: a layout directory, and an OCI archive (a tar of a layout).

Both read ``index.json`` and follow manifests and indexes by digest, every document parsed by the
domain's manifest and config parsers (bounded in size and depth). The archive is never extracted:
blobs are byte ranges of the tar file.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
from abc import abstractmethod
from pathlib import Path

from moorage.domain.digests import Digest
from moorage.domain.errors import ManifestInvalid
from moorage.domain.manifests import (
    MAX_MANIFEST_BYTES,
    Descriptor,
    ImageIndex,
    ImageManifest,
    ParsedManifest,
    parse_manifest,
    select_platforms,
)
from moorage.domain.oci_config import parse_config
from moorage.domain.oci_platform import Platform
from moorage.scanner.errors import DigestMismatch, ImageSourceError
from moorage.scanner.limits import DEFAULT_JSON_DEPTH
from moorage.scanner.sources.interface import ImageSource, LayerRef, LocalBlob, ResolvedImage

REF_NAME = "org.opencontainers.image.ref.name"
MAX_INDEX_DEPTH = 4
MAX_ARCHIVE_MEMBERS = 100_000
"""Entries an OCI or docker archive may list: blobs and a few JSON files; more is not an image
archive (tarfile keeps an object per entry, so a tar of millions of names would fill memory)."""


def blob_path(digest: Digest) -> str:
    """``blobs/<algorithm>/<hex>``."""
    return f"blobs/{digest.algorithm}/{digest.hex}"


class _LayoutReader(ImageSource):
    """Resolution shared by layout directories and archives; subclasses find blobs."""

    def __init__(self, name: str, tag: str, max_json_depth: int) -> None:
        self.name = name
        self.tag = tag
        self.max_json_depth = max_json_depth

    @abstractmethod
    def _blob(self, path: str) -> LocalBlob:
        """The file at ``path`` inside the layout; KeyError or OSError when absent."""

    def _read(self, digest: Digest) -> bytes:
        try:
            data = self._blob(blob_path(digest)).read_all(MAX_MANIFEST_BYTES)
        except (OSError, ValueError, KeyError) as exc:
            raise ImageSourceError(f"{self.name}: cannot read blob {digest}: {exc}") from exc
        if not digest.matches(data):
            raise DigestMismatch(f"{self.name}: blob {digest} does not match its digest")
        return data

    def _parse(self, raw: bytes, media_type: str | None) -> ParsedManifest:
        return parse_manifest(raw, media_type, max_depth=self.max_json_depth, max_bytes=MAX_MANIFEST_BYTES)

    def _top_descriptors(self) -> list[Descriptor]:
        try:
            index = self._parse(self._blob("index.json").read_all(MAX_MANIFEST_BYTES), None)
        except (OSError, ValueError, KeyError, ManifestInvalid) as exc:
            raise ImageSourceError(f"{self.name}: unreadable index.json: {exc}") from exc
        if not isinstance(index, ImageIndex):
            raise ImageSourceError(f"{self.name}: unreadable index.json: not an image index")
        descriptors = list(index.manifests)
        if self.tag:
            tagged = [d for d in descriptors if d.annotations.get(REF_NAME) == self.tag]
            if not tagged:
                raise ImageSourceError(f"{self.name}: no image tagged {self.tag!r}")
            return tagged
        if len(descriptors) > 1:
            names = sorted({d.annotations.get(REF_NAME, str(d.digest)) for d in descriptors})
            raise ImageSourceError(f"{self.name} holds several images; name one with :TAG ({', '.join(names)})")
        if not descriptors:
            raise ImageSourceError(f"{self.name}: index.json lists no image")
        return descriptors

    def resolve(self, platform: Platform | None) -> list[ResolvedImage]:
        """See :meth:`ImageSource.resolve`."""
        out: list[ResolvedImage] = []
        for descriptor in self._top_descriptors():
            out.extend(self._resolve_descriptor(descriptor, platform, 0))
        if not out:
            raise ImageSourceError(f"{self.name}: no image for platform {platform}")
        return out

    def _resolve_descriptor(self, descriptor: Descriptor, platform: Platform | None, depth: int) -> list[ResolvedImage]:
        if depth > MAX_INDEX_DEPTH:
            raise ImageSourceError(f"{self.name}: indexes nested too deep")
        try:
            document = self._parse(self._read(descriptor.digest), descriptor.media_type)
        except ManifestInvalid as exc:
            raise ImageSourceError(f"{self.name}: {descriptor.digest}: {exc}") from exc
        if isinstance(document, ImageIndex):
            chosen = select_platforms(document, platform)
            if platform is not None:
                chosen = chosen[:1]
            return [img for child in chosen for img in self._resolve_descriptor(child, platform, depth + 1)]
        return [self._image(descriptor, document, platform)]

    def _image(self, descriptor: Descriptor, manifest: ImageManifest, wanted: Platform | None) -> ResolvedImage:
        try:
            config = parse_config(self._read(manifest.config.digest), max_depth=self.max_json_depth)
        except ManifestInvalid as exc:
            raise ImageSourceError(f"{self.name}: bad image config: {exc}") from exc
        layers = []
        for layer in manifest.layers:
            try:
                blob = self._blob(blob_path(layer.digest))
            except (OSError, KeyError) as exc:
                raise ImageSourceError(f"{self.name}: layer {layer.digest} is missing") from exc
            layers.append(LayerRef(str(layer.digest), layer.media_type, layer.size, blob))
        found = descriptor.platform or config.platform
        return ResolvedImage(
            self.name,
            str(descriptor.digest),
            found,
            tuple(layers),
            config.raw,
            config_digest=str(manifest.config.digest),
        )


class OciLayoutSource(_LayoutReader):
    """An OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/``)."""

    def __init__(self, root: Path, tag: str = "", *, max_json_depth: int = DEFAULT_JSON_DEPTH) -> None:
        super().__init__(str(root), tag, max_json_depth)
        self.root = root
        if not (root / "index.json").is_file():
            raise ImageSourceError(f"{root} is not an OCI layout (no index.json)")

    def _blob(self, path: str) -> LocalBlob:
        full = os.path.normpath(self.root / path)
        if not full.startswith(str(self.root)) or not os.path.isfile(full) or os.path.islink(full):
            raise KeyError(path)
        return LocalBlob(full)


class TarMembers:
    """Byte ranges of the regular files of an uncompressed tar, found by reading headers only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.members: dict[str, tuple[int, int]] = {}
        links: dict[str, str] = {}
        try:
            with tarfile.open(path, mode="r:") as archive:
                for count, member in enumerate(archive, 1):
                    if count > MAX_ARCHIVE_MEMBERS:
                        raise ImageSourceError(
                            f"{path} lists more than {MAX_ARCHIVE_MEMBERS} entries: not an image archive"
                        )
                    name = posixpath.normpath("/" + member.name).lstrip("/")
                    if member.isreg():
                        self.members[name] = (member.offset_data, member.size)
                    elif member.issym():
                        links[name] = member.linkname
                    elif member.islnk():
                        links[name] = "/" + member.linkname
        except (tarfile.TarError, OSError) as exc:
            raise ImageSourceError(f"{path} is not a readable tar archive: {exc}") from exc
        for name, target in links.items():  # docker save may link identical layers
            base = target if target.startswith("/") else posixpath.join(posixpath.dirname(name), target)
            resolved = posixpath.normpath("/" + base).lstrip("/")
            if resolved in self.members:
                self.members[name] = self.members[resolved]

    def blob(self, name: str) -> LocalBlob:
        """The member ``name`` as a blob; KeyError if absent."""
        offset, size = self.members[name]
        return LocalBlob(str(self.path), offset, size)


class OciArchiveSource(_LayoutReader):
    """An OCI archive: a tar holding an OCI layout."""

    def __init__(
        self, path: Path, tag: str = "", members: TarMembers | None = None, *, max_json_depth: int = DEFAULT_JSON_DEPTH
    ) -> None:
        super().__init__(str(path), tag, max_json_depth)
        self.members = members or TarMembers(path)
        if "index.json" not in self.members.members:
            raise ImageSourceError(f"{path} is not an OCI archive (no index.json)")

    def _blob(self, path: str) -> LocalBlob:
        return self.members.blob(path)
