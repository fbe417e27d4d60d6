"""``docs/api-coverage.md`` stays true: every SWR operation is listed once, every row marked
implemented is served, and every management route served is listed as implemented."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute, iter_route_contexts

from moorage.api.unserved import UNSERVED
from moorage.app import create_app
from moorage.settings import Settings

DOC = Path(__file__).resolve().parents[3] / "docs" / "api-coverage.md"
ROW = re.compile(r"^\| `(\w+)` \| `([^`]+)` \| `(\w+)` \| ([^|]+) \|")
MANAGEMENT = re.compile(r"^/(v2/manage/|v3/manage/|v2/\{project_id\}/|v2/instances/|\{api_version\}$|$)")
KEYS = "/v2/{project_id}/instances/{instance_id}/signature/keys"
POLICIES = "/v2/{project_id}/instances/{instance_id}/namespaces/{namespace_name}/signature/policies"
EXTENSIONS = {
    ("GET", KEYS),
    ("POST", KEYS),
    ("GET", KEYS + "/{key_id}"),
    ("DELETE", KEYS + "/{key_id}"),
    ("GET", KEYS + "/{key_id}/public-key"),
    ("GET", POLICIES),
    ("GET", POLICIES + "/{policy_id}/executions/{execution_id}"),
    ("PUT", POLICIES + "/{policy_id}/executions/{execution_id}"),
    ("GET", "/v2/{project_id}/instances/{instance_id}/system/gc/{gc_id}/log"),
}
"""moorage's own operations (api-coverage-enterprise.md, "moorage extensions")."""
ENTERPRISE_DOC = DOC.with_name("api-coverage-enterprise.md")
ENTERPRISE_ROW = re.compile(r"^\| `(\w+) ([^`]+)` \| (\w+) \| (\w+(?: applicable)?) \|")


def test_the_coverage_table_matches_the_application(tmp_path: Path) -> None:
    rows = [m.groups() for line in DOC.read_text().splitlines() if (m := ROW.match(line))]
    assert len(rows) == 174  # the operations of huaweicloudsdkswr's client
    assert len({(method, path) for method, path, _name, _state in rows}) == len(rows)
    app = create_app(Settings(data_dir=tmp_path))
    served = {
        (method, re.sub(r":\w+\}", "}", context.path))
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.original_route.methods
    }
    implemented = {(method, path) for method, path, _name, state in rows if state.strip() == "implemented"}
    assert implemented <= served, implemented - served
    management = {(method, path) for method, path in served if path and MANAGEMENT.match(path)}
    planned = {
        (method, path) for method, path, _name, state in rows if state.strip().startswith(("planned", "not applicable"))
    }
    unserved = {(operation.method, operation.path) for operation in UNSERVED}
    assert planned <= unserved  # answered as not served (tests/api/test_sdk_routing.py checks the answers)
    assert management <= implemented | EXTENSIONS | unserved, management - implemented - EXTENSIONS - unserved
    assert served >= EXTENSIONS
    assert {state.strip().split(" ")[0] for *_, state in rows} <= {"implemented", "planned", "not"}


def test_the_enterprise_table_agrees() -> None:
    rows = {
        (method, path): state.strip()
        for line in DOC.read_text().splitlines()
        if (m := ROW.match(line))
        for method, path, _name, state in [m.groups()]
    }
    enterprise = {
        (m.group(1), m.group(2)): m.group(4)
        for line in ENTERPRISE_DOC.read_text().splitlines()
        if (m := ENTERPRISE_ROW.match(line))
    }
    assert len(enterprise) == 115
    assert {key: rows[key] for key in enterprise} == enterprise
