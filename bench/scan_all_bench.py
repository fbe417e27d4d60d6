"""Benchmark: "scan everything" the way the registry's workers do it.

N images (default 200) share three base layers (a Debian-like package database, two thousand
small files, fifty Python packages) and add one small layer each (one Python package of its own).
Each image is scanned through the registry's digest scanner (claim, scan with every scanner,
results and findings written to the metadata database), with the layer cache in the database
(``database``, what the workers share) and, for comparison, in a directory (``directory``). A
second pass rescans everything with every layer cached. Printed: images per second, and the number
of layer reads, which must equal the number of distinct layers (3 + N).

    PYTHONPATH=src .venv/bin/python bench/scan_all_bench.py [--images 200] [--caches database,directory]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from moorage.domain.manifests import ParsedManifest, parse_manifest
from moorage.metadata.database import Database, now_ms
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import jobs as jobs_q
from moorage.scanner.advisories.builder import build_database
from moorage.scanner.advisories.sources import parse_source
from moorage.scanner.cache import DirectoryLayerCache, LayerCache
from moorage.scanner.interface import LayerPlugin
from moorage.scanner.layers import LayerScan
from moorage.scanner.sources.interface import ImageSource
from moorage.scanner.sources.layout import OciLayoutSource
from moorage.services.security import engine
from moorage.services.security.layer_cache import DatabaseLayerCache
from moorage.services.security.scanning import DigestScanner
from moorage.services.security.sources import ImageOrigin

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _layer(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path, content in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(content), 0, 0o644
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def _dist_info(name: str, version: str) -> dict[str, bytes]:
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"
    return {f"usr/lib/python3/dist-packages/{name}-{version}.dist-info/METADATA": metadata.encode()}


def base_layers() -> list[bytes]:
    """Three shared layers: an OS with a package database, many small files, Python packages."""
    status = "".join(
        f"Package: pkg{i}\nStatus: install ok installed\nVersion: 1.{i}-1\nArchitecture: amd64\n\n" for i in range(200)
    )
    system = {
        "etc/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
        "var/lib/dpkg/status": status.encode(),
    }
    files = {f"usr/share/doc/file{i:04d}.txt": (f"line {i}\n" * 40).encode() for i in range(2000)}
    python: dict[str, bytes] = {}
    for i in range(50):
        python.update(_dist_info(f"lib{i}", f"1.{i}.0"))
    python.update(_dist_info("requests", "2.30.0"))
    return [_layer(system), _layer(files), _layer(python)]


@dataclass(frozen=True)
class Layout:
    path: Path
    digests: dict[str, str]
    """manifest digest -> tag."""
    unique_layers: int


def write_layout(directory: Path, count: int) -> Layout:
    """An OCI layout with ``count`` images over the shared base layers."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def put(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}"

    base = [(put(b), len(b)) for b in base_layers()]
    entries, digests = [], {}
    for n in range(count):
        top = _layer({**_dist_info(f"app{n}", "0.1.0"), f"srv/app{n}/main.py": f"print({n})\n".encode()})
        layers = [*base, (put(top), len(top))]
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"User": "app"},
                "rootfs": {"type": "layers", "diff_ids": []},
            }
        ).encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": put(config),
                    "size": len(config),
                },
                "layers": [
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s}
                    for d, s in layers
                ],
            }
        ).encode()
        digest = put(manifest)
        digests[digest] = f"img{n}"
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": f"img{n}"},
            }
        )
    (directory / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))
    return Layout(directory, digests, 3 + count)


class LayoutOrigin(ImageOrigin):
    """The benchmark's images, read from the layout."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def document(self, digest: str) -> ParsedManifest:
        """See :meth:`ImageOrigin.document`."""
        return parse_manifest((self.layout.path / "blobs" / "sha256" / digest[7:]).read_bytes(), None)

    def image_source(self, digest: str) -> ImageSource:
        """See :meth:`ImageOrigin.image_source`."""
        return OciLayoutSource(self.layout.path, self.layout.digests[digest])


class CountingCache(LayerCache):
    """Counts the layers actually read: every read layer is stored once afterwards."""

    def __init__(self, inner: LayerCache) -> None:
        self.inner = inner
        self.reads = 0

    def load(self, digest: str, plugins: Sequence[LayerPlugin]) -> tuple[LayerScan | None, list[LayerPlugin]]:
        """See :meth:`LayerCache.load`."""
        return self.inner.load(digest, plugins)

    def store(self, scan: LayerScan, plugins: Sequence[LayerPlugin]) -> None:
        """See :meth:`LayerCache.store`."""
        self.reads += 1
        self.inner.store(scan, plugins)


def advisories(directory: Path) -> Path:
    """A small advisory database (OSV, PyPI): ``requests`` below 2.31.0."""
    feeds = directory / "osv"
    feeds.mkdir(parents=True)
    (feeds / "GHSA-bench.json").write_text(
        json.dumps(
            {
                "schema_version": "1.6.0",
                "id": "GHSA-bench-0001-0001",
                "modified": "2024-01-01T00:00:00Z",
                "aliases": ["CVE-2099-0001"],
                "summary": "bench",
                "details": "",
                "references": [],
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "requests"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.31.0"}]}],
                    }
                ],
            }
        )
    )
    database = directory / "vulndb.sqlite"
    build_database([parse_source(f"osv:{feeds}")], database)
    return database


@dataclass(frozen=True)
class PassFigures:
    cache: str
    images: int
    layer_reads: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.images / self.seconds


def scan_all(
    db: Database, layout: Layout, cache: LayerCache, vulndb: Path, executor: str, pass_name: str
) -> tuple[float, int]:
    """Scan every image once (as one task would); (seconds, layer reads)."""
    counting = CountingCache(cache)
    job_id = f"bench-{pass_name}-{os.getpid()}"[:32]
    db.run_write(
        lambda conn: jobs_q.create(
            conn, job_id=job_id, kind="bench", params={}, max_attempts=1, dedupe_key=None, domain_id=None
        )
    )
    scanner = DigestScanner(db, job_id, engine.EngineOptions(cache=counting, executor=executor), vulndb)
    origin = LayoutOrigin(layout)
    not_before = now_ms()
    started = time.perf_counter()
    for digest in layout.digests:
        result = scanner.scan(origin, digest, not_before=not_before)
        if result.status != "success":
            raise SystemExit(f"scan of {digest} failed: {result.failed_code} {result.failed_message}")
    return time.perf_counter() - started, counting.reads


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--caches", default="database,directory")
    parser.add_argument("--executor", default="thread", choices=("thread", "process", "serial"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="moorage-scan-all-") as work_dir:
        work = Path(work_dir)
        layout = write_layout(work / "layout", args.images)
        vulndb = advisories(work / "advisories")
        rows: list[PassFigures] = []
        for kind in args.caches.split(","):
            db = Database(f"sqlite:///{work / f'{kind}.db'}")
            upgrade(db)
            cache: LayerCache = DatabaseLayerCache(db) if kind == "database" else DirectoryLayerCache(work / kind)
            for pass_name in ("cold", "warm"):
                seconds, reads = scan_all(db, layout, cache, vulndb, args.executor, f"{kind}-{pass_name}")
                rows.append(PassFigures(f"{kind} ({pass_name})", args.images, reads, seconds))
            db.dispose()
        print(
            f"scan everything: {args.images} images, 3 shared base layers + 1 own layer each "
            f"= {layout.unique_layers} distinct layers; executor {args.executor}; {os.cpu_count()} cores"
        )
        print(f"{'layer cache (pass)':<22} {'images/s':>9} {'layer reads':>12} {'seconds':>9}")
        for row in rows:
            print(f"{row.cache:<22} {row.rate:>9.1f} {row.layer_reads:>12} {row.seconds:>9.2f}")
        cold = [r for r in rows if r.cache.endswith("(cold)")]
        ok = all(r.layer_reads == layout.unique_layers for r in cold) and all(
            r.layer_reads == 0 for r in rows if r.cache.endswith("(warm)")
        )
        print("layer reads = distinct layers on every cold pass, none on warm passes:", "yes" if ok else "NO")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
