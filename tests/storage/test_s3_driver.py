"""What the S3 driver promises beyond the contract suite: uploads as S3 multipart uploads that any node
continues, parts listed page by page, a part schedule that never needs more than 10,000 parts, aborted
uploads leaving nothing behind, and bounded memory while a large upload streams through."""

from __future__ import annotations

import inspect
import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.storage.drivers.s3 import S3Driver
from moorage.storage.drivers.s3_client import S3Config
from moorage.storage.drivers.s3_writer import (
    MAX_PART_BYTES,
    MAX_PARTS,
    MIN_PART_BYTES,
    PARTS_PER_STEP,
    part_size,
    parts_bytes,
    schedule_capacity,
)
from tests.support.seaweedfs import S3_ENV, s3_config

MiB = 1 << 20
PART = 5 * MiB


@pytest.fixture(autouse=True)
def _store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store for the tests that use one (the async ones): the session's SeaweedFS, unless
    ``MOORAGE_TEST_S3`` names another."""
    if inspect.iscoroutinefunction(request.function) and not os.environ.get(S3_ENV):
        monkeypatch.setenv(S3_ENV, request.getfixturevalue("s3_server").store_env())


def driver(prefix: str | None = None, **overrides: Any) -> S3Driver:
    """A driver of its own (its own client: a node of its own) under ``prefix``."""
    return S3Driver(s3_config(prefix=prefix, **{"part_size": PART, **overrides}))


def uploads_of(drv: S3Driver, path: str) -> list[str]:
    """Ids of the multipart uploads in progress at ``path``."""
    key = drv.objects.key(path)
    found = drv.objects.client.list_multipart_uploads(Bucket=drv.config.bucket, Prefix=key).get("Uploads", [])
    return [u["UploadId"] for u in found if u["Key"] == key]


def count_calls(drv: S3Driver, operation: str) -> list[int]:
    """A list that grows by one at every ``operation`` request the driver's client makes."""
    calls: list[int] = []
    drv.objects.client.meta.events.register(f"before-call.s3.{operation}", lambda **_: calls.append(1))
    return calls


# --- the part schedule (pure) -----------------------------------------------------------------------------


@given(
    base=st.integers(min_value=MIN_PART_BYTES, max_value=512 * MiB),
    number=st.integers(min_value=1, max_value=MAX_PARTS),
)
def test_parts_are_within_s3_limits_and_sum_to_the_schedule(base: int, number: int) -> None:
    assert MIN_PART_BYTES <= part_size(number, base) <= MAX_PART_BYTES
    assert parts_bytes(number, base) == parts_bytes(number - 1, base) + part_size(number, base)


def test_the_largest_blob_accepted_fits_in_10000_parts() -> None:
    """Distribution's #886 and #2814: layers of 5 GB and more could not be pushed. With the default
    8 MiB parts doubling every thousand, 10,000 parts hold 7.8 TiB, more than S3's 5 TiB object."""
    assert schedule_capacity(8 * MiB) >= 5 << 40
    assert schedule_capacity(MIN_PART_BYTES) >= 1 << 40  # the default registry.blob_max_bytes
    # A 1 TiB blob in 8 MiB first parts: how many parts, and how big the biggest one held in memory.
    count = next(n for n in range(1, MAX_PARTS + 1) if parts_bytes(n, 8 * MiB) >= 1 << 40)
    assert count <= 8 * PARTS_PER_STEP and part_size(count, 8 * MiB) == 1 << 30


def test_a_schedule_that_cannot_reach_the_largest_blob_is_refused() -> None:
    with pytest.raises(ValueError, match="less than the largest blob"):
        S3Driver(S3Config(bucket="b", part_size=MIN_PART_BYTES, blob_max_bytes=5 << 40), client=object())
    with pytest.raises(ValueError, match="at least"):
        S3Driver(S3Config(bucket="b", part_size=MiB), client=object())


# --- multipart uploads on the store ---------------------------------------------------------------------


async def test_an_upload_started_on_one_node_continues_on_another() -> None:
    """Node A streams 12 MiB (two 5 MiB parts go to a multipart upload, 2 MiB stay in the state
    object); node B, which shares nothing with A but the store, appends 9 MiB and the file is whole."""
    node_a = driver()
    node_b = driver(prefix=node_a.config.prefix)
    first, second = os.urandom(12 * MiB), os.urandom(9 * MiB)
    writer = await node_a.writer("uploads/u/data", offset=0)
    for start in range(0, len(first), MiB):
        await writer.write(first[start : start + MiB])
    await writer.close()
    [upload_id] = uploads_of(node_a, "uploads/u/data")
    parts = node_a.objects.client.list_parts(
        Bucket=node_a.config.bucket, Key=node_a.objects.key("uploads/u/data"), UploadId=upload_id
    )["Parts"]
    assert [p["Size"] for p in parts] == [PART, PART]
    info = await node_b.stat("uploads/u/data")
    assert info is not None and info.size == len(first)

    writer = await node_b.writer("uploads/u/data", offset=len(first))
    await writer.write(second)
    await writer.close()
    assert uploads_of(node_b, "uploads/u/data") == [upload_id]  # the same multipart upload, continued
    await node_b.move("uploads/u/data", "blobs/b/data")
    assert await node_a.get_content("blobs/b/data") == first + second
    assert uploads_of(node_a, "uploads/u/data") == [] and await node_a.stat("uploads/u/data") is None


async def test_parts_are_listed_page_by_page() -> None:
    """Completing an upload needs every part's ETag: with two parts per page the driver must follow
    the pages (an unpaginated listing sees two of five parts and the upload could never complete)."""
    drv = driver(page_size=2)
    data = os.urandom(5 * PART + 123)
    writer = await drv.writer("uploads/p/data", offset=0)
    await writer.write(data)
    await writer.close()
    pages = count_calls(drv, "ListParts")
    await drv.move("uploads/p/data", "blobs/p/data")
    assert len(pages) == 3
    assert await drv.get_content("blobs/p/data") == data


async def test_a_cancelled_upload_leaves_no_object_and_no_multipart_upload() -> None:
    drv = driver()
    writer = await drv.writer("uploads/c/data", offset=0)
    await writer.write(os.urandom(PART + 10))
    await writer.close()
    assert len(uploads_of(drv, "uploads/c/data")) == 1
    await drv.delete("uploads/c")
    assert uploads_of(drv, "uploads/c/data") == []
    assert await drv.stat("uploads/c/data") is None and await drv.list("uploads") == []


async def test_a_failed_chunk_commits_none_of_its_parts() -> None:
    drv = driver()
    writer = await drv.writer("uploads/f/data", offset=0)
    await writer.write(b"kept")
    await writer.close()
    failed = await drv.writer("uploads/f/data", offset=4)
    await failed.write(os.urandom(2 * PART))  # two parts uploaded, then the chunk fails
    await failed.discard()
    await failed.close()
    assert await drv.get_content("uploads/f/data") == b"kept"
    retry = await drv.writer("uploads/f/data", offset=4)
    again = os.urandom(PART)
    await retry.write(again)
    await retry.close()
    assert await drv.get_content("uploads/f/data") == b"kept" + again


async def test_a_cut_inside_the_parts_keeps_the_bytes_before_it() -> None:
    """The database may hold a smaller size than the store (a node killed between the two writes):
    resuming there drops what lies beyond, even in the middle of an uploaded part."""
    drv = driver()
    data = os.urandom(3 * PART)
    writer = await drv.writer("uploads/t/data", offset=0)
    await writer.write(data)
    await writer.close()
    resumed = await drv.writer("uploads/t/data", offset=PART + 7)
    await resumed.write(b"tail")
    await resumed.close()
    assert await drv.get_content("uploads/t/data") == data[: PART + 7] + b"tail"


async def test_purge_aborts_uploads_no_state_names_and_keeps_the_others() -> None:
    drv = driver()
    writer = await drv.writer("uploads/k/data", offset=0)
    await writer.write(os.urandom(PART))
    await writer.close()
    orphan = drv.objects.client.create_multipart_upload(
        Bucket=drv.config.bucket, Key=drv.objects.key("uploads/o/data")
    )["UploadId"]
    assert await drv.purge_temporary(older_than_seconds=3600) == 0  # both too young
    assert await drv.purge_temporary(older_than_seconds=-5) == 1
    assert uploads_of(drv, "uploads/o/data") == [] and orphan
    assert len(uploads_of(drv, "uploads/k/data")) == 1


async def test_move_of_a_large_file_copies_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``COPY_OBJECT_MAX`` a move copies with UploadPartCopy (CopyObject stops at 5 GiB)."""
    from moorage.storage.drivers import s3

    monkeypatch.setattr(s3, "COPY_OBJECT_MAX", PART)
    monkeypatch.setattr(s3, "COPY_PART_MIN", PART)
    drv = driver()
    data = os.urandom(2 * PART + 99)
    await drv.put_content("uploads/m/data", data)
    copies = count_calls(drv, "UploadPartCopy")
    await drv.move("uploads/m/data", "blobs/m/data")
    assert len(copies) == 3
    assert await drv.get_content("blobs/m/data") == data and await drv.stat("uploads/m/data") is None


async def test_redirect_urls_are_presigned_and_short_lived() -> None:
    import httpx

    plain, redirecting = driver(), driver(redirect=True, redirect_expiry_seconds=60)
    assert plain.redirect_url("blobs/r/data") is None
    await redirecting.put_content("blobs/r/data", b"0123456789")
    url = redirecting.redirect_url("blobs/r/data")
    assert url is not None and "X-Amz-Expires=60" in url and "X-Amz-Signature=" in url
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).content == b"0123456789"
        ranged = await http.get(url, headers={"Range": "bytes=2-4"})
        assert ranged.status_code == 206 and ranged.content == b"234"
        assert (await http.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))).status_code == 403


async def test_a_range_of_a_file_being_written_is_read_from_its_parts() -> None:
    """A read at an offset past the tail the state object holds (the range lies in the parts)."""
    drv = driver()
    data = os.urandom(2 * PART + 100)
    writer = await drv.writer("uploads/r/data", offset=0)
    await writer.write(data)
    await writer.close()
    got = b"".join([chunk async for chunk in drv.read("uploads/r/data", PART + 5, 1000)])
    assert got == data[PART + 5 : PART + 1005]
