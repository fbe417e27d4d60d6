"""Accounts for tests: users and access keys made with the real ``moorage admin`` CLI against a
running server's database, IAM tokens over HTTP, and grants through the SWR API."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.servers import ServerProcess

REGION = "local-1"


@dataclass(frozen=True)
class Account:
    """A user's credentials and ids."""

    name: str
    password: str
    domain: str
    user_id: str = ""


def cli(server: ServerProcess, *args: str, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``moorage <args>`` against the server's data directory and database."""
    result = subprocess.run([sys.executable, "-m", "moorage", *args], env={**server_env(server), **(env or {})},
                            text=True, capture_output=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"moorage {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def server_env(server: ServerProcess) -> dict[str, str]:
    """The environment the server runs with (data directory, database, admin)."""
    import os

    return {**os.environ, **server.env}


def create_user(server: ServerProcess, name: str, *, domain: str | None = None, admin: bool = False,
                password: str = "user-password-1", admin_account: Account | None = None) -> Account:
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
    cli(server, *args, env={"MOORAGE_NEW_USER_PASSWORD": password})
    users = json.loads(cli(server, "admin", "user", "list", "--json").stdout)
    found = next(u for u in users if u["name"] == name)
    return Account(name, password, found["domain"], found["id"])


def create_access_key(server: ServerProcess, account: Account) -> tuple[str, str]:
    """(AK, SK) for a user, through IAM's ``POST /v3.0/OS-CREDENTIAL/credentials``."""
    with management(server, iam_token(server, account)) as api:
        response = api.post("/v3.0/OS-CREDENTIAL/credentials", json={"credential": {"description": "test"}})
    assert response.status_code == 201, response.text
    credential = response.json()["credential"]
    return credential["access"], credential["secret"]


def long_term_login(access: str, secret: str) -> tuple[str, str]:
    """The long-term docker login for an AK/SK: (``<region>@<AK>``, hex HMAC-SHA256 of the AK keyed with the SK)."""
    return f"{REGION}@{access}", hmac.new(secret.encode(), access.encode(), hashlib.sha256).hexdigest()


def project_id(server: ServerProcess, account: Account | None = None) -> str:
    """The id of an account's project in this region (default: the administrator's)."""
    from tests.conftest import ADMIN_PASSWORD, ADMIN_USER

    owner = account or Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
    with management(server, iam_token(server, owner)) as api:
        projects = api.get("/v3/projects", params={"name": REGION}).json()["projects"]
    assert len(projects) == 1, projects
    return str(projects[0]["id"])


def iam_token(server: ServerProcess, account: Account, *, project: str | None = REGION) -> str:
    """An IAM token (``X-Subject-Token``) by password."""
    body: dict[str, Any] = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": account.name, "password": account.password, "domain": {"name": account.domain}}}}}}
    if project:
        body["auth"]["scope"] = {"project": {"name": project}}
    response = httpx.post(f"{server.base_url}/v3/auth/tokens", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def management(server: ServerProcess, token: str) -> httpx.Client:
    """An HTTP client for the management API that sends ``X-Auth-Token``."""
    return httpx.Client(base_url=server.base_url, headers={"X-Auth-Token": token}, timeout=30)
