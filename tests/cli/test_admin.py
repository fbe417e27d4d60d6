"""``moorage admin`` runs the service methods the API runs, as the operator: users, access keys and
projects made and changed here are what the API sees, and refusals print the service's message.
In process (Typer's runner) on one data directory: the commands build their own services each time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from moorage.cli.main import app
from moorage.settings import Settings

ADMIN_PASSWORD = "admin-password-1"


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliRunner]:
    data_dir: Path = tmp_path_factory.mktemp("admin-cli")
    yield CliRunner(
        env={
            "MOORAGE_DATA_DIR": str(data_dir),
            "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MOORAGE_NEW_USER_PASSWORD": "user-password-1",
            "MOORAGE_CONFIG": "",
            "COLUMNS": "200",
        }
    )


def run(runner: CliRunner, *args: str, code: int = 0) -> Result:
    result = runner.invoke(app, ["admin", *args])
    assert result.exit_code == code, (args, result.output, result.exception)
    return result


def users(runner: CliRunner) -> dict[str, dict[str, object]]:
    return {u["name"]: u for u in json.loads(run(runner, "user", "list", "--json").stdout)}


def test_users_are_created_listed_and_deleted(admin: CliRunner) -> None:
    assert users(admin)["admin"]["admin"] is True  # the bootstrap administrator
    assert "created user alice" in run(admin, "user", "create", "alice").stdout
    run(admin, "user", "create", "bob", "--domain", "alice", "--admin")
    listed = users(admin)
    assert listed["alice"]["domain"] == "alice" and listed["alice"]["admin"] is False
    assert listed["bob"]["domain"] == "alice" and listed["bob"]["admin"] is True
    assert "already exists" in run(admin, "user", "create", "alice", code=1).stdout
    assert "invalid name" in run(admin, "user", "create", "9lives", code=1).stdout
    run(admin, "user", "delete", "bob")
    assert "bob" not in users(admin)
    assert "no user 'bob'" in run(admin, "user", "delete", "bob", code=1).stdout


def test_projects_one_per_domain(admin: CliRunner) -> None:
    run(admin, "user", "create", "carol")
    projects = json.loads(run(admin, "project", "list", "--json").stdout)
    domains = {str(u["domain"]) for u in users(admin).values()}
    assert len(projects) == len({p["domain_id"] for p in projects}) == len(domains)
    assert {p["name"] for p in projects} == {Settings().auth.region}


def test_access_keys_are_created_disabled_enabled_and_deleted(admin: CliRunner) -> None:
    run(admin, "user", "create", "dave")
    first = json.loads(run(admin, "accesskey", "create", "dave", "--json").stdout)
    assert len(first["access"]) == 20 and len(first["secret"]) == 40
    run(admin, "accesskey", "create", "dave", "--description", "second")
    assert "already has 2 access keys" in run(admin, "accesskey", "create", "dave", code=1).stdout
    listed = run(admin, "accesskey", "list", "--user", "dave").stdout
    assert first["access"] in listed and first["secret"] not in listed
    assert first["access"] in run(admin, "accesskey", "list").stdout
    assert "no user 'nobody'" in run(admin, "accesskey", "list", "--user", "nobody", code=1).stdout
    run(admin, "accesskey", "disable", first["access"])
    assert "no" in _key_row(admin, first["access"])
    run(admin, "accesskey", "enable", first["access"])
    assert "yes" in _key_row(admin, first["access"])
    run(admin, "accesskey", "delete", first["access"])
    assert first["access"] not in run(admin, "accesskey", "list").stdout
    assert f"no access key '{first['access']}'" in run(admin, "accesskey", "delete", first["access"], code=1).stdout
    assert "no access key" in run(admin, "accesskey", "disable", first["access"], code=1).stdout


def _key_row(runner: CliRunner, access: str) -> str:
    return next(line for line in run(runner, "accesskey", "list").stdout.splitlines() if access in line)
