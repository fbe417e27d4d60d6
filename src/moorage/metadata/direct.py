"""Prebuilt statements of the push path run straight on SQLite's driver.

``Connection.execute`` costs about 25 µs of CPU per statement on top of what sqlite3 itself takes
(~3 µs for a one-row insert): an execution context, its events, a ``Result`` and its metadata, all in
Python (measured on this machine). A push runs 5 to 7 statements in one transaction, so that
machinery cost more than the database. ``run`` compiles a prebuilt statement once per set of
parameter names and runs it on the ``sqlite3`` connection under the caller's transaction, applying
the same type conversions SQLAlchemy would (a Boolean column reads as a bool, not 0 or 1), and
expanding ``IN`` lists as SQLAlchemy does. On PostgreSQL it is ``Connection.execute``: a statement
there is a round trip to another process (~0.3 ms), which the Python machinery does not dominate.

The driver's errors are raised as SQLAlchemy raises them. Only statements built once at import time
belong here (the cache holds each for the life of the process); every parameter they name must be
given (``run`` refuses a statement that leaves one to a Python-side default, which the driver would
not fill in).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_SQLITE = sqlite.dialect(paramstyle="named")
_EXPANDING = re.compile(r"\(?__\[POSTCOMPILE_(\w+)\]\)?")

Processor = Callable[[Any], Any]


class Rows:
    """A statement's rows, fetched, and how many rows it changed."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def one(self) -> tuple[Any, ...]:
        if len(self.rows) != 1:
            raise LookupError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


@dataclass
class _Form:
    """A statement compiled for SQLite with one set of parameter names."""

    sql: str
    fixed: dict[str, Any]
    """Values the statement carries itself (literals bound as parameters)."""
    binds: dict[str, Processor]
    expanding: tuple[str, ...]
    results: tuple[Processor | None, ...] | None
    """Per column, its conversion; None when no column needs one."""
    by_lengths: dict[tuple[int, ...], str] = field(default_factory=dict)


_FORMS: dict[tuple[int, frozenset[str]], tuple[ClauseElement, _Form]] = {}


def run(conn: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> Rows:
    """Run ``statement`` (prebuilt, with ``bindparam`` parameters) with ``params`` in ``conn``'s
    transaction; its rows are fetched."""
    if conn.dialect.name != "sqlite":
        result = conn.execute(statement, params)  # type: ignore[call-overload]
        return Rows([tuple(row) for row in result] if result.returns_rows else [], result.rowcount)
    form = _form(statement, params)
    sql, args = _bound(form, params)
    try:
        cursor = _driver(conn).execute(sql, args)
        return _fetched(form, cursor)
    except sqlite3.Error as error:
        raise _wrapped(conn, sql, args, error) from error


def run_many(conn: Connection, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run ``statement`` once per parameter set of ``rows`` (all with the same names; no IN lists)."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(statement, list(rows))  # type: ignore[call-overload]
        return
    form = _form(statement, rows[0])
    if form.expanding:
        raise TypeError("run_many takes no IN lists")
    many = [_bound(form, row)[1] for row in rows]
    try:
        _driver(conn).executemany(form.sql, many)
    except sqlite3.Error as error:
        raise _wrapped(conn, form.sql, many, error) from error


def _wrapped(conn: Connection, sql: str, args: Any, error: sqlite3.Error) -> BaseException:
    """The driver's error as SQLAlchemy raises it (``IntegrityError``, ``OperationalError``...: what
    callers catch, such as the full disk that ``Database`` turns into ``StorageFull``)."""
    return DBAPIError.instance(sql, args, error, sqlite3.Error, dialect=conn.dialect)


def _driver(conn: Connection) -> sqlite3.Connection:
    driver = conn.connection.dbapi_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver


def _form(statement: ClauseElement, params: Mapping[str, Any]) -> _Form:
    key = (id(statement), frozenset(params))
    cached = _FORMS.get(key)
    if cached is not None and cached[0] is statement:
        return cached[1]
    form = _compiled(statement, params)
    _FORMS[key] = (statement, form)  # the statement is kept alive so its id is never reused
    return form


def _compiled(statement: ClauseElement, params: Mapping[str, Any]) -> _Form:
    compiled = statement.compile(dialect=_SQLITE, column_keys=list(params))
    assert isinstance(compiled, SQLCompiler)
    defaulted = {c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)} - set(params)
    if defaulted:  # SQLAlchemy's execution would compute these; the driver would store NULL
        raise TypeError(f"{sorted(defaulted)} of {statement} must be given: the driver fills in no defaults")
    fixed: dict[str, Any] = {}
    binds: dict[str, Processor] = {}
    expanding = []
    for name, bind in compiled.binds.items():
        if bind.expanding:
            expanding.append(name)
        if name not in params:
            if bind.required or bind.callable is not None:
                raise TypeError(f"{name!r} of {statement} must be given: the driver fills in no defaults")
            fixed[name] = bind.value
        processor = bind.type.dialect_impl(_SQLITE).bind_processor(_SQLITE)
        if processor is not None:
            binds[name] = processor
    results = tuple(
        column[3].dialect_impl(_SQLITE).result_processor(_SQLITE, None)
        for column in compiled._result_columns  # (keyname, name, objects, type) per column
    )
    return _Form(
        sql=compiled.string,
        fixed=fixed,
        binds=binds,
        expanding=tuple(expanding),
        results=results if any(results) else None,
    )


def _bound(form: _Form, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    args = {**form.fixed, **params} if form.fixed else dict(params)
    for name, processor in form.binds.items():
        value = args[name]
        args[name] = [processor(v) for v in value] if name in form.expanding else processor(value)
    if not form.expanding:
        return form.sql, args
    lengths = tuple(len(args[name]) for name in form.expanding)
    sql = form.by_lengths.get(lengths)
    if sql is None:
        sizes = dict(zip(form.expanding, lengths, strict=True))

        def listed(match: re.Match[str]) -> str:
            name = match.group(1)
            if not sizes[name]:
                return "(SELECT NULL WHERE 0)"  # an empty list: IN is false, NOT IN true, as SQLAlchemy's
            return "(" + ", ".join(f":{name}__{i}" for i in range(sizes[name])) + ")"

        sql = form.by_lengths[lengths] = _EXPANDING.sub(listed, form.sql)
    for name in form.expanding:
        for i, value in enumerate(args.pop(name)):
            args[f"{name}__{i}"] = value
    return sql, args


def _fetched(form: _Form, cursor: sqlite3.Cursor) -> Rows:
    rows = cursor.fetchall()
    if form.results is not None and rows:
        processors = form.results
        rows = [tuple(p(v) if p is not None else v for p, v in zip(processors, row, strict=True)) for row in rows]
    return Rows(rows, cursor.rowcount)
