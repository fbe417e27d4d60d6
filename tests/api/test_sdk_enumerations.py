"""Every value the SDKs document for an enumerated parameter is accepted.

The values come from the SDKs' own request models (``tests/support/sdk_operations.py`` parses their
documentation): for every operation the coverage docs call implemented and every query or path
parameter whose documentation enumerates values, the operation is called through the SDK once per
value (the other enumerated parameters at their first documented value, the required ones from
``REQUIRED``), and must not answer 400 nor fail on the server. A value that names something moorage
does not hold (``image_type=cicd``: no CI/CD pipelines here) is answered with nothing found, or for
a change with the documented not-applicable answer (501, ``HSS.0502``), never refused as invalid:
a script written against Huawei Cloud must run unchanged.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials, Credentials
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkhss import v5 as hss_models
from huaweicloudsdkhss.v5 import HssClient, ListImageBuildCommandRisksRequest, ListVulAffectImagesRequest
from huaweicloudsdkswr import v2 as swr_models
from huaweicloudsdkswr.v2 import ListRepositoryTagRequest, ListSharedReposDetailsRequest, SwrClient

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support.accounts import Account, project_id
from tests.support.sdk_operations import SdkOperation, client_operations, enumerated_values
from tests.support.servers import ServerProcess

DOCS = Path(__file__).resolve().parents[2] / "docs"
ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
IMPLEMENTED = re.compile(r"^\| `?(GET|POST|PUT|DELETE|PATCH)`? \| `[^`]+` \| `(\w+)` \| (implemented|moorage)")
NOT_APPLICABLE = {"HSS.0502", "SVCSTG.SWR.5010002"}
"""The documented answer to a value naming something a registry does not have (``moorage.api.unserved``)."""
REQUIRED = {"image_id": "x1", "check_rule_id": "x1", "vul_id": "CVE-2024-0001"}
"""Values for the parameters some operations need besides their enumerated ones."""


def _bodies() -> dict[str, Any]:
    """Minimal bodies of the operations that need one (what they say does not matter here)."""
    return {
        "add_image_white_lists": hss_models.AddImageWhiteListsRequestBody(
            vul_type="linux_vul", vul_ids=["CVE-2024-0001"], rule_type="all_images", description="enumerations"
        ),
        "change_image_white_list": hss_models.ChangeImageWhiteListRequestBody(rule_type="all_images"),
        "delete_image_white_lists": hss_models.DeleteImageWhiteListsRequestBody(ids=["x1"]),
        "change_sensitive_info": hss_models.ChangeSensitiveInfoRequestInfo(
            sensitive_info_id="x1", operate_type="ignore"
        ),
        "create_manual_image_scan_task": hss_models.CreateManualImageScanTaskReqInfo(
            image_info=[
                hss_models.CreateManualImageScanTaskReqInfoImageInfo(
                    image_id="x1", namespace="x1", image_name="x1", image_version="x1"
                )
            ]
        ),
        "show_image_security_report_statistic": hss_models.BatchExportSWRBaselineInfoRequestInfo(operate_all=True),
        **{
            name: swr_models.CreateResourceTagsRequestBody(tags=[swr_models.ResourceTag(key="team", value="a")])
            for name in ("create_instance_resource_tags", "create_sub_resource_tags")
        },
        **{
            name: swr_models.DeleteResourceTagsRequestBody(tags=[swr_models.ResourceTag(key="team", value="a")])
            for name in ("delete_instance_resource_tags", "delete_sub_resource_tags")
        },
    }


def test_the_parser_reads_the_enumerations_of_the_issue() -> None:
    """The walk below is only as good as the parser: the SDK's documented spellings come out."""
    assert enumerated_values(ListImageBuildCommandRisksRequest)["risk_level"] == ["critical", "high", "medium", "low"]
    assert enumerated_values(ListVulAffectImagesRequest)["repair_necessity"] == ["Low", "Medium", "High", "Critical"]
    assert enumerated_values(ListRepositoryTagRequest)["order_type"] == ["desc", "asc"]
    assert enumerated_values(ListRepositoryTagRequest)["order_column"] == ["updated_at", "tag"]
    assert enumerated_values(ListSharedReposDetailsRequest)["center"] == ["self", "thirdparty"]
    assert "filter" not in enumerated_values(ListSharedReposDetailsRequest)


def _implemented() -> set[str]:
    names = set()
    for document in ("api-coverage.md", "api-coverage-hss.md"):
        for line in (DOCS / document).read_text().splitlines():
            if m := IMPLEMENTED.match(line):
                names.add(m.group(2))
    return names


@dataclass(frozen=True)
class Case:
    """One operation with the values of its enumerated parameters."""

    sdk: str
    operation: SdkOperation
    values: dict[str, list[str]]


def _cases() -> list[Case]:
    implemented = _implemented()
    cases = []
    for sdk, client in (("swr", SwrClient), ("hss", HssClient)):
        for name, operation in sorted(client_operations(client).items()):
            if name not in implemented:
                continue
            parameters = set(operation.query) | set(operation.path_params)
            values = {p: v for p, v in enumerated_values(operation.request_class).items() if p in parameters}
            if values:
                cases.append(Case(sdk, operation, values))
    return cases


def test_there_is_something_to_walk() -> None:
    cases = _cases()
    assert len(cases) >= 50
    assert sum(len(v) for case in cases for v in case.values.values()) >= 300


@dataclass
class Recorder:
    """The last raw response the SDK received."""

    response: requests.Response | None = None

    def __call__(self, **kwargs: Any) -> None:
        self.response = kwargs["response"]


@pytest.fixture(scope="module")
def clients(
    shared_moorage: ServerProcess, shared_admin_keys: tuple[str, str]
) -> Iterator[tuple[dict[str, Any], Recorder]]:
    access, secret = shared_admin_keys
    credentials = BasicCredentials(access, secret, project_id(shared_moorage))
    recorder = Recorder()
    Credentials._CACHE.clear()
    built = {
        name: builder.with_credentials(credentials)
        .with_endpoints([shared_moorage.base_url])
        .with_http_handler(HttpHandler().add_response_handler(recorder))
        .build()
        for name, builder in (("swr", SwrClient.new_builder()), ("hss", HssClient.new_builder()))
    }
    yield built, recorder
    Credentials._CACHE.clear()


def _typed(request: Any, parameter: str, value: str) -> Any:
    kind = request.openapi_types.get(parameter, "str")
    if kind == "bool":
        return value == "true"
    if kind == "int" and re.fullmatch(r"\d+", value):
        return int(value)
    return value


def test_every_documented_value_is_accepted(clients: tuple[dict[str, Any], Recorder]) -> None:
    built, recorder = clients
    bodies = _bodies()
    refused = []
    for case in _cases():
        baseline = {parameter: values[0] for parameter, values in case.values.items()}
        for parameter, values in case.values.items():
            for value in values:
                request = case.operation.request_class()
                for name in case.operation.path_params:
                    if name != "project_id":
                        setattr(request, name, REQUIRED.get(name, "x1"))
                for name, chosen in {**REQUIRED, **baseline, parameter: value}.items():
                    if name in request.attribute_map:
                        setattr(request, name, _typed(request, name, chosen))
                if case.operation.name in bodies:
                    request.body = bodies[case.operation.name]
                recorder.response = None
                with contextlib.suppress(Exception):  # an error answer is checked below
                    getattr(built[case.sdk], case.operation.name)(request)
                response = recorder.response
                assert response is not None, case.operation.name
                not_applicable = response.status_code == 501 and response.json().get("error_code") in NOT_APPLICABLE
                if response.status_code in (400, 422) or (response.status_code >= 500 and not not_applicable):
                    refused.append(
                        f"{case.operation.name} {parameter}={value}: {response.status_code} {response.text[:200]}"
                    )
    assert not refused, f"{len(refused)} documented values refused:\n" + "\n".join(refused)
