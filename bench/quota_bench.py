"""What the storage quotas cost: the one-statement usage read every reservation makes, against the
number of distinct blobs an organization (and its account) links, and a small-blob monolithic push
through the upload service with and without quotas, on SQLite (a PostgreSQL URL may be given).

    PYTHONPATH=src python bench/quota_bench.py [--blobs 1000,10000,100000] [--pushes 300] [--database URL]

The usage read sums counters (``namespace_storage``: one row per organization, kept in step with the
links), so it should not grow with the blobs an organization holds: the figures check that. Counting
from the links instead (what this replaced) took 40 ms, 371 ms and 4.4 s for the three sizes below.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from moorage.domain.digests import Digest
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, UploadTarget
from moorage.metadata.database import Database, now_ms
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import quotas as q
from moorage.metadata.queries import repositories
from moorage.metadata.queries.quotas import Charge
from moorage.metadata.tables import blobs, repository_blobs
from moorage.services.quotas import QuotaLimits, QuotaService
from moorage.services.uploads import UploadService
from moorage.storage.blobstore import BlobStore
from moorage.storage.drivers.filesystem import FilesystemDriver


def fill(db: Database, namespace: str, count: int) -> None:
    """``count`` distinct blobs linked by 10 repositories of ``namespace`` (each blob by two of them)."""
    names = [RepositoryName.parse(f"{namespace}/repo{i}") for i in range(10)]
    ids = db.run_write(
        lambda conn: [repositories.ensure(conn, DEFAULT_INSTANCE, n, domain_id="bench").id for n in names]
    )
    now = now_ms()
    for start in range(0, count, 5000):
        part = range(start, min(start + 5000, count))
        digests = ["sha256:" + hashlib.sha256(f"{namespace}-{i}".encode()).hexdigest() for i in part]

        def work(conn: Connection, digests: list[str] = digests, part: range = part) -> None:
            conn.execute(
                insert(blobs),
                [{"digest": d, "size": 1000 + i, "created_at": now} for d, i in zip(digests, part, strict=True)],
            )
            conn.execute(
                insert(repository_blobs),
                [
                    {"repository_id": ids[(i + k) % 10], "digest": d, "created_at": now}
                    for d, i in zip(digests, part, strict=True)
                    for k in (0, 1)
                ],
            )

        db.run_write(work)


def usage_read(db: Database, namespace: str, repeat: int = 20) -> float:
    """Median milliseconds of the usage read a reservation makes (organization and account)."""
    charge = Charge(DEFAULT_INSTANCE, namespace, "bench")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        db.run_read(lambda conn: q.use(conn, charge, namespace=True, account=True))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def pushes(db: Database, root: Path, count: int, limits: QuotaLimits) -> tuple[float, float]:
    """(wall, CPU) milliseconds per 4 KiB monolithic push (the small-blob path) into a fresh organization."""
    service = UploadService(db, BlobStore(FilesystemDriver(root)), quotas=QuotaService(db, limits))
    target = UploadTarget(DEFAULT_INSTANCE, RepositoryName.parse(f"push{int(time.time() * 1000)}/app"), "bench")
    payloads = [hashlib.sha256(str(i).encode()).digest() * 128 + root.name.encode() for i in range(count)]

    async def body(data: bytes) -> AsyncIterator[bytes]:
        yield data

    started, cpu = time.perf_counter(), time.process_time()
    for data in payloads:
        await service.monolithic(target=target, digest=Digest.of(data), chunks=body(data), length=len(data))
    return (time.perf_counter() - started) * 1000 / count, (time.process_time() - cpu) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blobs", default="1000,10000,100000")
    parser.add_argument("--pushes", type=int, default=300)
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(args.database or f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(db)
        db.run_write(lambda conn: repositories.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
        print(f"database: {db.dialect}")
        for count in (int(c) for c in args.blobs.split(",")):
            namespace = f"n{count}"
            fill(db, namespace, count)
            print(f"usage read, {count:>7,} distinct blobs ({2 * count:,} links): {usage_read(db, namespace):8.2f} ms")
        off = asyncio.run(pushes(db, Path(tmp) / "off", args.pushes, QuotaLimits()))
        on = asyncio.run(
            pushes(db, Path(tmp) / "on", args.pushes, QuotaLimits(namespace_storage=1 << 40, account_storage=1 << 41))
        )
        print(f"4 KiB monolithic push, wall: {off[0]:.2f} ms without quotas, {on[0]:.2f} ms with storage quotas")
        print(
            f"4 KiB monolithic push, CPU:  {off[1]:.2f} ms without quotas, {on[1]:.2f} ms with storage quotas "
            "(one more write transaction: the reservation and its usage read)"
        )
        db.dispose()


if __name__ == "__main__":
    main()
