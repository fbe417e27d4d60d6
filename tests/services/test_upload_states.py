"""Upload sessions started without a database row: POST signs the session's state into its Location
(``_state``), the first chunk makes the row, and a closing PUT that carries the whole blob costs one
write transaction and no read. A state opens its session once: a close, a cancellation or a first
chunk uses it up (``upload_claims``); another repository's, an altered or an expired state is refused;
any node with the same master key takes it. With quotas to admit a session, POST keeps its row."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from moorage.domain.clock import now_ms
from moorage.domain.digests import Digest
from moorage.domain.errors import DigestInvalid, UploadInvalid, UploadUnknown
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, UploadTarget
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import blobs as blob_queries
from moorage.metadata.queries import repositories
from moorage.metadata.queries import uploads as upload_queries
from moorage.services.quotas import QuotaLimits, QuotaService
from moorage.services.upload_states import UploadStates
from moorage.services.uploads import UploadService
from moorage.storage.blobstore import BlobStore
from moorage.storage.drivers.filesystem import FilesystemDriver

TARGET = UploadTarget(DEFAULT_INSTANCE, RepositoryName.parse("team/app"), None)
OTHER = UploadTarget(DEFAULT_INSTANCE, RepositoryName.parse("team/other"), None)
KEY = b"k" * 32
LIFETIME = 3600.0


class CountingDatabase(Database):
    """The real database, counting read and write transactions."""

    reads = 0
    writes = 0

    async def read(self, work: Any, *, heavy: bool = False) -> Any:
        self.reads += 1
        return await super().read(work, heavy=heavy)

    async def write(self, work: Any, *, quick: bool = False) -> Any:
        self.writes += 1
        return await super().write(work, quick=quick)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CountingDatabase]:
    url = f"sqlite:///{tmp_path / 'moorage.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database_url")
    db = CountingDatabase(url)
    upgrade(db)
    db.run_write(lambda conn: repositories.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
    yield db
    db.dispose()


def _service(database: Database, tmp_path: Path, *, key: bytes = KEY, **kwargs: Any) -> UploadService:
    states = UploadStates(key, lifetime_seconds=LIFETIME)
    return UploadService(database, BlobStore(FilesystemDriver(tmp_path / "storage")), states=states, **kwargs)


async def _body(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def _linked(database: Database, digest: Digest, target: UploadTarget = TARGET) -> bool:
    def find(conn: Any) -> bool:
        repository = repositories.get(conn, DEFAULT_INSTANCE, target.name)
        return repository is not None and blob_queries.linked_size(conn, repository.id, str(digest)) is not None

    return database.run_read(find)


def _row(database: Database, upload_id: str) -> bool:
    return database.run_read(lambda conn: upload_queries.known(conn, [upload_id])) == {upload_id}


async def _close(service: UploadService, upload_id: str, state: str | None, data: bytes, **kw: Any) -> int:
    target = kw.pop("target", TARGET)
    return await service.finish(
        target=target, upload_id=upload_id, digest=Digest.of(data), chunks=_body(data), length=len(data), state=state
    )


async def test_post_writes_nothing_and_the_closing_put_is_one_write_and_no_read(
    database: CountingDatabase, tmp_path: Path
) -> None:
    service = _service(database, tmp_path)
    session = await service.start(target=TARGET)
    assert session.state is not None and session.size == 0
    assert (database.reads, database.writes) == (0, 0), "POST touched the database"
    assert not _row(database, session.id)
    data = b"layer" * 800
    assert await _close(service, session.id, session.state, data) == len(data)
    assert (database.reads, database.writes) == (0, 1), "the closing PUT took more than one write transaction"
    assert _linked(database, Digest.of(data))


async def test_a_state_closes_its_session_once(database: CountingDatabase, tmp_path: Path) -> None:
    service = _service(database, tmp_path)
    session = await service.start(target=TARGET)
    await _close(service, session.id, session.state, b"first")
    with pytest.raises(UploadUnknown):
        await _close(service, session.id, session.state, b"second")
    with pytest.raises(UploadUnknown):
        await service.get(target=TARGET, upload_id=session.id, state=session.state)
    assert not _linked(database, Digest.of(b"second"))


async def test_a_cancelled_session_cannot_be_used_again(database: CountingDatabase, tmp_path: Path) -> None:
    service = _service(database, tmp_path)
    session = await service.start(target=TARGET)
    assert (await service.get(target=TARGET, upload_id=session.id, state=session.state)).size == 0
    await service.cancel(target=TARGET, upload_id=session.id, state=session.state)
    with pytest.raises(UploadUnknown):
        await service.get(target=TARGET, upload_id=session.id, state=session.state)
    with pytest.raises(UploadUnknown):
        await service.append(
            target=TARGET, upload_id=session.id, chunks=_body(b"abc"), start=0, length=3, state=session.state
        )
    with pytest.raises(UploadUnknown):
        await _close(service, session.id, session.state, b"late")
    with pytest.raises(UploadUnknown):
        await service.cancel(target=TARGET, upload_id=session.id, state=session.state)
    assert not _linked(database, Digest.of(b"late"))


async def test_a_state_is_refused_in_another_repository_and_when_altered(
    database: CountingDatabase, tmp_path: Path
) -> None:
    service = _service(database, tmp_path)
    session = await service.start(target=TARGET)
    assert session.state is not None
    with pytest.raises(UploadUnknown):
        await _close(service, session.id, session.state, b"elsewhere", target=OTHER)
    with pytest.raises(UploadUnknown):
        await service.get(target=OTHER, upload_id=session.id, state=session.state)
    other_instance = UploadTarget("another-instance", TARGET.name, None)
    with pytest.raises(UploadUnknown):
        await service.get(target=other_instance, upload_id=session.id, state=session.state)
    created, mac = session.state.split(".")
    altered_time = f"{int(created, 16) + 1:x}.{mac}"
    altered_mac = f"{created}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
    for state in (altered_time, altered_mac):
        with pytest.raises(UploadUnknown):
            await _close(service, session.id, state, b"forged")
    another_id = "0" * 32
    with pytest.raises(UploadUnknown):
        await _close(service, another_id, session.state, b"forged")
    for malformed in ("", "nodot", "zz.abc", "1" * 17 + ".abc", f"{created}.{'x' * 65}"):
        with pytest.raises(UploadInvalid):
            await service.get(target=TARGET, upload_id=session.id, state=malformed)
    assert not _linked(database, Digest.of(b"forged")) and not _linked(database, Digest.of(b"elsewhere"), OTHER)
    # The session itself is untouched by all that.
    await _close(service, session.id, session.state, b"the real one")
    assert _linked(database, Digest.of(b"the real one"))


async def test_an_expired_state_is_unknown(database: CountingDatabase, tmp_path: Path) -> None:
    service = _service(database, tmp_path)
    states = UploadStates(KEY, lifetime_seconds=LIFETIME)
    old = states.sign("ab" * 16, TARGET, now_ms() - int(LIFETIME * 1000) - 1000)
    with pytest.raises(UploadUnknown):
        await _close(service, "ab" * 16, old, b"too late")
    young = states.sign("cd" * 16, TARGET, now_ms() - int(LIFETIME * 1000) + 60_000)
    await _close(service, "cd" * 16, young, b"in time")
    assert _linked(database, Digest.of(b"in time"))


async def test_a_first_chunk_makes_the_row_and_the_session_goes_on(database: CountingDatabase, tmp_path: Path) -> None:
    service = _service(database, tmp_path)
    session = await service.start(target=TARGET)
    data = b"0123456789" * 30
    grown = await service.append(
        target=TARGET, upload_id=session.id, chunks=_body(data[:100]), start=0, length=100, state=session.state
    )
    assert grown.size == 100 and grown.state is None
    assert _row(database, session.id)
    # The state cannot start the session over; the row carries it on, with or without the state.
    assert (await service.get(target=TARGET, upload_id=session.id, state=session.state)).size == 100
    await service.append(target=TARGET, upload_id=session.id, chunks=_body(data[100:200]), start=100, length=100)
    # A small closing chunk that is not the whole blob: found out by its digest, then appended.
    size = await service.finish(
        target=TARGET,
        upload_id=session.id,
        digest=Digest.of(data),
        chunks=_body(data[200:]),
        length=100,
        state=session.state,
    )
    assert size == len(data) and _linked(database, Digest.of(data))
    assert not _row(database, session.id)
    with pytest.raises(UploadUnknown):
        await _close(service, session.id, session.state, b"again")


async def test_a_wrong_digest_ends_a_session_without_a_row(database: CountingDatabase, tmp_path: Path) -> None:
    service = _service(database, tmp_path)
    session = await service.start(target=TARGET)
    with pytest.raises(DigestInvalid):
        await service.finish(
            target=TARGET,
            upload_id=session.id,
            digest=Digest.of(b"something else"),
            chunks=_body(b"config"),
            length=6,
            state=session.state,
        )
    with pytest.raises(UploadUnknown):
        await _close(service, session.id, session.state, b"config")


async def test_an_empty_blob_closes_a_session_without_a_row(database: CountingDatabase, tmp_path: Path) -> None:
    service = _service(database, tmp_path)
    session = await service.start(target=TARGET)
    size = await service.finish(
        target=TARGET, upload_id=session.id, digest=Digest.of(b""), chunks=None, length=0, state=session.state
    )
    assert size == 0 and _linked(database, Digest.of(b""))
    with pytest.raises(UploadUnknown):
        await service.get(target=TARGET, upload_id=session.id, state=session.state)


async def test_another_node_with_the_same_master_key_takes_the_state(
    database: CountingDatabase, tmp_path: Path
) -> None:
    first = _service(database, tmp_path / "a")
    same_key = _service(database, tmp_path / "a")
    other_key = _service(database, tmp_path / "a", key=b"o" * 32)
    session = await first.start(target=TARGET)
    with pytest.raises(UploadUnknown):
        await _close(other_key, session.id, session.state, b"on a node with another key")
    await _close(same_key, session.id, session.state, b"on another node")
    assert _linked(database, Digest.of(b"on another node"))
    with pytest.raises(UploadUnknown):  # the claim is in the shared database
        await _close(first, session.id, session.state, b"on the first node")


async def test_under_quotas_post_keeps_its_row(database: CountingDatabase, tmp_path: Path) -> None:
    quotas = QuotaService(database, QuotaLimits(namespace_repositories=10))
    service = _service(database, tmp_path, quotas=quotas)
    session = await service.start(target=TARGET)
    assert session.state is None and _row(database, session.id)
    await _close(service, session.id, None, b"admitted")
    assert _linked(database, Digest.of(b"admitted")) and not _row(database, session.id)


async def test_a_session_with_a_row_is_closed_by_its_whole_blob_in_one_write_after_one_read(
    database: CountingDatabase, tmp_path: Path
) -> None:
    """The read finds the session before the blob is stored: an upload id the repository does not know
    leaves no file behind."""
    root = tmp_path / "storage"
    service = UploadService(database, BlobStore(FilesystemDriver(root)))  # no states: rows
    session = await service.start(target=TARGET)
    assert session.state is None and _row(database, session.id)
    reads, writes = database.reads, database.writes
    await _close(service, session.id, None, b"whole")
    assert (database.reads - reads, database.writes - writes) == (1, 1)
    assert _linked(database, Digest.of(b"whole")) and not _row(database, session.id)
    with pytest.raises(UploadUnknown):  # gone with its row
        await _close(service, session.id, None, b"whole again")
    with pytest.raises(UploadUnknown):  # a session of another repository is not closed by this one
        other = await service.start(target=OTHER)
        await _close(service, other.id, None, b"cross", target=TARGET)
    for data in (b"whole again", b"cross"):
        digest = Digest.of(data)
        assert not (root / "blobs" / digest.algorithm / digest.hex[:2] / digest.hex / "data").exists()


async def test_the_purge_forgets_claims_once_their_states_expired(database: CountingDatabase, tmp_path: Path) -> None:
    service = _service(database, tmp_path)
    session = await service.start(target=TARGET)
    await _close(service, session.id, session.state, b"done")
    assert database.run_read(lambda conn: upload_queries.claimed(conn, session.id))
    await service.purge(older_than_seconds=LIFETIME)
    assert database.run_read(lambda conn: upload_queries.claimed(conn, session.id))  # still needed
    database.run_write(lambda conn: conn.exec_driver_sql("UPDATE upload_claims SET claimed_at = 0"))
    await service.purge(older_than_seconds=LIFETIME)
    assert not database.run_read(lambda conn: upload_queries.claimed(conn, session.id))
