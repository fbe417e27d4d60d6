"""Every operation of the official SDKs reaches the route the coverage docs name, or the documented
not-served answer, and never another operation's route.

The operations come from the SDKs' own client classes (each ``_<operation>_http_info`` gives the
method and resource path the SDK sends): all of ``huaweicloudsdkswr``'s v2 client, the image
operations of ``huaweicloudsdkhss`` that docs/api-coverage-hss.md lists, and the ``huaweicloudsdkiam``
operations of docs/api-coverage-iam.md. Each is called through the SDK, signed with the
administrator's AK/SK, with its path parameters filled in, against a server wrapped in
``tests/support/route_probe.py``: every answer says which route produced it (``X-Moorage-Route``,
computed from the route the router selected). The route must be the SDK's own (method and path
template); for an operation the docs call planned or not applicable, the answer must also be the
501 of ``moorage.api.unserved`` naming that operation.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials, Credentials, GlobalCredentials
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkhss.v5 import HssClient
from huaweicloudsdkiam.v3 import IamClient
from huaweicloudsdkswr.v2 import SwrClient

from moorage.api.unserved import UNSERVED, Availability
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support.accounts import Account, create_access_key, project_id
from tests.support.route_probe import ROUTE_HEADER, start_route_probe
from tests.support.sdk_operations import client_operations
from tests.support.servers import ServerProcess

DOCS = Path(__file__).resolve().parents[2] / "docs"
ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
SWR_ROW = re.compile(r"^\| `(\w+)` \| `([^`]+)` \| `(\w+)` \| ([^|]+) \|")
HSS_IAM_ROW = re.compile(r"^\| (GET|POST|PUT|DELETE|PATCH|HEAD) \| `([^`]+)` \| `(\w+)` \| (.+) \|$")
NOT_SERVED_CODES = {
    ("swr", Availability.PLANNED): "SVCSTG.SWR.5010001",
    ("swr", Availability.NOT_APPLICABLE): "SVCSTG.SWR.5010002",
    ("hss", Availability.NOT_APPLICABLE): "HSS.0502",
}
SAMPLES = {"api_version": "v2"}
"""Path parameter values other than the neutral default (``v2``: the registry's base path)."""


@dataclass(frozen=True)
class Documented:
    """One SDK operation as a coverage document states it."""

    sdk: str
    method: str
    path: str
    operation: str
    served: bool
    availability: Availability | None


def _documented() -> list[Documented]:
    rows = []
    for line in (DOCS / "api-coverage.md").read_text().splitlines():
        if m := SWR_ROW.match(line):
            method, path, operation, state = m.groups()
            state = state.strip()
            availability = (
                Availability.PLANNED
                if state.startswith("planned")
                else Availability.NOT_APPLICABLE
                if state.startswith("not applicable")
                else None
            )
            rows.append(Documented("swr", method, path, operation, availability is None, availability))
    for sdk, name in (("hss", "api-coverage-hss.md"), ("iam", "api-coverage-iam.md")):
        for line in (DOCS / name).read_text().splitlines():
            if m := HSS_IAM_ROW.match(line):
                method, path, operation, state = m.groups()
                applicable = not state.startswith("not applicable")
                rows.append(
                    Documented(
                        sdk, method, path, operation, applicable, None if applicable else Availability.NOT_APPLICABLE
                    )
                )
    return rows


CLIENTS: dict[str, type[Any]] = {"swr": SwrClient, "hss": HssClient, "iam": IamClient}


def _sdk_operations(sdk: str) -> dict[str, tuple[str, str, type[Any]]]:
    """operation name -> (method, resource path, request class), read from the SDK's client class."""
    return {name: (op.method, op.path, op.request_class) for name, op in client_operations(CLIENTS[sdk]).items()}


def test_the_docs_name_the_sdks_operations() -> None:
    """The walk below is only as good as its list: the SWR table holds every operation of the SWR
    client, and every documented operation is one the SDK has, with the SDK's method and path."""
    documented = _documented()
    swr = _sdk_operations("swr")
    assert {d.operation for d in documented if d.sdk == "swr"} == set(swr)
    for sdk in CLIENTS:
        operations = _sdk_operations(sdk)
        for row in (d for d in documented if d.sdk == sdk):
            assert operations[row.operation][:2] == (row.method, row.path), row


def test_the_unserved_table_is_what_the_docs_leave_out() -> None:
    documented = {(d.method, d.path, d.operation, d.availability) for d in _documented() if not d.served}
    assert documented == {(u.method, u.path, u.operation, u.availability) for u in UNSERVED}


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A route-probing moorage on SQLite (routing does not depend on the database)."""
    data_dir = tmp_path_factory.mktemp("route-probe") / "data"
    data_dir.mkdir()
    env = {
        "MOORAGE_DATABASE_URL": f"sqlite:///{data_dir / 'moorage.db'}",
        "MOORAGE_DATA_DIR": str(data_dir),
        "MOORAGE_ACCESS_LOG": "false",
        "MOORAGE_AUTH__ADMIN_USER": ADMIN_USER,
        "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MOORAGE_JOBS__EMBEDDED_WORKER": "false",
    }
    server = start_route_probe(data_dir, env)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Recorder:
    """The last raw response the SDK received."""

    response: requests.Response | None = None

    def __call__(self, **kwargs: Any) -> None:
        self.response = kwargs["response"]


@pytest.fixture(scope="module")
def clients(probe: ServerProcess) -> Iterator[tuple[dict[str, Any], Recorder]]:
    access, secret = create_access_key(probe, ADMIN)
    project = project_id(probe)
    recorder = Recorder()
    Credentials._CACHE.clear()

    def build(builder: Any, credentials: Any) -> Any:
        handler = HttpHandler().add_response_handler(recorder)
        return builder.with_credentials(credentials).with_endpoints([probe.base_url]).with_http_handler(handler).build()

    built = {
        "swr": build(SwrClient.new_builder(), BasicCredentials(access, secret, project)),
        "hss": build(HssClient.new_builder(), BasicCredentials(access, secret, project)),
        "iam": build(IamClient.new_builder(), GlobalCredentials(access, secret, "routing-walk")),
    }
    yield built, recorder
    Credentials._CACHE.clear()


def _call(client: Any, recorder: Recorder, operation: str, request: Any) -> requests.Response:
    recorder.response = None
    with contextlib.suppress(Exception):  # errors are expected (empty bodies, unknown ids): the answer is checked
        getattr(client, operation)(request)
    assert recorder.response is not None, f"{operation}: the SDK sent nothing"
    return recorder.response


def _filled(request_class: type[Any], path: str) -> Any:
    request = request_class()
    for name in re.findall(r"\{(\w+)\}", path):
        if name != "project_id":  # the SDK fills it in from the credentials
            setattr(request, name, SAMPLES.get(name, "x1"))
    return request


def _template(label: str) -> tuple[set[str], str]:
    methods, _, path = label.partition(" ")
    return set(methods.split(",")), re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def test_every_sdk_operation_reaches_its_own_route(clients: tuple[dict[str, Any], Recorder]) -> None:
    built, recorder = clients
    operations = {sdk: _sdk_operations(sdk) for sdk in CLIENTS}
    wrong = []
    documented = _documented()
    for row in documented:
        method, path, request_class = operations[row.sdk][row.operation]
        response = _call(built[row.sdk], recorder, row.operation, _filled(request_class, path))
        label = response.headers.get(ROUTE_HEADER, "")
        methods, template = _template(label)
        if method not in methods or template != path:
            wrong.append(
                f"{row.operation} ({method} {path}) answered by {label!r}: {response.status_code} {response.text[:150]}"
            )
            continue
        if row.served:
            if response.status_code == 501:
                wrong.append(f"{row.operation} is documented as served but answered 501: {response.text[:150]}")
            continue
        assert row.availability is not None
        body = json.loads(response.text or "{}")
        expected = NOT_SERVED_CODES[("hss" if row.sdk == "hss" else "swr", row.availability)]
        if (response.status_code, body.get("error_code")) != (501, expected) or row.operation not in str(
            body.get("error_msg")
        ):
            wrong.append(
                f"{row.operation}: expected 501 {expected} naming it, got {response.status_code} {response.text[:150]}"
            )
    assert len(documented) == 174 + 124 + 16
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_show_api_version_reaches_its_handler(clients: tuple[dict[str, Any], Recorder], version: str) -> None:
    from huaweicloudsdkswr.v2 import ShowApiVersionRequest

    built, recorder = clients
    answer = built["swr"].show_api_version(ShowApiVersionRequest(api_version=version))
    assert recorder.response is not None
    assert recorder.response.headers[ROUTE_HEADER] == "GET /{api_version}"
    assert answer.version.id == version
    assert answer.version.status in ("CURRENT", "SUPPORTED")
