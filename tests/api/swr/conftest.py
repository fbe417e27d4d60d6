"""Fixtures of the SWR management API tests: for the whole package, one running moorage per database
(SQLite, PostgreSQL; starting one costs several seconds here, so every module shares it, until the
test process ends, and uses names of its own), the administrator's AK/SK, project id and IAM token,
an ``SwrClient`` of the official SDK signed with that AK/SK, and checks that SDK responses carry the
types its models define."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    DATABASES,
    MoorageFactory,
    SessionCache,
    clear_sdk_project_cache,
)
from tests.support.accounts import Account, create_access_key, iam_token, management, project_id
from tests.support.servers import ServerProcess
from tests.support.swr_images import registry_client

if TYPE_CHECKING:  # the SDK loads when a test uses it, not when the package's pure unit tests collect
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkswr.v2 import SwrClient

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
SWR_CODE = re.compile(r"^SVCSTG\.SWR\.\d{7}$")


@dataclass(frozen=True)
class Swr:
    """A running moorage and an account's ways in: AK/SK for the SDK, a token for plain HTTP."""

    server: ServerProcess
    account: Account
    access: str
    secret: str
    project: str
    token: str

    def sdk(self) -> SwrClient:
        """The official SDK client, signing with the AK/SK and the project id."""
        from huaweicloudsdkcore.auth.credentials import BasicCredentials
        from huaweicloudsdkswr.v2 import SwrClient

        return (
            SwrClient.new_builder()
            .with_credentials(BasicCredentials(self.access, self.secret, self.project))
            .with_endpoints([self.server.base_url])
            .build()
        )

    def api(self) -> httpx.Client:
        """Plain HTTP with ``X-Auth-Token``."""
        return management(self.server, self.token)

    def registry(self) -> httpx.Client:
        """The OCI API with the account's password (Basic)."""
        return registry_client(self.server.base_url, self.account.name, self.account.password)


def connect(server: ServerProcess, account: Account) -> Swr:
    """AK/SK, project id and token of ``account`` on ``server``."""
    access, secret = create_access_key(server, account)
    return Swr(server, account, access, secret, project_id(server, account), iam_token(server, account))


@pytest.fixture(scope="module", params=DATABASES)
def swr_server(
    request: pytest.FixtureRequest, session_moorage_factory: MoorageFactory, session_cache: SessionCache
) -> ServerProcess:
    """One server per database for the package's tests, started once per test process (a module-scoped
    parameter over a session cache: see ``SessionCache`` in tests/conftest.py)."""
    database = str(request.param)
    return session_cache.get(f"swr:{database}", lambda: session_moorage_factory(database=database))


@pytest.fixture(scope="module")
def swr(swr_server: ServerProcess, session_cache: SessionCache) -> Swr:
    """The administrator's access to the package's server (one access key per server)."""
    return session_cache.get(f"swr-admin:{swr_server.base_url}", lambda: connect(swr_server, ADMIN))


@pytest.fixture(autouse=True)
def _clear_sdk_cache() -> Iterator[None]:
    clear_sdk_project_cache()
    yield
    clear_sdk_project_cache()


_PRIMITIVES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "bool": (bool,), "float": (float, int)}


def assert_sdk_types(obj: Any, *, optional: frozenset[str] = frozenset(), where: str = "") -> None:
    """Every attribute the SDK model declares is present with the declared type (recursively); only
    the attributes named in ``optional`` may be None."""
    for attribute, declared in type(obj).openapi_types.items():
        value = getattr(obj, attribute)
        path = f"{where}.{attribute}" if where else attribute
        if value is None:
            assert attribute in optional, f"{type(obj).__name__}.{path} is missing"
            continue
        _check_value(value, declared, optional, path)


def _check_value(value: Any, declared: str, optional: frozenset[str], path: str) -> None:
    if declared.startswith("list["):
        assert isinstance(value, list), f"{path}: expected a list, got {value!r}"
        for i, item in enumerate(value):
            _check_value(item, declared[5:-1], optional, f"{path}[{i}]")
    elif declared.startswith("dict(str, "):
        assert isinstance(value, dict), f"{path}: expected a dict, got {value!r}"
        for key, item in value.items():
            assert isinstance(key, str)
            _check_value(item, declared[len("dict(str, ") : -1], optional, f"{path}[{key!r}]")
    elif declared == "object":  # any JSON value (a retention rule's ``params``)
        assert isinstance(value, dict | list | str | int | float | bool), f"{path}: expected JSON, got {value!r}"
    elif declared in _PRIMITIVES:
        allowed = _PRIMITIVES[declared]
        assert isinstance(value, allowed) and not (declared in ("int", "float") and isinstance(value, bool)), (
            f"{path}: expected {declared}, got {value!r}"
        )
    else:
        assert hasattr(type(value), "openapi_types"), f"{path}: expected a {declared} model, got {value!r}"
        assert_sdk_types(value, optional=optional, where=path)


def assert_swr_error(caught: pytest.ExceptionInfo[ClientRequestException], status: int, code: str) -> None:
    """The SDK raised for ``status`` with SWR ``code`` and read a request id."""
    error = caught.value
    assert (error.status_code, error.error_code) == (status, code), (
        error.status_code,
        error.error_code,
        error.error_msg,
    )
    assert error.error_msg and error.request_id
