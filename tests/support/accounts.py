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
                password: str = "user-password-1") -> Account:
    """A new user (in ``domain``; a new domain named after the user by default)."""
    args = ["admin", "user", "create", name]
    if domain:
        args += ["--domain", domain]
    if admin:
        args.append("--admin")
    cli(server, *args, env={"MOORAGE_NEW_USER_PASSWORD": password})
    users = json.loads(cli(server, "admin", "user", "list", "--json").stdout)
    found = next(u for u in users if u["name"] == name)
    return Account(name, password, found["domain"], found["id"])


def create_access_key(server: ServerProcess, user: str) -> tuple[str, str]:
    """(AK, SK) for a user."""
    out = json.loads(cli(server, "admin", "accesskey", "create", user, "--json").stdout)
    return out["access"], out["secret"]


def long_term_login(access: str, secret: str) -> tuple[str, str]:
    """The long-term docker login for an AK/SK: (``<region>@<AK>``, hex HMAC-SHA256 of the AK keyed with the SK)."""
    return f"{REGION}@{access}", hmac.new(secret.encode(), access.encode(), hashlib.sha256).hexdigest()


def project_id(server: ServerProcess, domain_id: str | None = None) -> str:
    """The id of a domain's project (the first one when no domain is given)."""
    projects = json.loads(cli(server, "admin", "project", "list", "--json").stdout)
    return next(p["id"] for p in projects if domain_id in (None, p["domain_id"]))


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
