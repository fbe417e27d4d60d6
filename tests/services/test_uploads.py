"""Upload sessions keep no bytes past their end: a finalisation that fails (here the disk fills
while the blob is moved into place) ends the session and removes its data at once, and so does a
DELETE; neither waits for the purge."""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from moorage.domain.digests import Digest
from moorage.domain.errors import StorageFull, StorageUnavailable, TooLarge, UploadUnknown
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, UploadTarget
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import repositories
from moorage.services.uploads import UploadService
from moorage.storage.blobstore import BlobStore
from moorage.storage.drivers.filesystem import FilesystemDriver

TARGET = UploadTarget(DEFAULT_INSTANCE, RepositoryName.parse("team/app"), None)


class FullOnMove(FilesystemDriver):
    """A filesystem whose device fills up exactly when an upload becomes a blob."""

    async def move(self, source: str, destination: str) -> None:
        raise StorageFull() from OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'moorage.db'}")
    upgrade(db)
    db.run_write(lambda conn: repositories.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
    yield db
    db.dispose()


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _stored(root: Path) -> list[Path]:
    return [p for p in (root / "uploads").rglob("*") if p.is_file()]


async def test_a_failed_finalisation_removes_the_session_and_its_bytes(database: Database, tmp_path: Path) -> None:
    root = tmp_path / "storage"
    service = UploadService(database, BlobStore(FullOnMove(root)))
    session = await service.start(target=TARGET)
    data = b"x" * 200_000
    await service.append(target=TARGET, upload_id=session.id, chunks=_body(data), start=0, length=len(data))
    assert _stored(root)
    with pytest.raises(StorageFull):
        await service.finish(target=TARGET, upload_id=session.id, digest=Digest.of(data), chunks=None, length=None)
    assert _stored(root) == []
    with pytest.raises(UploadUnknown):
        await service.get(target=TARGET, upload_id=session.id)


async def test_a_cancelled_session_takes_its_bytes_with_it(database: Database, tmp_path: Path) -> None:
    root = tmp_path / "storage"
    service = UploadService(database, BlobStore(FilesystemDriver(root)))
    session = await service.start(target=TARGET)
    await service.append(target=TARGET, upload_id=session.id, chunks=_body(b"abc"), start=0, length=3)
    await service.cancel(target=TARGET, upload_id=session.id)
    assert _stored(root) == []


async def test_uploads_growing_past_the_largest_blob_are_refused(database: Database, tmp_path: Path) -> None:
    """``registry.blob_max_bytes``: a chunk that would take the upload past it is refused (413) and
    leaves the session as it was; so is a monolithic push, by its Content-Length or as it streams."""
    service = UploadService(database, BlobStore(FilesystemDriver(tmp_path / "storage")), blob_max_bytes=1000)
    session = await service.start(target=TARGET)
    await service.append(target=TARGET, upload_id=session.id, chunks=_body(b"a" * 600), start=0, length=600)
    with pytest.raises(TooLarge):
        await service.append(target=TARGET, upload_id=session.id, chunks=_body(b"b" * 600), start=600, length=600)
    with pytest.raises(TooLarge):  # no Content-Length: refused as the bytes arrive
        await service.append(target=TARGET, upload_id=session.id, chunks=_body(b"b" * 600), start=600, length=None)
    assert (await service.get(target=TARGET, upload_id=session.id)).size == 600
    data = b"a" * 600 + b"c" * 400
    assert (
        await service.finish(
            target=TARGET, upload_id=session.id, digest=Digest.of(data), chunks=_body(b"c" * 400), length=400
        )
        == 1000
    )
    big = b"d" * 1001
    with pytest.raises(TooLarge):
        await service.monolithic(target=TARGET, digest=Digest.of(big), chunks=_body(big), length=len(big))
    with pytest.raises(TooLarge):
        await service.monolithic(target=TARGET, digest=Digest.of(big), chunks=_body(big), length=None)


class UnavailableOnce(FilesystemDriver):
    """A store that cannot be reached the first time an upload becomes a blob."""

    failed = False

    async def move(self, source: str, destination: str) -> None:
        if not self.failed:
            self.failed = True
            raise StorageUnavailable()
        await super().move(source, destination)


async def test_a_finalisation_the_store_could_not_take_can_be_sent_again(database: Database, tmp_path: Path) -> None:
    """The object store unreachable when the closing PUT arrives: the client gets 503 and the session
    keeps its bytes, so the same PUT succeeds once the store is back (the digest is checked again
    from the stored bytes)."""
    service = UploadService(database, BlobStore(UnavailableOnce(tmp_path / "storage")))
    session = await service.start(target=TARGET)
    data = b"x" * 5000
    await service.append(target=TARGET, upload_id=session.id, chunks=_body(data), start=0, length=len(data))
    with pytest.raises(StorageUnavailable):
        await service.finish(target=TARGET, upload_id=session.id, digest=Digest.of(data), chunks=None, length=None)
    assert (await service.get(target=TARGET, upload_id=session.id)).size == len(data)
    assert await service.finish(
        target=TARGET, upload_id=session.id, digest=Digest.of(data), chunks=None, length=None
    ) == len(data)
