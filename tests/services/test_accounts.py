"""Users and access keys at the service level: what a principal may do within its own domain and
what only the operator (``moorage admin``) may do, through the one method each operation has."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.auth.keys import MasterKey
from moorage.domain.errors import Conflict, Denied, NotFound, QuotaExceeded
from moorage.domain.identity import OPERATOR
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.services.access_keys import AccessKeyService
from moorage.services.users import UserService, principal_of

PASSWORD = "user-password-1"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path: Path = tmp_path_factory.mktemp("accounts") / "moorage.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def services(database: Database) -> tuple[UserService, AccessKeyService]:
    users = UserService(database, region="cn-north-4", admin_user="admin")
    return users, AccessKeyService(database, master_key=MasterKey(secrets.token_bytes(32)), users=users)


async def test_bootstrap_then_domain_users(services: tuple[UserService, AccessKeyService]) -> None:
    users, _keys = services
    generated = await users.bootstrap_admin(None)
    assert generated is not None and len(generated) >= 20
    assert await users.bootstrap_admin(None) is None  # only while no user exists
    admin = principal_of(await users.user_named("admin"), via="password")
    made = await users.create_user(name="erin", password=PASSWORD, caller=admin)
    assert (made.domain_id, made.is_admin) == (admin.domain_id, False)
    with pytest.raises(Denied):
        await users.create_user(name="frank", password=PASSWORD, caller=admin, is_admin=True)
    with pytest.raises(Denied):
        await users.create_user(name="frank", password=PASSWORD, caller=admin, domain_name="elsewhere")
    other = await users.create_user(name="grace", password=PASSWORD, caller=OPERATOR)
    assert other.domain_name == "grace"
    assert {u.name for u in await users.users(caller=admin)} == {"admin", "erin"}
    assert {"admin", "erin", "grace"} <= {u.name for u in await users.users(caller=OPERATOR)}
    with pytest.raises(NotFound):
        await users.delete_user(other.id, caller=admin)  # another domain's user is not there for it
    with pytest.raises(Conflict):
        await users.delete_user(admin.user_id or "", caller=admin)
    await users.delete_user(made.id, caller=admin)
    await users.delete_user(other.id, caller=OPERATOR)
    assert {u.name for u in await users.users(caller=OPERATOR)} == {"admin"}


async def test_access_keys_of_oneself_the_domain_or_anyone(services: tuple[UserService, AccessKeyService]) -> None:
    users, keys = services
    owner = await users.create_user(name="heidi", password=PASSWORD, caller=OPERATOR, domain_name="keys")
    boss = await users.create_user(name="ivan", password=PASSWORD, caller=OPERATOR, domain_name="keys", is_admin=True)
    peer = await users.create_user(name="judy", password=PASSWORD, caller=OPERATOR, domain_name="keys")
    stranger = await users.create_user(name="mallory", password=PASSWORD, caller=OPERATOR)
    me = principal_of(owner, via="token")
    created = await keys.create_access_key(owner.id, caller=me, description="mine")
    assert (await keys.access_key_secret(created.key.access)) == (owner, created.secret)
    await keys.create_access_key(owner.id, caller=principal_of(boss, via="token"))
    with pytest.raises(QuotaExceeded):
        await keys.create_access_key(owner.id, caller=OPERATOR)
    assert len(await keys.access_keys(caller=me)) == 2
    for outsider in (peer, stranger):
        with pytest.raises(NotFound):
            await keys.access_keys(caller=principal_of(outsider, via="token"), user_id=owner.id)
        with pytest.raises(NotFound):
            await keys.delete_access_key(created.key.access, caller=principal_of(outsider, via="token"))
    changed = await keys.update_access_key(created.key.access, caller=OPERATOR, enabled=False)
    assert not changed.enabled and changed.description == "mine"
    assert await keys.access_key_secret(created.key.access) is None  # a disabled key signs nothing
    await keys.delete_access_key(created.key.access, caller=principal_of(boss, via="token"))
    assert created.key.access not in {k.access for k in await keys.access_keys(caller=OPERATOR)}
    with pytest.raises(NotFound):
        await keys.access_key(created.key.access, caller=me)
