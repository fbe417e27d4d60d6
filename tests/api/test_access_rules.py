"""The application refuses to start when its access rules do not fit its routes: a management route
without a rule, a route two modules rule, or a rule for a route that does not exist. Each router
module's rules are read from the module when the application is built (nothing registered at import)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI

from moorage.api.iam import tokens as iam_tokens
from moorage.api.iam import users as iam_users
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import AUTHENTICATED, PUBLIC, AccessRuleError, access_rules, merge_access_rules
from moorage.api.route_inventory import require_rules
from moorage.api.swr import login as swr_login
from moorage.app import create_app
from moorage.settings import Settings


def test_a_route_whose_rule_is_missing_stops_the_application(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dropped = ("DELETE", "/v3/users/{user_id}")
    monkeypatch.setattr(
        iam_users, "ACCESS_RULES", access_rules({k: v for k, v in iam_users.ACCESS_RULES.items() if k != dropped})
    )
    with pytest.raises(AccessRuleError, match="without an access rule") as raised:
        create_app(Settings(data_dir=tmp_path))
    assert str(dropped) in str(raised.value)


def _app(*routers: APIRouter) -> FastAPI:
    app = FastAPI()
    for router in routers:
        app.include_router(router)
    return app


def test_a_new_route_without_a_rule_is_refused() -> None:
    async def unruled() -> None:
        """A route someone added without deciding who may call it."""

    router = APIRouter(route_class=ManagementRoute)
    router.add_api_route("/v2/manage/utils/unruled", unruled, methods=["GET"])
    assert require_rules(_app(swr_login.router), swr_login.ACCESS_RULES) == swr_login.ACCESS_RULES
    with pytest.raises(AccessRuleError, match=r"without an access rule: \[\('GET', '/v2/manage/utils/unruled'\)\]"):
        require_rules(_app(swr_login.router, router), swr_login.ACCESS_RULES)


def test_a_route_ruled_twice_stops_the_application(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        iam_users, "ACCESS_RULES", access_rules({**iam_users.ACCESS_RULES, ("GET", "/v3/projects"): AUTHENTICATED})
    )
    with pytest.raises(AccessRuleError, match=r"more than one access rule: \[\('GET', '/v3/projects'\)\]"):
        create_app(Settings(data_dir=tmp_path))


def test_a_rule_without_its_route_is_refused() -> None:
    stray = access_rules({**swr_login.ACCESS_RULES, ("GET", "/v2/manage/utils/gone"): AUTHENTICATED})
    with pytest.raises(AccessRuleError, match=r"routes that do not exist: \[\('GET', '/v2/manage/utils/gone'\)\]"):
        require_rules(_app(swr_login.router), stray)


def test_merging_keeps_every_rule_read_only_and_refuses_an_identical_duplicate() -> None:
    first = access_rules({("GET", "/a"): PUBLIC})
    second = access_rules({("GET", "/b"): AUTHENTICATED})
    merged = merge_access_rules((first, second))
    assert dict(merged) == {("GET", "/a"): PUBLIC, ("GET", "/b"): AUTHENTICATED}
    with pytest.raises(TypeError):
        merged[("GET", "/c")] = PUBLIC  # type: ignore[index]
    with pytest.raises(TypeError):
        iam_tokens.ACCESS_RULES[("GET", "/c")] = PUBLIC  # type: ignore[index]
    with pytest.raises(AccessRuleError):
        merge_access_rules((first, access_rules({("GET", "/a"): PUBLIC})))
