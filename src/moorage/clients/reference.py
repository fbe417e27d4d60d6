"""Image references (``[host[:port]/]repository[:tag][@digest]``) as the Docker CLI reads them."""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "registry-1.docker.io"
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")


class ReferenceError(ValueError):
    """The text is not an image reference."""


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A parsed image reference."""

    registry: str
    """``host[:port]`` of the registry (Docker Hub is ``registry-1.docker.io``)."""
    repository: str
    """Repository path (``library/debian`` on Docker Hub for ``debian``)."""
    tag: str = ""
    """Tag, empty when a digest is given or defaulted to ``latest``."""
    digest: str = ""
    """``sha256:...`` when the reference pins one."""

    @property
    def reference(self) -> str:
        """What to put after ``/manifests/``: the digest if any, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse a reference; a first component with ``.`` or ``:`` or ``localhost`` is a host."""
        rest = text.strip()
        for prefix in ("docker://", "registry:"):
            rest = rest.removeprefix(prefix)
        if not rest or len(rest) > 1024:
            raise ReferenceError(f"{text!r} is not an image reference")
        digest = ""
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            if not _DIGEST.match(digest):
                raise ReferenceError(f"bad digest in {text!r}")
        first, _, remainder = rest.partition("/")
        if remainder and ("." in first or ":" in first or first == "localhost"):
            registry, path = first, remainder
        else:
            registry, path = DOCKER_HUB, rest
        tag = ""
        last_slash = path.rfind("/")
        colon = path.rfind(":")
        if colon > last_slash:
            path, tag = path[:colon], path[colon + 1 :]
            if not _TAG.match(tag):
                raise ReferenceError(f"bad tag in {text!r}")
        if registry == DOCKER_HUB and "/" not in path:
            path = f"library/{path}"
        if not _REPOSITORY.match(path):
            raise ReferenceError(f"bad repository name in {text!r}")
        if not tag and not digest:
            tag = "latest"
        return cls(registry, path, tag, digest)
