"""The SQL statements a database is sent, counted the same way on SQLite and PostgreSQL.

SQLAlchemy's ``before_cursor_execute`` event does not see what ``moorage.metadata.direct`` runs on the
driver, so the drivers are watched instead: SQLite's trace callback (it sees everything the library
runs) and, on PostgreSQL, psycopg's ``Cursor.execute`` and ``executemany`` (what SQLAlchemy and
``direct`` both call). Transaction control (BEGIN, COMMIT, ROLLBACK) is left out on both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Connection

from moorage.metadata.database import Database

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")


class Sent(list[str]):
    """The statements seen so far (read ``statements``: control statements left out)."""

    autocommit: list[bool]
    """PostgreSQL: per statement, whether its connection was in autocommit mode (its own transaction)."""

    def __init__(self) -> None:
        super().__init__()
        self.autocommit = []

    @property
    def statements(self) -> list[str]:
        return [s for s in self if not s.lstrip().upper().startswith(_CONTROL)]


@contextmanager
def _psycopg_watched(sent: Sent, only: Any = None) -> Iterator[None]:
    """Record what psycopg cursors execute (of the driver connection ``only``, or of every one)."""
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def seen(cursor: psycopg.Cursor[Any], query: Any) -> None:
        if only is None or cursor.connection is only:
            sent.append(str(query))
            sent.autocommit.append(cursor.connection.autocommit)

    def watched_execute(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        seen(self, query)
        return execute(self, query, *args, **kwargs)

    def watched_executemany(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        seen(self, query)
        return executemany(self, query, *args, **kwargs)

    psycopg.Cursor.execute = watched_execute  # type: ignore[assignment,method-assign]
    psycopg.Cursor.executemany = watched_executemany  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        psycopg.Cursor.execute = execute  # type: ignore[method-assign]
        psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]


@contextmanager
def on_connection(conn: Connection) -> Iterator[Sent]:
    """What ``conn`` (in a transaction) is sent during the block."""
    sent = Sent()
    driver: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite":
        driver.set_trace_callback(sent.append)
        try:
            yield sent
        finally:
            driver.set_trace_callback(None)
        return
    with _psycopg_watched(sent, driver):
        yield sent


@contextmanager
def on_database(database: Database) -> Iterator[Sent]:
    """What every connection of ``database`` is sent during the block (on SQLite its connections are
    closed first, so that each one opened in the block is traced)."""
    sent = Sent()
    if database.dialect == "sqlite":

        def traced(driver: Any, _record: Any) -> None:
            driver.set_trace_callback(sent.append)

        database.dispose()
        event.listen(database.engine, "connect", traced)
        try:
            yield sent
        finally:
            event.remove(database.engine, "connect", traced)
            database.dispose()  # the traced connections go
        return
    with _psycopg_watched(sent):
        yield sent
