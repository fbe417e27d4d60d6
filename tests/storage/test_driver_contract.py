"""The storage-driver contract: every driver must pass every test here. Add a driver to DRIVERS and
the whole suite runs against it."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.storage.drivers import create_driver
from moorage.storage.interface import StorageDriver
from tests.support.seaweedfs import s3_driver

DriverFactory = Callable[[Path], StorageDriver]
DRIVERS: dict[str, DriverFactory] = {
    "filesystem": lambda root: create_driver("filesystem", root=root),
    "s3": s3_driver,  # the store tests/storage/conftest.py names: the session's SeaweedFS
}


@pytest.fixture(params=sorted(DRIVERS))
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> StorageDriver:
    return DRIVERS[request.param](tmp_path / "root")


async def collect(driver: StorageDriver, path: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in driver.read(path, offset, length)])


async def test_put_get_stat(driver: StorageDriver) -> None:
    assert await driver.stat("a/b/c") is None
    await driver.put_content("a/b/c", b"hello")
    assert await driver.get_content("a/b/c") == b"hello"
    info = await driver.stat("a/b/c")
    assert info is not None and info.size == 5 and info.modified > 0
    await driver.put_content("a/b/c", b"replaced")
    assert await driver.get_content("a/b/c") == b"replaced"


async def test_put_new_content_writes_only_what_is_absent(driver: StorageDriver) -> None:
    assert await driver.put_new_content("n/e/w", b"first") is not None
    assert await driver.put_new_content("n/e/w", b"second") is None
    assert await driver.get_content("n/e/w") == b"first"


async def test_get_missing_raises_file_not_found(driver: StorageDriver) -> None:
    with pytest.raises(FileNotFoundError):
        await driver.get_content("nope")


async def test_read_ranges(driver: StorageDriver) -> None:
    data = bytes(range(256)) * 9000  # > 2 read chunks
    await driver.put_content("big", data)
    assert await collect(driver, "big") == data
    assert await collect(driver, "big", 10, 20) == data[10:30]
    assert await collect(driver, "big", len(data) - 5) == data[-5:]
    assert await collect(driver, "big", 1_500_000, 1_000_000) == data[1_500_000:2_304_000]
    assert await collect(driver, "big", len(data)) == b""


async def test_writer_appends_and_resumes(driver: StorageDriver) -> None:
    writer = await driver.writer("up/data", offset=0)
    await writer.write(b"abc")
    await writer.write(bytearray(b"def"))
    assert writer.size == 6
    await writer.close()
    resumed = await driver.writer("up/data", offset=6)
    await resumed.write(memoryview(b"ghi"))
    await resumed.close(durable=True)
    assert await driver.get_content("up/data") == b"abcdefghi"


async def test_writer_at_offset_discards_what_lies_beyond(driver: StorageDriver) -> None:
    """A chunk interrupted half-way leaves stray bytes; the retry overwrites them."""
    writer = await driver.writer("up/data", offset=0)
    await writer.write(b"0123456789")
    await writer.close()
    retry = await driver.writer("up/data", offset=4)
    await retry.write(b"XY")
    await retry.close()
    assert await driver.get_content("up/data") == b"0123XY"


async def test_writer_refuses_offset_past_end(driver: StorageDriver) -> None:
    await driver.put_content("short", b"abc")
    with pytest.raises(ValueError, match="only 3 bytes"):
        await driver.writer("short", offset=10)


async def test_move_replaces_and_removes_source(driver: StorageDriver) -> None:
    await driver.put_content("src/x", b"new")
    await driver.put_content("dst/deep/x", b"old")
    await driver.move("src/x", "dst/deep/x")
    assert await driver.get_content("dst/deep/x") == b"new"
    assert await driver.stat("src/x") is None


async def test_a_moved_file_bears_the_time_of_the_move(driver: StorageDriver) -> None:
    # Garbage collection tells bytes a push just put in place from old ones by their modification time.
    writer = await driver.writer("src/upload", offset=0)
    await writer.write(b"written long ago")
    await writer.close()
    local = driver.local_path("src/upload")
    if local is not None:
        os.utime(local, (time.time() - 86400, time.time() - 86400))
    before = time.time()
    await driver.move("src/upload", "dst/blob")
    info = await driver.stat("dst/blob")
    assert info is not None and info.modified >= before - 1


async def test_delete_file_and_tree_and_missing(driver: StorageDriver) -> None:
    await driver.put_content("t/a", b"1")
    await driver.put_content("t/sub/b", b"2")
    await driver.delete("t/a")
    assert await driver.stat("t/a") is None
    await driver.delete("t")
    assert await driver.stat("t/sub/b") is None
    await driver.delete("never/was")  # not an error


async def test_list(driver: StorageDriver) -> None:
    assert await driver.list("dir") == []
    await driver.put_content("dir/b", b"")
    await driver.put_content("dir/a/x", b"")
    assert await driver.list("dir") == ["a", "b"]


async def test_writer_discard_gives_back_what_it_appended(driver: StorageDriver) -> None:
    """A chunk that fails leaves no bytes behind: the file is as long as before the chunk."""
    first = await driver.writer("up/data", offset=0)
    await first.write(b"abc")
    await first.close()
    failed = await driver.writer("up/data", offset=3)
    await failed.write(b"defg")
    await failed.discard()
    await failed.close()
    assert await driver.get_content("up/data") == b"abc"


async def test_delete_if_idle_takes_idle_files_only(driver: StorageDriver) -> None:
    await driver.put_content("idle/a", b"1")
    await driver.put_content("idle/sub/b", b"2")
    assert await driver.delete_if_idle("idle", older_than_seconds=3600) == 0  # touched just now
    assert await driver.get_content("idle/a") == b"1"
    await asyncio.sleep(0.05)
    assert await driver.delete_if_idle("idle", older_than_seconds=0.01) == 2
    assert await driver.stat("idle/a") is None and await driver.stat("idle/sub/b") is None
    assert await driver.list("idle") == []
    assert await driver.delete_if_idle("never/was", older_than_seconds=0) == 0


async def test_delete_if_idle_never_takes_a_file_being_written(driver: StorageDriver) -> None:
    writer = await driver.writer("up/data", offset=0)
    await writer.write(b"quiet for a long time")
    await asyncio.sleep(0.05)
    assert await driver.delete_if_idle("up", older_than_seconds=0.01) == 0
    assert await driver.stat("up/data") is not None
    await writer.close()
    assert await driver.delete_if_idle("up", older_than_seconds=0.01) == 1


async def test_purge_temporary_leaves_stored_files(driver: StorageDriver) -> None:
    await driver.put_content("kept/a", b"x")
    await asyncio.sleep(0.05)
    assert await driver.purge_temporary(older_than_seconds=0.01) == 0  # put_content left nothing behind
    assert await driver.get_content("kept/a") == b"x"


@pytest.mark.parametrize("bad", ["", "/abs", "a/../b", "a//b", "./a", "a/."])
async def test_paths_that_escape_or_are_ambiguous_are_refused(driver: StorageDriver, bad: str) -> None:
    with pytest.raises(ValueError):
        await driver.stat(bad)


@settings(max_examples=25, deadline=None)
@given(chunks=st.lists(st.binary(max_size=3000), max_size=8), cut=st.integers(min_value=0, max_value=30000))
async def test_writer_against_bytes_oracle(
    tmp_path_factory: pytest.TempPathFactory, chunks: list[bytes], cut: int
) -> None:
    for name, factory in DRIVERS.items():
        drv = factory(tmp_path_factory.mktemp(name))
        oracle = b"".join(chunks)
        writer = await drv.writer("f", offset=0)
        for chunk in chunks:
            await writer.write(chunk)
        await writer.close()
        assert await collect(drv, "f") == oracle
        cut_at = min(cut, len(oracle))
        resumed = await drv.writer("f", offset=cut_at)
        await resumed.write(b"tail")
        await resumed.close()
        assert await drv.get_content("f") == oracle[:cut_at] + b"tail"
