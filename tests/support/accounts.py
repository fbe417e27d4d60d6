"""Accounts for tests: users and access keys made with the real ``moorage admin`` CLI (run in the test
process) against a running server's database, IAM tokens over HTTP, and grants through the SWR API."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

REGION = "local-1"


class Server(Protocol):
    """What the helpers need of a server: a ``moorage serve`` child (``ServerProcess``) or moorage in
    the test process (``InProcessMoorage``)."""

    @property
    def base_url(self) -> str: ...

    @property
    def env(self) -> dict[str, str]:
        """The MOORAGE_* settings it runs with (the CLI helper runs against the same database)."""
        ...


def http(server: Server, *, headers: dict[str, str] | None = None, auth: Any = None) -> httpx.Client:
    """An HTTP client of ``server``: over loopback to a child process, through the ASGI transport to
    an in-process application (it has a ``client`` method)."""
    client = getattr(server, "client", None)
    if callable(client):
        made: httpx.Client = client(headers=headers, auth=auth)
        return made
    return httpx.Client(base_url=server.base_url, headers=headers, auth=auth, timeout=30)


@dataclass(frozen=True)
class Account:
    """A user's credentials and ids."""

    name: str
    password: str
    domain: str
    user_id: str = ""


def cli(
    server: Server, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``moorage <args>`` against the server's data directory and database: the real command
    (its Typer application, settings from the same environment a child process would get), run in
    this process, because a child process spends seconds of CPU importing moorage first and tests
    create many accounts. The command sets the process umask; it is put back."""
    from typer.testing import CliRunner

    from moorage.cli.main import app

    mask = os.umask(0o077)
    os.umask(mask)
    try:
        result = CliRunner().invoke(app, list(args), env={**server.env, **(env or {})})
    finally:
        os.umask(mask)
    completed = subprocess.CompletedProcess(["moorage", *args], result.exit_code, result.stdout, result.stderr)
    if check and result.exit_code != 0:
        raise AssertionError(
            f"moorage {' '.join(args)} failed ({result.exit_code}):\n{result.stdout}{result.stderr}"
        ) from result.exception
    return completed


def create_user(
    server: Server,
    name: str,
    *,
    domain: str | None = None,
    admin: bool = False,
    password: str = "user-password-1",
    admin_account: Account | None = None,
) -> Account:
    """A new user. In the administrator's domain (``domain`` equal to its name) it is made through IAM's
    ``POST /v3/users`` with the administrator's token; a new domain (the default: one named after the
    user) or an administrator needs the ``moorage admin`` CLI."""
    from tests.conftest import ADMIN_PASSWORD, ADMIN_USER

    owner = admin_account or Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
    if domain == owner.domain and not admin:
        with management(server, iam_token(server, owner)) as api:
            response = api.post("/v3/users", json={"user": {"name": name, "password": password}})
        assert response.status_code == 201, response.text
        return Account(name, password, owner.domain, response.json()["user"]["id"])
    args = ["admin", "user", "create", name]
    if domain:
        args += ["--domain", domain]
    if admin:
        args.append("--admin")
    created = cli(server, *args, env={"MOORAGE_NEW_USER_PASSWORD": password}).stdout
    # "created user NAME (id ID) in domain DOMAIN", perhaps wrapped: read it rather than start a second
    # process (each CLI call costs a Python start, about 2 s of CPU) to list the users.
    found = re.search(r"created user (\S+) \(id (\S+)\) in domain (\S+)", " ".join(created.split()))
    assert found is not None and found[1] == name, created
    return Account(name, password, found[3], found[2])


def create_access_key(server: Server, account: Account) -> tuple[str, str]:
    """(AK, SK) for a user, through IAM's ``POST /v3.0/OS-CREDENTIAL/credentials``."""
    with management(server, iam_token(server, account)) as api:
        response = api.post("/v3.0/OS-CREDENTIAL/credentials", json={"credential": {"description": "test"}})
    assert response.status_code == 201, response.text
    credential = response.json()["credential"]
    return credential["access"], credential["secret"]


def long_term_login(access: str, secret: str) -> tuple[str, str]:
    """The long-term docker login for an AK/SK: (``<region>@<AK>``, hex HMAC-SHA256 of the AK keyed with the SK)."""
    return f"{REGION}@{access}", hmac.new(secret.encode(), access.encode(), hashlib.sha256).hexdigest()


def project_id(server: Server, account: Account | None = None) -> str:
    """The id of an account's project in this region (default: the administrator's)."""
    from tests.conftest import ADMIN_PASSWORD, ADMIN_USER

    owner = account or Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
    with management(server, iam_token(server, owner)) as api:
        projects = api.get("/v3/projects", params={"name": REGION}).json()["projects"]
    assert len(projects) == 1, projects
    return str(projects[0]["id"])


def iam_token(server: Server, account: Account, *, project: str | None = REGION) -> str:
    """An IAM token (``X-Subject-Token``) by password."""
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": account.name, "password": account.password, "domain": {"name": account.domain}}
                },
            }
        }
    }
    if project:
        body["auth"]["scope"] = {"project": {"name": project}}
    with http(server) as client:
        response = client.post("/v3/auth/tokens", json=body)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def management(server: Server, token: str) -> httpx.Client:
    """An HTTP client for the management API that sends ``X-Auth-Token``."""
    return http(server, headers={"X-Auth-Token": token})
