"""Scans of Enterprise Edition artifacts through the official SDK: an image pushed to an instance with
skopeo is scanned on request (``start_manual_scanning``), its ``scan_overview`` follows the scan, and
``list_instance_artifact_vulnerabilities`` gives the findings the fixture advisories predict."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    CVEAllowlistItem,
    ListInstanceArtifactVulnerabilitiesRequest,
    NamespaceMetadata,
    ShowInstanceArtifactRequest,
    StartManualScanningRequest,
    UpdateCVEAllowlistRequest,
    UpdateInstanceNamespaceRequest,
    UpdateNamespaceRequestBody,
)

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.enterprise.conftest import StartServer
from tests.enterprise.support import Enterprise, connect, create_instance, create_namespace, push
from tests.hss.support import build_advisories, python_image, wait_for
from tests.support import swr_images as si

pytestmark = [pytest.mark.e2e, pytest.mark.requires_tool("skopeo")]
REPORT = "application/vnd.security.vulnerability.report; version=1.1"


def _artifact(ee: Enterprise, instance_id: str, reference: str) -> Any:
    return ee.client.show_instance_artifact(
        ShowInstanceArtifactRequest(
            instance_id=instance_id,
            namespace_name="scan",
            repository_name="app",
            reference=reference,
            with_scan_overview=True,
        )
    )


def test_manual_scan_overview_and_vulnerabilities(tmp_path: Path, ee_server_factory: StartServer) -> None:
    vulndb = build_advisories(tmp_path / "advisories")
    ee = connect(ee_server_factory(env={"MOORAGE_SCANNER__VULNDB_PATH": str(vulndb)}))
    instance_id = create_instance(ee, "scans", domain_name=ee.instance_address)
    create_namespace(ee, instance_id, "scan")
    image = python_image({"requests": "2.30.0", "urllib3": "1.26.0", "flask": "3.0.0"}, label="ee-scan")
    layout = si.write_layout(tmp_path / "layout", {"v1": image})
    push(layout, "v1", f"{ee.instance_address}/scan/app:v1")

    assert not _artifact(ee, instance_id, "v1").scan_overview  # never scanned: no overview
    before = ee.client.list_instance_artifact_vulnerabilities(
        ListInstanceArtifactVulnerabilitiesRequest(
            instance_id=instance_id, namespace_name="scan", repository_name="app", reference=image.digest
        )
    )
    assert not before.body

    ee.client.start_manual_scanning(
        StartManualScanningRequest(
            instance_id=instance_id, namespace_name="scan", repository_name="app", reference=image.digest
        )
    )

    def finished() -> Any:
        overview = _artifact(ee, instance_id, "v1").scan_overview or {}
        summary = overview.get(REPORT)
        assert summary is not None, "a requested scan shows in the overview at once"
        return summary if summary.scan_status in ("Success", "Error") else None

    summary = wait_for(finished, what="the artifact scan")
    assert summary.scan_status == "Success", ee.server.log()[-3000:]
    assert (summary.report_id, summary.complete_percent, summary.scanner.name) == (image.digest, 100, "moorage")
    assert summary.severity == "Critical"
    assert (summary.summary.total, summary.summary.fixable) == (2, 2)
    assert summary.summary.summary == {"Critical": 1, "Medium": 1}
    assert summary.start_time.endswith("Z") and summary.end_time >= summary.start_time

    reports = ee.client.list_instance_artifact_vulnerabilities(
        ListInstanceArtifactVulnerabilitiesRequest(
            instance_id=instance_id, namespace_name="scan", repository_name="app", reference=image.digest
        )
    ).body
    report = reports[REPORT]
    assert report.severity == "Critical" and report.scanner.vendor == "moorage"
    found = {v.package: v for v in report.vulnerabilities}
    assert sorted(found) == ["requests", "urllib3"]  # flask has no advisory
    requests = found["requests"]
    assert (requests.version, requests.fix_version, requests.severity) == ("2.30.0", "2.31.0", "Medium")
    assert {requests.id} & {"GHSA-hss1-0001-0001", "CVE-2031-0001"}
    assert requests.artifact_digests == [image.blobs[-1].digest]  # the top layer installed it
    assert requests.preferred_cvss.score_v3 and requests.preferred_cvss.vector_v3.startswith("CVSS:3")
    assert found["urllib3"].severity == "Critical" and found["urllib3"].fix_version == "2.0.0"


def _pull_status(ee: Enterprise, reference: str) -> int:
    host = ee.instance_address
    token = httpx.get(
        f"http://{host}/service/token",
        params={"scope": "repository:scan/app:pull"},
        auth=(ADMIN_USER, ADMIN_PASSWORD),
        timeout=30,
    ).json()["token"]
    return httpx.get(
        f"http://{host}/v2/scan/app/manifests/{reference}",
        timeout=30,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.oci.image.manifest.v1+json"},
    ).status_code


def test_namespace_metadata_scans_pushes_and_guards_pulls(tmp_path: Path, ee_server_factory: StartServer) -> None:
    """``auto_scan`` scans pushes, ``prevent_vul`` + ``severity`` refuse pulls of images with findings at
    or above it, the CVE allowlist exempts its ids until it expires: the registry's organization
    policy, set through the instance's namespace metadata."""
    vulndb = build_advisories(tmp_path / "advisories")
    ee = connect(
        ee_server_factory(
            env={"MOORAGE_SCANNER__VULNDB_PATH": str(vulndb), "MOORAGE_SCANNER__PULL_POLICY_CACHE_SECONDS": "0"}
        )
    )
    instance_id = create_instance(ee, "guarded", domain_name=ee.instance_address)
    create_namespace(ee, instance_id, "scan")

    def update(**changes: Any) -> None:
        ee.client.update_instance_namespace(
            UpdateInstanceNamespaceRequest(
                instance_id=instance_id, namespace_name="scan", body=UpdateNamespaceRequestBody(**changes)
            )
        )

    update(metadata=NamespaceMetadata(auto_scan="true", prevent_vul="true", severity="high"))
    vulnerable = python_image({"urllib3": "1.26.0"}, label="guarded")
    clean = python_image({"flask": "3.0.0"}, label="clean")
    push(si.write_layout(tmp_path / "vulnerable", {"v1": vulnerable}), "v1", f"{ee.instance_address}/scan/app:v1")
    push(si.write_layout(tmp_path / "clean", {"v2": clean}), "v2", f"{ee.instance_address}/scan/app:v2")

    def scanned(reference: str) -> Any:
        summary = (_artifact(ee, instance_id, reference).scan_overview or {}).get(REPORT)
        return summary if summary is not None and summary.scan_status == "Success" else None

    assert wait_for(lambda: scanned("v1"), what="the pushed image to be scanned").severity == "Critical"
    assert wait_for(lambda: scanned("v2"), what="the clean image to be scanned").severity == "Security"
    assert _pull_status(ee, "v1") == 403
    assert _pull_status(ee, "v2") == 200

    update(cve_allowlist=UpdateCVEAllowlistRequest(items=[CVEAllowlistItem(cve_id="CVE-2031-0002")]))
    assert _pull_status(ee, "v1") == 200  # urllib3's only finding is allowlisted
    update(
        cve_allowlist=UpdateCVEAllowlistRequest(
            items=[CVEAllowlistItem(cve_id="CVE-2031-0002")], expires_at=int(time.time()) - 60
        )
    )
    assert _pull_status(ee, "v1") == 403  # an expired allowlist exempts nothing
    update(
        cve_allowlist=UpdateCVEAllowlistRequest(
            items=[CVEAllowlistItem(cve_id="CVE-2031-0002")], expires_at=int(time.time()) + 3600
        )
    )
    assert _pull_status(ee, "v1") == 200
    update(cve_allowlist=UpdateCVEAllowlistRequest(items=[]), metadata=NamespaceMetadata(prevent_vul="false"))
    assert _pull_status(ee, "v1") == 200
    update(metadata=NamespaceMetadata(prevent_vul="true", severity="critical"))
    assert _pull_status(ee, "v1") == 403


def test_scan_refuses_what_is_not_there(tmp_path: Path, ee_server_factory: StartServer) -> None:
    ee = connect(ee_server_factory())
    instance_id = create_instance(ee, "scans-missing", domain_name=ee.instance_address)
    create_namespace(ee, instance_id, "scan")
    with pytest.raises(ClientRequestException) as caught:
        ee.client.start_manual_scanning(
            StartManualScanningRequest(
                instance_id=instance_id, namespace_name="scan", repository_name="app", reference="sha256:" + "0" * 64
            )
        )
    assert caught.value.status_code == 404
    with pytest.raises(ClientRequestException) as caught:
        ee.client.start_manual_scanning(
            StartManualScanningRequest(
                instance_id=instance_id, namespace_name="scan", repository_name="app", reference="not a digest!"
            )
        )
    assert caught.value.status_code == 400
