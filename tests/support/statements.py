"""The SQL statements a database is sent, counted the same way on SQLite and PostgreSQL.

SQLAlchemy's ``before_cursor_execute`` event does not see what ``moorage.metadata.direct`` runs on
SQLite's driver, so on SQLite the driver's own trace callback counts instead (it sees everything the
library runs). Transaction control (BEGIN, COMMIT, ROLLBACK) is left out on both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from moorage.metadata.database import Database

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")


def _kept(statements: list[str]) -> list[str]:
    return [s for s in statements if not s.lstrip().upper().startswith(_CONTROL)]


class Sent(list[str]):
    """The statements seen so far (read ``statements``: control statements left out)."""

    @property
    def statements(self) -> list[str]:
        return _kept(self)


@contextmanager
def on_connection(conn: Connection) -> Iterator[Sent]:
    """What ``conn`` (in a transaction) is sent during the block."""
    sent = Sent()
    if conn.dialect.name == "sqlite":
        driver: Any = conn.connection.dbapi_connection
        driver.set_trace_callback(sent.append)
        try:
            yield sent
        finally:
            driver.set_trace_callback(None)
        return

    def seen(*args: Any) -> None:
        sent.append(str(args[2]))

    event.listen(conn, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(conn, "before_cursor_execute", seen)


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

    def seen(*args: Any) -> None:
        sent.append(str(args[2]))

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
