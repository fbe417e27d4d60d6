"""The garbage collection benchmark's store (bench/gc_bench.py) is what it says: a tiny one, collected
in this process, frees exactly the blobs and manifests the benchmark expects, and its files."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.gc_bench import Sizes, make_store

from moorage.domain.gc import GcParameters
from moorage.metadata.database import Database
from moorage.services.lifecycle.runs import GcRunService
from moorage.settings.sections import GcSettings
from moorage.storage.blobstore import BlobStore
from moorage.storage.drivers.filesystem import FilesystemDriver

TINY = Sizes(blobs=200, manifests=40, repositories=4, pushes=0)


def test_the_benchmark_store_frees_what_the_benchmark_expects(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    storage = tmp_path / "storage"
    expected = make_store(url, storage, TINY)
    assert len(list((storage / "blobs").rglob("data"))) == TINY.blobs
    db = Database(url)
    try:
        run = asyncio.run(
            GcRunService(db, BlobStore(FilesystemDriver(storage)), GcSettings(), jobs=None).run_here(
                parameters=GcParameters(delete_untagged=True)
            )
        )
    finally:
        db.dispose()
    assert (run.figures.blobs, run.figures.manifests) == (expected, TINY.untagged)
    assert len(list((storage / "blobs").rglob("data"))) == TINY.blobs - expected
