"""The filesystem driver's own temporary files and its writers' locks: the purge takes what a killed
process left, and never a file another process (or this one) is writing."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

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
