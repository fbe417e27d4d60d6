"""``docker save`` archives: ``manifest.json`` names the config and the layer tars.

Old archives keep each layer as ``<id>/layer.tar`` (uncompressed, so its digest is the config's
``diff_id``); Docker 25 and later write an OCI layout inside, with ``blobs/sha256/<hex>`` paths.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from moorage.domain.bounded_json import loads
from moorage.domain.errors import ManifestInvalid
from moorage.domain.manifests import MAX_MANIFEST_BYTES
from moorage.domain.oci_config import parse_config
from moorage.domain.oci_platform import Platform
from moorage.scanner.errors import DigestMismatch, ImageSourceError
from moorage.scanner.limits import DEFAULT_JSON_DEPTH
from moorage.scanner.sources.interface import ImageSource, LayerRef, ResolvedImage
from moorage.scanner.sources.layout import TarMembers


class DockerArchiveSource(ImageSource):
    """A ``docker save`` tar (one or several images; pick one with ``:repo:tag``)."""

    def __init__(
        self, path: Path, tag: str = "", members: TarMembers | None = None, *, max_json_depth: int = DEFAULT_JSON_DEPTH
    ) -> None:
        self.path = path
        self.tag = tag
        self.max_json_depth = max_json_depth
        self.members = members or TarMembers(path)
        if "manifest.json" not in self.members.members:
            raise ImageSourceError(f"{path} is not a docker archive (no manifest.json)")

    def _read(self, name: str) -> bytes:
        try:
            return self.members.blob(name).read_all(MAX_MANIFEST_BYTES)
        except (KeyError, OSError, ValueError) as exc:
            raise ImageSourceError(f"{self.path}: cannot read {name}: {exc}") from exc

    def resolve(self, platform: Platform | None) -> list[ResolvedImage]:
        """See :meth:`ImageSource.resolve`; a docker archive holds one platform per image."""
        try:
            entries = loads(self._read("manifest.json"), max_depth=self.max_json_depth)
        except ValueError as exc:
            raise ImageSourceError(f"{self.path}: manifest.json is not JSON: {exc}") from exc
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise ImageSourceError(f"{self.path}: manifest.json is not a list of images")
        if self.tag:
            wanted = _short_tag(self.tag)
            entries = [e for e in entries if wanted in {_short_tag(str(t)) for t in e.get("RepoTags") or []}]
            if not entries:
                raise ImageSourceError(f"{self.path}: no image tagged {self.tag!r}")
        elif len(entries) > 1:
            raise ImageSourceError(f"{self.path} holds {len(entries)} images; name one with :REPO:TAG")
        return [self._image(entries[0])]

    def _image(self, entry: dict[str, object]) -> ResolvedImage:
        config_name, layer_names = entry.get("Config"), entry.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layer_names, list):
            raise ImageSourceError(f"{self.path}: manifest.json entry lacks Config or Layers")
        raw_config = self._read(config_name)
        try:
            config = parse_config(raw_config, max_depth=self.max_json_depth)
        except ManifestInvalid as exc:
            raise ImageSourceError(f"{self.path}: bad config: {exc}") from exc
        if len(config.diff_ids) != len(layer_names):
            raise ImageSourceError(f"{self.path}: {len(layer_names)} layers but {len(config.diff_ids)} diff_ids")
        config_digest = "sha256:" + hashlib.sha256(raw_config).hexdigest()
        if config_name.startswith("blobs/sha256/") and config_name.rsplit("/", 1)[1] != config_digest[7:]:
            raise DigestMismatch(f"{self.path}: config {config_name} does not match its digest")
        layers = []
        for name, diff_id in zip(layer_names, config.diff_ids, strict=True):
            if not isinstance(name, str):
                raise ImageSourceError(f"{self.path}: bad layer name {name!r}")
            try:
                blob = self.members.blob(name.removeprefix("./"))
            except KeyError as exc:
                raise ImageSourceError(f"{self.path}: layer {name} is missing") from exc
            if name.startswith("blobs/"):
                algorithm, _, hexdigest = name.removeprefix("blobs/").partition("/")
                digest = f"{algorithm}:{hexdigest}"
            else:
                digest = diff_id
            layers.append(LayerRef(digest, "", blob.length, blob))
        return ResolvedImage(
            str(self.path), config_digest, config.platform, tuple(layers), config.raw, config_digest=config_digest
        )


def _short_tag(tag: str) -> str:
    """``docker.io/library/x:1`` and ``x:1`` name the same image."""
    for prefix in ("docker.io/library/", "docker.io/", "localhost/"):
        if tag.startswith(prefix):
            return tag[len(prefix) :]
    return tag
