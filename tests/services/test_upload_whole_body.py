"""A closing PUT that carries the whole blob into an empty session (how docker, skopeo and podman push
configs and small layers) and ``POST ?digest=``: one write transaction per request, no upload data
written, and the same refusals as the streaming path (wrong digest, short body, a chunk in flight)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from moorage.domain.digests import Digest
from moorage.domain.errors import DigestInvalid, RangeNotSatisfiable, SizeInvalid, UploadUnknown
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, UploadSession, UploadTarget
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import blobs as blob_queries
from moorage.metadata.queries import repositories
from moorage.metadata.queries import uploads as upload_queries
from moorage.services.uploads import UploadService
from moorage.storage.blobstore import BlobStore
from moorage.storage.drivers.filesystem import FilesystemDriver
from moorage.storage.drivers.filesystem_writer import FilesystemWriter

TARGET = UploadTarget(DEFAULT_INSTANCE, RepositoryName.parse("team/app"), None)


class CountingDatabase(Database):
    """The real database, counting write transactions."""

    writes = 0
    quick = 0

    async def write(self, work: Any, *, quick: bool = False) -> Any:
        self.writes += 1
        self.quick += quick
        return await super().write(work, quick=quick)


class CountingDriver(FilesystemDriver):
    """The real filesystem driver, counting upload writers opened."""

    writers = 0

    async def writer(self, path: str, *, offset: int) -> FilesystemWriter:
        self.writers += 1
        return await super().writer(path, offset=offset)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[CountingDatabase]:
    db = CountingDatabase(f"sqlite:///{tmp_path / 'moorage.db'}")
    upgrade(db)
    db.run_write(lambda conn: repositories.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
    yield db
    db.dispose()


async def _body(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def _blob_file(root: Path, digest: Digest) -> Path:
    return root / "blobs" / digest.algorithm / digest.hex[:2] / digest.hex / "data"


def _linked(database: Database, digest: Digest) -> bool:
    def find(conn: Any) -> bool:
        repository = repositories.get(conn, DEFAULT_INSTANCE, TARGET.name)
        return repository is not None and blob_queries.linked_size(conn, repository.id, str(digest)) is not None

    return database.run_read(find)


def _session_exists(database: Database, upload_id: str) -> bool:
    return (
        database.run_read(lambda conn: upload_queries.get(conn, upload_id, DEFAULT_INSTANCE, str(TARGET.name)))
        is not None
    )


async def test_closing_put_with_the_whole_blob_is_one_write_and_no_upload_data(
    database: CountingDatabase, tmp_path: Path
) -> None:
    driver = CountingDriver(tmp_path / "storage")
    service = UploadService(database, BlobStore(driver))
    session = await service.start(target=TARGET)
    assert database.writes == 1
    data = b"layer" * 800
    digest = Digest.of(data)
    size = await service.finish(
        target=TARGET, upload_id=session.id, digest=digest, chunks=_body(data[:1000], data[1000:]), length=len(data)
    )
    assert size == len(data)
    assert database.writes == 2, "the closing PUT took more than one write transaction"
    assert database.quick == 2, "a push's writes may run on the event loop"
    assert driver.writers == 0, "the closing PUT wrote upload data"
    assert not (tmp_path / "storage" / "uploads").exists() or not any((tmp_path / "storage" / "uploads").iterdir())
    assert _blob_file(tmp_path / "storage", digest).read_bytes() == data
    assert _linked(database, digest)
    assert not _session_exists(database, session.id)


async def test_closing_put_with_a_wrong_digest_ends_the_session_and_stores_nothing(
    database: CountingDatabase, tmp_path: Path
) -> None:
    service = UploadService(database, BlobStore(FilesystemDriver(tmp_path / "storage")))
    session = await service.start(target=TARGET)
    data = b"config" * 10
    claimed = Digest.of(b"something else")
    with pytest.raises(DigestInvalid):
        await service.finish(target=TARGET, upload_id=session.id, digest=claimed, chunks=_body(data), length=len(data))
    assert not _blob_file(tmp_path / "storage", claimed).exists()
    assert not _blob_file(tmp_path / "storage", Digest.of(data)).exists()
    assert not _linked(database, claimed)
    assert not _session_exists(database, session.id)


@pytest.mark.parametrize("sent", [b"x" * 99, b"x" * 101])
async def test_closing_put_whose_body_is_not_its_content_length_keeps_the_session(
    database: CountingDatabase, tmp_path: Path, sent: bytes
) -> None:
    service = UploadService(database, BlobStore(FilesystemDriver(tmp_path / "storage")))
    session = await service.start(target=TARGET)
    digest = Digest.of(sent)
    with pytest.raises(SizeInvalid):
        await service.finish(target=TARGET, upload_id=session.id, digest=digest, chunks=_body(sent), length=100)
    assert not _blob_file(tmp_path / "storage", digest).exists()
    assert not _linked(database, digest)
    assert (await service.get(target=TARGET, upload_id=session.id)).size == 0
    # The client may close the session properly afterwards.
    await service.finish(target=TARGET, upload_id=session.id, digest=digest, chunks=_body(sent), length=len(sent))
    assert _linked(database, digest)


async def test_closing_put_while_a_chunk_holds_the_session_is_refused(
    database: CountingDatabase, tmp_path: Path
) -> None:
    service = UploadService(database, BlobStore(FilesystemDriver(tmp_path / "storage")))
    session = await service.start(target=TARGET)
    assert database.run_write(lambda conn: upload_queries.lease(conn, session.id, size=0, seconds=60))
    data = b"racing" * 50
    with pytest.raises(RangeNotSatisfiable):
        await service.finish(
            target=TARGET, upload_id=session.id, digest=Digest.of(data), chunks=_body(data), length=len(data)
        )
    assert not _linked(database, Digest.of(data))
    assert not _blob_file(tmp_path / "storage", Digest.of(data)).exists(), "the refused close left its blob"
    assert _session_exists(database, session.id)


async def _held_session(database: Database, service: UploadService) -> UploadSession:
    """An empty session a chunk holds (its lease taken as a PATCH's would be)."""
    session = await service.start(target=TARGET)
    assert database.run_write(lambda conn: upload_queries.lease(conn, session.id, size=0, seconds=60))
    return session


async def _close_refused_after(
    database: Database,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    data: bytes,
    meanwhile: Callable[[BlobStore, UploadService, Digest], Awaitable[None]],
) -> None:
    """A closing PUT carrying ``data`` whole into a session a chunk holds, refused (416), with
    ``meanwhile`` run between its write of the blob file and its transaction."""
    store = BlobStore(FilesystemDriver(root))
    service = UploadService(database, store)
    put_verified = store.put_verified

    async def put_then(blob: Digest, body: bytes, **kwargs: Any) -> Any:
        made = await put_verified(blob, body, **kwargs)
        monkeypatch.setattr(store, "put_verified", put_verified)  # (later writes as usual)
        await meanwhile(store, service, blob)
        return made

    monkeypatch.setattr(store, "put_verified", put_then)
    held = await _held_session(database, service)
    with pytest.raises(RangeNotSatisfiable):
        await service.finish(
            target=TARGET, upload_id=held.id, digest=Digest.of(data), chunks=_body(data), length=len(data)
        )


async def test_a_refused_close_leaves_a_file_another_push_renamed_into_place(
    database: CountingDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the refused close's write and its refusal, a streamed push of the same bytes made its
    upload the blob file (a rename over the one the close made): that file is the other push's only
    copy, about to be linked, and stays."""
    data = b"renamed over" * 40
    upload = "uploads/" + "a" * 32 + "/data"

    async def upload_renamed_over(store: BlobStore, _service: UploadService, blob: Digest) -> None:
        await store.driver.put_content(upload, data)
        await store.driver.move(upload, f"blobs/sha256/{blob.hex[:2]}/{blob.hex}/data")

    await _close_refused_after(database, tmp_path / "storage", monkeypatch, data, upload_renamed_over)
    stored = _blob_file(tmp_path / "storage", Digest.of(data))
    assert stored.read_bytes() == data
    assert [p.name for p in stored.parent.iterdir()] == ["data"]


async def test_a_refused_close_leaves_a_file_another_push_linked(
    database: CountingDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"linked meanwhile" * 40
    other = UploadTarget(DEFAULT_INSTANCE, RepositoryName.parse("team/other"), None)

    async def pushed_elsewhere(_store: BlobStore, service: UploadService, blob: Digest) -> None:
        await service.monolithic(target=other, digest=blob, chunks=_body(data), length=len(data))

    await _close_refused_after(database, tmp_path / "storage", monkeypatch, data, pushed_elsewhere)
    assert _blob_file(tmp_path / "storage", Digest.of(data)).read_bytes() == data


async def test_a_push_of_the_same_bytes_puts_back_the_file_a_refused_close_took(
    database: CountingDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two closes of the same small blob at once: the first makes the file and is refused, the second
    found the file stored (so wrote nothing) and links it after the first took it back: it puts the
    bytes back from its request, and the blob is whole and linked."""
    root = tmp_path / "storage"
    store = BlobStore(FilesystemDriver(root))
    service = UploadService(database, store)
    data = b"same bytes, two sessions" * 40
    digest = Digest.of(data)
    held = await _held_session(database, service)
    free = await service.start(target=TARGET)
    first_stored, second_stored, refused = asyncio.Event(), asyncio.Event(), asyncio.Event()
    put_verified = store.put_verified
    made: list[object] = []

    async def ordered(blob: Digest, body: bytes, **kwargs: Any) -> Any:
        made.append(result := await put_verified(blob, body, **kwargs))
        if not first_stored.is_set():  # the first close: refused once the second has looked
            first_stored.set()
            await second_stored.wait()
        else:  # the second close: found the file stored; links once the first took it back
            second_stored.set()
            await refused.wait()
        return result

    monkeypatch.setattr(store, "put_verified", ordered)

    async def first() -> None:
        with pytest.raises(RangeNotSatisfiable):
            await service.finish(target=TARGET, upload_id=held.id, digest=digest, chunks=_body(data), length=len(data))
        assert not _blob_file(root, digest).exists()
        refused.set()

    async def second() -> int:
        await first_stored.wait()
        return await service.finish(
            target=TARGET, upload_id=free.id, digest=digest, chunks=_body(data), length=len(data)
        )

    _, size = await asyncio.gather(first(), second())
    assert size == len(data)
    assert made[0] is not None and made[1] is None
    assert _blob_file(root, digest).read_bytes() == data
    assert _linked(database, digest)


async def test_closing_put_of_a_cancelled_session_is_unknown(database: CountingDatabase, tmp_path: Path) -> None:
    service = UploadService(database, BlobStore(FilesystemDriver(tmp_path / "storage")))
    session = await service.start(target=TARGET)
    database.run_write(lambda conn: upload_queries.remove(conn, session.id))
    with pytest.raises(UploadUnknown):
        await service.finish(target=TARGET, upload_id=session.id, digest=Digest.of(b"a"), chunks=_body(b"a"), length=1)


async def test_monolithic_post_is_one_write_and_no_session(database: CountingDatabase, tmp_path: Path) -> None:
    driver = CountingDriver(tmp_path / "storage")
    service = UploadService(database, BlobStore(driver))
    data = b"small" * 100
    await service.monolithic(target=TARGET, digest=Digest.of(data), chunks=_body(data), length=len(data))
    assert database.writes == 1
    assert driver.writers == 0
    assert database.run_read(lambda conn: upload_queries.known(conn, [])) == set()
    assert _linked(database, Digest.of(data))


@pytest.mark.parametrize("sent", [b"y" * 49, b"y" * 51])
async def test_monolithic_post_whose_body_is_not_its_content_length_stores_nothing(
    database: CountingDatabase, tmp_path: Path, sent: bytes
) -> None:
    service = UploadService(database, BlobStore(FilesystemDriver(tmp_path / "storage")))
    digest = Digest.of(sent)
    with pytest.raises(SizeInvalid):
        await service.monolithic(target=TARGET, digest=digest, chunks=_body(sent), length=50)
    assert not _blob_file(tmp_path / "storage", digest).exists()
    assert not _linked(database, digest)
    assert database.writes == 0


async def test_identical_blobs_pushed_at_once_all_succeed_once_stored(
    database: CountingDatabase, tmp_path: Path
) -> None:
    root = tmp_path / "storage"
    service = UploadService(database, BlobStore(FilesystemDriver(root)))
    data = b"same bytes" * 300
    digest = Digest.of(data)
    sessions = [await service.start(target=TARGET) for _ in range(6)]
    closing = [
        service.finish(target=TARGET, upload_id=s.id, digest=digest, chunks=_body(data), length=len(data))
        for s in sessions
    ]
    posts = [service.monolithic(target=TARGET, digest=digest, chunks=_body(data), length=len(data)) for _ in range(6)]
    assert await asyncio.gather(*closing, *posts) == [len(data)] * 12
    assert _blob_file(root, digest).read_bytes() == data
    assert list((root / "tmp").iterdir()) == []
    assert _linked(database, digest)
    assert not any(_session_exists(database, s.id) for s in sessions)


async def test_a_blob_collected_before_its_link_is_put_back_from_the_request(
    database: CountingDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector deleted the stored bytes between the closing PUT's write and its transaction: the
    transaction puts them back from the bytes it holds. That reaches storage through the event loop,
    which a quick write started on the loop cannot do: it rolls back and runs again in a thread."""
    root = tmp_path / "storage"
    store = BlobStore(FilesystemDriver(root))
    service = UploadService(database, store)
    data = b"collected meanwhile" * 40
    digest = Digest.of(data)
    put_verified = store.put_verified
    puts = 0

    async def put_then_collected(blob: Digest, body: bytes, **kwargs: Any) -> None:
        nonlocal puts
        puts += 1
        await put_verified(blob, body, **kwargs)
        if puts == 1:
            _blob_file(root, blob).unlink()  # as the collector would, before the link's transaction

    monkeypatch.setattr(store, "put_verified", put_then_collected)
    session = await service.start(target=TARGET)
    assert await service.finish(
        target=TARGET, upload_id=session.id, digest=digest, chunks=_body(data), length=len(data)
    ) == len(data)
    assert puts == 2, "the transaction did not put the bytes back"
    assert _blob_file(root, digest).read_bytes() == data
    assert _linked(database, digest)
    assert not _session_exists(database, session.id)
