"""Hostile pipelines: the scan-upload credential of a CI/CD command used for anything else (another
configuration or project, the HSS API, pulling or pushing images), an expired or forged one, a
deleted configuration's, and oversized or malformed uploads. Each is refused with a clear HSS error
(never a 500), and nothing is stored; an upload never becomes a registry result."""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkhss.v5 import (
    AddCicdConfigurationRequest,
    AddCicdConfigurationRequestBody,
    CreateCicdConfigurationCommandRequest,
    CreateCicdConfigurationCommandRequestBody,
    DeleteCicdConfigurationsRequest,
    DeleteCicdConfigurationsRequestBody,
    HssClient,
    ListCicdImagesRequest,
)
from sqlalchemy import select

from moorage.auth.keys import MasterKey
from moorage.auth.tokens import CicdUploadSigner
from moorage.domain.security_cicd import UPLOAD_SCHEMA, result_key
from moorage.metadata.tables import security_scan_results
from tests.conftest import ADMIN_USER, clear_sdk_project_cache
from tests.hss.cicd_support import master_key
from tests.hss.conftest import new_account
from tests.hss.support import hss_client, opened, python_image
from tests.support import swr_images as si
from tests.support.servers import ServerProcess


@dataclass(frozen=True)
class Pipeline:
    server: ServerProcess
    client: HssClient
    project: str
    cicd_id: str
    other_id: str
    credential: str
    report: dict[str, Any]
    digest: str

    def url(self, cicd_id: str | None = None, project: str | None = None) -> str:
        return (
            f"{self.server.base_url}/v5/{project or self.project}/image/cicd/configurations/"
            f"{cicd_id or self.cicd_id}/results"
        )

    def document(self, **changes: Any) -> dict[str, Any]:
        image = {"namespace": "ci", "name": "app", "version": "v1", "digest": self.digest, "size": 10}
        image.update(changes.pop("image", {}))
        return {"schema": UPLOAD_SCHEMA, "image": image, "pipeline_type": "jenkins", "report": self.report, **changes}


def _credential(client: HssClient, cicd_id: str) -> str:
    body = CreateCicdConfigurationCommandRequestBody(cicd_id=cicd_id, scan_type="local_image", image_name="app")
    command = client.create_cicd_configuration_command(CreateCicdConfigurationCommandRequest(body=body)).cicd_command
    words = shlex.split(command)
    return words[words.index("--cicd-token") + 1]


def _add(client: HssClient, name: str) -> str:
    body = AddCicdConfigurationRequestBody(cicd_name=name)
    return str(client.add_cicd_configuration(AddCicdConfigurationRequest(body=body)).cicd_id)


@pytest.fixture(scope="module")
def pipeline(shared_moorage: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    clear_sdk_project_cache()
    account = new_account(shared_moorage, "cicd-hostile")
    client = hss_client(shared_moorage, account.keys)
    cicd_id, other_id = _add(client, "hostile"), _add(client, "hostile-other")
    work = tmp_path_factory.mktemp("cicd-hostile")
    image = python_image({"urllib3": "1.26.0"}, label="cicd-hostile")
    layout = si.write_layout(work / "layout", {"v1": image})
    moorage = Path(sys.executable).with_name("moorage")
    done = subprocess.run(
        [str(moorage), "scan", f"oci:{layout}:v1", "--format", "json", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    yield Pipeline(
        shared_moorage,
        client,
        account.project,
        cicd_id,
        other_id,
        _credential(client, cicd_id),
        json.loads(done.stdout),
        image.digest,
    )


@pytest.fixture(autouse=True)
def _clear_sdk_cache() -> Iterator[None]:
    clear_sdk_project_cache()
    yield
    clear_sdk_project_cache()


def _post(url: str, credential: str, body: bytes | dict[str, Any]) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {credential}", "Content-Type": "application/json"}
    return httpx.post(url, content=content, headers=headers, timeout=60)


def _domain_of(credential: str) -> str:
    payload = credential.removeprefix("mcicd.").split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["dom"])


def _error(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error_code"] == code, body
    return str(body["error_msg"])


def test_an_upload_with_the_credential_is_stored_for_the_account_only(pipeline: Pipeline) -> None:
    answer = _post(pipeline.url(), pipeline.credential, pipeline.document())
    assert answer.status_code == 200, answer.text
    assert answer.json()["image_id"].startswith("cicd-")
    listed = pipeline.client.list_cicd_images(ListCicdImagesRequest(cicd_name="hostile"))
    assert [r.image_digest for r in listed.data_list] == [pipeline.digest]
    with opened(pipeline.server) as db:
        keys = db.run_read(lambda conn: [r[0] for r in conn.execute(select(security_scan_results.c.manifest_digest))])
    # Stored under its own key, never as the digest's (registry) result.
    assert pipeline.digest not in keys
    assert result_key(_domain_of(pipeline.credential), pipeline.cicd_id, pipeline.digest) in keys


def test_the_credential_is_refused_for_anything_else(pipeline: Pipeline) -> None:
    credential = pipeline.credential
    base = pipeline.server.base_url
    message = _error(_post(pipeline.url(pipeline.other_id), credential, pipeline.document()), 403, "HSS.0003")
    assert "another CI/CD configuration" in message
    _error(_post(pipeline.url(project="0" * 32), credential, pipeline.document()), 403, "HSS.0003")
    with httpx.Client(base_url=base, timeout=30) as http:
        # The HSS API and IAM, with the credential as an IAM token.
        for path in (
            f"/v5/{pipeline.project}/image/cicd/configurations",
            f"/v5/{pipeline.project}/image/cicd/images",
            f"/v5/{pipeline.project}/image/swr-repository",
        ):
            assert http.get(path, headers={"X-Auth-Token": credential}).status_code == 401, path
        # The registry: a token for it, a pull, a push, with the credential as password or bearer token.
        assert http.get("/service/token", auth=(ADMIN_USER, credential)).status_code == 401
        bearer = {"Authorization": f"Bearer {credential}"}
        assert http.get("/v2/", headers=bearer).status_code == 401
        assert http.get("/v2/ci/app/manifests/v1", headers=bearer).status_code == 401
        assert http.post("/v2/ci/app/blobs/uploads/", headers=bearer).status_code == 401
        assert http.get("/v2/ci/app/manifests/v1", auth=(ADMIN_USER, credential)).status_code == 401
    # No credential, or another kind of token, at the upload.
    assert httpx.post(pipeline.url(), content=b"{}", timeout=30).status_code == 401
    _error(_post(pipeline.url(), "mcicd.not-a-token", pipeline.document()), 401, "HSS.0001")


def test_an_expired_or_forged_credential_is_refused(pipeline: Pipeline) -> None:
    signer = CicdUploadSigner(master_key(pipeline.server))
    domain_id = _domain_of(pipeline.credential)
    expired, _ = signer.issue(domain_id=domain_id, project_id=pipeline.project, cicd_id=pipeline.cicd_id, ttl=-60)
    assert "expired" in _error(_post(pipeline.url(), expired, pipeline.document()), 401, "HSS.0001")
    forged, _ = CicdUploadSigner(MasterKey(b"x" * 32)).issue(
        domain_id=domain_id, project_id=pipeline.project, cicd_id=pipeline.cicd_id, ttl=600
    )
    _error(_post(pipeline.url(), forged, pipeline.document()), 401, "HSS.0001")


def test_a_deleted_configuration_revokes_its_credentials(pipeline: Pipeline) -> None:
    doomed = _add(pipeline.client, "hostile-doomed")
    credential = _credential(pipeline.client, doomed)
    pipeline.client.delete_cicd_configurations(
        DeleteCicdConfigurationsRequest(body=DeleteCicdConfigurationsRequestBody(cicd_id_list=[doomed]))
    )
    assert "deleted" in _error(_post(pipeline.url(doomed), credential, pipeline.document()), 401, "HSS.0001")


def test_oversized_and_malformed_uploads_are_refused(pipeline: Pipeline) -> None:
    limit = 16 * 1024**2  # MOORAGE_SCANNER__CICD_UPLOAD_MAX_BYTES's default
    _error(_post(pipeline.url(), pipeline.credential, b" " * (limit + 1)), 413, "HSS.1013")
    # Larger than the management API's usual cap (1 MiB) but within the upload's: judged, not cut off.
    padded = json.dumps(pipeline.document(padding="x" * (3 * 1024**2))).encode()
    assert _post(pipeline.url(), pipeline.credential, padded).status_code == 200
    report = pipeline.report
    malformed: list[tuple[bytes | dict[str, Any], str]] = [
        (b"not json", "not JSON"),
        (b"[" * 5000 + b"]" * 5000, "not JSON"),
        (b"", "empty"),
        ({"schema": "other"}, UPLOAD_SCHEMA),
        (pipeline.document(image={"digest": "sha256:12"}), "image.digest"),
        (pipeline.document(image={"name": "UPPER/../x y"}), "image.name"),
        (pipeline.document(image={"version": "v" * 200}), "image.version"),
        (pipeline.document(image={"size": -1}), "image.size"),
        (pipeline.document(pipeline_type="cron"), "pipeline_type"),
        (pipeline.document(report={"schema": "moorage-scan-report/1"}), "not a moorage scan report"),
        (pipeline.document(report={**report, "findings": [{"finding_id": "x"}]}), "not a moorage scan report"),
        (
            pipeline.document(report={**report, "image": {**report["image"], "manifest_digest": "sha256:" + "1" * 64}}),
            "another manifest",
        ),
    ]
    before = pipeline.client.list_cicd_images(ListCicdImagesRequest(cicd_name="hostile")).total_num
    for body, words in malformed:
        message = _error(_post(pipeline.url(), pipeline.credential, body), 400, "HSS.1001")
        assert words in message, (words, message)
    assert pipeline.client.list_cicd_images(ListCicdImagesRequest(cicd_name="hostile")).total_num == before


def test_result_keys_are_per_account_and_configuration() -> None:
    digest = "sha256:" + "a" * 64
    keys = {result_key(d, c, digest) for d in ("one", "two") for c in ("x", "y")}
    assert len(keys) == 4 and digest not in keys
    assert all(k.startswith("sha256:") and len(k) == 71 for k in keys)
