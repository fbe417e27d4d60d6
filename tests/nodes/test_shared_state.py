"""State that several nodes share through the database, checked without starting servers: the claims
that let one process of many run a periodic chore per period, and pull counters that several nodes
add to in whatever order they flush."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from moorage.metadata.database import Database, now_ms
from moorage.metadata.migrate import upgrade
from moorage.metadata.tables import manifests, repositories
from moorage.services.periodic import Chore, PeriodicChores
from moorage.services.pulls import PullRecorder
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, AppFactory
from tests.support import swr_images as si

CONTENDERS = 6
PERIOD = 0.4
RACE_SECONDS = 2.2


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('claims') / 'moorage.db'}"
    else:
        url = str(request.getfixturevalue("pg_database_url"))
    db = Database(url)
    upgrade(db)
    db.dispose()
    yield url


def test_one_process_of_many_runs_a_chore_per_period(database_url: str) -> None:
    """Six processes (each its own engine, as on six nodes) offer the same chore every 20 ms: exactly
    one runs it per period, and the chore runs every period as long as anybody offers."""
    claims: list[tuple[int, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(CONTENDERS)

    def contender(index: int) -> None:
        db = Database(database_url, pool_size=1)
        chores = PeriodicChores(db, holder=f"node-{index}")
        try:
            start.wait()
            deadline = time.monotonic() + RACE_SECONDS
            while time.monotonic() < deadline:
                if chores.claim_blocking(Chore.UPLOAD_PURGE, PERIOD):
                    record = chores.record(Chore.UPLOAD_PURGE)  # nobody else can claim before PERIOD is over
                    assert record is not None and record.holder == chores.holder
                    with lock:
                        claims.append((record.last_run_at, chores.holder))
                time.sleep(0.02)
        finally:
            db.dispose()

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(CONTENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times = sorted(at for at, _ in claims)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= PERIOD * 1000, f"two runs within one period: {gaps} ms"  # the claims' own times
    assert int(RACE_SECONDS / PERIOD) - 2 <= len(times) <= int(RACE_SECONDS / PERIOD) + 1, times
    db = Database(database_url, pool_size=1)
    try:
        record = PeriodicChores(db).record(Chore.UPLOAD_PURGE)
    finally:
        db.dispose()
    assert record is not None and record.runs == len(claims)


def test_pull_counts_of_two_nodes_add_up_and_the_newest_pull_time_stays(app_moorage_factory: AppFactory) -> None:
    """Two nodes count pulls of one image and flush, the one with the newer pull first: the counts
    add up, and the older flush does not move the last-pulled time back."""
    node = app_moorage_factory()
    image = si.image([{"a.txt": b"pulled"}], label="pulls")
    with node.client(auth=(ADMIN_USER, ADMIN_PASSWORD)) as client:
        si.push(client, "team/pulled", "1", image)
    db = node.services.db
    repository_id, manifest_id = db.run_read(
        lambda conn: conn.execute(
            select(manifests.c.repository_id, manifests.c.id).where(manifests.c.digest == image.digest)
        ).one()
    )
    node_a, node_b = PullRecorder(db), PullRecorder(db)
    node_a.record(repository_id, manifest_id)
    node_a.record(repository_id, manifest_id)
    time.sleep(0.05)
    before_newest = now_ms()
    node_b.record(repository_id, manifest_id)
    asyncio.run(node_b.flush())  # (a synchronous test: the in-process app bootstraps with asyncio.run)
    asyncio.run(node_a.flush())
    count = db.run_read(
        lambda conn: conn.execute(
            select(repositories.c.download_count).where(repositories.c.id == repository_id)
        ).scalar_one()
    )
    last_pulled = db.run_read(
        lambda conn: conn.execute(select(manifests.c.last_pulled_at).where(manifests.c.id == manifest_id)).scalar_one()
    )
    assert count == 3
    assert last_pulled >= before_newest
