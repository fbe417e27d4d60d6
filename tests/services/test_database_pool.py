"""The HTTP process's database pool is the setting's size (plus four for bursts): with 10 kept, 16
clients pushing at once made PostgreSQL start and end server processes all along."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.pool import QueuePool

from moorage.app import build_services
from moorage.settings import Settings


def test_the_pool_keeps_the_configured_number_of_connections(tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=tmp_path, database_pool_size=3))
    try:
        pool = services.db.engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool._max_overflow) == (3 + 1, 4)  # SQLite: and the writer connection
    finally:
        services.db.dispose()
    assert Settings(data_dir=tmp_path).database_pool_size == 16
