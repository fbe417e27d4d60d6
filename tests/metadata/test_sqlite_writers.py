"""SQLite writers of several processes queue on a lock file beside the database (``<db>-writer``,
``flock``), which the kernel hands to the next waiter at once, instead of on SQLite's busy handler,
which sleeps 1, 2, 5 ... 100 ms between polls and leaves the database idle meanwhile: every HTTP
worker, the job worker and the CLI write to one file. A process writes on one connection it keeps, and
a push's quick writes run on the event loop when the locks are free, in a worker thread when not."""

from __future__ import annotations

import asyncio
import fcntl
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from moorage.metadata.database import Database

FORK = multiprocessing.get_context("fork")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'm.db'}", pool_size=2)
    database.run_write(lambda conn: conn.execute(text("CREATE TABLE t (n INTEGER)")))
    yield database
    database.dispose()


def _locked_by_someone(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_write_transaction_holds_the_lock_file(db: Database, tmp_path: Path) -> None:
    lock = tmp_path / "m.db-writer"
    with db.write_transaction() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert _locked_by_someone(lock)
    assert not _locked_by_someone(lock)
    assert lock.stat().st_mode & 0o077 == 0  # private, like the database beside it


def _write_when_told(db: Database, go: EventType, done: EventType) -> None:
    db.engine.dispose(close=False)  # the parent's SQLite connections stay the parent's
    go.wait(30)
    writers = db._writer_file
    assert writers is not None
    with writers.held():  # SQLite's own lock would hold the child back too: this is the lock file's
        done.set()
    db.run_write(lambda conn: conn.execute(text("INSERT INTO t VALUES (2)")))


def test_a_forked_process_takes_the_lock_on_its_own_descriptor(db: Database) -> None:
    """A ``flock`` belongs to an open file: a child that wrote through the descriptor it inherited
    would share its parent's lock and walk in beside a parent mid-transaction."""
    go, done = FORK.Event(), FORK.Event()
    # Forked before the parent writes again (a thread lock held at fork would stay held in the child).
    child = FORK.Process(target=_write_when_told, args=(db, go, done))
    child.start()
    with db.write_transaction() as conn:  # the descriptor the child inherited is open and locked here
        conn.execute(text("INSERT INTO t VALUES (1)"))
        go.set()
        assert not done.wait(0.5), "the child wrote while the parent held the lock"
    assert done.wait(30)
    child.join(30)
    assert child.exitcode == 0
    assert db.run_read(lambda conn: sorted(conn.execute(text("SELECT n FROM t")).scalars())) == [1, 2]


def _hold_forever(db: Database, holding: EventType) -> None:
    db.engine.dispose(close=False)
    with db.write_transaction() as conn:
        conn.execute(text("INSERT INTO t VALUES (3)"))
        holding.set()
        threading.Event().wait()


def test_a_killed_writer_leaves_nothing_locked(db: Database) -> None:
    holding = FORK.Event()
    child = FORK.Process(target=_hold_forever, args=(db, holding))
    child.start()
    assert holding.wait(30)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    db.run_write(lambda conn: conn.execute(text("INSERT INTO t VALUES (4)")))
    assert db.run_read(lambda conn: list(conn.execute(text("SELECT n FROM t")).scalars())) == [4]


def _count(db: Database) -> int:
    return int(db.run_read(lambda conn: conn.execute(text("SELECT count(*) FROM t")).scalar_one()))


async def test_a_quick_write_runs_on_the_event_loop_when_no_writer_holds_the_locks(db: Database) -> None:
    def insert(conn: Connection) -> int:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        return threading.get_ident()

    assert await db.write(insert, quick=True) == threading.get_ident()
    assert await db.write(insert) != threading.get_ident()  # other writes: a worker thread
    assert _count(db) == 2


async def test_a_quick_write_waits_for_a_held_lock_in_a_thread_not_on_the_loop(db: Database, tmp_path: Path) -> None:
    fd = os.open(tmp_path / "m.db-writer", os.O_RDWR)  # another process's writer, as far as the lock goes
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        ran_on: list[int] = []

        def insert(conn: Connection) -> None:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            ran_on.append(threading.get_ident())

        task = asyncio.ensure_future(db.write(insert, quick=True))
        await asyncio.sleep(0.3)  # the loop runs meanwhile: the write did not wait on it
        assert not task.done() and not ran_on
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    await asyncio.wait_for(task, 30)
    assert ran_on and ran_on[0] != threading.get_ident()
    assert _count(db) == 1


async def test_a_failed_quick_write_rolls_back_and_frees_the_locks(db: Database, tmp_path: Path) -> None:
    def fail(conn: Connection) -> None:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await db.write(fail, quick=True)
    assert _count(db) == 0
    assert not _locked_by_someone(tmp_path / "m.db-writer")
    await db.write(lambda conn: conn.execute(text("INSERT INTO t VALUES (2)")), quick=True)
    assert _count(db) == 1


def test_writes_share_one_connection_which_a_broken_one_replaces(db: Database) -> None:
    """The process's writer connection is kept between write transactions (a pool checkout per write
    cost as much as a short transaction), and replaced once the driver reports it broken."""
    first = db.run_write(lambda conn: conn.connection.dbapi_connection)
    assert db.run_write(lambda conn: conn.connection.dbapi_connection) is first

    def broken(conn: Connection) -> None:
        conn.invalidate()
        raise RuntimeError("connection lost")

    with pytest.raises(RuntimeError):
        db.run_write(broken)
    replacement = db.run_write(lambda conn: conn.connection.dbapi_connection)
    assert replacement is not first
    db.run_write(lambda conn: conn.execute(text("INSERT INTO t VALUES (5)")))
    assert _count(db) == 1
