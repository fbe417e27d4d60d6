"""``moorage audit`` reads every recorded event, filtered, newest first: a failed login and an IAM
change of the shared edition (which no SWR operation lists), as a table and as JSON lines; bad filters
are refused with exit status 2. The ``--since`` parser is checked on its own."""

from __future__ import annotations

import datetime
import json

import pytest

from moorage.cli.audit import since_ms
from moorage.domain.errors import Invalid
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, AppFactory
from tests.support.accounts import Account, cli, iam_token, management

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)


def test_audit_lists_logins_and_iam_changes_filtered(app_moorage_factory: AppFactory) -> None:
    server = app_moorage_factory()
    with server.client() as client:
        refused = client.post(
            "/v3/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {"name": "mallory", "password": "wrong-password", "domain": {"name": "x"}}
                        },
                    },
                    "scope": {"domain": {"name": "x"}},
                }
            },
        )
        assert refused.status_code == 401
    with management(server, iam_token(server, ADMIN)) as api:
        assert api.post("/v3/users", json={"user": {"name": "carol", "password": "user-password-1"}}).status_code == 201

    lines = cli(server, "audit", "--json", "--since", "1h").stdout.splitlines()
    found = [json.loads(line) for line in lines]
    assert [e["id"] for e in found] == sorted((e["id"] for e in found), reverse=True)  # newest first
    failed = [e for e in found if e["operation"] == "login" and e["result"] == "failure"]
    assert [(e["user"], e["via"], e["instance"]) for e in failed] == [("mallory", "failed", "default")]
    created = [e for e in found if e["resource_type"] == "user" and e["operation"] == "create"]
    assert ("carol", ADMIN_USER) in [(e["resource"], e["user"]) for e in created]

    only = cli(server, "audit", "--json", "--user", "mallory").stdout.splitlines()
    assert [json.loads(line)["resource"] for line in only] == ["mallory"]
    table = cli(server, "audit", "--operation", "login", "--limit", "5").stdout
    assert "mallory" in table and "login user" in table and "carol" not in table

    for args in (("--operation", "rename"), ("--resource-type", "planet"), ("--since", "yesterday")):
        refused_filter = cli(server, "audit", *args, check=False)
        assert refused_filter.returncode == 2
        assert "moorage audit:" in refused_filter.stderr


def test_since_takes_spans_and_iso_times() -> None:
    now = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.UTC)
    base = int(now.timestamp() * 1000)
    assert since_ms("90m", now=now) == base - 90 * 60_000
    assert since_ms("24h", now=now) == base - 86_400_000
    assert since_ms("7d", now=now) == base - 7 * 86_400_000
    assert since_ms("2026-12-06T11:00:00", now=now) == base - 3_600_000  # no zone: UTC
    assert since_ms("2026-12-06T12:00:00+01:00", now=now) == base - 3_600_000
    for bad in ("yesterday", "5w", "-3h", ""):
        with pytest.raises(Invalid):
            since_ms(bad, now=now)
