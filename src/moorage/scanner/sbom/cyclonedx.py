"""CycloneDX 1.6 JSON through cyclonedx-python-lib: the image as the metadata component, one
component per package with its purl, licenses, and moorage properties (layer, path, source)."""

from __future__ import annotations

import hashlib

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL

from moorage.scanner.image_inventory import ImageInventory
from moorage.scanner.inventory import Package
from moorage.scanner.sbom.interface import SbomWriter

SCHEMA_VERSION = SchemaVersion.V1_6


def _licenses(package: Package, factory: LicenseFactory) -> list[License]:
    made: list[License] = [factory.make_from_string(text) for text in package.licenses if text.strip()]
    if len(made) > 1 and any(isinstance(m, LicenseExpression) for m in made):
        return [DisjunctiveLicense(name=text) for text in package.licenses if text.strip()]
    return made


def _component(package: Package, factory: LicenseFactory) -> Component:
    ref = hashlib.sha256(f"{package.purl}|{package.path}|{package.metadata.get('location', '')}".encode())
    properties = [
        Property(name="moorage:ecosystem", value=package.ecosystem.value),
        Property(name="moorage:layer_digest", value=package.layer_digest or "-"),
        Property(name="moorage:path", value=package.path or "-"),
    ]
    if package.source_name:
        properties.append(Property(name="moorage:source_name", value=package.source_name))
    if package.source_version:
        properties.append(Property(name="moorage:source_version", value=package.source_version))
    for key, value in sorted(package.metadata.items()):
        properties.append(Property(name=f"moorage:{key}", value=value or "-"))
    return Component(
        name=package.name,
        version=package.version,
        type=ComponentType.LIBRARY,
        group=package.namespace or None,
        purl=PackageURL.from_string(package.purl),
        bom_ref=f"pkg:{ref.hexdigest()[:24]}",
        licenses=_licenses(package, factory),
        properties=properties,
    )


class CycloneDxWriter(SbomWriter):
    """CycloneDX JSON (schema 1.6)."""

    format_name = "cyclonedx"

    def render(self, inventories: list[ImageInventory]) -> str:
        """One BOM; with several platforms, one container component per platform."""
        factory = LicenseFactory()
        bom = Bom()
        first = inventories[0]
        root = Component(
            name=first.name,
            type=ComponentType.CONTAINER,
            version=first.manifest_digest or None,
            bom_ref="image",
        )
        bom.metadata.component = root
        seen: set[str] = set()
        for inventory in inventories:
            for package in inventory.packages:
                component = _component(package, factory)
                if str(component.bom_ref) in seen:
                    continue
                seen.add(str(component.bom_ref))
                bom.components.add(component)
                bom.register_dependency(root, [component])
        return make_outputter(bom, OutputFormat.JSON, SCHEMA_VERSION).output_as_string(indent=2)
