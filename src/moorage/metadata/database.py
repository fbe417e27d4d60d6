"""The metadata database: one synchronous SQLAlchemy engine, units of work run as transactions.

A unit of work is a plain function taking a ``Connection``; ``read`` and ``write`` run it in a
transaction and return its result. Why synchronous functions rather than an async driver: one
transaction then costs one hop to a worker thread instead of one per statement (aiosqlite hops
for every call), the same query code serves the HTTP API, the job workers and the CLI, and
SQLite reads, which never wait for a lock in WAL mode, run inline on the event loop with no hop
at all. Measured on this machine: a one-query transaction costs ~1.4 ms through aiosqlite,
~0.8 ms through a worker thread and ~0.17 ms inline.

SQLite is opened in WAL mode with foreign keys on and a generous busy timeout; write
transactions start with ``BEGIN IMMEDIATE`` so writers queue for the lock up front instead of
failing on upgrade ("database is locked"). Writers also queue on locks of their own before that
(``_one_writer``): SQLite's busy handler polls by sleeping 1, 2, 5 ... 100 ms, so writers contending
for the write lock leave it idle between polls (manifest PUTs at 16 concurrent requests: 325/s
contending, 371/s queued on a lock). Within a process a thread lock; between moorage's processes (the
HTTP workers, the job worker, the CLI) an exclusive ``flock`` on a file beside the database, which the
kernel hands to the next waiter the moment it is released. The busy handler remains for writers that
do not take it (another program on the same file). A SQLite write runs on a connection the process
keeps for writes, and a push's writes (``write(quick=True)``) run on the event loop itself when no
writer holds the locks: on the push path the hop to a thread, the pool checkout and SQLAlchemy's
statement machinery (``moorage.metadata.direct``) had cost more than SQLite. PostgreSQL (psycopg 3)
needs none of this: its writers lock rows, not the database. On PostgreSQL every statement is a round
trip between two processes (~0.3 ms of CPU, both sides counted, measured on this machine): reads run
without BEGIN and COMMIT (``_pg_autocommit``), and the hot write paths put several statements in one (the
blob link of a push).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from moorage.domain.clock import now_ms as now_ms  # queries and services import it from here too
from moorage.domain.errors import StorageFull

T = TypeVar("T")
UnitOfWork = Callable[[Connection], T]

SQLITE_BUSY_TIMEOUT_MS = 60_000


def sync_url(url: str) -> str:
    """Map the URLs people write (and older async ones) to the synchronous drivers moorage uses."""
    for prefix, replacement in (
        ("sqlite+aiosqlite://", "sqlite://"),
        ("postgresql+asyncpg://", "postgresql+psycopg://"),
        ("postgres://", "postgresql+psycopg://"),
    ):
        if url.startswith(prefix):
            return replacement + url[len(prefix) :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Database:
    """The engine plus transaction runners. ``dialect`` is ``sqlite`` or ``postgresql``."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10, max_overflow: int | None = None) -> None:
        self.url = sync_url(url)
        kwargs: dict[str, Any] = {
            "echo": echo,
            "poolclass": QueuePool,
            "pool_size": pool_size,
            "max_overflow": pool_size if max_overflow is None else max_overflow,
        }
        if self.url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
            kwargs["pool_size"] = pool_size + 1  # one more for the writer connection it keeps (``_sqlite_write``)
        else:
            kwargs["pool_pre_ping"] = False
        self.engine: Engine = create_engine(self.url, **kwargs)
        self.dialect = self.engine.dialect.name
        self._writer_lock: threading.Lock | None = None
        self._writer_file: _WriterFile | None = None
        self._write_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = (
            weakref.WeakKeyDictionary()
        )
        self._writer_connection: Connection | None = None
        self._writer_pid = 0
        self._inherited_writers: list[Connection] = []
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
            self._writer_lock = threading.Lock()
            self._writer_file = _WriterFile.beside(self.url)

    @contextmanager
    def read_transaction(self) -> Iterator[Connection]:
        """A read, for synchronous callers: on SQLite a transaction (one snapshot for all its
        statements); on PostgreSQL its statements run without BEGIN and COMMIT (see ``_pg_autocommit``)."""
        if self.dialect == "postgresql":
            with self._pg_autocommit() as conn:
                yield conn
            return
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _pg_autocommit(self) -> Iterator[Connection]:
        """PostgreSQL in autocommit mode, for reads and one-statement writes (``run_statement``): each
        statement is its own transaction. For a read, at READ
        COMMITTED, PostgreSQL's level and moorage's, a transaction gives each statement a snapshot of
        its own too, so the read sees what it saw in one; it saves the BEGIN and COMMIT round trips
        (two of the three of a one-query read: ~0.3 ms of CPU between the driver and the server). The
        flag is the driver's, set and cleared here; the connection goes back to the pool as it came."""
        with self.engine.connect() as conn:
            driver = conn.connection.dbapi_connection
            assert driver is not None
            driver.autocommit = True
            try:
                yield conn
            finally:
                if not driver.closed:
                    driver.autocommit = False

    @contextmanager
    def write_transaction(self) -> Iterator[Connection]:
        """A write transaction, committed on success, rolled back on any exception. A full disk
        (SQLite's SQLITE_FULL, PostgreSQL's disk_full) rolls back and raises ``StorageFull``."""
        if self._writer_lock is None:
            with _disk_full_as_storage_full(), self.engine.connect() as conn, conn.begin():
                yield conn
            return
        with self._writer_lock:
            if self._writer_file is None:
                with self._sqlite_write() as conn:
                    yield conn
                return
            with self._writer_file.held(), self._sqlite_write() as conn:
                yield conn

    @contextmanager
    def _sqlite_write(self) -> Iterator[Connection]:
        """A SQLite write transaction on the process's writer connection; the caller holds the writer
        locks (``_writer_lock``, then the lock file), so one thread at a time uses it. One connection
        kept open for all writes rather than one from the pool for each: the checkout, its events and
        the reset on return cost about as much as a short transaction's statements."""
        conn = self._writer_connection
        if conn is None or conn.closed or conn.invalidated or self._writer_pid != os.getpid():
            if conn is not None and self._writer_pid != os.getpid():
                # A connection made before a fork is the parent's: the child opens its own (SQLite
                # connections must not cross a fork) and keeps the parent's object unused and
                # referenced, so that no finalizer of the child ever resets it.
                self._inherited_writers.append(conn)
            conn = self.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
            self._writer_connection, self._writer_pid = conn, os.getpid()
        try:
            with _disk_full_as_storage_full(), conn.begin():
                yield conn
        finally:
            if conn.invalidated:
                conn.close()
                self._writer_connection = None

    def _try_write_here(self, work: UnitOfWork[T]) -> tuple[bool, T | None]:
        """SQLite: run ``work`` in a write transaction on this thread if no writer of any moorage
        process holds the locks now; (False, None) when it must wait for them, or when the work found
        it must run in a worker thread (``off_the_loop``: its transaction was rolled back)."""
        assert self._writer_lock is not None
        if not self._writer_lock.acquire(blocking=False):
            return False, None
        try:
            if self._writer_file is not None and not self._writer_file.try_lock():
                return False, None
            _on_loop.active = True
            try:
                with self._sqlite_write() as conn:
                    return True, work(conn)
            except _NeedsThread:
                return False, None
            finally:
                _on_loop.active = False
                if self._writer_file is not None:
                    self._writer_file.unlock()
        finally:
            self._writer_lock.release()

    def run_statement(self, work: UnitOfWork[T]) -> T:
        """Run ``work``, a write of one statement, as its own transaction: on PostgreSQL in autocommit
        mode (one round trip where a transaction around it takes three), on SQLite as ``run_write``."""
        if self.dialect != "postgresql":
            return self.run_write(work)
        with _disk_full_as_storage_full(), self._pg_autocommit() as conn:
            return work(conn)

    def run_read(self, work: UnitOfWork[T]) -> T:
        """Run ``work`` in a read transaction, here (synchronous callers: jobs, CLI)."""
        with self.read_transaction() as conn:
            return work(conn)

    def run_write(self, work: UnitOfWork[T]) -> T:
        """Run ``work`` in a write transaction, here."""
        with self.write_transaction() as conn:
            return work(conn)

    async def read(self, work: UnitOfWork[T], *, heavy: bool = False) -> T:
        """Run ``work`` in a read transaction. SQLite reads run inline (they never wait for a lock in
        WAL mode); PostgreSQL reads and ``heavy`` ones (large listings) run in a worker thread."""
        if self.dialect == "sqlite" and not heavy:
            return self.run_read(work)
        return await anyio.to_thread.run_sync(self.run_read, work)

    async def write(self, work: UnitOfWork[T], *, quick: bool = False) -> T:
        """Run ``work`` in a write transaction in a worker thread (it may wait for the write lock).

        SQLite's writers wait their turn on the event loop, not in a thread each: one thread at a time
        goes for the writer lock, so waiting writers do not hold the thread pool that reads use.

        ``quick`` work (a few statements on rows of one repository: the registry's pushes) runs on the
        event loop itself on SQLite when no writer holds the locks, as SQLite's reads do: the hop to a
        thread and back costs more CPU than such a transaction (~0.12 ms against ~0.1 ms, measured on
        this machine). It never waits on the loop: a held lock sends it to a thread as any other."""
        if quick and self._writer_lock is not None:
            ran, result = self._try_write_here(work)
            if ran:
                return result  # type: ignore[return-value]  # T, which may itself admit None
        return await anyio.to_thread.run_sync(self.run_write, work, limiter=self._sqlite_write_limiter())

    async def write_statement(self, work: UnitOfWork[T]) -> T:
        """``run_statement`` in a worker thread (SQLite: ``write(work, quick=True)``)."""
        if self.dialect != "postgresql":
            return await self.write(work, quick=True)
        return await anyio.to_thread.run_sync(self.run_statement, work)

    def _sqlite_write_limiter(self) -> CapacityLimiter | None:
        # One per event loop: a CapacityLimiter's waiters belong to the loop that runs them (tests and
        # the CLI may drive one Database from several loops in turn).
        if self.dialect != "sqlite":
            return None
        loop = asyncio.get_running_loop()
        limiter = self._write_limiters.get(loop)
        if limiter is None:
            limiter = self._write_limiters[loop] = CapacityLimiter(1)
        return limiter

    def dispose(self) -> None:
        """Close every pooled connection (and the writers' lock file)."""
        if self._writer_connection is not None and self._writer_pid == os.getpid():
            self._writer_connection.close()
        self._writer_connection = None
        self.engine.dispose()
        if self._writer_file is not None:
            self._writer_file.close()


class _NeedsThread(Exception):
    """Raised by ``off_the_loop`` in work that ``Database.write(quick=True)`` runs on the event loop."""


_on_loop = threading.local()
"""``active`` while this thread runs a quick write on its event loop."""


def off_the_loop() -> None:
    """Called by a unit of work before it calls back into the event loop (``anyio.from_thread``), which
    only a worker thread can do: a quick write that runs on the loop itself stops here, rolls back
    and runs again, from the start, in a worker thread."""
    if getattr(_on_loop, "active", False):
        raise _NeedsThread


class _WriterFile:
    """The lock file that queues SQLite writers of several processes: ``<database>-writer``, locked
    with ``flock`` for the length of each write transaction. The kernel wakes the next waiter when
    the holder unlocks, or when it dies: a killed process never leaves it locked. Opened once per
    process (a ``flock`` belongs to an open file, so a descriptor inherited across ``fork`` would be
    shared with the parent and exclude nothing); a lock that cannot be opened (a read-only directory)
    leaves the writers to SQLite's busy handler, as before.

    The wait has no bound of its own: a writer holds the lock only inside a write transaction, and a
    transaction that never ends would hold SQLite's write lock too, which no setting could cure."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    @classmethod
    def beside(cls, url: str) -> _WriterFile | None:
        """The lock of the database at ``url``; None for an in-memory database (one process only)."""
        database = make_url(url).database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return cls(f"{database}-writer")

    def _descriptor(self) -> int | None:
        if self._fd is None or self._pid != os.getpid():
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                return None
            self._pid = os.getpid()
        return self._fd

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def try_lock(self) -> bool:
        """Take the lock if it is free now: True when taken (or when there is no file to lock)."""
        fd = self._descriptor()
        if fd is None:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    @contextmanager
    def held(self) -> Iterator[None]:
        fd = self._descriptor()
        if fd is None:
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


SQLITE_FULL = 13
POSTGRES_DISK_FULL = "53100"


@contextmanager
def _disk_full_as_storage_full() -> Iterator[None]:
    """A full disk (SQLite's SQLITE_FULL, PostgreSQL's disk_full) raises ``StorageFull``."""
    try:
        yield
    except DBAPIError as error:
        if _is_disk_full(error):
            raise StorageFull(
                "the metadata database's disk is full: nothing was changed; free space and retry"
            ) from error
        raise


def _is_disk_full(error: DBAPIError) -> bool:
    """Whether a driver error says the database's disk is full."""
    sqlite_code = getattr(error.orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF == SQLITE_FULL  # the primary code of an extended result code
    return getattr(error.orig, "sqlstate", None) == POSTGRES_DISK_FULL


_BEGIN = {mode: f"BEGIN {mode}" for mode in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")}


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        # On the driver's connection: every transaction starts here, and SQLAlchemy's statement
        # machinery (an execution context, events, a result) costs more than the BEGIN itself.
        conn.connection.dbapi_connection.execute(_BEGIN[mode])  # type: ignore[union-attr]
