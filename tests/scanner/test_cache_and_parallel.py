"""Layer cache (directory and memory) and parallel layer passes give the same inventory."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from moorage.domain.oci_platform import Platform
from moorage.scanner.analysis import AnalysisOptions, analyze
from moorage.scanner.analyzers import default_analyzers
from moorage.scanner.cache import DirectoryLayerCache, MemoryLayerCache, make_cache
from moorage.scanner.cache.codec import decode_files, encode_files
from moorage.scanner.errors import ScannerError
from moorage.scanner.files import FileEntry
from moorage.scanner.interface import JsonValue, LayerPlugin
from moorage.scanner.layers import scan_tar_layer
from moorage.scanner.sources import OciLayoutSource
from tests.scanner.imagebuild import LayerBuilder

AMD64 = Platform("linux", "amd64")


class CountingPlugin(LayerPlugin):
    """A check-like plug-in: records file sizes under /usr/local."""

    name = "counting"
    version = "1"

    def wants(self, entry: FileEntry) -> bool:
        return entry.path.startswith("/usr/local/")

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        return len(content)


def _inventory(layout: Path, **options: object) -> tuple[object, ...]:
    with OciLayoutSource(layout) as source:
        (result,) = analyze(source, platform=AMD64, options=AnalysisOptions(**options))  # type: ignore[arg-type]
    return result.inventory.packages


@pytest.mark.parametrize("executor", ["serial", "thread", "process"])
def test_executors_agree(small_layout: Path, executor: str) -> None:
    assert _inventory(small_layout, executor=executor, workers=2) == _inventory(small_layout, executor="serial")


def test_directory_cache_round_trip_skips_reading(small_layout: Path, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(small_layout, layout)
    cache = DirectoryLayerCache(tmp_path / "cache")
    cold = _inventory(layout, cache=cache, executor="serial")
    stored = list((tmp_path / "cache").rglob("*.json"))
    assert any(p.name == "files.json" for p in stored) and any(p.name.startswith("dpkg@") for p in stored)
    for blob in (layout / "blobs/sha256").iterdir():  # layers unreadable: a warm run must not need them
        if blob.read_bytes()[:2] in (b"\x1f\x8b", b"\x28\xb5"):
            blob.write_bytes(b"gone")
    assert _inventory(layout, cache=cache, executor="serial") == cold
    with pytest.raises(ScannerError):
        _inventory(layout, executor="serial")


def test_cache_reads_layer_again_only_for_missing_plugins(small_layout: Path) -> None:
    cache = MemoryLayerCache()
    analyzers = tuple(default_analyzers())
    _inventory(small_layout, cache=cache, analyzers=analyzers, executor="serial")
    with OciLayoutSource(small_layout) as source:
        (image,) = source.resolve(AMD64)
    plugin = CountingPlugin()
    found, missing = cache.load(image.layers[1].digest, [*analyzers, plugin])
    assert found is not None and missing == [plugin]
    with OciLayoutSource(small_layout) as source:
        (result,) = analyze(
            source,
            platform=AMD64,
            options=AnalysisOptions(analyzers=analyzers, extra_plugins=(plugin,), cache=cache, executor="serial"),
        )
    assert any(r.plugin == "counting" for r in result.view.layer_results())
    found, missing = cache.load(image.layers[1].digest, [*analyzers, plugin])
    assert missing == []


def test_corrupt_cache_entry_is_a_miss(tmp_path: Path) -> None:
    cache = DirectoryLayerCache(tmp_path)
    digest = "sha256:" + "ab" * 32
    tar = LayerBuilder().file("/usr/local/x", "abc").tar_bytes()
    scan = scan_tar_layer(lambda: io.BytesIO(tar), digest=digest, plugins=[CountingPlugin()], verify_digest=False)
    cache.store(scan, [CountingPlugin()])
    (tmp_path / "sha256" / ("ab" * 32) / "counting@1.json").write_text("{broken")
    found, missing = cache.load(digest, [CountingPlugin()])
    assert found is not None and len(missing) == 1
    assert decode_files(encode_files(scan)).entries == scan.entries


def test_cache_factory() -> None:
    assert make_cache("none") is None
    assert isinstance(make_cache("memory"), MemoryLayerCache)
    with pytest.raises(ValueError):
        make_cache("redis")
