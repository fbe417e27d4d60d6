"""What a running ``moorage serve`` keeps on disk, on a bad day.

- The data directory is 0700 and every file in it 0600 (SQLite database with its -wal and -shm, the
  job queue, the master key, blobs, upload data); ``MOORAGE_UMASK`` opens them to the group.
- Bytes of an upload do not outlive it: DELETE frees them at once, a closing PUT cut short frees its
  chunk at once, and the periodic purge removes what killed processes left (temporary files, upload
  data without a session) but never a file that is being written, however quiet it has been.
Disk use is measured (allocated blocks under the storage root) before and after.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.hostile.serve_processes import Served, launch
from tests.support.ocilayout import digest_of
from tests.support.servers import free_port
from tests.support.upload_urls import closing_url

pytestmark = pytest.mark.slow

REPO = "leftovers/app"
MiB = 1 << 20
LONG_AGO = 2 * 3600  # seconds; the purge's idle age is set to its minimum, 60
OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server on SQLite whose data directory does not exist before it starts; the purge runs every
    second and takes files idle for a minute."""
    base = tmp_path_factory.mktemp("serve-data")
    data_dir = base / "data"
    port = free_port()
    server = launch(
        base,
        "data",
        port=port,
        data_dir=data_dir,
        args=["--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir), "--workers", "2"],
        env={
            "MOORAGE_AUTH__ADMIN_USER": ADMIN_USER,
            "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MOORAGE_ACCESS_LOG": "false",
            "MOORAGE_REGISTRY__PURGE_INTERVAL_SECONDS": "1",
            "MOORAGE_REGISTRY__TEMPORARY_STALE_AFTER_SECONDS": "60",
        },
    )
    try:
        server.server.wait_ready("/healthz", timeout=150)
        yield server
    finally:
        server.server.stop()
        server.kill_everything()


@pytest.fixture(scope="module")
def registry(served: Served) -> Iterator[httpx.Client]:
    """A client allowed to push to ``REPO``."""
    token = httpx.get(
        f"{served.server.base_url}/service/token",
        params={"scope": f"repository:{REPO}:pull,push"},
        auth=(ADMIN_USER, ADMIN_PASSWORD),
        timeout=60,
    ).json()["token"]
    with httpx.Client(
        base_url=served.server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as client:
        yield client


def _storage(served: Served) -> Path:
    return served.server.data_dir / "storage"


def _entries(root: Path) -> dict[Path, os.stat_result]:
    """Every path under ``root`` with its lstat. The server keeps working while the test looks (the
    vulnerability database is built in a scratch directory that is renamed or removed when done), so
    what vanishes between listing and lstat is left out rather than failing the walk."""
    found: dict[Path, os.stat_result] = {}
    for parent, directories, files in os.walk(root):  # os.walk skips a directory gone before its scan
        for name in [*directories, *files]:
            path = Path(parent, name)
            try:
                found[path] = path.lstat()
            except FileNotFoundError:
                continue
    return found


def _allocated(root: Path) -> int:
    """Bytes of disk the regular files under ``root`` take."""
    return sum(info.st_blocks * 512 for info in _entries(root).values() if stat.S_ISREG(info.st_mode))


def _start(registry: httpx.Client) -> str:
    response = registry.post(f"/v2/{REPO}/blobs/uploads/")
    assert response.status_code == 202, response.text
    return str(response.headers["location"])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_directory_and_every_file_in_it_are_private(served: Served, registry: httpx.Client) -> None:
    small = os.urandom(1000)
    response = registry.post(
        f"/v2/{REPO}/blobs/uploads/", params={"digest": digest_of(small)}, content=small, headers=OCTET
    )
    assert response.status_code == 201, response.text
    large = os.urandom(3 * MiB)
    location = _start(registry)
    response = registry.patch(location, content=large[:MiB], headers={**OCTET, "Content-Range": f"0-{MiB - 1}"})
    assert response.status_code == 202, response.text
    response = registry.put(
        closing_url(response.headers["location"], digest_of(large)),
        content=large[MiB:],
        headers={**OCTET, "Content-Range": f"{MiB}-{len(large) - 1}"},
    )
    assert response.status_code == 201, response.text
    open_session = _start(registry)  # left open: its data file is on disk
    assert registry.patch(open_session, content=b"partial", headers=OCTET).status_code == 202

    data_dir = served.server.data_dir
    entries = {data_dir: data_dir.lstat(), **_entries(data_dir)}
    directories = {p: info for p, info in entries.items() if stat.S_ISDIR(info.st_mode)}
    files = {p: info for p, info in entries.items() if stat.S_ISREG(info.st_mode)}
    assert {p.name for p in files} >= {"moorage.db", "moorage.db-wal", "moorage.db-shm", "queue.db", "master.key"}
    assert any("blobs" in p.parts for p in files) and any("uploads" in p.parts for p in files)
    modes = {p: stat.S_IMODE(info.st_mode) for p, info in entries.items()}
    assert {str(p.relative_to(data_dir)): oct(modes[p]) for p in directories if modes[p] != 0o700} == {}
    assert {str(p.relative_to(data_dir)): oct(modes[p]) for p in files if modes[p] != 0o600} == {}
    assert registry.delete(open_session).status_code == 204


def test_the_umask_setting_opens_the_data_to_the_group(tmp_path: Path) -> None:
    data_dir = tmp_path / "group-data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MOORAGE")},
        "MOORAGE_DATA_DIR": str(data_dir),
        "MOORAGE_UMASK": "0027",
        "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    result = subprocess.run(
        [sys.executable, "-m", "moorage", "admin", "user", "list"], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert _mode(data_dir) == 0o750
    assert _mode(data_dir / "moorage.db") == 0o640
    assert _mode(data_dir / "master.key") == 0o600  # a key file stays the owner's whatever the mask


def test_deleting_an_upload_frees_its_bytes_at_once(served: Served, registry: httpx.Client) -> None:
    storage = _storage(served)
    baseline = _allocated(storage)
    location = _start(registry)
    chunk = os.urandom(8 * MiB)
    response = registry.patch(location, content=chunk, headers={**OCTET, "Content-Range": f"0-{len(chunk) - 1}"})
    assert response.status_code == 202, response.text
    assert _allocated(storage) >= baseline + len(chunk)
    assert registry.delete(response.headers["location"]).status_code == 204
    assert _allocated(storage) <= baseline + 64 * 1024  # at once, not at the next purge


def test_a_closing_put_cut_short_frees_its_bytes_at_once(served: Served, registry: httpx.Client) -> None:
    """The client sends 6 of the 16 MiB it announced, then goes away: the session stays (it can be
    resumed, empty) and the 6 MiB do not."""
    storage = _storage(served)
    baseline = _allocated(storage)
    location = _start(registry)
    target = (
        httpx.URL(location).copy_add_param("digest", digest_of(b"never")).raw_path.decode()
    )  # Location's query kept
    declared = 16 * MiB
    with socket.create_connection(("127.0.0.1", served.server.port), timeout=60) as sock:
        head = (
            f"PUT {target} HTTP/1.1\r\nHost: {served.server.address}\r\n"
            f"Authorization: {registry.headers['Authorization']}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        )
        sock.sendall(head.encode())
        sent = 0
        while sent < 6 * MiB:
            sock.sendall(os.urandom(MiB))
            sent += MiB
        deadline = time.monotonic() + 30
        while _allocated(storage) < baseline + 4 * MiB and time.monotonic() < deadline:
            time.sleep(0.05)  # the server has written a good part of it
        assert _allocated(storage) >= baseline + 4 * MiB
    deadline = time.monotonic() + 30
    while _allocated(storage) > baseline + 64 * 1024 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _allocated(storage) <= baseline + 64 * 1024
    status = registry.get(location)
    assert status.status_code == 204 and status.headers["range"] == "0-0", status.text
    assert registry.delete(location).status_code == 204


_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
fcntl.flock(fd, fcntl.LOCK_SH)
os.write(fd, os.urandom(1 << 20))
print("holding", flush=True)
time.sleep(600)
"""


def _backdate(*paths: Path) -> None:
    then = time.time() - LONG_AGO
    for path in paths:
        os.utime(path, (then, then))


def _wait(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert condition(), what


def test_the_purge_takes_what_killed_processes_left_and_spares_what_is_being_written(
    served: Served, registry: httpx.Client
) -> None:
    storage = _storage(served)
    # Left by processes killed mid-write: a temporary file, upload data without a session.
    stale_temporary = storage / "tmp" / uuid.uuid4().hex
    stale_temporary.write_bytes(os.urandom(3 * MiB))
    orphan = storage / "uploads" / uuid.uuid4().hex / "data"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(os.urandom(3 * MiB))

    # Being written right now, though quiet for long: a temporary file of another process holding the
    # writers' lock, and a monolithic upload streaming in (no session: only its lock protects it).
    held = storage / "tmp" / uuid.uuid4().hex
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(held)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        blob = os.urandom(8 * MiB)
        resume = threading.Event()
        outcome: dict[str, httpx.Response] = {}

        def body() -> Iterator[bytes]:
            yield blob[: 6 * MiB]  # the store writes in 4 MiB batches: 4 MiB reach the disk
            resume.wait(120)
            yield blob[6 * MiB :]

        def push() -> None:
            outcome["response"] = registry.post(
                f"/v2/{REPO}/blobs/uploads/", params={"digest": digest_of(blob)}, content=body(), headers=OCTET
            )

        pusher = threading.Thread(target=push)
        pusher.start()
        try:

            def streaming() -> list[Path]:
                return [
                    p
                    for p in (storage / "uploads").glob("*/data")  # written and allocated
                    if p != orphan and p.stat().st_size >= 4 * MiB and p.stat().st_blocks * 512 >= 4 * MiB
                ]

            _wait(lambda: streaming(), 60, "the streamed upload never reached the disk")
            (live,) = streaming()
            time.sleep(0.5)  # the batch in flight has landed
            before = _allocated(storage)
            _backdate(stale_temporary, orphan, orphan.parent, held, live, live.parent)
            _wait(
                lambda: not stale_temporary.exists() and not orphan.parent.exists(),
                30,
                "the purge left what killed processes left",
            )
            time.sleep(3)  # several more purge passes, in both HTTP workers
            assert held.exists() and live.exists()
            assert before - _allocated(storage) >= 6 * MiB
        finally:
            resume.set()
            pusher.join(180)
        assert outcome["response"].status_code == 201, outcome["response"].text
        assert registry.get(f"/v2/{REPO}/blobs/{digest_of(blob)}").content == blob
    finally:
        holder.kill()
        holder.wait()
    _wait(lambda: not held.exists(), 30, "the file of the killed writer was never purged")
