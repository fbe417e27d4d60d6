"""The OCI API is dispatched before FastAPI's routes, so no management route may have an OCI path's
shape: otherwise the registry would answer a management call."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Match

from moorage.api.oci import oci_route
from moorage.app import create_app
from moorage.settings import Settings

SAMPLES = ["x", "list", "manifests", "blobs", "tags", "referrers", "uploads", "sha256:" + "a" * 64, "v1"]


def _management_paths(tmp_path: Path) -> list[str]:
    app = create_app(Settings(data_dir=tmp_path))
    templates = {route.path for route in app.routes if isinstance(route, APIRoute)}
    paths = []
    for template in sorted(templates):
        for sample in SAMPLES:
            paths.append(re.sub(r"\{[^}]+\}", sample, template))
    return paths


def test_no_management_route_looks_like_an_oci_path(tmp_path: Path) -> None:
    route = oci_route()
    clashes = [p for p in _management_paths(tmp_path) if route.matches({"type": "http", "path": p})[0] is Match.FULL]
    assert not clashes, f"management paths the OCI dispatcher would take: {clashes[:10]}"


@pytest.mark.parametrize("path", ["/v2/", "/v2/_catalog", "/v2/manage/app/manifests/latest", "/v2/ns/a/b/tags/list",
                                  "/v2/ns/r/blobs/uploads/", "/v2/ns/r/referrers/sha256:" + "a" * 64])
def test_oci_paths_are_taken(path: str) -> None:
    assert oci_route().matches({"type": "http", "path": path})[0] is Match.FULL
