"""Every node of one database must share the master key: the first start records a check value of
its key (an HKDF output, not the key) and a start with another key is refused, by ``bootstrap`` and
by the real ``moorage`` command with one line and exit status 2, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from moorage.auth.keys import MasterKey, MasterKeyMismatch
from moorage.bootstrap import bootstrap
from moorage.metadata.database import Database
from moorage.metadata.tables import system_facts
from moorage.settings import Settings
from tests.conftest import DATABASES

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return (
        f"sqlite:///{tmp_path / 'shared.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_database_url")
    )


def node(tmp_path: Path, name: str, database_url: str, key: str | None) -> Settings:
    """Settings of one node: its own data directory, the shared database, a key given or its key file."""
    return Settings(
        data_dir=tmp_path / name,
        database_url=database_url,
        auth={"admin_password": "admin-password-1", **({"master_key": key} if key else {})},
    )


def test_a_node_with_another_master_key_is_refused(tmp_path: Path, database_url: str) -> None:
    bootstrap(node(tmp_path, "a", database_url, KEY_A))
    bootstrap(node(tmp_path, "a2", database_url, KEY_A))  # the same key: fine, every time
    with pytest.raises(MasterKeyMismatch, match="same key"):
        bootstrap(node(tmp_path, "b", database_url, KEY_B))
    with pytest.raises(MasterKeyMismatch):
        bootstrap(node(tmp_path, "c", database_url, None))  # a key file of its own: another key too

    database = Database(database_url)
    try:
        stored = database.run_read(lambda conn: conn.execute(select(system_facts.c.value)).scalars().all())
    finally:
        database.dispose()
    assert stored == [MasterKey.from_text(KEY_A).check_value()]
    assert KEY_A not in stored[0] and base64.b64decode(stored[0]) not in base64.b64decode(KEY_A)


def test_the_command_says_so_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    bootstrap(node(tmp_path, "a", url, KEY_A))
    env = {
        **os.environ,
        "MOORAGE_DATA_DIR": str(tmp_path / "b"),
        "MOORAGE_DATABASE_URL": url,
        "MOORAGE_AUTH__MASTER_KEY": KEY_B,
    }
    done = subprocess.run(
        [sys.executable, "-c", "from moorage.cli.main import run; run()", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "moorage: the master key (MOORAGE_AUTH__MASTER_KEY, or master.key in the data directory) is not the one "
        "this database was first started with: every node of one database must use the same key"
    ]
    assert KEY_B not in done.stderr
