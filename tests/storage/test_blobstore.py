"""The content-addressed store: digests always verified, partial data never visible as a blob."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from moorage.domain.digests import Digest, new_hasher
from moorage.domain.errors import DigestInvalid, SizeInvalid, TooLarge
from moorage.storage.blobstore import BATCH, BlobStore
from moorage.storage.drivers import create_driver

UPLOAD = "0" * 32


@pytest.fixture(params=[False, True], ids=["page-cache", "direct"])
def store(tmp_path: Path, request: pytest.FixtureRequest) -> BlobStore:
    return BlobStore(create_driver("filesystem", root=tmp_path, direct_writes=request.param))


async def chunks_of(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def read_all(store: BlobStore, digest: Digest) -> bytes:
    return b"".join([c async for c in store.read(digest)])


async def test_append_and_commit_with_running_hash(store: BlobStore) -> None:
    data = os.urandom(BATCH * 2 + 12345)  # several batches plus a tail
    hasher = new_hasher("sha256")
    size = await store.append(UPLOAD, offset=0, chunks=chunks_of(data), hasher=hasher)
    assert size == len(data)
    digest = Digest.of(data)
    await store.commit(UPLOAD, digest=digest, size=size, hasher=hasher)
    assert await read_all(store, digest) == data
    assert await store.list_uploads() == []


async def test_commit_without_hasher_rehashes_from_storage(store: BlobStore) -> None:
    """After a restart the running hash is gone: the stored bytes are hashed again."""
    data = os.urandom(300_000)
    await store.append(UPLOAD, offset=0, chunks=chunks_of(data[:100_000]), hasher=None)
    await store.append(UPLOAD, offset=100_000, chunks=chunks_of(data[100_000:]), hasher=None)
    digest = Digest(algorithm="sha512", hex=hashlib.sha512(data).hexdigest())
    await store.commit(UPLOAD, digest=digest, size=len(data), hasher=None)
    assert await read_all(store, digest) == data


async def test_wrong_digest_stores_nothing(store: BlobStore) -> None:
    data = b"real content"
    hasher = new_hasher("sha256")
    await store.append(UPLOAD, offset=0, chunks=chunks_of(data), hasher=hasher)
    claimed = Digest.of(b"other content")
    with pytest.raises(DigestInvalid):
        await store.commit(UPLOAD, digest=claimed, size=len(data), hasher=hasher)
    assert await store.stat(claimed) is None
    assert await store.stat(Digest.of(data)) is None
    assert await store.list_uploads() == []


async def test_size_mismatch_is_refused(store: BlobStore) -> None:
    await store.append(UPLOAD, offset=0, chunks=chunks_of(b"abc"), hasher=None)
    with pytest.raises(SizeInvalid):
        await store.commit(UPLOAD, digest=Digest.of(b"abc"), size=4, hasher=None)


async def test_limit_refuses_bodies_longer_than_declared(store: BlobStore) -> None:
    with pytest.raises(TooLarge):
        await store.append(UPLOAD, offset=0, chunks=chunks_of(b"x" * 100), hasher=None, limit=10)


async def test_interrupted_append_leaves_no_blob(store: BlobStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.append(UPLOAD, offset=0, chunks=broken(), hasher=None)
    blobs_dir = Path(store.driver.local_path("blobs") or "")
    assert not blobs_dir.exists() or not any(p.is_file() for p in blobs_dir.rglob("*"))
    # Nothing of the failed chunk stays on disk.
    assert await store.upload_size(UPLOAD) == 0


async def test_a_chunk_cut_short_leaves_no_bytes_behind(store: BlobStore) -> None:
    """A body shorter than its Content-Length (the client went away) is refused, and the upload is
    as long as before the chunk: the bytes that did arrive are not kept until a purge."""
    await store.append(UPLOAD, offset=0, chunks=chunks_of(b"kept"), hasher=None)
    with pytest.raises(SizeInvalid):
        await store.append(UPLOAD, offset=4, chunks=chunks_of(b"x" * 300_000), hasher=None, limit=1_000_000, exact=True)
    assert await store.upload_size(UPLOAD) == 4


async def test_committing_existing_content_keeps_one_copy(store: BlobStore) -> None:
    data = b"same"
    for upload in ("1" * 32, "2" * 32):
        hasher = new_hasher("sha256")
        await store.append(upload, offset=0, chunks=chunks_of(data), hasher=hasher)
        await store.commit(upload, digest=Digest.of(data), size=4, hasher=hasher)
    assert await read_all(store, Digest.of(data)) == data
    assert await store.list_uploads() == []


@pytest.mark.parametrize("piece", [1_000_003, BATCH * 2 + 7])
async def test_pieces_across_batches_arrive_in_order(store: BlobStore, piece: int) -> None:
    """Pieces that straddle the batches (or hold several) are cut and written in order, hashed as
    they go, and the spare batches a second append reuses hold nothing of the first."""
    data = os.urandom(BATCH * 3 + 4099)
    hasher = new_hasher("sha256")
    first = await store.append(UPLOAD, offset=0, chunks=chunks_of(data[: BATCH + 5], piece), hasher=hasher)
    size = await store.append(UPLOAD, offset=first, chunks=chunks_of(data[first:], piece), hasher=hasher)
    assert size == len(data)
    digest = Digest.of(data)
    await store.commit(UPLOAD, digest=digest, size=size, hasher=hasher)
    assert await read_all(store, digest) == data
