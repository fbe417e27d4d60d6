"""The organization policy that refuses pulls: an image scanned on push with a critical finding is
refused (403 DENIED, saying why and which findings) once the organization blocks high severities,
and pulled again once the finding is allowlisted (by its CVE or by an alias); images not scanned
are refused when the policy asks for it; HEAD stays allowed; policies are listed and checked."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import MoorageFactory
from tests.hss.conftest import HssAccount, new_account
from tests.hss.support import build_advisories, python_image, skopeo_env, skopeo_push, wait_for
from tests.support import swr_images as si
from tests.support.accounts import iam_token
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.requires_tool("skopeo")
MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"


def policy_api(server: ServerProcess, account: HssAccount) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.base_url}/v5/{account.project}/image",
        timeout=30,
        headers={"X-Auth-Token": iam_token(server, account.account)},
    )


def test_pulls_refused_by_severity_until_allowlisted(tmp_path: Path, moorage_factory: MoorageFactory) -> None:
    vulndb = build_advisories(tmp_path / "advisories")
    server = moorage_factory(
        env={
            "MOORAGE_SCANNER__SCAN_ON_PUSH": "true",
            "MOORAGE_SCANNER__VULNDB_PATH": str(vulndb),
            "MOORAGE_SCANNER__PULL_POLICY_CACHE_SECONDS": "0",
        }
    )
    account = new_account(server, "hss-gate")
    creds = (account.account.name, account.account.password)
    image = python_image({"urllib3": "1.26.0", "requests": "2.30.0"}, label="gate")
    layout = si.write_layout(tmp_path / "layout", {"v1": image, "v2": python_image({}, label="unscanned")})
    env = skopeo_env(tmp_path)
    skopeo_push(layout, "v1", f"{server.address}/gate-org/app:v1", creds=creds, env=env)
    registry = httpx.Client(base_url=server.base_url, auth=creds, timeout=30, headers={"Accept": MANIFEST_TYPES})
    api = policy_api(server, account)
    with registry, api:

        def scanned() -> bool:
            answer = api.get("/registries/images", params={"namespace": "gate-org"}).json()
            return bool(answer["data_list"]) and answer["data_list"][0]["scan_status"] == "success"

        wait_for(scanned, what="the scan on push")
        assert registry.get("/v2/gate-org/app/manifests/v1").status_code == 200  # no policy yet
        set_policy = api.put("/organization-policies/gate-org", json={"block_severity": "high"})
        assert set_policy.status_code == 200, set_policy.text
        assert set_policy.json()["version"] == 1

        refused = registry.get("/v2/gate-org/app/manifests/v1")
        assert refused.status_code == 403
        error = refused.json()["errors"][0]
        assert error["code"] == "DENIED"
        assert "CVE-2031-0002 (critical)" in error["message"] and "gate-org" in error["message"]
        assert "CVE-2031-0001" not in error["message"]  # medium: below the threshold
        assert error["detail"]["findings"] == [{"type": "vulnerability", "id": "CVE-2031-0002", "severity": "critical"}]
        assert registry.get(f"/v2/gate-org/app/manifests/{image.digest}").status_code == 403  # by digest too
        assert registry.head("/v2/gate-org/app/manifests/v1").status_code == 200
        assert registry.get(f"/v2/gate-org/app/blobs/{image.config.digest}").status_code == 200  # type: ignore[union-attr]

        medium = api.put(
            "/organization-policies/gate-org", json={"block_severity": "medium", "allowlist": ["CVE-2031-0002"]}
        )
        assert medium.json()["version"] == 2
        still = registry.get("/v2/gate-org/app/manifests/v1")
        assert still.status_code == 403 and "CVE-2031-0001 (medium)" in still.json()["errors"][0]["message"]

        assert "config.runs-as-root (medium)" in still.json()["errors"][0]["message"]  # no USER in the image
        allowed = api.put(
            "/organization-policies/gate-org",
            json={  # by an alias, and a check's rule id
                "block_severity": "medium",
                "allowlist": ["CVE-2031-0002", "GHSA-hss1-0001-0001", "config.runs-as-root"],
            },
        )
        assert allowed.status_code == 200
        answer = registry.get("/v2/gate-org/app/manifests/v1")
        assert answer.status_code == 200, answer.text

        # An organization that takes no scans on push and refuses what is not scanned.
        assert (
            api.put(
                "/organization-policies/gate-org", json={"scan_on_push": False, "block_unscanned": True}
            ).status_code
            == 200
        )
        skopeo_push(layout, "v2", f"{server.address}/gate-org/app:v2", creds=creds, env=env)
        unscanned = registry.get("/v2/gate-org/app/manifests/v2")
        assert unscanned.status_code == 403 and "not been scanned" in unscanned.json()["errors"][0]["message"]

        listed = api.get("/organization-policies").json()
        assert listed["total_num"] == 1 and listed["data_list"][0] == {
            "namespace": "gate-org",
            "scan_on_push": False,
            "block_severity": "",
            "block_unscanned": True,
            "allowlist": [],
            "version": 4,
        }
        assert api.get("/organization-policies/gate-org").json()["version"] == 4
        for bad in ({"block_severity": "severe"}, {"allowlist": ["not an id!"]}):
            answer = api.put("/organization-policies/gate-org", json=bad)
            assert answer.status_code == 400 and answer.json()["error_code"] == "HSS.1001"
        assert api.get("/organization-policies/nobody-org").status_code == 404
