"""The one cron-claiming helper of the schedulers (services/cron_claims.py): a fire is claimed by
exactly one of several processes reading the same marks, an idle mark moves without a run, an
invalid cron is skipped. A table of its own (id, last_scheduled_at) on a real database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, insert, select

from moorage.metadata.database import Database
from moorage.services.cron_claims import IDLE_MARK_MS, claim_fired
from tests.conftest import DATABASES

NOON = 1_800_000_000_000 // 86_400_000 * 86_400_000 + 12 * 3_600_000  # a noon UTC, in epoch ms
_meta = MetaData()
marked = Table(
    "cron_claims_test",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("cron", String(64), nullable=False),
    Column("last_scheduled_at", BigInteger, nullable=False),
)


@pytest.fixture(params=DATABASES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    database = Database(url)
    database.run_write(lambda conn: _meta.create_all(conn))
    yield database
    database.run_write(lambda conn: _meta.drop_all(conn))
    database.dispose()


def _rows(db: Database, rows: list[tuple[int, str, int]]) -> list[tuple[tuple[int, str], int]]:
    db.run_write(
        lambda conn: conn.execute(insert(marked), [{"id": i, "cron": c, "last_scheduled_at": m} for i, c, m in rows])
    )
    return [((i, c), m) for i, c, m in rows]


def _marks(db: Database) -> dict[int, int]:
    rows = db.run_read(lambda conn: conn.execute(select(marked.c.id, marked.c.last_scheduled_at)).all())
    return {int(r[0]): int(r[1]) for r in rows}


async def _claim(db: Database, marks: list[tuple[tuple[int, str], int]], now: int) -> list[int]:
    fired = await claim_fired(
        db, marked, marks, row_id=lambda row: row[0], cron=lambda row: row[1], now=now, what="test row"
    )
    return [row[0] for row in fired]


async def test_each_fire_is_claimed_once_by_processes_reading_the_same_marks(db: Database) -> None:
    marks = _rows(db, [(1, "0 0 12 * * *", NOON - 5000), (2, "0 0 13 * * *", NOON - 5000)])
    now = NOON + 1000
    results = await asyncio.gather(*(_claim(db, marks, now) for _ in range(4)))
    assert sorted(id_ for claimed in results for id_ in claimed) == [1]  # row 1 fired, one process runs it
    assert _marks(db) == {1: now, 2: NOON - 5000}  # row 2: not fired, mark recent
    assert await _claim(db, marks, now) == []  # the mark moved: a late reader of the old mark loses


async def test_an_idle_mark_moves_without_a_run_and_an_invalid_cron_is_skipped(db: Database) -> None:
    old = NOON - IDLE_MARK_MS - 5000
    marks = _rows(db, [(1, "0 0 13 * * *", old), (2, "not a cron", old)])
    assert await _claim(db, marks, NOON) == []
    assert _marks(db) == {1: NOON, 2: old}
