"""Password hashing: the ``auth.password_hash_*`` settings choose the cost of new hashes, a hash keeps
its own parameters (so changing the settings locks nobody out), and a server hashes with its settings."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from moorage.auth.passwords import PasswordHashing
from moorage.metadata.database import Database
from moorage.metadata.tables import users
from moorage.settings.sections import AuthSettings
from tests.conftest import AppFactory
from tests.support.accounts import create_user


def _parameters(password_hash: str) -> tuple[int, int, int]:
    found = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+", password_hash)
    assert found, password_hash
    memory, time_cost, lanes = (int(value) for value in found.groups())
    return memory, time_cost, lanes


def test_the_settings_choose_new_hashes_and_every_hash_verifies_under_any_settings() -> None:
    default = PasswordHashing.from_settings(AuthSettings())
    cheap = PasswordHashing.from_settings(
        AuthSettings(password_hash_time_cost=1, password_hash_memory_kib=1024, password_hash_parallelism=1)
    )
    assert _parameters(default.hash("a-password-1")) == (65536, 3, 4)  # RFC 9106's second option
    strong, light = default.hash("a-password-1"), cheap.hash("a-password-1")
    assert _parameters(light) == (1024, 1, 1)
    for hashing in (default, cheap):
        assert hashing.verify(strong, "a-password-1") and hashing.verify(light, "a-password-1")
        assert not hashing.verify(strong, "a-password-2") and not hashing.verify(light, "A-password-1")
        assert not hashing.verify(None, "a-password-1")  # no such user: refused, after the same work
        assert not hashing.verify("not-a-hash", "a-password-1")


def test_a_server_hashes_with_its_settings(app_moorage_factory: AppFactory) -> None:
    moorage = app_moorage_factory(
        auth={"password_hash_time_cost": 2, "password_hash_memory_kib": 2048, "password_hash_parallelism": 2}
    )
    account = create_user(moorage, "hashed", domain=moorage.settings.auth.admin_user)
    database = Database(moorage.settings.database_url)
    try:
        stored = database.run_read(
            lambda conn: conn.execute(select(users.c.password_hash).where(users.c.name == "hashed")).scalar_one()
        )
    finally:
        database.dispose()
    assert _parameters(stored) == (2048, 2, 2)
    answer = moorage.http.get("/service/token", auth=httpx.BasicAuth(account.name, account.password))
    assert answer.status_code == 200, answer.text
