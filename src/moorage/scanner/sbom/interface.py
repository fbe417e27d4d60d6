"""SBOM writers: one per output format, each turning an :class:`ImageInventory` into text."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from moorage.scanner.image_inventory import ImageInventory


class SbomWriter(ABC):
    """Renders inventories in one format."""

    format_name: ClassVar[str]
    """What ``--format`` calls it."""

    @abstractmethod
    def render(self, inventories: list[ImageInventory]) -> str:
        """The document for one or more images (several only for ``--platform all``)."""
