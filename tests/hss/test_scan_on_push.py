"""End to end: an image pushed with skopeo is scanned automatically (scan on push) and listed by
the official SDK with the counts the fixture advisories give."""

from __future__ import annotations

from pathlib import Path

import pytest
from huaweicloudsdkhss.v5 import ListRegistryImagesRequest, ListSwrImageRepositoryRequest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, MoorageFactory
from tests.hss.support import build_advisories, hss_client, python_image, skopeo_env, skopeo_push, wait_for
from tests.support import swr_images as si
from tests.support.accounts import Account, create_access_key, project_id

pytestmark = [pytest.mark.e2e, pytest.mark.requires_tool("skopeo")]
ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)


def test_pushed_image_is_scanned_and_listed(tmp_path: Path, moorage_factory: MoorageFactory) -> None:
    vulndb = build_advisories(tmp_path / "advisories")
    server = moorage_factory(env={"MOORAGE_SCANNER__SCAN_ON_PUSH": "true", "MOORAGE_SCANNER__VULNDB_PATH": str(vulndb)})
    keys = (*create_access_key(server, ADMIN), project_id(server))
    image = python_image({"requests": "2.30.0", "urllib3": "1.26.0", "flask": "3.0.0"}, label="push")
    layout = si.write_layout(tmp_path / "layout", {"v1": image})
    skopeo_push(
        layout, "v1", f"{server.address}/pushed/app:v1", creds=(ADMIN_USER, ADMIN_PASSWORD), env=skopeo_env(tmp_path)
    )
    client = hss_client(server, keys)

    def scanned() -> object:
        answer = client.list_registry_images(ListRegistryImagesRequest(namespace="pushed"))
        rows = [r for r in answer.data_list if r.scan_status in ("success", "failed")]
        return rows[0] if rows else None

    row = wait_for(scanned, what="the pushed image to be scanned")
    assert row.scan_status == "success", (row.scan_failed_code, server.log()[-3000:])
    assert (row.image_name, row.image_version, row.image_digest) == ("app", "v1", image.digest)
    assert row.vul_num == 2  # requests (medium) and urllib3 (critical); flask has no advisory
    assert row.severity_level == "High"
    assert row.registry_type == "SwrPrivate" and row.image_type == "private_image"
    assert row.latest_version is True and isinstance(row.latest_scan_time, int) and row.latest_scan_time > 0
    swr = client.list_swr_image_repository(
        ListSwrImageRepositoryRequest(image_type="private_image", namespace="pushed")
    )
    assert swr.total_num == 1 and swr.data_list[0].vul_num == 2 and swr.data_list[0].scan_status == "success"
