"""Several nodes starting at once against one new PostgreSQL database: every one of them migrates and
prepares the defaults (``bootstrap``), and all must come up, with one administrator and one schema."""

from __future__ import annotations

import base64
import multiprocessing
import multiprocessing.synchronize
import os
from pathlib import Path

from sqlalchemy import func, select

from moorage.bootstrap import bootstrap
from moorage.metadata.database import Database
from moorage.metadata.migrate import HEAD_REVISION, current_revision
from moorage.metadata.tables import users
from moorage.settings import Settings

NODES = 4
KEY = base64.b64encode(bytes(range(32))).decode()


def _node(data_dir: str, database_url: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    """One node's start (in a process of its own: Alembic keeps per-process state)."""
    settings = Settings(
        data_dir=Path(data_dir),
        database_url=database_url,
        auth={"master_key": KEY, "admin_password": "admin-password-1"},
    )  # type: ignore[arg-type]
    barrier.wait()
    bootstrap(settings)


def test_nodes_starting_together_on_a_new_database_all_start(tmp_path: Path, pg_database_url: str) -> None:
    context = multiprocessing.get_context("fork")  # the test process's modules, without importing them again
    barrier = context.Barrier(NODES)
    nodes = [context.Process(target=_node, args=(str(tmp_path), pg_database_url, barrier)) for _ in range(NODES)]
    for node in nodes:
        node.start()
    for node in nodes:
        node.join(120)
    assert [node.exitcode for node in nodes] == [0] * NODES
    db = Database(pg_database_url)
    try:
        assert current_revision(db) == HEAD_REVISION
        assert db.run_read(lambda conn: conn.execute(select(func.count()).select_from(users)).scalar_one()) == 1
    finally:
        db.dispose()


def test_moorage_migrate_brings_a_new_database_to_the_current_schema_once(tmp_path: Path, pg_database_url: str) -> None:
    """The deployment guide's ``moorage migrate``: run before the nodes, and again harmlessly."""
    from typer.testing import CliRunner

    from moorage.cli.main import app

    env = {
        "MOORAGE_DATABASE_URL": pg_database_url,
        "MOORAGE_DATA_DIR": str(tmp_path / "data"),
        "MOORAGE_AUTH__MASTER_KEY": KEY,
        "MOORAGE_AUTH__ADMIN_PASSWORD": "admin-password-1",
    }
    mask = os.umask(0o077)  # the command sets the process's umask (as serve does): put it back after
    os.umask(mask)
    for _ in range(2):
        try:
            result = CliRunner().invoke(app, ["migrate"], env=env)
        finally:
            os.umask(mask)
        assert result.exit_code == 0, result.output
        assert f"database schema at revision {HEAD_REVISION}" in result.output
    db = Database(pg_database_url)
    try:
        assert db.run_read(lambda conn: conn.execute(select(func.count()).select_from(users)).scalar_one()) == 1
    finally:
        db.dispose()
