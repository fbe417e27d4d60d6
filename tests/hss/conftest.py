"""Fixtures of the image-security suite: a server per module and database, its own account (a
domain administrator) with AK/SK, and the SDK's project cache cleared between tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import MoorageFactory, _factory, clear_sdk_project_cache
from tests.support.accounts import Account, create_access_key, create_user, project_id
from tests.support.servers import ServerProcess, stop_all


@dataclass(frozen=True)
class HssAccount:
    """A domain administrator of its own account, with keys for the SDK."""

    account: Account
    access: str
    secret: str
    project: str

    @property
    def keys(self) -> tuple[str, str, str]:
        """(AK, SK, project id)."""
        return self.access, self.secret, self.project


@pytest.fixture(scope="module")
def module_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MoorageFactory]:
    """Servers that live for one test module."""
    factory, started = _factory(request, tmp_path_factory.mktemp("hss"))
    yield factory
    stop_all(started)


@pytest.fixture(scope="module")
def hss_server(shared_moorage: ServerProcess) -> ServerProcess:
    """A server with the default settings, on SQLite and on PostgreSQL: the session's shared one (use an
    account of the module's own; everything HSS lists is the account's)."""
    return shared_moorage


def new_account(server: ServerProcess, name: str) -> HssAccount:
    """A new account (domain) whose administrator is ``name``, with an access key."""
    account = create_user(server, name, admin=True)
    access, secret = create_access_key(server, account)
    return HssAccount(account, access, secret, project_id(server, account))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The SDK marks several of the operations tested here deprecated (HSS plans newer ones): not our concern."""
    for item in items:
        if "tests/hss/" in str(item.fspath):
            item.add_marker(pytest.mark.filterwarnings("ignore:Method '.*' of HssClient is deprecated"))


@pytest.fixture(autouse=True)
def _clear_sdk_cache() -> Iterator[None]:
    clear_sdk_project_cache()
    yield
    clear_sdk_project_cache()
