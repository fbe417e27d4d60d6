"""The analysis orchestrator: image source -> layer passes (parallel, cached) -> flattened view ->
analyzers -> :class:`ImageInventory`.

Layers missing from the cache are read in parallel, one pass each, by every plug-in at once
(analyzers and any extra plug-ins such as the checks). Processes are the default: tar parsing
holds the GIL, and on this 2-core machine, on the 5-layer benchmark image, processes took 3.9 s,
threads 4.0 s and one thread 4.6 s (bench/sbom_bench.py; the decompression already runs in its
own thread inside each pass, which is why threads come close).

The image-wide bounds of ``AnalysisOptions.limits`` (uncompressed bytes, members) count every
layer, those loaded from the cache too, so an image is refused the same way cold or warm: each
layer read is given what the others left (:class:`~moorage.scanner.layer_budget.LayerBudget`), and the
totals are checked once every layer is in.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

import moorage
from moorage.domain.oci_platform import Platform
from moorage.scanner.analyzers import default_analyzers
from moorage.scanner.analyzers.interface import AnalysisContext, Analyzer
from moorage.scanner.cache import LayerCache, merge_scans
from moorage.scanner.directory_layer import scan_directory
from moorage.scanner.errors import LayerError, LimitExceeded
from moorage.scanner.flatten import FlatView
from moorage.scanner.image_inventory import ImageInventory, InventoryError
from moorage.scanner.interface import LayerPlugin
from moorage.scanner.inventory import Distro, Ecosystem, Package
from moorage.scanner.layer_budget import LayerBudget
from moorage.scanner.layers import READER, LayerScan, scan_tar_layer
from moorage.scanner.limits import LimitCode, ScanLimits
from moorage.scanner.sources.interface import ImageSource, LayerRef, ResolvedImage, resolve_images

OS_ECOSYSTEMS = frozenset({Ecosystem.DEB, Ecosystem.APK, Ecosystem.RPM})

ProgressCallback = Callable[[str, int, int], None]
"""Called as ``(what, done, total)``: ``what`` is ``"layer"`` after each layer is read or found cached."""


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    """How to run an analysis."""

    analyzers: tuple[Analyzer, ...] = field(default_factory=lambda: tuple(default_analyzers()))
    """Package analyzers (default: all)."""
    extra_plugins: tuple[LayerPlugin, ...] = ()
    """Other plug-ins to run in the same layer passes (checks)."""
    cache: LayerCache | None = None
    """Layer-result cache; None reads every layer."""
    workers: int = 0
    """Parallel layer readers; 0 means one per core."""
    executor: str = "process"
    """``process``, ``thread`` or ``serial``."""
    limits: ScanLimits = field(default_factory=ScanLimits)
    """How much of the image may be read (every plug-in is bound to them for the scan)."""


@dataclass(frozen=True, slots=True)
class ImageAnalysis:
    """One analysed image: the inventory and the flattened view (for checks and reports)."""

    image: ResolvedImage
    """The image as resolved from its source."""
    view: FlatView
    """Layer scans, flattened."""
    inventory: ImageInventory
    """Packages and distro."""
    timings: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
    """Seconds spent reading (or loading) the layers (``layers``) and flattening and running the
    analyzers (``analysis``)."""


def scan_layer(layer: LayerRef, plugins: Sequence[LayerPlugin], budget: LayerBudget | None = None) -> LayerScan:
    """One pass over one layer (runs in a worker process or thread)."""
    if layer.directory:
        return scan_directory(layer.directory, digest=layer.digest, plugins=plugins, budget=budget)
    if layer.blob is None:
        raise LayerError(f"layer {layer.digest} has not been fetched")
    return scan_tar_layer(
        layer.blob.open, digest=layer.digest, plugins=plugins, verify_digest=layer.verify_digest, budget=budget
    )


def check_image_totals(scans: Sequence[LayerScan], limits: ScanLimits) -> None:
    """Refuse an image whose layers together pass the image bounds (LimitExceeded)."""
    total_bytes = sum(scan.uncompressed_bytes for scan in scans)
    if total_bytes > limits.max_image_bytes:
        raise LimitExceeded(
            LimitCode.IMAGE_TOO_LARGE,
            f"the image is larger than {limits.max_image_bytes} bytes uncompressed (the image limit): "
            f"its layers hold {total_bytes}",
            setting="max_image_bytes",
            limit=limits.max_image_bytes,
        )
    total_members = sum(scan.members for scan in scans)
    if total_members > limits.max_image_members:
        raise LimitExceeded(
            LimitCode.IMAGE_TOO_MANY_MEMBERS,
            f"the image lists more than {limits.max_image_members} files (the image member limit): "
            f"its layers list {total_members}",
            setting="max_image_members",
            limit=limits.max_image_members,
        )


def _executor(kind: str, workers: int, jobs: int) -> Executor | None:
    if kind == "serial" or jobs <= 1:
        return None
    count = max(1, min(workers or os.cpu_count() or 1, jobs))
    if count == 1:
        return None
    if kind == "thread":
        return ThreadPoolExecutor(count)
    if kind == "process":
        return ProcessPoolExecutor(count)
    raise ValueError(f"unknown executor {kind!r}: use process, thread or serial")


def scan_image_layers(
    source: ImageSource,
    image: ResolvedImage,
    plugins: Sequence[LayerPlugin],
    *,
    cache: LayerCache | None,
    workers: int = 0,
    executor: str = "process",
    progress: ProgressCallback | None = None,
    limits: ScanLimits | None = None,
) -> tuple[ResolvedImage, list[LayerScan]]:
    """Every layer's scan for ``plugins``: from the cache where possible, else one pass each, each
    within what the image bounds leave it."""
    limits = limits or ScanLimits()
    total = len(image.layers)
    scans: dict[int, LayerScan] = {}
    todo: list[tuple[int, list[LayerPlugin]]] = []
    for index, layer in enumerate(image.layers):
        cached, missing = cache.load(layer.digest, plugins) if cache is not None else (None, list(plugins))
        if cached is not None and not missing:
            scans[index] = cached
        else:
            if cached is not None:
                scans[index] = cached
            todo.append((index, missing))
    done = total - len(todo)
    if progress:
        progress("layer", done, total)
    check_image_totals(list(scans.values()), limits)  # the cached layers alone: refused before a download
    if todo:
        image = source.fetch(image, [image.layers[i] for i, _ in todo])
    pool = _executor(executor, workers, len(todo))
    try:
        futures: list[tuple[int, list[LayerPlugin], Future[LayerScan] | None]] = []
        largest_first = sorted(todo, key=lambda item: -image.layers[item[0]].size) if pool else todo
        known = [scans[i] for i in scans if i not in {index for index, _ in todo}]
        for index, wanted in largest_first:
            job = pool.submit(scan_layer, image.layers[index], wanted, _budget(limits, known)) if pool else None
            futures.append((index, wanted, job))
        for index, wanted, job in futures:
            if job is not None:
                fresh = job.result()
            else:
                fresh = scan_layer(image.layers[index], wanted, _budget(limits, known))
                known.append(fresh)
            if cache is not None:
                cache.store(fresh, wanted)
            scans[index] = merge_scans(scans[index], fresh) if index in scans else fresh
            done += 1
            if progress:
                progress("layer", done, total)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    ordered = [scans[i] for i in range(total)]
    check_image_totals(ordered, limits)
    return image, ordered


def _budget(limits: ScanLimits, known: Sequence[LayerScan]) -> LayerBudget:
    """What a layer may hold, given the layers of the image already known."""
    return LayerBudget(
        limits=limits,
        image_bytes_left=limits.max_image_bytes - sum(scan.uncompressed_bytes for scan in known),
        image_members_left=limits.max_image_members - sum(scan.members for scan in known),
    )


def analyze_view(view: FlatView, analyzers: Sequence[Analyzer]) -> tuple[Distro | None, list[Package]]:
    """Run the analyzers' ``collect`` in stage order; drop language packages OS packages own."""
    context = AnalysisContext()
    owned: set[str] = set()
    os_packages: list[Package] = []
    other: list[Package] = []
    for analyzer in sorted(analyzers, key=lambda a: a.stage):
        output = analyzer.collect(view, context)
        if output.distro is not None:
            context = AnalysisContext(distro=output.distro)
        owned.update(output.owned_paths)
        for package in output.packages:
            (os_packages if package.ecosystem in OS_ECOSYSTEMS else other).append(package)
    kept = [p for p in other if p.path not in owned]
    packages = sorted([*os_packages, *kept], key=lambda p: (p.ecosystem.value, p.name, p.version, p.path))
    return context.distro, packages


def analyze_image(
    source: ImageSource,
    image: ResolvedImage,
    options: AnalysisOptions,
    progress: ProgressCallback | None = None,
) -> ImageAnalysis:
    """Scan (or load) the image's layers, flatten them and run the analyzers."""
    plugins = [plugin.bound_to(options.limits) for plugin in (*options.analyzers, *options.extra_plugins)]
    started = time.perf_counter()
    image, scans = scan_image_layers(
        source,
        image,
        plugins,
        cache=options.cache,
        workers=options.workers,
        executor=options.executor,
        progress=progress,
        limits=options.limits,
    )
    layers_done = time.perf_counter()
    view = FlatView(scans)
    distro, packages = analyze_view(view, options.analyzers)
    analyzer_names = {a.name for a in options.analyzers}
    errors = tuple(
        InventoryError(e.plugin, e.path, scan.digest, e.message, e.code.value)
        for scan in scans
        for e in scan.errors
        if e.plugin in analyzer_names or e.plugin == READER
    )
    inventory = ImageInventory(
        name=image.name,
        manifest_digest=image.manifest_digest,
        platform=str(image.platform) if image.platform else "",
        layers=tuple(layer.digest for layer in image.layers),
        distro=distro,
        packages=tuple(packages),
        errors=errors,
        analyzers={a.name: a.version for a in options.analyzers},
        generator=f"moorage {moorage.__version__}",
    )
    timings = {"layers": layers_done - started, "analysis": time.perf_counter() - layers_done}
    return ImageAnalysis(image, view, inventory, timings)


def analyze(
    source: ImageSource,
    *,
    platform: Platform | None,
    all_platforms: bool = False,
    options: AnalysisOptions | None = None,
    progress: ProgressCallback | None = None,
) -> list[ImageAnalysis]:
    """Analyse the image(s) a source holds: the one for ``platform`` (default: the host's) or all."""
    options = options or AnalysisOptions()
    images = resolve_images(source, platform, all_platforms=all_platforms)
    return [analyze_image(source, image, options, progress) for image in images]
