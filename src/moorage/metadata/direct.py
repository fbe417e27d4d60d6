"""Prebuilt statements of the push path run straight on the database driver.

``Connection.execute`` costs CPU of its own on top of the driver's: an execution context, its events,
a ``Result`` and its metadata, all in Python. Measured on this machine: about 25 µs per statement on
SQLite, where ``sqlite3`` itself takes ~3 µs for a one-row insert, and about 95 µs per one-statement
transaction on PostgreSQL (254 against 159 µs of client CPU with psycopg directly). A push runs 5 to 7
statements on SQLite, so there that machinery cost more than the database. ``run`` compiles a
prebuilt statement once per dialect and set of parameter names and runs it on the driver's
connection under the caller's transaction (psycopg begins one by itself at the first statement, as
it does for SQLAlchemy), applying the same type conversions SQLAlchemy would (a Boolean column reads
as a bool, not 0 or 1) and expanding ``IN`` lists as SQLAlchemy does (an empty one is left to
SQLAlchemy). (Tried on PostgreSQL and not kept: sending the first statement in pipeline mode to save
BEGIN's round trip; psycopg's pipeline cost more client CPU, 235 against 159 µs, than it saved.)

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

import psycopg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_SQLITE = sqlite.dialect(paramstyle="named")
_EXPANDING = re.compile(r"\(?__\[POSTCOMPILE_(\w+)\]\)?")
_PLACEHOLDER = {"named": ":{}", "pyformat": "%({})s"}
"""How each driver's SQL names a parameter (sqlite3 takes ``:name``, psycopg ``%(name)s``)."""

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
    """A statement compiled for a dialect with one set of parameter names."""

    sql: str
    placeholder: str
    fixed: dict[str, Any]
    """Values the statement carries itself (literals bound as parameters)."""
    binds: dict[str, Processor]
    expanding: tuple[str, ...]
    results: tuple[Processor | None, ...] | None
    """Per column, its conversion; None when no column needs one."""
    by_lengths: dict[tuple[int, ...], str] = field(default_factory=dict)


_FORMS: dict[tuple[str, int, frozenset[str]], tuple[ClauseElement, _Form]] = {}
MAX_FORMS = 1024
"""Far more than the push path's prebuilt statements need; a bound on a caller's mistake."""


def run(conn: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> Rows:
    """Run ``statement`` (prebuilt, with ``bindparam`` parameters) with ``params`` in ``conn``'s
    transaction; its rows are fetched."""
    form = _form(conn, statement, params)
    if any(not params[name] for name in form.expanding):
        # An empty IN list: SQLAlchemy renders a typed empty set per dialect; rare enough to leave to it.
        result = conn.execute(statement, params)  # type: ignore[call-overload]
        return Rows([tuple(row) for row in result] if result.returns_rows else [], result.rowcount)
    sql, args = _bound(form, params)
    driver: Any = conn.connection.dbapi_connection
    try:
        cursor = driver.execute(sql, args)
        return _fetched(form, cursor)
    except _DRIVER_ERRORS as error:
        raise _wrapped(conn, sql, args, error) from error


def run_many(conn: Connection, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run ``statement`` once per parameter set of ``rows`` (all with the same names; no IN lists)."""
    if not rows:
        return
    form = _form(conn, statement, rows[0])
    if form.expanding:
        raise TypeError("run_many takes no IN lists")
    many = [_bound(form, row)[1] for row in rows]
    driver: Any = conn.connection.dbapi_connection
    try:
        if conn.dialect.name == "sqlite":
            driver.executemany(form.sql, many)
        else:
            driver.cursor().executemany(form.sql, many)
    except _DRIVER_ERRORS as error:
        raise _wrapped(conn, form.sql, many, error) from error


_DRIVER_ERRORS = (sqlite3.Error, psycopg.Error)


def _wrapped(conn: Connection, sql: str, args: Any, error: Exception) -> BaseException:
    """The driver's error as SQLAlchemy raises it (``IntegrityError``, ``OperationalError``...: what
    callers catch, such as the full disk that ``Database`` turns into ``StorageFull``)."""
    base = sqlite3.Error if isinstance(error, sqlite3.Error) else psycopg.Error
    return DBAPIError.instance(sql, args, error, base, dialect=conn.dialect)


def _form(conn: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> _Form:
    key = (conn.dialect.name, id(statement), frozenset(params))
    cached = _FORMS.get(key)
    if cached is not None and cached[0] is statement:
        return cached[1]
    form = _compiled(_SQLITE if conn.dialect.name == "sqlite" else conn.dialect, statement, params)
    if len(_FORMS) >= MAX_FORMS:  # statements built per call after all: compile them each time, bounded
        _FORMS.clear()
    _FORMS[key] = (statement, form)  # the statement is kept alive so its id is never reused
    return form


def _compiled(dialect: Dialect, statement: ClauseElement, params: Mapping[str, Any]) -> _Form:
    compiled = statement.compile(dialect=dialect, column_keys=list(params))
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
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            binds[name] = processor
    results = tuple(
        column[3].dialect_impl(dialect).result_processor(dialect, None)
        for column in compiled._result_columns  # (keyname, name, objects, type) per column
    )
    return _Form(
        sql=compiled.string,
        placeholder=_PLACEHOLDER[dialect.paramstyle],
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
            return "(" + ", ".join(form.placeholder.format(f"{name}__{i}") for i in range(sizes[name])) + ")"

        if len(form.by_lengths) >= MAX_FORMS:  # lists of ever new lengths: keep the cache bounded
            form.by_lengths.clear()
        sql = form.by_lengths[lengths] = _EXPANDING.sub(listed, form.sql)
    for name in form.expanding:
        for i, value in enumerate(args.pop(name)):
            args[f"{name}__{i}"] = value
    return sql, args


def _fetched(form: _Form, cursor: Any) -> Rows:
    rows = cursor.fetchall() if cursor.description is not None else []
    if form.results is not None and rows:
        processors = form.results
        rows = [tuple(p(v) if p is not None else v for p, v in zip(processors, row, strict=True)) for row in rows]
    return Rows(rows, cursor.rowcount)
