"""Servers start from a migrated template database (tests/conftest.py ``migrated_database_url``)
instead of migrating an empty one: each still has a master key of its own, the one its database
agreed on at its first start, and its administrator logs in; a test that sets what the first start
makes (the administrator, the hash, the database) gets an empty database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, template_fits
from tests.support.accounts import Account, iam_token
from tests.support.servers import ServerProcess

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)


def _agreed_key_check(database_url: str) -> str:
    from moorage.bootstrap import MASTER_KEY_FACT
    from moorage.metadata.database import Database
    from moorage.metadata.tables import system_facts

    database = Database(database_url, pool_size=1)
    try:
        query = select(system_facts.c.value).where(system_facts.c.name == MASTER_KEY_FACT)
        return str(database.run_read(lambda conn: conn.execute(query).scalar_one()))
    finally:
        database.dispose()


def test_a_server_from_the_template_has_its_own_master_key_and_administrator(
    shared_moorage: ServerProcess, _migrated_sqlite: Path
) -> None:
    from moorage.auth.keys import MasterKey

    own = MasterKey.load_or_create(shared_moorage.data_dir / "master.key")
    template = MasterKey.load_or_create(_migrated_sqlite / "master.key")
    assert own.check_value() != template.check_value()
    assert _agreed_key_check(shared_moorage.env["MOORAGE_DATABASE_URL"]) == own.check_value()
    assert iam_token(shared_moorage, ADMIN)


@pytest.mark.parametrize(
    ("env", "fits"),
    [
        (None, True),
        ({"MOORAGE_STORAGE__ROOT": "/x", "MOORAGE_JOBS__THREADS": "1"}, True),
        ({"MOORAGE_AUTH__ADMIN_PASSWORD": "another-one-2"}, False),
        ({"MOORAGE_AUTH__PASSWORD_HASH_TIME_COST": "3"}, False),
        ({"MOORAGE_DATABASE_URL": "sqlite:////tmp/x.db"}, False),
        ({"MOORAGE_CONFIG": "/etc/moorage.toml"}, False),
    ],
)
def test_only_servers_whose_first_start_the_template_matches_use_it(env: dict[str, str] | None, fits: bool) -> None:
    assert template_fits(env) is fits
