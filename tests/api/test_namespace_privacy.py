"""Another account's names are indistinguishable from names that do not exist.

Every route of the application (its management route table and its OCI endpoint table, so a new
route is checked without being listed here) is called by another account's domain administrator
and by a user of that account, once on a name the victim holds (an organization with a repository
and a tag, an Enterprise Edition instance) and once on a name nobody holds; the two answers must
be the same: status, error code and message (with the names swapped). Creating a name held
elsewhere must fail (names are unique, as in SWR): that answer must not depend on whose name it is.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from moorage.api.oci import oci_route
from moorage.app import create_app
from moorage.settings import Settings
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.enterprise.support import upload
from tests.support import routes
from tests.support.accounts import Account, create_user, iam_token, management, project_id
from tests.support.servers import ServerProcess

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
SUFFIX = secrets.token_hex(3)
HELD, FREE = f"held-{SUFFIX}", f"none-{SUFFIX}"  # the same length: messages compare after swapping
NAME_PARAMS = ("namespace", "repository", "namespace_name", "repository_name", "instance_id")
CREATION = {("uploads", "POST"), ("manifest", "PUT")}
"""OCI endpoints that create a repository (and its organization) when the name is free."""
DIGEST = "sha256:" + hashlib.sha256(b"privacy").hexdigest()


@dataclass(frozen=True)
class Caller:
    """Another account's caller."""

    name: str
    account: Account
    token: str
    project: str


@dataclass(frozen=True)
class Victim:
    """What the victim holds: an organization with ``app:v1`` and an Enterprise Edition instance."""

    instance_id: str
    free_instance_id: str


@pytest.fixture(scope="module")
def victim(shared_moorage: ServerProcess) -> Victim:
    server = shared_moorage
    upload(server.address, f"{HELD}/app", {"v1": f"privacy {SUFFIX}"})
    admin_project = project_id(server)
    with management(server, iam_token(server, ADMIN)) as api:
        created = api.post(
            f"/v2/{admin_project}/instances",
            json={"name": f"privacy-{SUFFIX}", "spec": "swr.ee.professional", "charge_mode": "postPaid"},
        )
        assert created.status_code == 201, created.text
        instance_id = str(created.json()["instance_id"])
        namespace = api.post(
            f"/v2/{admin_project}/instances/{instance_id}/namespaces",
            json={"namespace_name": HELD, "metadata": {"public": "false"}},
        )
        assert namespace.status_code in (200, 201), namespace.text
    free = "".join("0" if c != "0" else "1" for c in instance_id)  # the same length, held by nobody
    return Victim(instance_id, free)


@pytest.fixture(scope="module")
def callers(shared_moorage: ServerProcess) -> Iterator[dict[str, Caller]]:
    server = shared_moorage
    outsider = create_user(server, f"privacy-admin-{SUFFIX}", admin=True)
    user = create_user(server, f"privacy-user-{SUFFIX}", domain=outsider.domain, admin_account=outsider)
    project = project_id(server, outsider)
    yield {
        account.name: Caller(name, account, iam_token(server, account), project)
        for name, account in (("domain administrator", outsider), ("user", user))
    }


def _swap(text: str, victim: Victim) -> str:
    """An answer with the held names written as the free ones."""
    return text.replace(HELD, FREE).replace(victim.instance_id, victim.free_instance_id)


def _shape(response: httpx.Response, victim: Victim) -> tuple[int, str]:
    """(status, body with the names swapped and volatile parts removed)."""
    body = _swap(response.text, victim)
    try:
        parsed = json.loads(body)
    except ValueError:
        return response.status_code, body
    if isinstance(parsed, dict):
        parsed.pop("request_id", None)
    return response.status_code, json.dumps(parsed, sort_keys=True)


def _fill(template: str, name: str, instance_id: str, project: str) -> str:
    values = {
        "namespace": name,
        "namespace_name": name,
        "repository": "app",
        "repository_name": "app",
        "instance_id": instance_id,
        "project_id": project,
        "tag": "v1",
    }
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "x"), template)


def test_management_routes_answer_for_held_names_as_for_free_ones(
    shared_moorage: ServerProcess, victim: Victim, callers: dict[str, Caller], tmp_path: Path
) -> None:
    every = routes.management_routes(create_app(Settings(data_dir=tmp_path)))
    templates = [
        r for r in every if any(f"{{{p}}}" in r[1] or f"{{{p}:" in r[1] for p in NAME_PARAMS) or r[0] == "GET"
    ]  # lists take names as filters
    assert len(templates) > 80, templates
    templates.sort(key=lambda r: r[0] == "DELETE")  # deletions last
    differences = []
    with httpx.Client(base_url=shared_moorage.base_url, timeout=30) as client:
        for caller in callers.values():
            for method, template in templates:
                answers = []
                for name, instance_id in ((HELD, victim.instance_id), (FREE, victim.free_instance_id)):
                    filters = {
                        "namespace": name,
                        "namespace_name": name,
                        "name": name,
                        "repository": "app",
                        "filter": f"namespace::{name}|name::app",
                        "instance_id": instance_id,
                    }
                    response = client.request(
                        method,
                        _fill(template, name, instance_id, caller.project),
                        headers={"X-Auth-Token": caller.token},
                        params=filters if method == "GET" else None,
                        content=b"" if method in ("GET", "HEAD", "DELETE") else b"{}",
                    )
                    answers.append(_shape(response, victim))
                if answers[0] != answers[1]:
                    differences.append(
                        f"{method} {template} as {caller.name}:\n  held: {answers[0]}\n  free: {answers[1]}"
                    )
                assert answers[0][0] >= 400 or method == "GET", (method, template, answers[0])
    assert not differences, "\n".join(differences)


def _oci_path(kind: str, name: str) -> str:
    return {
        "tags": f"/v2/{name}/app/tags/list",
        "referrers": f"/v2/{name}/app/referrers/{DIGEST}",
        "blob": f"/v2/{name}/app/blobs/{DIGEST}",
        "uploads": f"/v2/{name}/app/blobs/uploads/",
        "upload": f"/v2/{name}/app/blobs/uploads/3f1c2a8e-0d4b-4c1e-9a55-6b7d8e9f0a1b",
        "manifest": f"/v2/{name}/app/manifests/v1",
    }[kind]


def _bearer(server: ServerProcess, account: Account, name: str, actions: str) -> dict[str, str]:
    token = httpx.get(
        f"{server.base_url}/service/token",
        params={"scope": f"repository:{name}/app:{actions}"},
        auth=(account.name, account.password),
        timeout=30,
    ).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_registry_routes_answer_for_held_names_as_for_free_ones(
    shared_moorage: ServerProcess, victim: Victim, callers: dict[str, Caller]
) -> None:
    endpoints = [key for key in oci_route()._endpoints if key[0] not in ("base", "catalog")]
    assert len(endpoints) >= 14, endpoints
    endpoints.sort(key=lambda e: e[1] == "DELETE")
    differences = []
    with httpx.Client(base_url=shared_moorage.base_url, timeout=30) as client:
        for caller in callers.values():
            for credentials in ("basic", "bearer"):
                for kind, method in endpoints:
                    if (kind, method) in CREATION:
                        continue
                    answers = []
                    for name in (HELD, FREE):
                        if credentials == "basic":
                            auth: dict[str, str] = {}
                            basic: tuple[str, str] | None = (caller.account.name, caller.account.password)
                        else:
                            auth, basic = _bearer(shared_moorage, caller.account, name, "pull,push,delete"), None
                        response = client.request(
                            method,
                            _oci_path(kind, name),
                            headers=auth,
                            auth=basic,
                            content=b"" if method in ("GET", "HEAD", "DELETE") else b"{}",
                        )
                        answers.append(_shape(response, victim))
                    if answers[0] != answers[1]:
                        differences.append(
                            f"{method} {kind} as {caller.name} ({credentials}):\n"
                            f"  held: {answers[0]}\n  free: {answers[1]}"
                        )
    assert not differences, "\n".join(differences)


def test_creating_a_held_name_fails_as_for_an_own_one(
    shared_moorage: ServerProcess, victim: Victim, callers: dict[str, Caller]
) -> None:
    """Names are unique across accounts (SWR documents that creating an organization another
    account holds fails with "already exists"); the refusal is the same whoever holds the name.
    (``victim`` holds the name: without it the test passes or fails by test order.)"""
    outsider = callers[f"privacy-admin-{SUFFIX}"]
    own = f"mine-{SUFFIX}"
    with management(shared_moorage, outsider.token) as api:
        assert api.post("/v2/manage/namespaces", json={"namespace": own}).status_code == 201
        held = api.post("/v2/manage/namespaces", json={"namespace": HELD})
        again = api.post("/v2/manage/namespaces", json={"namespace": own})
    assert held.status_code == again.status_code == 409
    assert (held.json()["error_code"], held.json()["error_msg"].replace(HELD, "<name>")) == (
        again.json()["error_code"],
        again.json()["error_msg"].replace(own, "<name>"),
    )
    # A push into a held organization fails like a push by a user without rights into a free one.
    user = next(c for c in callers.values() if c.account.name != outsider.account.name)
    pushed = httpx.post(
        f"{shared_moorage.base_url}/v2/{HELD}/app/blobs/uploads/",
        timeout=30,
        auth=(outsider.account.name, outsider.account.password),
    )
    refused = httpx.post(
        f"{shared_moorage.base_url}/v2/{FREE}/app/blobs/uploads/",
        timeout=30,
        auth=(user.account.name, user.account.password),
    )
    assert pushed.status_code == refused.status_code == 403
    assert pushed.text.replace(HELD, FREE) == refused.text
