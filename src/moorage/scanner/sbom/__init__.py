"""SBOM and inventory output formats, and :func:`make_writer`, their factory."""

from __future__ import annotations

from moorage.scanner.sbom.cyclonedx import CycloneDxWriter
from moorage.scanner.sbom.interface import SbomWriter
from moorage.scanner.sbom.inventory_json import InventoryJsonWriter
from moorage.scanner.sbom.spdx import SpdxWriter
from moorage.scanner.sbom.table import TableWriter

WRITERS: dict[str, type[SbomWriter]] = {
    cls.format_name: cls for cls in (CycloneDxWriter, SpdxWriter, InventoryJsonWriter, TableWriter)
}

__all__ = ["WRITERS", "SbomWriter", "make_writer"]


def make_writer(format_name: str) -> SbomWriter:
    """The writer for ``cyclonedx``, ``spdx``, ``json`` or ``table``."""
    try:
        return WRITERS[format_name]()
    except KeyError:
        raise ValueError(f"unknown format {format_name!r}; use one of {', '.join(WRITERS)}") from None
