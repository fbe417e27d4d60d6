"""A plain-text table for people (Rich), one row per package."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from moorage.scanner.image_inventory import ImageInventory
from moorage.scanner.sbom.interface import SbomWriter


def _short(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}:{hexdigest[:12]}" if hexdigest else digest


class TableWriter(SbomWriter):
    """Ecosystem, name, version, source, layer and path of every package."""

    format_name = "table"

    def render(self, inventories: list[ImageInventory]) -> str:
        """The tables as text (no colour codes)."""
        out = io.StringIO()
        console = Console(file=out, width=160, color_system=None, force_terminal=False)
        for inventory in inventories:
            distro = inventory.distro
            title = f"{inventory.name} {inventory.platform}".strip()
            if distro is not None:
                title += f" ({distro.pretty_name or distro.id + ' ' + distro.version_id})"
            table = Table(title=title, show_lines=False)
            for column in ("TYPE", "NAME", "VERSION", "SOURCE", "LAYER", "PATH"):
                table.add_column(column, overflow="fold")
            for package in inventory.packages:
                source = " ".join(x for x in (package.source_name, package.source_version) if x)
                table.add_row(
                    package.ecosystem.value,
                    package.name,
                    package.version,
                    source if package.source_name != package.name or package.source_version else "",
                    _short(package.layer_digest),
                    package.path,
                )
            console.print(table)
            console.print(f"{len(inventory.packages)} packages")
            for line in skipped_lines([(e.code, e.path, e.analyzer, e.message) for e in inventory.errors]):
                console.print(line, markup=False, highlight=False)
        return out.getvalue()


SHOWN_SKIPS = 5


def skipped_lines(skips: list[tuple[str, str, str, str]]) -> list[str]:
    """What the tables say about inputs left out: (code, path, plug-in, message), the first few."""
    if not skips:
        return []
    lines = [f"{len(skips)} inputs skipped or read in part (all of them with --format json):"]
    for code, path, plugin, message in skips[:SHOWN_SKIPS]:
        shown = message if len(message) <= 160 else message[:157] + "..."
        lines.append(f"  {code} {path} ({plugin}): {shown}")
    if len(skips) > SHOWN_SKIPS:
        lines.append(f"  ... and {len(skips) - SHOWN_SKIPS} more")
    return lines
