"""Image sources and :func:`open_source`, which picks one from what the user typed.

Accepted forms: ``oci:DIR[:TAG]``, ``oci-archive:FILE[:TAG]``, ``docker-archive:FILE[:REPO:TAG]``,
``dir:DIR`` (a root filesystem), ``docker://REF`` or ``registry:REF``, or a bare path (the kind is
detected) or a bare reference. A registry is reached with no egress restriction: this is the
``moorage scan`` command's choice, made by whoever runs it (the server's scans of tenants'
registries go through ``services.security`` with the operator's egress policy).
"""

from __future__ import annotations

from pathlib import Path

from moorage.clients.auth import Credentials
from moorage.clients.egress import EgressPolicy
from moorage.clients.reference import ImageReference, ReferenceError
from moorage.scanner.errors import ImageSourceError
from moorage.scanner.limits import DEFAULT_JSON_DEPTH
from moorage.scanner.sources.docker_archive import DockerArchiveSource
from moorage.scanner.sources.interface import ImageSource, LayerRef, LocalBlob, ResolvedImage
from moorage.scanner.sources.layout import OciArchiveSource, OciLayoutSource, TarMembers
from moorage.scanner.sources.rootfs import RootfsSource

__all__ = [
    "DockerArchiveSource",
    "ImageSource",
    "LayerRef",
    "LocalBlob",
    "OciArchiveSource",
    "OciLayoutSource",
    "RegistrySource",
    "ResolvedImage",
    "RootfsSource",
    "open_source",
]


def _split_tag(text: str) -> tuple[Path, str]:
    """``path[:tag]``: the longest prefix that exists is the path."""
    if Path(text).exists():
        return Path(text), ""
    head, sep, tag = text.partition(":")
    while sep:
        if Path(head).exists():
            return Path(head), tag
        more_head, sep, tag = tag.partition(":")
        head = f"{head}:{more_head}" if sep else head
        if not sep:
            break
    return Path(text), ""


def open_source(
    text: str,
    *,
    credentials: Credentials | None = None,
    plain_http: bool | None = None,
    max_json_depth: int = DEFAULT_JSON_DEPTH,
) -> ImageSource:
    """The image source ``text`` names (see the module docstring); a local image's JSON (index,
    manifests, configs) is read no deeper than ``max_json_depth``."""
    depth = max_json_depth
    kind, sep, rest = text.partition(":")
    if sep and kind in ("oci", "oci-archive", "docker-archive", "dir", "rootfs"):
        path, tag = _split_tag(rest)
        if kind == "oci":
            return OciLayoutSource(path, tag, max_json_depth=depth)
        if kind == "oci-archive":
            return OciArchiveSource(path, tag, max_json_depth=depth)
        if kind == "docker-archive":
            return DockerArchiveSource(path, tag, max_json_depth=depth)
        return RootfsSource(path)
    from moorage.scanner.sources.registry import RegistrySource  # httpx, only for remote images

    if sep and kind in ("docker", "registry"):
        return RegistrySource(
            ImageReference.parse(text),
            egress=EgressPolicy.unrestricted(),
            credentials=credentials,
            plain_http=plain_http,
        )
    path, tag = _split_tag(text)
    if path.is_dir():
        if (path / "index.json").is_file() and (path / "oci-layout").exists():
            return OciLayoutSource(path, tag, max_json_depth=depth)
        return RootfsSource(path)
    if path.is_file():
        members = TarMembers(path)
        if "index.json" in members.members:
            if "manifest.json" in members.members and not tag:
                return DockerArchiveSource(path, tag, members, max_json_depth=depth)
            return OciArchiveSource(path, tag, members, max_json_depth=depth)
        if "manifest.json" in members.members:
            return DockerArchiveSource(path, tag, members, max_json_depth=depth)
        raise ImageSourceError(f"{path} is neither an OCI nor a docker archive")
    try:
        reference = ImageReference.parse(text)
    except ReferenceError as exc:
        raise ImageSourceError(f"{text!r} is no file, directory or image reference") from exc
    return RegistrySource(reference, egress=EgressPolicy.unrestricted(), credentials=credentials, plain_http=plain_http)


def __getattr__(name: str) -> object:
    """``RegistrySource`` is imported on first use (it brings the HTTP client)."""
    if name == "RegistrySource":
        from moorage.scanner.sources.registry import RegistrySource

        return RegistrySource
    raise AttributeError(f"module 'moorage.scanner.sources' has no attribute {name!r}")
