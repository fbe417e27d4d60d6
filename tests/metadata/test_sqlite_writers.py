"""SQLite writers of several processes queue on a lock file beside the database (``<db>-writer``,
``flock``), which the kernel hands to the next waiter at once, instead of on SQLite's busy handler,
which sleeps 1, 2, 5 ... 100 ms between polls and leaves the database idle meanwhile: every HTTP
worker, the job worker and the CLI write to one file."""

from __future__ import annotations

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
