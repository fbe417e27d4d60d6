"""Property-based fuzzing of the SWR management API from its own OpenAPI description (schemathesis),
as the administrator: no answer is a 500, every answer carries ``X-Request-Id``, every error body is
in the SWR dialect (both key pairs, a documented-style code), and successful bodies match the schema
the description declares. Examples are few per operation, to keep the run around a minute."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.openapi.checks import JsonSchemaError

from tests.api.swr.conftest import SWR_CODE, Swr

MANAGEMENT_PATHS = r"^/(v2/manage/|v3/manage/|\{api_version\}$|$)"
EXAMPLES = 6
TIMEOUT = 60
"""Seconds for any one answer: the first /openapi.json builds the whole description (seconds of CPU),
and two loaded cores have taken longer than httpx's default 5 s (schemathesis': 10 s) for it."""


def test_the_description_lists_the_management_api(swr: Swr) -> None:
    import httpx

    description = httpx.get(f"{swr.server.base_url}/openapi.json", timeout=TIMEOUT).json()
    paths = description["paths"]
    for path, method in (
        ("/v2/manage/namespaces/{namespace}/repos/{repository}/tags", "get"),
        ("/v3/manage/repos", "get"),
        ("/v2/manage/overview", "get"),
        ("/v2/manage/namespaces/{namespace}/repositories/{repository}/access-domains", "post"),
        ("/{api_version}", "get"),
    ):
        assert method in paths[path], (path, method)
    tag_item = description["components"]["schemas"]["TagListItem"]["properties"]
    assert {"Tag", "schema", "deleted", "scanned", "tag_type"} <= tag_item.keys()
    assert httpx.get(f"{swr.server.base_url}/docs", timeout=TIMEOUT).status_code == 200


def check_answer(case: Any, response: Any) -> None:
    """No 500, a request id, errors in the SWR dialect, successes as the description declares."""
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, (where, response.status_code, response.text[:300])
    request_id = (response.headers.get("x-request-id") or [""])[0]  # schemathesis: lower-case names, value lists
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), (where, response.headers)
    if response.status_code >= 400:
        body = json.loads(response.text)
        assert SWR_CODE.match(body["error_code"]), (where, body)
        assert body["errorCode"] == body["error_code"] and body["errorMessage"] == body["error_msg"], (where, body)
        assert isinstance(body["error_msg"], str) and body["error_msg"] and isinstance(body["detail"], str), body
    else:
        try:
            case.validate_response(response, checks=[schemathesis.checks.response_schema_conformance])
        except JsonSchemaError as failure:
            pytest.fail(f"{where}: {failure}")


def test_no_server_errors_and_every_error_in_the_swr_dialect(swr: Swr) -> None:
    # One test walking the operations (schemathesis' lazy pytest loader does not run under pytest 9).
    schema = schemathesis.openapi.from_url(f"{swr.server.base_url}/openapi.json", timeout=TIMEOUT).include(
        path_regex=MANAGEMENT_PATHS
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    headers = {"X-Auth-Token": swr.token}
    statuses: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case: Any) -> None:
            answer = case.call(base_url=swr.server.base_url, headers=headers, timeout=TIMEOUT)
            statuses[answer.status_code] += 1
            check_answer(case, answer)

        fuzz()
    print(f"fuzzed {len(operations)} operations: {sorted(statuses.items())}")
    assert sum(n for status, n in statuses.items() if status < 300) >= len(operations) // 4  # not only refusals


@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [
        ("GET", "/v2/manage/repos", {"name": "a\x00b"}, None),
        ("GET", "/v2/manage/namespaces", {"filter": "namespace::\x00"}, None),
        ("POST", "/v2/manage/namespaces/org-nul/repos", None, '{"repository": "x", "description": "a\\u0000b"}'),
        ("POST", "/v2/manage/namespaces/org-nul/access", None, '[{"user_id": "\\u0000", "auth": 1}]'),
    ],
)
def test_nul_characters_are_refused_before_the_database(
    swr: Swr, method: str, path: str, params: dict[str, str] | None, body: str | None
) -> None:
    with swr.api() as api:
        api.post("/v2/manage/namespaces", json={"namespace": "org-nul"})
        answer = api.request(
            method, path, params=params, content=body, headers={"Content-Type": "application/json"} if body else {}
        )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "SVCSTG.SWR.4001025"
    with swr.api() as api:  # a backslash before "u0000" is not a NUL
        kept = api.post(
            "/v2/manage/namespaces/org-nul/repos",
            content='{"repository": "slashed", "description": "\\\\u0000"}',
            headers={"Content-Type": "application/json"},
        )
    assert kept.status_code in (201, 409), kept.text
