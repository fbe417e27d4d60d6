"""The metadata database on a full disk: a write that does not fit raises ``StorageFull`` (the API
renders it as 507), rolls back whole, and leaves every committed row readable; once the operator
frees space, writes work again. Through SQLAlchemy and through ``direct`` (the push path's statements
on the driver) alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, func, insert, select
from sqlalchemy.engine import Connection

from moorage.domain.errors import StorageFull
from moorage.metadata import direct
from moorage.metadata.database import Database
from tests.support.devices import small_tmpfs

ROW = 64 * 1024
rows = Table("rows", MetaData(), Column("id", Integer, primary_key=True), Column("data", LargeBinary))
_INSERT = insert(rows)


def _insert(conn: Connection, values: list[dict[str, Any]], through: str) -> None:
    if through == "direct":
        direct.run_many(conn, _INSERT, values)
    else:
        conn.execute(_INSERT, values)


@pytest.mark.parametrize("through", ["sqlalchemy", "direct"])
def test_a_full_disk_is_storage_full_and_nothing_is_half_written(tmp_path: Path, through: str) -> None:
    with small_tmpfs(tmp_path / "small-device", 2 << 20) as device:
        ballast = device / "ballast"  # what the operator deletes to free space
        ballast.write_bytes(b"\0" * (512 * 1024))
        db = Database(f"sqlite:///{device / 'meta.sqlite'}")
        rows.create(db.engine)
        committed = 0
        with pytest.raises(StorageFull) as caught:
            for batch in range(100):  # 100 x 4 x 64 KiB: far more than the 2 MiB device holds
                db.run_write(
                    lambda conn, b=batch: _insert(
                        conn, [{"id": b * 4 + i, "data": bytes([b % 256]) * ROW} for i in range(4)], through
                    )
                )
                committed += 4
        assert "disk is full" in caught.value.message
        assert 0 < committed < 400
        count = db.run_read(lambda conn: conn.execute(select(func.count()).select_from(rows)).scalar())
        assert count == committed  # the refused batch left no row behind
        ballast.unlink()
        db.run_write(lambda conn: _insert(conn, [{"id": 10_000, "data": b"x" * ROW}], through))
        assert (
            db.run_read(lambda conn: conn.execute(select(rows.c.data).where(rows.c.id == 10_000)).scalar())
            == b"x" * ROW
        )
        db.dispose()
