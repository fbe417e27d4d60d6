"""CycloneDX 1.6 JSON, written directly (cyclonedx-python-lib's model took a second for 500
components; its validator still checks our output in the tests): the image as the metadata
component, one component per package with its purl, licenses and moorage properties (layer,
path, source package), and a dependency entry tying them to the image."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import moorage
from moorage.scanner.image_inventory import ImageInventory
from moorage.scanner.inventory import Package
from moorage.scanner.sbom.interface import SbomWriter

SPEC_VERSION = "1.6"


@lru_cache(maxsize=4096)
def _license_kind(text: str) -> str:
    """``id`` for an SPDX license id, ``expression`` for an SPDX expression, else ``name``."""
    from cyclonedx.spdx import is_expression, is_supported_id  # light module; imported on first use

    if is_supported_id(text):
        return "id"
    if " " in text and is_expression(text):
        return "expression"
    return "name"


def _licenses(package: Package) -> list[dict[str, Any]]:
    texts = [t.strip() for t in package.licenses if t.strip()]
    kinds = [_license_kind(t) for t in texts]
    if len(texts) == 1 and kinds[0] == "expression":
        return [{"expression": texts[0]}]
    out = []
    for text, kind in zip(texts, kinds, strict=True):
        if kind == "id":
            from cyclonedx.spdx import fixup_id

            out.append({"license": {"id": fixup_id(text) or text}})
        else:
            out.append({"license": {"name": text}})
    return out


def _component(package: Package, bom_ref: str) -> dict[str, Any]:
    properties = [
        {"name": "moorage:ecosystem", "value": package.ecosystem.value},
        {"name": "moorage:layer_digest", "value": package.layer_digest or "-"},
        {"name": "moorage:path", "value": package.path or "-"},
    ]
    if package.source_name:
        properties.append({"name": "moorage:source_name", "value": package.source_name})
    if package.source_version:
        properties.append({"name": "moorage:source_version", "value": package.source_version})
    for key, value in sorted(package.metadata.items()):
        properties.append({"name": f"moorage:{key}", "value": value or "-"})
    name = package.name
    if package.namespace and name.startswith(package.namespace + "/"):
        name = name[len(package.namespace) + 1 :]  # npm, Go, Composer: group + short name
    component: dict[str, Any] = {"type": "library", "bom-ref": bom_ref, "name": name}
    if package.namespace:
        component["group"] = package.namespace
    component["version"] = package.version
    licenses = _licenses(package)
    if licenses:
        component["licenses"] = licenses
    if package.purl:  # none for a Java archive without a Maven group id (no valid purl exists)
        component["purl"] = package.purl
    component["properties"] = properties
    return component


def package_bom_ref(package: Package) -> str:
    """The ``bom-ref`` of a package's component (stable: purl, path and location)."""
    key = f"{package.purl}|{package.path}|{package.metadata.get('location', '')}"
    return "pkg:" + hashlib.sha256(key.encode()).hexdigest()[:24]


def bom_document(inventories: list[ImageInventory]) -> dict[str, Any]:
    """The BOM as a JSON object (``moorage scan --format cyclonedx`` adds its vulnerabilities)."""
    first = inventories[0]
    root: dict[str, Any] = {"type": "container", "bom-ref": "image", "name": first.name}
    if first.manifest_digest:
        root["version"] = first.manifest_digest
    components: list[dict[str, Any]] = []
    refs: list[str] = []
    seen: set[str] = set()
    for inventory in inventories:
        for package in inventory.packages:
            bom_ref = package_bom_ref(package)
            if bom_ref in seen:
                continue
            seen.add(bom_ref)
            refs.append(bom_ref)
            components.append(_component(package, bom_ref))
    return {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "moorage", "version": moorage.__version__}]},
            "component": root,
        },
        "components": components,
        "dependencies": [{"ref": "image", "dependsOn": refs}] + [{"ref": ref} for ref in refs],
    }


class CycloneDxWriter(SbomWriter):
    """CycloneDX JSON (specification 1.6)."""

    format_name = "cyclonedx"

    def render(self, inventories: list[ImageInventory]) -> str:
        """One BOM; with several platforms, every platform's packages under the one image."""
        return json.dumps(bom_document(inventories), indent=2)
