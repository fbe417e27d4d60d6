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


@pytest.mark.parametrize("path", ["/v2/", "/v2/_catalog", "/v2/manage/app/manifests/latest", "/v2/ns/a/b/tags/list",
                                  "/v2/ns/r/blobs/uploads/", "/v2/ns/r/referrers/sha256:" + "a" * 64])
def test_oci_paths_are_taken(path: str) -> None:
    assert oci_route().matches({"type": "http", "path": path})[0] is Match.FULL
