"""The filesystem driver's own temporary files and its writers' locks: the purge takes what a killed
process left, and never a file another process (or this one) is writing."""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import time
from pathlib import Path

import pytest

from moorage.storage.drivers import create_driver
from moorage.storage.drivers.filesystem import ORDERED_METADATA_FILESYSTEMS, FilesystemDriver, filesystem_type


def _backdate(path: Path, seconds: float = 7200) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_purge_temporary_takes_files_left_by_a_killed_process(tmp_path: Path) -> None:
    driver = FilesystemDriver(tmp_path)
    left = tmp_path / "tmp" / "0123456789abcdef"
    left.write_bytes(b"half a blob")
    assert await driver.purge_temporary(older_than_seconds=60) == 0  # written just now: maybe still in use
    _backdate(left)
    assert await driver.purge_temporary(older_than_seconds=60) == 1
    assert not left.exists()


async def test_purge_temporary_spares_a_file_another_writer_holds(tmp_path: Path) -> None:
    """The writers' shared lock (here taken through a descriptor of its own, as another process
    would) keeps an old, quiet temporary file."""
    driver = FilesystemDriver(tmp_path)
    held = tmp_path / "tmp" / "fedcba9876543210"
    fd = os.open(held, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.write(fd, b"slow writer")
        _backdate(held)
        assert await driver.purge_temporary(older_than_seconds=60) == 0
        assert held.exists()
    finally:
        os.close(fd)  # the writer is gone: its lock with it
    assert await driver.purge_temporary(older_than_seconds=60) == 1


async def test_a_writer_holds_its_file_against_the_purge(tmp_path: Path) -> None:
    driver = FilesystemDriver(tmp_path)
    writer = await driver.writer("uploads/" + "a" * 32 + "/data", offset=0)
    await writer.write(b"streaming")
    data = tmp_path / "uploads" / ("a" * 32) / "data"
    _backdate(data)
    _backdate(data.parent)
    assert await driver.delete_if_idle("uploads/" + "a" * 32, older_than_seconds=60) == 0
    await writer.write(b" more")
    await writer.close()
    assert data.read_bytes() == b"streaming more"


def _recording_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The paths os.fsync is called on from here on (read from /proc before the descriptor closes)."""
    synced: list[Path] = []
    real = os.fsync

    def recording(fd: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return synced


async def test_a_new_blob_directory_is_named_durably_in_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new blob's file, its new directory and that directory's entry in its parent are all fsync'd
    before the write returns, on a filesystem that does not order its metadata (on ext4 and XFS the
    directory's own fsync commits its entry too: see the next test)."""
    driver = FilesystemDriver(tmp_path, fsync_parents=True)
    (tmp_path / "blobs" / "sha256" / "ab").mkdir(parents=True)
    synced = _recording_fsyncs(monkeypatch)
    await driver.put_content("blobs/sha256/ab/abcd/data", b"blob")
    assert tmp_path / "blobs" / "sha256" / "ab" / "abcd" in synced  # the rename's entry
    assert tmp_path / "blobs" / "sha256" / "ab" in synced  # the new directory's entry
    synced.clear()
    await driver.put_content("blobs/sha256/ab/abcd/data", b"blob")  # the directory exists: nothing more
    assert tmp_path / "blobs" / "sha256" / "ab" not in synced


async def test_a_committed_upload_names_its_new_blob_directory_durably(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = FilesystemDriver(tmp_path, fsync_parents=True)
    await driver.put_content("uploads/u1/data", b"large blob")
    synced = _recording_fsyncs(monkeypatch)
    await driver.move("uploads/u1/data", "blobs/sha256/cd/cdef/data")
    for made in ("blobs", "blobs/sha256", "blobs/sha256/cd", "blobs/sha256/cd/cdef"):
        assert (tmp_path / made).parent in synced  # each new directory's entry in its parent


def test_parents_are_fsynced_unless_the_filesystem_orders_its_metadata(tmp_path: Path) -> None:
    kind = filesystem_type(tmp_path)
    assert kind, "the filesystem of the test directory is not found in /proc/self/mountinfo"
    assert FilesystemDriver(tmp_path).fsync_parents == (kind not in ORDERED_METADATA_FILESYSTEMS)
    assert filesystem_type(Path("/proc/self")) == "proc"


def _open_flags(path: Path) -> int:
    """The flags of this process's descriptor open on ``path`` (from /proc/self/fdinfo)."""
    for entry in os.scandir("/proc/self/fd"):
        try:
            if os.readlink(entry.path) == str(path):
                info = Path(f"/proc/self/fdinfo/{entry.name}").read_text()
                return int(next(line.split()[1] for line in info.splitlines() if line.startswith("flags:")), 8)
        except OSError:
            continue
    raise AssertionError(f"{path} is not open")


async def test_aligned_upload_data_goes_around_the_page_cache_and_the_tail_through_it(tmp_path: Path) -> None:
    """Upload data arriving in page-aligned batches is written with O_DIRECT (no copy into the page
    cache); the first piece that is not aligned (a body's tail, a client's ``bytes``) turns it off for
    the rest of the writer, and every byte lands in order either way."""
    driver = FilesystemDriver(tmp_path, direct_writes=True)
    if not driver.direct_writes:
        pytest.skip("this filesystem refuses O_DIRECT")
    path = "uploads/0123456789abcdef0123456789abcdef/data"
    batch = mmap.mmap(-1, 1 << 20)
    batch.write(os.urandom(1 << 20))
    tail = os.urandom(5000)
    writer = await driver.writer(path, offset=0)
    try:
        assert writer.direct and _open_flags(tmp_path / path) & os.O_DIRECT
        await writer.write(memoryview(batch))
        assert writer.direct
        await writer.write(memoryview(batch)[: 8192 + 100])  # an aligned part, then 100 bytes buffered
        assert not writer.direct and not _open_flags(tmp_path / path) & os.O_DIRECT
        await writer.write(tail)
    finally:
        await writer.close(durable=True)
    resumed = await driver.writer(path, offset=(1 << 20) + 8192 + 100 + 5000)
    try:
        assert not resumed.direct  # an unaligned offset: the page cache from the start
        await resumed.write(b"end")
    finally:
        await resumed.close()
    assert (tmp_path / path).read_bytes() == bytes(batch) + bytes(batch)[: 8192 + 100] + tail + b"end"


async def test_direct_writes_are_a_setting(tmp_path: Path) -> None:
    """``storage.direct_writes=false`` keeps every write in the page cache."""
    driver = create_driver("filesystem", root=tmp_path, direct_writes=False)
    assert isinstance(driver, FilesystemDriver) and not driver.direct_writes
    writer = await driver.writer("uploads/x/data", offset=0)
    try:
        assert not writer.direct and not _open_flags(tmp_path / "uploads/x/data") & os.O_DIRECT
    finally:
        await writer.close()


async def test_a_direct_write_the_filesystem_refuses_is_written_through_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device whose blocks are larger than the alignment refuses the aligned write (EINVAL) after
    taking part of it, as a short write can: the piece is written again, buffered, in its place."""
    driver = FilesystemDriver(tmp_path, direct_writes=True)
    if not driver.direct_writes:
        pytest.skip("this filesystem refuses O_DIRECT")
    batch = mmap.mmap(-1, 1 << 16)
    batch.write(os.urandom(1 << 16))
    real_write = os.write
    refused: list[int] = []

    def refuse_direct(fd: int, data: memoryview) -> int:  # type: ignore[type-arg]
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            if not refused:
                refused.append(fd)
                return real_write(fd, data[:4096])  # a short write, then the refusal
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", refuse_direct)
    writer = await driver.writer("uploads/y/data", offset=0)
    try:
        await writer.write(b"head")  # unaligned: buffered from here on ...
        assert not writer.direct
    finally:
        await writer.close()
    writer = await driver.writer("uploads/z/data", offset=0)
    try:
        await writer.write(memoryview(batch))  # ... and here the refusal turns it buffered
        assert not writer.direct and refused
        await writer.write(b"tail")
    finally:
        await writer.close()
    assert (tmp_path / "uploads/z/data").read_bytes() == bytes(batch) + b"tail"


async def test_a_new_file_never_replaces_one_put_there_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``put_new_content`` looks for the file, writes its temporary one, then names it: a file another
    writer renamed there in between (a push whose upload became the blob) is kept, and nothing is
    reported made, so the caller never takes back a file that is not its own."""
    driver = FilesystemDriver(tmp_path)
    fsync = os.fsync

    def fsync_then_renamed_there(fd: int) -> None:
        fsync(fd)
        if not (tmp_path / "n" / "new").exists():
            (tmp_path / "n" / "other").write_bytes(b"theirs")
            os.replace(tmp_path / "n" / "other", tmp_path / "n" / "new")

    monkeypatch.setattr(os, "fsync", fsync_then_renamed_there)
    assert await driver.put_new_content("n/new", b"mine") is None
    assert (tmp_path / "n" / "new").read_bytes() == b"theirs"
    assert os.listdir(tmp_path / "tmp") == []
    made = await driver.put_new_content("n/made", b"mine")
    assert made is not None and made.identity is not None
    info = (tmp_path / "n" / "made").stat()
    assert made.identity == (info.st_dev, info.st_ino, info.st_mtime_ns)
