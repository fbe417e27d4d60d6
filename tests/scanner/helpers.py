"""Shortcuts for scanner tests: analyse hand-built layers through the real pipeline."""

from __future__ import annotations

from pathlib import Path

from moorage.domain.oci_platform import Platform
from moorage.scanner.analysis import AnalysisOptions, ImageAnalysis, analyze
from moorage.scanner.analyzers import default_analyzers
from moorage.scanner.analyzers.interface import Analyzer
from moorage.scanner.cache import LayerCache
from moorage.scanner.inventory import Ecosystem, Package
from moorage.scanner.sources import OciLayoutSource
from tests.scanner.imagebuild import ImageSpec, Layer, LayerBuilder, write_oci_layout


def analyze_layers(
    tmp_path: Path,
    layers: list[LayerBuilder | Layer],
    *,
    analyzers: list[Analyzer] | None = None,
    cache: LayerCache | None = None,
    executor: str = "serial",
    compression: str = "gzip",
) -> ImageAnalysis:
    """Write the layers as an OCI layout and analyse it (serially unless told otherwise)."""
    finished = [layer if isinstance(layer, Layer) else Layer.of(layer, compression) for layer in layers]
    root = tmp_path / f"layout-{len(list(tmp_path.glob('layout-*')))}"
    write_oci_layout(root, ImageSpec(finished))
    options = AnalysisOptions(analyzers=tuple(analyzers or default_analyzers()), cache=cache, executor=executor)
    with OciLayoutSource(root) as source:
        (result,) = analyze(source, platform=Platform("linux", "amd64"), options=options)
    return result


def by_name(packages: tuple[Package, ...] | list[Package], ecosystem: Ecosystem) -> dict[str, Package]:
    """Packages of one ecosystem keyed by name (fails on duplicates)."""
    out: dict[str, Package] = {}
    for package in packages:
        if package.ecosystem is ecosystem:
            assert package.name not in out, f"duplicate {package.name}"
            out[package.name] = package
    return out
