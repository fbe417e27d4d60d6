"""The OCI API is dispatched before FastAPI's routes: a management path must still reach its
management route even when it has an OCI path's shape (an organization called ``manifests``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.routing import Match

from moorage.api.oci import oci_route
from moorage.app import MoorageApp, create_app
from moorage.settings import Settings
from tests.support.routes import management_routes

SAMPLES = ["x", "list", "manifests", "blobs", "tags", "referrers", "uploads", "sha256:" + "a" * 64, "v1"]


def _taken_by_oci(app: MoorageApp, path: str, method: str = "GET") -> bool:
    scope = {"type": "http", "path": path, "method": method}
    return oci_route().matches(scope)[0] is Match.FULL and not app._management_path(scope)


def test_management_paths_reach_management_routes(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    for method, template in management_routes(app):
        for sample in SAMPLES:
            # Project ids have IAM's shape (32 hex); every other parameter takes the awkward samples.
            path = re.sub(r"\{[^}]+\}", sample, template.replace("{project_id}", "0" * 32))
            assert not _taken_by_oci(app, path, method), f"the OCI dispatcher takes {method} {path}"


def test_oci_names_under_management_prefixes_still_work(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    assert _taken_by_oci(app, "/v2/manage/app/manifests/latest")
    assert _taken_by_oci(app, "/v2/instances/web/tags/list")


@pytest.mark.parametrize(
    "path",
    [
        "/v2/",
        "/v2/_catalog",
        "/v2/manage/app/manifests/latest",
        "/v2/ns/a/b/tags/list",
        "/v2/ns/r/blobs/uploads/",
        "/v2/ns/r/referrers/sha256:" + "a" * 64,
    ],
)
def test_oci_paths_are_taken(path: str) -> None:
    assert oci_route().matches({"type": "http", "path": path})[0] is Match.FULL


def test_exactly_the_shadowed_unserved_operations_would_be_taken_by_served_routes(tmp_path: Path) -> None:
    """Unserved operations are routed after the served ones (served requests do not pay for them),
    except those whose path a served route would take: they are marked ``shadowed`` and go first."""
    from fastapi.routing import APIRoute, iter_route_contexts

    from moorage.api.unserved import UNSERVED

    app = create_app(Settings(data_dir=tmp_path))
    unserved = {(operation.method, operation.path) for operation in UNSERVED}
    served = [
        context.original_route
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and not {(method, context.path) for method in context.original_route.methods} <= unserved
    ]
    taken = set()
    for operation in UNSERVED:
        path = re.sub(r"\{\w+\}", "x1", operation.path.replace("{project_id}", "0" * 32))
        scope = {"type": "http", "path": path, "method": operation.method, "root_path": "", "headers": []}
        if any(route.matches(scope)[0] is Match.FULL for route in served):
            taken.add(operation.operation)
    assert taken == {operation.operation for operation in UNSERVED if operation.shadowed}
