"""A root filesystem directory as an image of one layer (nothing is followed out of it)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from moorage.domain.oci_platform import Platform
from moorage.scanner.errors import ImageSourceError
from moorage.scanner.sources.interface import ImageSource, LayerRef, ResolvedImage


class RootfsSource(ImageSource):
    """A directory holding an unpacked root filesystem."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ImageSourceError(f"{root} is not a directory")
        self.root = root.resolve()

    def resolve(self, platform: Platform | None) -> list[ResolvedImage]:
        """One image with one pseudo-layer: the directory (never cached)."""
        layer_id = "dir:" + hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        layer = LayerRef(layer_id, directory=str(self.root), verify_digest=False)
        return [ResolvedImage(str(self.root), "", None, (layer,))]
