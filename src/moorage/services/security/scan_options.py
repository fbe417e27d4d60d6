"""How this deployment's scans run, from the ``scanner`` settings: the engine's options and the
scanner's bounds."""

from __future__ import annotations

from moorage.metadata.database import Database
from moorage.scanner.cache import LayerCache
from moorage.scanner.limits import ScanLimits
from moorage.services.security import engine
from moorage.services.security.layer_cache import layer_cache_of
from moorage.settings import Settings


def engine_options(
    settings: Settings, db: Database, scanners: tuple[str, ...] = engine.ALL_SCANNERS, cache: LayerCache | None = None
) -> engine.EngineOptions:
    """How this deployment's scans run."""
    scanner = settings.scanner
    return engine.EngineOptions(
        scanners=scanners,
        cache=cache or layer_cache_of(settings, db),
        workers=scanner.analysis_workers,
        executor=scanner.analysis_executor,
        max_image_bytes=scanner.max_image_bytes,
        max_layers=scanner.max_layers,
        limits=scan_limits_of(settings),
    )


def scan_limits_of(settings: Settings) -> ScanLimits:
    """The scanner's bounds from the ``scanner`` settings."""
    scanner = settings.scanner
    return ScanLimits(
        max_layer_bytes=scanner.max_layer_uncompressed_bytes,
        max_image_bytes=scanner.max_image_uncompressed_bytes,
        max_layer_members=scanner.max_layer_members,
        max_image_members=scanner.max_image_members,
        max_file_bytes=scanner.max_file_bytes,
        max_archive_depth=scanner.max_archive_depth,
        max_archive_members=scanner.max_archive_members,
        max_archive_bytes=scanner.max_archive_bytes,
        max_json_depth=scanner.max_json_depth,
    )
