"""SPDX 2.3 JSON, written directly: one package for the image and one per found package (with a
purl external reference when it has a purl; a Java archive without a Maven group id has none and
is named by its file instead), linked by CONTAINS relationships."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import moorage
from moorage.scanner.image_inventory import ImageInventory
from moorage.scanner.inventory import Package
from moorage.scanner.sbom.interface import SbomWriter

NAMESPACE_BASE = "https://moorage.invalid/spdx"
_ID_CHARS = re.compile(r"[^A-Za-z0-9.-]")


def spdx_license(package: Package) -> str:
    """An SPDX license expression for the package, or NOASSERTION when none can be given."""
    parts = [t.strip() for t in package.licenses if t.strip()]
    if not parts:
        return "NOASSERTION"
    from cyclonedx.spdx import is_expression, is_supported_id  # SPDX license list, loaded on use

    if all(is_supported_id(p) or is_expression(p) for p in parts):
        return parts[0] if len(parts) == 1 else " AND ".join(f"({p})" if " " in p else p for p in parts)
    return "NOASSERTION"


def _package_doc(package: Package, spdx_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "SPDXID": spdx_id,
        "name": package.name,
        "versionInfo": package.version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": spdx_license(package),
        "copyrightText": "NOASSERTION",
        "sourceInfo": f"{package.ecosystem.value} record at {package.path} in layer {package.layer_digest}",
    }
    if package.purl:
        doc["externalRefs"] = [
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": package.purl}
        ]
    else:
        doc["packageFileName"] = package.metadata.get("location") or package.path
    if package.namespace:
        doc["supplier"] = "NOASSERTION"
    if package.source_name:
        doc["comment"] = f"source package {package.source_name} {package.source_version}".strip()
    return doc


class SpdxWriter(SbomWriter):
    """SPDX 2.3 JSON."""

    format_name = "spdx"

    def render(self, inventories: list[ImageInventory]) -> str:
        """One document describing every image given."""
        first = inventories[0]
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        packages: list[dict[str, Any]] = []
        relationships: list[dict[str, str]] = []
        counter = 0
        for index, inventory in enumerate(inventories):
            image_id = f"SPDXRef-Image-{index}"
            packages.append(
                {
                    "SPDXID": image_id,
                    "name": inventory.name,
                    "versionInfo": inventory.manifest_digest or "NOASSERTION",
                    "downloadLocation": "NOASSERTION",
                    "filesAnalyzed": False,
                    "licenseConcluded": "NOASSERTION",
                    "licenseDeclared": "NOASSERTION",
                    "copyrightText": "NOASSERTION",
                    "primaryPackagePurpose": "CONTAINER",
                    "comment": f"platform {inventory.platform or 'unknown'}",
                }
            )
            relationships.append(
                {
                    "spdxElementId": "SPDXRef-DOCUMENT",
                    "relationshipType": "DESCRIBES",
                    "relatedSpdxElement": image_id,
                }
            )
            for package in inventory.packages:
                counter += 1
                spdx_id = f"SPDXRef-Package-{package.ecosystem.value}-{_ID_CHARS.sub('-', package.name)}-{counter}"
                packages.append(_package_doc(package, spdx_id))
                relationships.append(
                    {"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": spdx_id}
                )
        document = {
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": first.name,
            "documentNamespace": f"{NAMESPACE_BASE}/{_ID_CHARS.sub('-', first.name)}-{uuid.uuid4()}",
            "creationInfo": {"created": created, "creators": [f"Tool: moorage-{moorage.__version__}"]},
            "packages": packages,
            "relationships": relationships,
        }
        return json.dumps(document, indent=2)
