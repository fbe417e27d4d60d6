"""The quota service against real SQLite and PostgreSQL databases, without a server: usage counts each
organization's distinct blobs; reservations grow, shrink, expire and refuse; many threads reserving
at the same instant (a barrier) never get more than the quota between them, nor create more
repositories than allowed; and a streamed upload refused mid-way keeps none of the refused bytes."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import delete, select, tuple_
from sqlalchemy.engine import Connection

from moorage.domain.digests import Digest
from moorage.domain.errors import QuotaExceeded
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.database import Database, now_ms
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import blobs as blob_queries
from moorage.metadata.queries import enterprise_repositories, namespace_usage, repositories, repository_details
from moorage.metadata.queries import quotas as q
from moorage.metadata.queries.quotas import Charge
from moorage.metadata.tables import namespace_blobs, repository_blobs
from moorage.services.blob_links import link_blob
from moorage.services.quotas import QuotaLimits, QuotaService
from moorage.services.uploads import UploadService, UploadTarget
from moorage.storage.blobstore import BlobStore
from moorage.storage.drivers.filesystem import FilesystemDriver
from tests.conftest import DATABASES


def target(name: str, domain: str | None = "tenant") -> UploadTarget:
    """Where a push goes."""
    return UploadTarget(DEFAULT_INSTANCE, RepositoryName.parse(name), domain)


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    db = Database(url, pool_size=32)
    upgrade(db)
    db.run_write(lambda conn: repositories.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
    yield db
    db.dispose()


def _digest(n: int) -> str:
    return "sha256:" + f"{n:064x}"


def _counted(database: Database, namespace: str) -> tuple[int, int]:
    """(the organization's counter, its bytes recounted from the links)."""

    def work(conn: Connection) -> tuple[int, int]:
        found = repositories.get(conn, DEFAULT_INSTANCE, RepositoryName.parse(f"{namespace}/a"))
        namespace_id = found.namespace_id if found else -1
        return (
            q.namespace_stored(conn, DEFAULT_INSTANCE, namespace),
            namespace_usage.computed_stored(conn, namespace_id),
        )

    return database.run_read(work)


def test_usage_counts_each_organizations_distinct_blobs(database: Database) -> None:
    def work(conn: Connection) -> None:
        for name, digest, size in (
            ("one/a", _digest(1), 100),
            ("one/b", _digest(1), 100),
            ("one/b", _digest(2), 20),
            ("two/a", _digest(1), 100),
        ):
            link_blob(conn, target(name), digest, size)
        link_blob(conn, target("other/a", "someone-else"), _digest(3), 7)

    database.run_write(work)
    use = database.run_read(
        lambda conn: q.use(conn, Charge(DEFAULT_INSTANCE, "one", "tenant"), namespace=True, account=True)
    )
    assert use == q.StorageUse(namespace_stored=120, namespace_reserved=0, account_stored=220, account_reserved=0)
    assert database.run_read(lambda conn: q.instance_stored(conn, DEFAULT_INSTANCE)) == 227
    assert _counted(database, "one") == (120, 120)

    def repository(conn: Connection, name: str) -> int:
        found = repositories.get(conn, DEFAULT_INSTANCE, RepositoryName.parse(name))
        assert found is not None
        return found.id

    # One of two links goes: the blob still counts; the last one goes: it does not.
    database.run_write(lambda conn: blob_queries.unlink(conn, repository(conn, "one/a"), _digest(1)))
    assert _counted(database, "one") == (120, 120)
    database.run_write(lambda conn: blob_queries.unlink(conn, repository(conn, "one/b"), _digest(2)))
    assert _counted(database, "one") == (100, 100)
    # Repository deletions, by the shared edition's and the Enterprise Edition's queries.
    database.run_write(lambda conn: repository_details.remove(conn, repository(conn, "one/b")))
    assert database.run_read(lambda conn: q.namespace_stored(conn, DEFAULT_INSTANCE, "one")) == 0
    database.run_write(lambda conn: enterprise_repositories.delete_repository(conn, repository(conn, "two/a")))
    assert database.run_read(lambda conn: q.account_stored(conn, DEFAULT_INSTANCE, "tenant")) == 0
    assert database.run_read(lambda conn: q.instance_stored(conn, DEFAULT_INSTANCE)) == 7


def test_links_removed_in_a_batch_count_as_removed_one_by_one(database: Database) -> None:
    """The garbage collector releases links a batch at a time (``links_removed``): the counters end
    where ``link_removed`` per link leaves them, a blob still linked elsewhere in the organization
    counting, one whose every link went not."""

    def work(conn: Connection) -> None:
        for name, digest, size in (
            ("one/a", _digest(1), 100),
            ("one/b", _digest(1), 100),
            ("one/c", _digest(1), 100),
            ("one/a", _digest(2), 20),
            ("one/b", _digest(2), 20),
            ("one/a", _digest(3), 3),
            ("two/a", _digest(1), 100),
        ):
            link_blob(conn, target(name), digest, size)

    database.run_write(work)

    def release(conn: Connection) -> None:
        ids = {
            name: found.id
            for name in ("one/a", "one/b", "two/a")
            if (found := repositories.get(conn, DEFAULT_INSTANCE, RepositoryName.parse(name))) is not None
        }
        pairs = [
            (ids["one/a"], _digest(1)),
            (ids["one/b"], _digest(1)),
            (ids["one/a"], _digest(2)),
            (ids["one/b"], _digest(2)),
            (ids["one/a"], _digest(3)),
            (ids["two/a"], _digest(1)),
        ]
        conn.execute(
            delete(repository_blobs).where(
                tuple_(repository_blobs.c.repository_id, repository_blobs.c.digest).in_(pairs)
            )
        )
        namespace_usage.links_removed(conn, pairs)

    database.run_write(release)
    assert _counted(database, "one") == (100, 100)  # one/c still links blob 1; blobs 2 and 3 are gone
    assert database.run_read(lambda conn: q.namespace_stored(conn, DEFAULT_INSTANCE, "two")) == 0


def test_simultaneous_links_of_one_blob_count_it_once(database: Database) -> None:
    """Twelve repositories of one organization link the same blob at the same instant."""
    barrier = threading.Barrier(12)

    def link(index: int) -> None:
        where = target(f"team/r{index}")
        database.run_write(lambda conn: repositories.ensure(conn, DEFAULT_INSTANCE, where.name, domain_id="tenant"))
        barrier.wait()
        database.run_write(lambda conn: link_blob(conn, where, _digest(9), 1000))

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(link, range(12)))
    assert database.run_read(lambda conn: q.namespace_stored(conn, DEFAULT_INSTANCE, "team")) == 1000
    rows = database.run_read(lambda conn: conn.execute(select(namespace_blobs.c.links)).all())
    assert rows == [(12,)]


def test_reservations_grow_shrink_refuse_and_expire(database: Database) -> None:
    service = QuotaService(database, QuotaLimits(namespace_storage=1000), reservation_seconds=60)
    one = target("team/app")
    reserve = service.reserve_in
    assert database.run_write(lambda conn: reserve(conn, reservation_id="a", target=one, total=600)) == 600
    with pytest.raises(QuotaExceeded) as refused:
        database.run_write(lambda conn: reserve(conn, reservation_id="b", target=one, total=401))
    assert refused.value.reason == "storage_quota" and "600 bytes being uploaded" in refused.value.message
    # A partial reservation gets the room there is; none at all is refused even then.
    assert (
        database.run_write(lambda conn: reserve(conn, reservation_id="b", target=one, total=5000, partial=True)) == 400
    )
    with pytest.raises(QuotaExceeded):
        database.run_write(lambda conn: reserve(conn, reservation_id="c", target=one, total=1, partial=True))
    database.run_write(lambda conn: service.settle_in(conn, "b", 100))  # b's chunk was refused after 100 bytes
    assert database.run_write(lambda conn: reserve(conn, reservation_id="c", target=one, total=300)) == 300
    database.run_write(lambda conn: service.release_in(conn, "a"))
    assert database.run_write(lambda conn: reserve(conn, reservation_id="c", target=one, total=900)) == 900
    # Another organization has a quota of its own.
    assert (
        database.run_write(lambda conn: reserve(conn, reservation_id="d", target=target("else/app"), total=1000))
        == 1000
    )
    # What a killed process left goes when it expires.
    assert database.run_write(lambda conn: q.purge_expired(conn, now_ms() + 120_000)) == 3
    assert database.run_read(lambda conn: q.reserved(conn, "c")) == 0


def test_simultaneous_reservations_never_pass_the_quota(database: Database) -> None:
    """24 threads released by one barrier, each asking 150,000 bytes of a 1,000,000-byte organization
    (and of a 2,000,000-byte account spread over two organizations): exactly as many as fit get one."""
    service = QuotaService(database, QuotaLimits(namespace_storage=1_000_000, account_storage=2_000_000))
    for round_ in range(3):
        barrier = threading.Barrier(24)

        def ask(index: int, round_: int = round_, barrier: threading.Barrier = barrier) -> bool:
            where = target(f"team{index % 3}/app")
            barrier.wait()
            try:
                database.run_write(
                    lambda conn: service.reserve_in(
                        conn, reservation_id=f"r{round_}-{index}", target=where, total=150_000
                    )
                )
            except QuotaExceeded:
                return False
            return True

        with ThreadPoolExecutor(24) as pool:
            granted = list(pool.map(ask, range(24)))
        per_namespace = [sum(granted[i] for i in range(n, 24, 3)) for n in range(3)]
        assert sum(granted) == 13 and max(per_namespace) <= 6, (round_, per_namespace)  # 2,000,000 // 150,000
        database.run_write(lambda conn: q.purge_expired(conn, now_ms() + 10 * 24 * 3600 * 1000))


def test_simultaneous_new_repositories_never_pass_the_quota(database: Database) -> None:
    service = QuotaService(database, QuotaLimits(namespace_repositories=3))
    barrier = threading.Barrier(10)

    def create(index: int) -> bool:
        barrier.wait()
        try:
            database.run_write(lambda conn: service.ensure_repository_in(conn, target(f"team/repo{index}")))
        except QuotaExceeded as refused:
            assert refused.reason == "repository_quota"
            return False
        return True

    with ThreadPoolExecutor(10) as pool:
        assert sum(pool.map(create, range(10))) == 3
    assert database.run_read(lambda conn: q.repository_counts(conn, Charge(DEFAULT_INSTANCE, "team", "tenant"))) == (
        3,
        3,
    )


async def _stream(data: bytes, piece: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def test_a_stream_refused_mid_way_keeps_nothing_of_the_chunk(database: Database, tmp_path: Path) -> None:
    quotas = QuotaService(database, QuotaLimits(namespace_storage=1_000_000))
    service = UploadService(database, BlobStore(FilesystemDriver(tmp_path / "storage")), quotas=quotas)
    where = target("team/app")
    first = b"a" * 400_000
    session = await service.start(target=where)
    await service.append(target=where, upload_id=session.id, chunks=_stream(first, 65536), start=0, length=None)
    with pytest.raises(QuotaExceeded):
        await service.append(
            target=where, upload_id=session.id, chunks=_stream(b"b" * 700_000, 65536), start=None, length=None
        )
    data = tmp_path / "storage" / "uploads" / session.id / "data"
    assert data.stat().st_size == 400_000 and data.read_bytes() == first
    assert (await service.get(target=where, upload_id=session.id)).size == 400_000
    assert database.run_read(lambda conn: q.reserved(conn, session.id)) == 400_000
    await service.finish(target=where, upload_id=session.id, digest=Digest.of(first), chunks=None, length=None)
    assert database.run_read(lambda conn: q.reserved(conn, session.id)) == 0
    assert database.run_read(lambda conn: q.namespace_stored(conn, DEFAULT_INSTANCE, "team")) == 400_000
