"""One advisory database for every node through the blob storage (``services/security/vulndb_share.py``):
two "nodes" here are two advisory-database paths on one metadata database and one storage (the
filesystem driver, and SeaweedFS's S3), as two machines without a shared filesystem would be. A
build one node publishes is fetched by the other, byte for byte; a copy that is not what the row
names is refused and the node keeps its file; a newer local build is published, never replaced by
an older one; and a node that has not fetched the database yet does not queue a rebuild of its own."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.metadata.database import Database
from moorage.scanner.advisories.errors import StoreError
from moorage.services.security.advisory_updates import UpdatePolicy, schedule_update
from moorage.services.security.vulndb_share import VulndbShare, published
from moorage.storage import paths
from moorage.storage.blobstore import BlobStore
from moorage.storage.drivers import create_driver
from tests.conftest import AppFactory
from tests.hss.support import build_advisories

POLICY = UpdatePolicy(sources=("osv:/nowhere",), refresh_ms=86_400_000, retry_ms=1000, retry_max_ms=1000)


@pytest.fixture
def db(tmp_path: Path, _migrated_sqlite: Path) -> Iterator[Database]:
    shutil.copy2(_migrated_sqlite / "moorage.db", tmp_path / "moorage.db")
    database = Database(f"sqlite:///{tmp_path / 'moorage.db'}")
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture(params=["filesystem", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BlobStore:
    if request.param == "s3":
        from tests.support.seaweedfs import S3_ENV, s3_driver

        monkeypatch.setenv(S3_ENV, request.getfixturevalue("s3_server").store_env())
        return BlobStore(s3_driver())
    return BlobStore(create_driver("filesystem", root=tmp_path / "storage"))


def _built(directory: Path, built_at: str) -> Path:
    """A small advisory database built by the real builder, stamped ``built_at``."""
    path = build_advisories(directory)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'built_at'", (built_at,))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_published_build_reaches_the_other_node_and_no_rebuild_is_queued(
    db: Database, store: BlobStore, tmp_path: Path
) -> None:
    built = _built(tmp_path / "a", "2026-12-07T05:00:00Z")
    other = tmp_path / "b" / "vulndb.sqlite"
    # Without sharing the other node sees no database and would queue a build of its own.
    assert schedule_update(db, POLICY, other) is not None
    db.run_write(lambda conn: conn.exec_driver_sql("DELETE FROM security_state"))

    made = asyncio.run(VulndbShare(db, store, built).publish())
    assert published(db) == made and made.sha256 == _sha(built) and made.built_at == "2026-12-07T05:00:00Z"
    assert schedule_update(db, POLICY, other, shared=True) is None

    node_b = VulndbShare(db, store, other)
    assert asyncio.run(node_b.refresh()) is True
    assert other.read_bytes() == built.read_bytes() and stat.S_IMODE(other.stat().st_mode) == 0o600
    assert asyncio.run(node_b.refresh()) is False
    assert [p.name for p in other.parent.iterdir()] == ["vulndb.sqlite"]  # no scratch file left


def test_a_copy_that_is_not_what_the_row_names_is_refused(db: Database, store: BlobStore, tmp_path: Path) -> None:
    built = _built(tmp_path / "a", "2026-12-07T05:00:00Z")
    made = asyncio.run(VulndbShare(db, store, built).publish())
    kept = _built(tmp_path / "b", "2026-12-07T04:00:00Z")  # the other node's older database
    before = kept.read_bytes()
    damaged = bytearray(built.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    asyncio.run(store.driver.put_content(paths.advisories(made.sha256), bytes(damaged)))
    with pytest.raises(StoreError, match="hashing to"):
        asyncio.run(VulndbShare(db, store, kept).refresh())
    assert kept.read_bytes() == before
    assert not [p for p in kept.parent.iterdir() if p.name.startswith(".vulndb-fetch-")]


def test_a_newer_local_build_is_published_and_never_replaced_by_an_older_one(
    db: Database, store: BlobStore, tmp_path: Path
) -> None:
    older = _built(tmp_path / "a", "2026-12-07T04:00:00Z")
    first = asyncio.run(VulndbShare(db, store, older).publish())
    newer = _built(tmp_path / "b", "2026-12-07T06:00:00Z")  # `moorage vulndb import` on node b
    node_b = VulndbShare(db, store, newer)
    assert asyncio.run(node_b.refresh()) is False and newer.is_file()
    assert _sha(newer) != first.sha256
    second = asyncio.run(node_b.publish_if_newer())
    assert second is not None and second.sha256 == _sha(newer) and second.previous == first.sha256
    assert asyncio.run(node_b.publish_if_newer()) is None  # already the published one
    node_a = VulndbShare(db, store, older)
    assert asyncio.run(node_a.refresh()) is True and _sha(older) == second.sha256
    # A third build removes the first copy and keeps the one before it (a node may be fetching it).
    third = _built(tmp_path / "c", "2026-12-07T07:00:00Z")
    asyncio.run(VulndbShare(db, store, third).publish())
    assert asyncio.run(store.driver.stat(paths.advisories(first.sha256))) is None
    assert asyncio.run(store.driver.stat(paths.advisories(second.sha256))) is not None


def test_an_http_process_holds_the_published_database(app_moorage_factory: AppFactory, tmp_path: Path) -> None:
    """An API node answers vulnerability details and ``/healthz`` from its own copy: its HTTP process
    fetches what a worker elsewhere published."""
    server = app_moorage_factory(scanner={"vulndb_share": "storage", "periodic_interval_seconds": 1})
    services = server.services
    built = _built(tmp_path / "worker-node", "2026-12-07T05:00:00Z")
    asyncio.run(VulndbShare(services.db, services.store, built).publish())
    own = server.settings.vulndb_path
    deadline = time.monotonic() + 30
    while not (own.is_file() and own.read_bytes() == built.read_bytes()):
        assert time.monotonic() < deadline, "the HTTP process did not fetch the published database"
        time.sleep(0.1)
    health = server.http.get("/healthz").json()["vulnerability_database"]
    assert health["built_at"] == "2026-12-07T05:00:00Z"
