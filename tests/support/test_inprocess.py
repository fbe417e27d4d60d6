"""The in-process server fixture: a fresh database per test (what one test makes, the next does not
see), the account helpers working on it as on a server process, settings passed through, and the
example CONTRIBUTING.md shows."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, AppFactory
from tests.support.accounts import Account, create_user, http, iam_token, management
from tests.support.inprocess import InProcessMoorage

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)


def test_a_new_organization_is_listed(app_moorage: InProcessMoorage) -> None:
    with management(app_moorage, iam_token(app_moorage, ADMIN)) as api:  # helpers take either kind
        assert api.post("/v2/manage/namespaces", json={"namespace": "team"}).status_code == 201
        assert [n["name"] for n in api.get("/v2/manage/namespaces").json()["namespaces"]] == ["team"]


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_starts_from_an_empty_registry(app_moorage: InProcessMoorage, round_: int) -> None:
    with management(app_moorage, iam_token(app_moorage, ADMIN)) as api:
        assert api.get("/v2/manage/namespaces").json()["namespaces"] == []
        assert api.post("/v2/manage/namespaces", json={"namespace": "same-name"}).status_code == 201


def test_the_cli_helper_and_settings_reach_the_application(app_moorage_factory: AppFactory) -> None:
    default, anonymous_pull = app_moorage_factory(), app_moorage_factory(auth={"allow_anonymous_pull": True})
    assert anonymous_pull.settings.auth.allow_anonymous_pull and not default.settings.auth.allow_anonymous_pull
    with http(default) as nobody, http(anonymous_pull) as nobody_allowed:
        refused = nobody.get("/v2/")
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith(f'Bearer realm="{default.base_url}/service/token"')
        assert nobody_allowed.get("/v2/").status_code == 200
        assert nobody.get("/healthz").json()["status"] == "ok"
    outsider = create_user(default, "in-process-outsider")  # moorage admin, on the same database
    assert outsider.domain == "in-process-outsider"
    with http(default, auth=(outsider.name, outsider.password)) as other:
        assert other.get("/v2/").status_code == 200
