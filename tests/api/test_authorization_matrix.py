"""The authorization matrix: every route of the application against every role.

The routes come from the application itself (its FastAPI routes and its OCI endpoint table), so a
new route with no access rule makes ``test_every_route_has_a_rule`` fail, and a rule that lets the
wrong role through makes the matrix fail. Roles: anonymous, a user with read / write / manage on
the namespace, a user of another domain, the domain administrator.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from moorage.api.management_rules import AccessRules, Rule
from moorage.api.oci import oci_route
from moorage.app import create_app
from moorage.domain.identity import MANAGE, READ, WRITE
from moorage.settings import Settings
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support import routes
from tests.support.accounts import Account, create_user, iam_token, management, project_id
from tests.support.servers import ServerProcess

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
NAMESPACE, REPOSITORY = "matrix", "app"
OWN_CREDENTIAL = {("POST", "/v5/{project_id}/image/cicd/configurations/{cicd_id}/results")}
"""Routes whose rule is public because they take a credential of their own, no role's: the CI/CD
upload (its scan-upload credential; tests/hostile/test_cicd.py covers it)."""
INFRASTRUCTURE = {"/healthz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/service/token"}


def management_routes(tmp_path: Path) -> tuple[list[tuple[str, str]], AccessRules]:
    """(method, path template) of every management route the application serves, and its access rules."""
    app = create_app(Settings(data_dir=tmp_path))
    return routes.management_routes(app), app.state.access_rules


def test_every_route_has_a_rule(tmp_path: Path) -> None:
    served, rules = management_routes(tmp_path)
    missing = [r for r in served if r not in rules]
    assert not missing, f"routes without an access rule: {missing}"


def test_every_oci_endpoint_declares_its_access() -> None:
    route = oci_route()
    for endpoint in route._endpoints.values():
        assert callable(endpoint.access), endpoint


@dataclass(frozen=True)
class Role:
    name: str
    headers: dict[str, str]
    level: int  # on the test namespace: 0 none, 1 read, 3 write, 7 manage; -1 anonymous
    foreign: bool = False
    admin: bool = False
    spare_token: str = ""  # revoked by DELETE /v3/auth/tokens instead of the token the role keeps using


@pytest.fixture(scope="module")
def roles(shared_moorage: ServerProcess) -> Iterator[dict[str, Role]]:
    server = shared_moorage
    admin_token = iam_token(server, ADMIN)
    with management(server, admin_token) as api:
        assert api.post("/v2/manage/namespaces", json={"namespace": NAMESPACE}).status_code == 201
        assert api.post(f"/v2/manage/namespaces/{NAMESPACE}/repos", json={"repository": REPOSITORY}).status_code == 201
    # Least privileged first: a destructive call that succeeds for one role leaves the next ones a 404,
    # which still tells "allowed" from "denied".
    result = {"anonymous": Role("anonymous", {}, -1)}
    outsider = create_user(server, "matrix-outsider")
    result["outsider"] = Role(
        "outsider",
        {"X-Auth-Token": iam_token(server, outsider)},
        0,
        foreign=True,
        spare_token=iam_token(server, outsider),
    )
    for name, level in (("reader", READ), ("writer", WRITE), ("manager", MANAGE)):
        account = create_user(server, f"matrix-{name}", domain=ADMIN_USER)
        with management(server, admin_token) as api:
            granted = api.post(
                f"/v2/manage/namespaces/{NAMESPACE}/access",
                json=[{"user_id": account.user_id, "user_name": account.name, "auth": level}],
            )
            assert granted.status_code == 201, granted.text
        result[name] = Role(
            name, {"X-Auth-Token": iam_token(server, account)}, level, spare_token=iam_token(server, account)
        )
    result["admin"] = Role(
        "admin", {"X-Auth-Token": admin_token}, MANAGE, admin=True, spare_token=iam_token(server, ADMIN)
    )
    yield result


@pytest.fixture(scope="module")
def ee_instance(shared_moorage: ServerProcess) -> str:
    """An Enterprise Edition instance of the administrator's, with the namespace ``matrix``."""
    admin_project = project_id(shared_moorage)
    with management(shared_moorage, iam_token(shared_moorage, ADMIN)) as api:
        created = api.post(
            f"/v2/{admin_project}/instances",
            json={
                "name": "matrix-instance",
                "spec": "swr.ee.professional",
                "charge_mode": "postPaid",
                "vpc_id": "vpc",
                "subnet_id": "subnet",
                "project_id": admin_project,
            },
        )
        assert created.status_code in (200, 201), created.text
        instance_id = str(created.json()["instance_id"])
        namespace = api.post(
            f"/v2/{admin_project}/instances/{instance_id}/namespaces",
            json={"namespace_name": NAMESPACE, "metadata": {"public": "false"}},
        )
        assert namespace.status_code in (200, 201), namespace.text
    return instance_id


def fill(path: str, project: str, instance_id: str) -> str:
    values = {
        "namespace": NAMESPACE,
        "repository": REPOSITORY,
        "project_id": project,
        "tag": "v1",
        "instance_id": instance_id,
        "namespace_name": NAMESPACE,
        "repository_name": REPOSITORY,
    }
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "x"), path)


def expected_allowed(rule: Rule, role: Role, template: str) -> bool:
    if rule.kind == "public":
        return True
    if role.level < 0:
        return False
    if "{project_id}" in template and role.foreign:
        return False  # the path names the administrator's project, which is not the outsider's
    if rule.kind in ("authenticated", "account"):
        return True
    if role.foreign:
        return False
    if rule.kind in ("admin", "instance_admin"):
        return role.admin
    if rule.kind == "instance":
        return True
    if rule.kind in ("instance_namespace", "instance_repository"):
        return role.admin  # the grants of the roles are on the shared registry's namespace, not the instance's
    return role.level >= rule.level


def test_management_matrix(
    shared_moorage: ServerProcess, roles: dict[str, Role], ee_instance: str, tmp_path: Path
) -> None:
    admin_project = project_id(shared_moorage)
    failures = []
    with httpx.Client(base_url=shared_moorage.base_url, timeout=30) as client:
        # Deletions last, the deepest first: an organization, namespace or instance goes only after
        # everything inside it has been tried.
        served, rules = management_routes(tmp_path)
        routes = sorted(served, key=lambda r: (r[0] == "DELETE", -r[1].count("/")))

        for method, template in routes:
            rule = rules[(method, template)]
            if template.startswith("/v3/auth/tokens") and method == "POST":
                continue  # the login itself: covered by the identity tests
            if (method, template) in OWN_CREDENTIAL:
                continue
            path = fill(template, admin_project, ee_instance)
            for role in roles.values():
                subject = (
                    role.spare_token
                    if template.startswith("/v3/auth/tokens") and method == "DELETE"
                    else role.headers.get("X-Auth-Token", "")
                )
                response = client.request(
                    method,
                    path,
                    headers={**role.headers, "X-Subject-Token": subject},
                    content=b"" if method in ("GET", "HEAD", "DELETE") else b"{}",
                )
                denied = response.status_code in (401, 403) or (
                    response.status_code == 404
                    and role.foreign
                    and rule.kind
                    in (
                        "namespace",
                        "repository",
                        "instance",
                        "instance_admin",
                        "instance_namespace",
                        "instance_repository",
                    )
                )
                if expected_allowed(rule, role, template) == denied:
                    failures.append(f"{method} {template} as {role.name}: {response.status_code} {response.text[:120]}")
                if denied and response.status_code != 404:
                    assert response.status_code == (401 if role.level < 0 else 403), (method, template, role.name)
    assert not failures, "\n".join(failures)
