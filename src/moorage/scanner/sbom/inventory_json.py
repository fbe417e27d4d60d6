"""The moorage inventory JSON (``moorage-inventory/1``; see docs/inventory-format.md)."""

from __future__ import annotations

import json

from moorage.scanner.image_inventory import ImageInventory, inventory_to_json
from moorage.scanner.sbom.interface import SbomWriter


class InventoryJsonWriter(SbomWriter):
    """One inventory object, or a list of them for several platforms."""

    format_name = "json"

    def render(self, inventories: list[ImageInventory]) -> str:
        """Indented JSON."""
        docs = [inventory_to_json(i) for i in inventories]
        return json.dumps(docs[0] if len(docs) == 1 else docs, indent=2, sort_keys=False)
